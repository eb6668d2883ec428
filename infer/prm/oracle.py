"""The oracle PRM: a world's exact step checker, the ceiling a learned PRM is measured against."""

from __future__ import annotations

from ponder.data.worlds import step_checker

from .base import register


@register("oracle")
class OraclePRM:
    num_parameters = 0  # not a model: it costs no FLOPs
    tokens_scored = 0

    def __init__(
        self, model: str | None = None, *, trust_remote_code: bool = False, device: str | None = None
    ):
        """`model` names the world whose checker this is (`--prm_model`, by default the world the
        command's `--dataset` names: `prm_model_of`). It runs no model, so `device` is not used."""
        self.check = step_checker(model)

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        """1.0 for a step that is correct and keeps the solution correct, 0.0 otherwise."""
        return [[float(ok) for ok in self.check(question, steps)] for steps in step_lists]
