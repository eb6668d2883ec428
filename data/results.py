"""What search produces: trajectories and one result row per problem × strategy × budget.

Plain dataclasses that serialise to JSON lines; a results folder also loads as a
`datasets.Dataset` (`load_results`). They live in `data` because every layer reads them: infer
writes them, data builds distillation rows and difficulty bins from them, train and the
pipelines read their accuracies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.errors import ConfigError

from .answers import STEP_SEPARATOR
from .problem import Problem

# How step scores become one trajectory score (search-and-learn's `agg_strategy`).
AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "last": lambda scores: scores[-1],
    "min": min,
    "prod": math.prod,
    "mean": lambda scores: sum(scores) / len(scores),
}


def aggregate(scores: list[float], how: str) -> float:
    """One trajectory score from its step scores (0 for a trajectory that was never scored)."""
    if how not in AGGREGATIONS:
        raise ConfigError(f"aggregation: unknown '{how}' (expected one of: {', '.join(AGGREGATIONS)})")
    return AGGREGATIONS[how](scores) if scores else 0.0


@dataclass
class Trajectory:
    steps: list[str]
    scores: list[float] = field(default_factory=list)  # PRM score per step
    answer: str | None = None  # extracted final answer
    tokens: int = 0  # policy tokens generated for this trajectory (its own steps)
    finish_reason: str = "length"  # "stop" / "eos" / "length"
    parent: int | None = None  # tree strategies: the first-round beam (0..N-1) it descends from

    @property
    def text(self) -> str:
        return STEP_SEPARATOR.join(self.steps)


@dataclass
class Compute:
    policy_tokens: int = 0  # every token the policy generated, lookahead rollouts included
    prm_tokens: int = 0  # every token the PRM read
    flops: float = 0.0  # 2 × parameters × tokens, for each model (re-read context included)
    wall_s: float = 0.0
    # Tokens of earlier attempts that a revision model re-read in its context (sequential revisions).
    # The question is not counted, for any strategy: every strategy reads it alike.
    context_tokens: int = 0

    @property
    def policy_total_tokens(self) -> int:
        """What the policy wrote and re-read: the token cost that strategies are compared on."""
        return self.policy_tokens + self.context_tokens


@dataclass
class SearchResult:
    problem_id: str
    strategy: str
    n: int  # budget: generations, as in the literature
    params: dict
    answer: str | None
    correct: bool
    reference: str
    level: int | None = None
    trajectories: list[Trajectory] = field(default_factory=list)
    compute: Compute = field(default_factory=Compute)
    config_hash: str = ""
    # What grading a trajectory again needs (`problem`): the question, and the problem's source,
    # which names its world when the world grades whole trajectories (Countdown). Rows written
    # before these fields were added leave them empty; their grading needs only the reference.
    question: str = ""
    source: str | None = None

    @property
    def problem(self) -> Problem:
        """The problem as grading sees it (no worked solution)."""
        meta = {"source": self.source} if self.source else {}
        return Problem(self.problem_id, self.question, self.reference, level=self.level, meta=meta)

    def to_json(self) -> str:
        row = asdict(self)
        for t, traj in zip(row["trajectories"], self.trajectories):
            t["text"] = traj.text
        return json.dumps(row)

    @staticmethod
    def from_dict(row: dict) -> SearchResult:
        row = dict(row)
        row["trajectories"] = [
            Trajectory(**{k: v for k, v in t.items() if k != "text"}) for t in row["trajectories"]
        ]
        row["compute"] = Compute(**row["compute"])
        return SearchResult(**row)


def results_config(results_dir: str | Path) -> dict:
    """The arguments a `ponder infer` folder was run with (its config.json); ConfigError if it has none."""
    path = Path(results_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"{results_dir}: no config.json (not a `ponder infer` output folder)")
    return json.loads(path.read_text())


def results_problems(results_dir: str | Path) -> dict:
    """The problems a results folder was searched on, by id, reloaded from its recorded source.

    Result rows keep only ids and references; the questions come back from the same source,
    split and seed that `ponder infer` used (a generated world regenerates them exactly).
    """
    from .sources import source_from_config

    return {p.id: p for p in source_from_config(results_config(results_dir)).load()}


def search_key(problem_id: str, strategy: str, n: int, params: dict) -> str:
    """What identifies one search of one problem: the strategy, its budget and hyper-parameters."""
    return json.dumps([problem_id, strategy, n, params], sort_keys=True)


def read_results(path: str | Path) -> list[SearchResult]:
    """Every complete row of a results file (a line cut short by a kill is ignored)."""
    rows = []
    for line in Path(path).read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            rows.append(SearchResult.from_dict(json.loads(line)))
    return rows


def load_results(results_dir: str | Path):
    """A results folder (or its results.jsonl) as a `datasets.Dataset`, one row per result."""
    import datasets  # slow to import; only this reader needs it

    path = Path(results_dir)
    path = path / "results.jsonl" if path.is_dir() else path
    return datasets.Dataset.from_list([json.loads(row.to_json()) for row in read_results(path)])
