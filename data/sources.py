"""One name for every problem source a command can take: ArithWorld, a file, or a hub dataset."""

from __future__ import annotations

from .arithworld import generate_problems
from .loaders import load_problems
from .problem import Problem

ARITHWORLD = "arithworld"


def load_source(
    source: str, split: str = "test", limit: int | None = None, seed: int = 1, per_level: int = 100
) -> list[Problem]:
    """Problems from `source`: "arithworld" generates `per_level` problems per level with `seed`
    (training recipes use seed 0, so the default test seed 1 gives held-out problems); anything
    else is a jsonl/json path or a hub dataset name."""
    if source == ARITHWORLD:
        problems = generate_problems(per_level, seed=seed)
    else:
        problems = load_problems(source, split=split)
    return problems[:limit] if limit else problems
