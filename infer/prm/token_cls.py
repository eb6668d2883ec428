"""`token-cls`: a PRM that is a token classifier with 2 labels, read at each step separator.

This is the layout `ponder train prm` produces and that TRL's former PRMTrainer produced (e.g.
HuggingFaceH4/Qwen2.5-Math-1.5B-Instruct-PRM-0.2): the input is [bos] + question + each step
followed by the separator (TRL's `step_separator`, "\\n" by default), and the label of a step sits
on the last token of its separator. The step's score is the softmax probability of label 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedModel

from .base import register, scores_at_positions


@register("token-cls")
class TokenClassificationPRM:
    def __init__(
        self,
        model: str | PreTrainedModel,
        tokenizer=None,
        step_separator: str | None = None,  # default: the trained PRM's own, else TRL's "\n"
        batch_size: int = 16,
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ):
        if model is None:
            raise ValueError("prm_model: the token-cls scorer needs a model folder or hub name")
        if isinstance(model, str):
            saved = Path(model) / "prm_config.json"  # written by `ponder train prm`
            if step_separator is None and saved.is_file():
                step_separator = json.loads(saved.read_text())["step_separator"]
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            model = AutoModelForTokenClassification.from_pretrained(model, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code)
        if tokenizer is None:
            raise ValueError("TokenClassificationPRM needs a tokenizer when given a model object")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.separator_ids = tokenizer.encode("\n" if step_separator is None else step_separator, add_special_tokens=False)
        self.batch_size = batch_size
        self.num_parameters = model.num_parameters()
        self.tokens_scored = 0

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        """Token ids of the scored sequence, and the position of each step's score."""
        ids = self.tokenizer(question, add_special_tokens=False)["input_ids"]
        if self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id] + ids
        positions = []
        for step in steps:
            ids = ids + self.tokenizer(step, add_special_tokens=False)["input_ids"] + self.separator_ids
            positions.append(len(ids) - 1)
        return ids, positions

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        inputs = [self.build_input(question, steps) for steps in step_lists]
        scores, tokens = scores_at_positions(self.model, inputs, self.tokenizer.pad_token_id, self.batch_size, lambda out: out.logits.float().softmax(-1)[..., 1])
        self.tokens_scored += tokens
        return scores