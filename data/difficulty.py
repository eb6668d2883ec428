"""`ponder data difficulty`: how hard each problem is for the policy, as a bin from 1 (easy) to 5.

Two sources, as in Snell et al. (2024):

- **pass rate** (oracle difficulty): from a `ponder infer` folder, the share of a problem's
  sampled solutions that reach the reference, read from the largest pool of one pool strategy
  (majority vote by default). Problems are binned into quantiles of pass rate; equal pass rates
  always share a bin (so when 40% of problems are always solved, they all land in bin 1 and the
  next bin used is 3), which keeps a bin a property of the problem rather than of a tie-break.
- **level**: the dataset's own level field (MATH levels, ArithWorld levels), with no sampling;
  the problems come from the source options (`--dataset`, `--split`, `--limit`, `--seed`,
  `--per_level`), which only this mode reads.

Rows (jsonl): problem_id, question, level, pass_rate, samples, bin. `ponder train difficulty`
learns `bin` from the question; `ponder fit-router` and the compute-optimal strategies read it
as the oracle bin.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ponder.config import parse_config
from ponder.errors import ConfigError

from .grading import grade_trajectories
from .results import read_results, results_problems
from .sources import SourceArguments

SOURCES = ("pass_rate", "level")


@dataclass
class DifficultyArguments(SourceArguments):
    source: str = field(
        default="pass_rate",
        metadata={
            "help": "'pass_rate': quantiles of the policy's pass rate from a `ponder infer` folder; "
            "'level': the dataset's level field."
        },
    )
    results: str | None = field(
        default=None,
        metadata={"help": "pass_rate: the `ponder infer` folder whose samples give the pass rates."},
    )
    strategy: str = field(
        default="majority",
        metadata={
            "help": "pass_rate: the pool strategy whose largest pool is read "
            "(majority, best_of_n, weighted_best_of_n)."
        },
    )
    num_bins: int = field(default=5, metadata={"help": "Number of difficulty bins (quantiles of pass rate)."})
    output: str = field(default="outputs/difficulty.jsonl", metadata={"help": "jsonl file to write."})

    def __post_init__(self):
        super().__post_init__()
        if self.source not in SOURCES:
            raise ConfigError(f"source: expected 'pass_rate' or 'level', got '{self.source}'")
        if self.source == "pass_rate" and not self.results:
            raise ConfigError("results: source 'pass_rate' needs the `ponder infer` folder (--results)")
        if self.num_bins < 1:
            raise ConfigError(f"num_bins: must be >= 1, got {self.num_bins}")


@dataclass
class Difficulty:
    problem_id: str
    question: str
    level: int | None
    pass_rate: float | None
    samples: int
    bin: int  # 1 = easiest


def quantile_bins(pass_rates: list[float], num_bins: int = 5) -> list[int]:
    """Bin 1 holds the highest pass rates; a problem's bin is where its tie group starts."""
    n = len(pass_rates)
    order = sorted(pass_rates, reverse=True)
    first_rank = {}
    for rank, rate in enumerate(order):
        first_rank.setdefault(rate, rank)
    return [1 + first_rank[rate] * num_bins // n for rate in pass_rates]


def from_results(results_dir: str, strategy: str = "majority", num_bins: int = 5) -> list[Difficulty]:
    """Pass rate of every problem in a results folder, from its largest pool of `strategy`."""
    path = Path(results_dir) / "results.jsonl"
    if not path.is_file():
        raise ConfigError(f"results: no results.jsonl in {results_dir}")
    pools = {}
    for row in read_results(path):
        if row.strategy == strategy and (row.problem_id not in pools or row.n > pools[row.problem_id].n):
            pools[row.problem_id] = row
    if not pools:
        raise ConfigError(f"strategy: {results_dir} has no '{strategy}' rows to read samples from")
    problems = results_problems(results_dir)
    rows = list(pools.values())
    # graded against the reference each row was searched with
    graded = [(replace(problems[r.problem_id], answer=r.reference), t) for r in rows for t in r.trajectories]
    verdicts = iter(grade_trajectories(graded))
    rates = [sum(next(verdicts) for _ in r.trajectories) / len(r.trajectories) for r in rows]
    bins = quantile_bins(rates, num_bins)
    return [
        Difficulty(r.problem_id, problems[r.problem_id].question, r.level, rate, len(r.trajectories), b)
        for r, rate, b in zip(rows, rates, bins)
    ]


def from_levels(source: SourceArguments) -> list[Difficulty]:
    """The dataset's own level as the bin; problems without an integer level are left out."""
    problems = source.load()
    out = [
        Difficulty(p.id, p.question, p.level, None, 0, p.level) for p in problems if isinstance(p.level, int)
    ]
    if not out:
        raise ConfigError(f"dataset: {source.dataset} has no problems with an integer level")
    return out


def write(rows: list[Difficulty], output: str | Path) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    return output


def read(path: str | Path) -> dict[str, Difficulty]:
    """Difficulty rows by problem id."""
    rows = [Difficulty(**json.loads(line)) for line in Path(path).read_text().splitlines() if line.strip()]
    return {r.problem_id: r for r in rows}


def run(args: DifficultyArguments) -> Path:
    """Bin every problem and write the rows; the jsonl file written."""
    if args.source == "pass_rate":
        rows = from_results(args.results, args.strategy, args.num_bins)
    else:
        rows = from_levels(args)
    path = write(rows, args.output)
    counts = {b: sum(r.bin == b for r in rows) for b in sorted({r.bin for r in rows})}
    print(f"wrote {len(rows)} problems to {path}; problems per bin: {counts}")
    return path


def main(argv: list[str] | None = None) -> Path:
    return run(
        *parse_config((DifficultyArguments,), argv, prog="ponder data difficulty", description=__doc__)
    )


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder data difficulty", main)
