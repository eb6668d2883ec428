"""The oracle PRM: a dataset's exact step checker, the ceiling a learned PRM is measured against."""

from __future__ import annotations

from ponder.data.checkers import STEP_CHECKERS

from .base import register


@register("oracle")
class OraclePRM:
    num_parameters = 0  # not a model: it costs no FLOPs
    tokens_scored = 0

    def __init__(self, checker: str = "arithworld"):
        if checker not in STEP_CHECKERS:
            raise ValueError(
                f"prm_checker: unknown '{checker}' (expected one of: {', '.join(STEP_CHECKERS)})"
            )
        self.check = STEP_CHECKERS[checker]

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        """1.0 for a step that is correct and keeps the solution correct, 0.0 otherwise."""
        return [[float(ok) for ok in self.check(question, steps)] for steps in step_lists]
