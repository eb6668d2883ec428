"""`qwen2.5-math-prm`: Qwen/Qwen2.5-Math-PRM-7B's convention.

The solution is the assistant turn of a chat (system: "Please reason step by step, and put your
final answer within \\boxed{}.", user: the question) with the steps joined by `<extra_0>` and one
after the last; the model (custom code) returns two logits per token and a step's score is the
probability of label 1 at its `<extra_0>`. Loading the published model runs code from its repo,
so the user must opt in with `trust_remote_code=True`.
"""

from __future__ import annotations

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel

from .base import register, scores_at_positions

SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
STEP_TOKEN = "<extra_0>"


@register("qwen2.5-math-prm")
class QwenMathPRM:
    def __init__(self, model: str | PreTrainedModel, tokenizer=None, batch_size: int = 4, dtype: str = "bfloat16", trust_remote_code: bool = False):
        if isinstance(model, str):
            if not trust_remote_code:
                raise ValueError("trust_remote_code: Qwen2.5-Math-PRM runs code from its repository; pass --trust_remote_code true to allow it")
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model, trust_remote_code=True)
            model = AutoModel.from_pretrained(model, dtype=getattr(torch, dtype), trust_remote_code=True)
        if tokenizer is None:
            raise ValueError("QwenMathPRM needs a tokenizer when given a model object")
        self.model, self.tokenizer, self.batch_size = model.eval(), tokenizer, batch_size
        self.step_id = tokenizer.convert_tokens_to_ids(STEP_TOKEN)
        self.num_parameters = model.num_parameters()
        self.tokens_scored = 0

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {"role": "assistant", "content": STEP_TOKEN.join(steps) + STEP_TOKEN},
        ]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids, [i for i, token in enumerate(ids) if token == self.step_id]

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        inputs = [self.build_input(question, steps) for steps in step_lists]
        scores, tokens = scores_at_positions(self.model, inputs, self.tokenizer.pad_token_id, self.batch_size, lambda out: (out[0] if isinstance(out, tuple) else out.logits).float().softmax(-1)[..., 1])
        self.tokens_scored += tokens
        return scores