"""`token-cls`: a token classifier with 2 labels, read at the end of each step.

This is the layout `ponder train prm` produces and TRL's former PRMTrainer produced (e.g.
HuggingFaceH4/Qwen2.5-Math-1.5B-Instruct-PRM-0.2). TRL's `PRMTrainer.tokenize_row` built a row
as [bos] + prompt, then each step followed by `step_separator` ("\\n" by default), all tokenized
without special tokens, and put the step's label on the LAST token of its separator; the step's
score is therefore softmax(logits)[1] there.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification, PreTrainedModel

from .base import register
from .model import ModelPRM, output_logits

TRL_STEP_SEPARATOR = "\n"


@register("token-cls")
class TokenClassificationPRM(ModelPRM):
    auto_class = AutoModelForTokenClassification

    def __init__(
        self,
        model: str | PreTrainedModel,
        tokenizer=None,
        step_separator: str | None = None,
        batch_size: int = 16,
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ):
        """`step_separator=None` reads the one a `ponder train prm` folder saved in
        prm_config.json, else uses TRL's default "\\n": scoring with another separator than the
        PRM was trained with reads its labels at the wrong tokens."""
        if step_separator is None:
            saved = Path(model, "prm_config.json") if isinstance(model, str) else None
            step_separator = json.loads(saved.read_text())["step_separator"] if saved and saved.is_file() else TRL_STEP_SEPARATOR
        super().__init__(model, tokenizer, batch_size, dtype, trust_remote_code)
        self.separator_ids = self.tokenizer.encode(step_separator, add_special_tokens=False)
        if not self.separator_ids:
            raise ValueError(f"step_separator: {step_separator!r} encodes to no tokens")

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        bos = [] if self.tokenizer.bos_token_id is None else [self.tokenizer.bos_token_id]
        ids = bos + self.tokenizer.encode(question, add_special_tokens=False)
        positions = []
        for step in steps:
            ids = ids + self.tokenizer.encode(step, add_special_tokens=False) + self.separator_ids
            positions.append(len(ids) - 1)
        return ids, positions

    def token_scores(self, output) -> torch.Tensor:
        return output_logits(output).float().softmax(-1)[..., 1]
