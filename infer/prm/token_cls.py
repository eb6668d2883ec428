"""`token-cls`: a token classifier with 2 labels, read at the end of each step.

This is the layout `ponder train prm` produces and TRL's former PRMTrainer produced (e.g.
HuggingFaceH4/Qwen2.5-Math-1.5B-Instruct-PRM-0.2). TRL's `PRMTrainer.tokenize_row` built a row
as [bos] + prompt, then each step followed by `step_separator` ("\\n" by default), all tokenized
without special tokens, and put the step's label on the LAST token of its separator; the step's
score is therefore softmax(logits)[1] there. `ponder train prm` also puts the separator after
the prompt by default (`separate_prompt`, saved in prm_config.json), so that a question and its
first step do not run together.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification, PreTrainedModel

from .base import register
from .model import ModelPRM, output_logits

TRL_STEP_SEPARATOR = "\n"


def prompt_ids(tokenizer, question: str, separator_ids: list[int], separate_prompt: bool, chat_template: bool) -> list[int]:
    """The tokens before the first step; `ponder train prm` builds its rows with this same function.

    With `chat_template`, the question is the user turn of the tokenizer's chat template with the
    assistant turn opened, exactly as the policy reads it, so a PRM started from the policy sees
    its steps in the context it learnt them in. Otherwise [bos] + question (TRL's layout),
    followed by the separator when `separate_prompt`.
    """
    if chat_template:
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
        return tokenizer.encode(text, add_special_tokens=False)
    bos = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    return bos + tokenizer.encode(question, add_special_tokens=False) + (separator_ids if separate_prompt else [])


@register("token-cls")
class TokenClassificationPRM(ModelPRM):
    auto_class = AutoModelForTokenClassification

    def __init__(
        self,
        model: str | PreTrainedModel,
        tokenizer=None,
        step_separator: str | None = None,
        separate_prompt: bool | None = None,
        chat_template: bool | None = None,
        batch_size: int = 16,
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ):
        """`step_separator`, `separate_prompt` and `chat_template` left None read what a `ponder train prm` folder
        saved in prm_config.json, else use TRL's convention ("\\n" after each step, nothing after
        the prompt): scoring with another layout than the PRM was trained on reads its labels at
        the wrong tokens."""
        saved_path = Path(model, "prm_config.json") if isinstance(model, str) else None
        saved = json.loads(saved_path.read_text()) if saved_path and saved_path.is_file() else {}
        step_separator = saved.get("step_separator", TRL_STEP_SEPARATOR) if step_separator is None else step_separator
        self.separate_prompt = saved.get("separate_prompt", False) if separate_prompt is None else separate_prompt
        self.chat_template = saved.get("chat_template", False) if chat_template is None else chat_template
        super().__init__(model, tokenizer, batch_size, dtype, trust_remote_code)
        self.separator_ids = self.tokenizer.encode(step_separator, add_special_tokens=False)
        if not self.separator_ids:
            raise ValueError(f"step_separator: {step_separator!r} encodes to no tokens")

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        ids = prompt_ids(self.tokenizer, question, self.separator_ids, self.separate_prompt, self.chat_template)
        positions = []
        for step in steps:
            ids = ids + self.tokenizer.encode(step, add_special_tokens=False) + self.separator_ids
            positions.append(len(ids) - 1)
        return ids, positions

    def token_scores(self, output) -> torch.Tensor:
        return output_logits(output).float().softmax(-1)[..., 1]
