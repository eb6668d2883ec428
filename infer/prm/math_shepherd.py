"""`math-shepherd`: peiyi9979/math-shepherd-mistral-7b-prm.

Its model card's convention: the input is `f"{question} {output}"` where the output's steps
each end with the tag " ки" and are joined by "\\n" (the tag marks where the step's label was
written in training); the card encodes it with the tokenizer's special tokens (bos). A step's
score is the softmax over the ("+", "-") logits at its tag, "+" taken as `encode("+")[-1]`
(for the card's Mistral tokenizer the same ids, 648 and 387, as its `encode("+ -")[1:]`). The
card's solutions number their steps ("Step 1: ..."); like search-and-learn, ponder's steps are
passed as they are.
"""

from __future__ import annotations

from ponder.errors import ConfigError

from .base import register
from .model import ModelPRM, token_id

STEP_TAG = "ки"


@register("math-shepherd")
class MathShepherdPRM(ModelPRM):
    verdict = ("+", "-")

    def __init__(self, model, **options):
        super().__init__(model, **options)
        self.tag_id = token_id(self.tokenizer, STEP_TAG, "step tag")

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        text = f"{question} " + f" {STEP_TAG}\n".join(steps) + f" {STEP_TAG}"
        ids = self.tokenizer.encode(text)
        positions = [i for i, token in enumerate(ids) if token == self.tag_id]
        if len(positions) != len(steps):
            raise ConfigError(
                f"math-shepherd: {len(positions)} '{STEP_TAG}' tags for {len(steps)} steps; "
                "the question or a step contains the tag"
            )
        return ids, positions
