"""The interface every process reward model (PRM) implements, and the registry that names them.

A PRM scores each step of a partial or complete solution: `score(question, step_lists)` takes
one question and several candidate solutions (each a list of steps in ponder's format: steps
separated by a blank line, final answer in \\boxed{}) and returns, for each candidate, one score
in [0, 1] per step: the probability that the solution is still on a correct path after that step.
Adapters convert from ponder's step format to whatever layout a published PRM was trained on.

Scorers are chosen by name from `PRMS`; adding one is adding a module that calls `register`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol


class PRM(Protocol):
    num_parameters: int  # for FLOPs accounting; 0 for a PRM that is not a model

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        """Per-step scores in [0, 1] for each candidate solution of `question`."""
        ...


PRMS: dict[str, Callable[..., PRM]] = {}


def register(name: str):
    """Class decorator: make a PRM constructible as `load_prm(name, ...)`."""

    def add(cls):
        PRMS[name] = cls
        return cls

    return add


def load_prm(name: str, **kwargs) -> PRM:
    if name not in PRMS:
        raise ValueError(f"prm: unknown scorer '{name}' (expected one of: {', '.join(sorted(PRMS))})")
    return PRMS[name](**kwargs)


# How step scores become one trajectory score (search-and-learn's `agg_strategy`).
AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "last": lambda scores: scores[-1],
    "min": min,
    "prod": math.prod,
    "mean": lambda scores: sum(scores) / len(scores),
}


def aggregate(scores: list[float], how: str) -> float:
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation: unknown '{how}' (expected one of: {', '.join(AGGREGATIONS)})")
    return AGGREGATIONS[how](scores) if scores else 0.0
