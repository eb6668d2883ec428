"""Published PRMs that are causal LMs reading "+" / "-": RLHFlow and Math-Shepherd.

Both score a step by the probability of a "good" token against a "bad" one, read from the
next-token logits at a known position after the step. They differ only in how the solution is
laid out, so each is a `layout` function over one shared scorer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from .base import register, scores_at_positions


class PlusMinusPRM(ABC):
    """Score = softmax over the (good, bad) token logits at each step's read position."""

    good, bad = "+", "-"

    def __init__(self, model: str | PreTrainedModel, tokenizer=None, batch_size: int = 8, dtype: str = "float32", trust_remote_code: bool = False):
        if model is None:
            raise ValueError("prm_model: this scorer needs a model folder or hub name")
        if isinstance(model, str):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code)
        if tokenizer is None:
            raise ValueError(f"{type(self).__name__} needs a tokenizer when given a model object")
        self.model, self.tokenizer, self.batch_size = model.eval(), tokenizer, batch_size
        self.candidates = [tokenizer.encode(t, add_special_tokens=False)[-1] for t in (self.good, self.bad)]
        self.num_parameters = model.num_parameters()
        self.tokens_scored = 0

    @abstractmethod
    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        """Token ids, and the positions whose next-token logits hold each step's verdict."""

    def _good_probability(self, out) -> torch.Tensor:
        return out.logits[..., self.candidates].float().softmax(-1)[..., 0]

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        inputs = [self.build_input(question, steps) for steps in step_lists]
        scores, tokens = scores_at_positions(self.model, inputs, self.tokenizer.pad_token_id, self.batch_size, self._good_probability)
        self.tokens_scored += tokens
        return scores


@register("rlhflow")
class RLHFlowPRM(PlusMinusPRM):
    """RLHFlow/Llama3.1-8B-PRM-*: a chat where the first user turn is the question and the first
    step, each later step is a user turn, and the assistant answers "+" (correct) or "-". The
    verdict on a step is read where the assistant's answer to it is generated."""

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        messages = []
        for i, step in enumerate(steps):
            messages += [{"role": "user", "content": f"{question} {step}" if i == 0 else step}, {"role": "assistant", "content": self.good}]
        ids = self._chat_ids(messages, add_generation_prompt=False)
        # Step k's verdict is the token the assistant writes after its k-th user turn: it is
        # predicted at the last position of the prompt that ends right before that answer.
        positions = [len(self._chat_ids(messages[: 2 * k + 1], add_generation_prompt=True)) - 1 for k in range(len(steps))]
        return ids, positions

    def _chat_ids(self, messages: list[dict], add_generation_prompt: bool) -> list[int]:
        out = self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=add_generation_prompt)
        return list(out["input_ids"] if hasattr(out, "keys") else out)


@register("math-shepherd")
class MathShepherdPRM(PlusMinusPRM):
    """peiyi9979/math-shepherd-mistral-7b-prm: `question step1 ки\\nstep2 ки\\n...`; the verdict on a
    step is the "+" / "-" logit pair at its `ки` tag."""

    step_tag = "ки"

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        text = f"{question} " + "".join(f"{step} {self.step_tag}\n" for step in steps)
        ids = self.tokenizer(text)["input_ids"]
        tag = self.tokenizer.encode(self.step_tag, add_special_tokens=False)[-1]
        return list(ids), [i for i, token in enumerate(ids) if token == tag]
