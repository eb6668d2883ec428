"""What search produces: trajectories and one result row per problem × strategy × budget.

Plain dataclasses that serialise to JSON lines; a results folder also loads as a
`datasets.Dataset` (`load_results`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Trajectory:
    steps: list[str]
    scores: list[float] = field(default_factory=list)  # PRM score per step
    answer: str | None = None  # extracted final answer
    tokens: int = 0  # policy tokens generated for this trajectory (its own steps)
    finish_reason: str = "length"  # "stop" / "eos" / "length"
    parent: int | None = None  # index of the beam it was expanded from (tree strategies)

    @property
    def text(self) -> str:
        return "\n\n".join(self.steps)


@dataclass
class Compute:
    policy_tokens: int = 0  # every token the policy generated, lookahead rollouts included
    prm_tokens: int = 0  # every token the PRM read
    flops: float = 0.0  # 2 × parameters × tokens, for each model
    wall_s: float = 0.0

    def add(self, other: "Compute") -> None:
        self.policy_tokens += other.policy_tokens
        self.prm_tokens += other.prm_tokens
        self.flops += other.flops
        self.wall_s += other.wall_s


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

    def to_json(self) -> str:
        row = asdict(self)
        for t, traj in zip(row["trajectories"], self.trajectories):
            t["text"] = traj.text
        return json.dumps(row)

    @staticmethod
    def from_dict(row: dict) -> "SearchResult":
        row = dict(row)
        row["trajectories"] = [Trajectory(**{k: v for k, v in t.items() if k != "text"}) for t in row["trajectories"]]
        row["compute"] = Compute(**row["compute"])
        return SearchResult(**row)


def read_results(path: str | Path) -> list[SearchResult]:
    """Every complete row of a results file (a line cut short by a kill is ignored)."""
    rows = []
    for line in Path(path).read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            rows.append(SearchResult.from_dict(json.loads(line)))
    return rows
