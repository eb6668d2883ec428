"""The one record every dataset becomes: a question with its reference final answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
