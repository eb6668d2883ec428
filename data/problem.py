"""The one record every dataset becomes: a question with its reference final answer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Problem:
    """A maths problem as search, training and evaluation see it.

    `answer` is the reference final answer as a string (what `grade` compares a completion
    against), never a worked solution; `solution` holds the worked solution when the dataset has
    one. `level` is the dataset's own difficulty (MATH levels 1-5, ArithWorld levels), and `meta`
    keeps whatever else the source row carried (subject, url, ...), so nothing is lost on load.
    """

    id: str
    question: str
    answer: str
    solution: str | None = None
    level: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with one key per field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """The inverse of `to_dict`; unknown or missing keys raise TypeError."""
        return cls(**data)


def write_problem_file(path: Path, header: dict[str, Any], problems: list[Problem]) -> None:
    """`problems` kept in `path`, one JSON object per line after a `header` line (what they are),
    written whole to a file of this process and renamed over `path`: a reader sees the old file or
    the new one, never half of one, and processes writing the same file do not mix their lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    with partial.open("w", encoding="utf-8") as file:
        file.write(json.dumps(header, sort_keys=True) + "\n")
        file.writelines(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in problems)
    partial.replace(path)


def read_problem_file(
    path: Path, accept: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], list[Problem]] | None:
    """The header and problems of a `write_problem_file` file, or None when there is none or
    `accept` refuses its header (then its problems are not read)."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as file:
        header = json.loads(file.readline() or "{}")
        if not accept(header):
            return None
        return header, [Problem.from_dict(json.loads(line)) for line in file]
