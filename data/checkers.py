"""Exact step checkers by dataset name: the ground truth that the oracle PRM reports.

A checker takes a question and a list of steps and says, step by step, whether the solution is
still correct after that step. Only generated worlds have one; real datasets do not.
"""

from __future__ import annotations

from collections.abc import Callable

from .arithworld import check_steps as arithworld_check_steps

STEP_CHECKERS: dict[str, Callable[[str, list[str]], list[bool]]] = {
    "arithworld": arithworld_check_steps,
}
