"""`ponder fit-router`: the best search per difficulty bin and budget, fitted on validation results.

Compute-optimal scaling (Snell et al. 2024): easy problems are best served by revising or
voting over a few samples, hard ones by searching against the PRM, so the best strategy at a
budget depends on how hard the problem is. From `ponder infer` folders on a validation split
(several folders can hold several hyper-parameter settings: aggregation, beam width) and each
problem's bin (`ponder data difficulty`), this picks for every bin and budget N the candidate —
strategy plus its hyper-parameters — with the highest validation accuracy (ties: fewer tokens).

Beyond the papers, an **uneven** allocation spends a given average budget B unequally: each bin
gets its own N_b (from the budgets that were run) so that the bins' shares weighted by N_b average
at most B and the expected accuracy is highest — easy bins get less, hard ones more. Both tables
go into one JSON file that the `compute_optimal*` strategies of `ponder infer` read.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import ConfigError, parse_config
from ponder.data.results import SearchResult, read_results


@dataclass
class FitRouterArguments:
    results: list[str] = field(
        default_factory=list,
        metadata={
            "help": "`ponder infer` folders on the validation split (one per hyper-parameter setting)."
        },
    )
    difficulty: str = field(
        default="outputs/difficulty.jsonl",
        metadata={"help": "Each validation problem's bin, from `ponder data difficulty`."},
    )
    budgets: list[int] = field(
        default_factory=list, metadata={"help": "Budgets N to fit (default: every N in the results)."}
    )
    output: str = field(default="outputs/router.json", metadata={"help": "JSON table to write."})

    def __post_init__(self):
        if not self.results:
            raise ConfigError("results: give at least one `ponder infer` folder (--results DIR ...)")
        missing = [r for r in self.results if not (Path(r) / "results.jsonl").is_file()]
        if missing:
            raise ConfigError(f"results: no results.jsonl in {missing[0]}")
        if not Path(self.difficulty).is_file():
            raise ConfigError(
                f"difficulty: no file at {self.difficulty} (write it with `ponder data difficulty`)"
            )


@dataclass
class Choice:
    """One way to spend a budget: a strategy, its own budget n and hyper-parameters."""

    strategy: str
    n: int
    params: dict
    accuracy: float = 0.0  # on the validation problems it was chosen for
    tokens: float = 0.0  # mean policy tokens per problem there

    def key(self) -> str:
        return json.dumps([self.strategy, self.n, self.params], sort_keys=True)


@dataclass
class RouterTable:
    num_bins: int
    budgets: list[int]
    bin_share: dict[int, float]  # share of validation problems in each bin
    even: dict[int, dict[int, Choice]]  # budget -> bin -> choice with n == budget
    uneven: dict[int, dict[int, Choice]]  # average budget -> bin -> choice with its own n

    def choose(self, bin_: int, budget: int, uneven: bool = False) -> Choice:
        table = self.uneven if uneven else self.even
        if budget not in table:
            raise ConfigError(f"budget {budget} is not in the router table (fitted budgets: {self.budgets})")
        row = table[budget]
        return row[bin_] if bin_ in row else row[0]  # 0: every bin pooled, for bins unseen in validation

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @staticmethod
    def load(path: str | Path) -> RouterTable:
        raw = json.loads(Path(path).read_text())

        def table(t: dict) -> dict[int, dict[int, Choice]]:
            return {int(b): {int(k): Choice(**c) for k, c in row.items()} for b, row in t.items()}

        return RouterTable(
            raw["num_bins"],
            raw["budgets"],
            {int(k): v for k, v in raw["bin_share"].items()},
            table(raw["even"]),
            table(raw["uneven"]),
        )


def candidate_scores(rows: list[SearchResult], bins: dict[str, int]) -> dict[tuple[int, str], Choice]:
    """Validation accuracy and tokens of every (bin, candidate); bin 0 pools every bin."""
    groups: dict[tuple[int, str], list[SearchResult]] = defaultdict(list)
    candidates: dict[str, Choice] = {}
    for r in rows:
        if r.problem_id not in bins:
            continue
        c = Choice(r.strategy, r.n, dict(r.params))
        candidates[c.key()] = c
        groups[(bins[r.problem_id], c.key())].append(r)
        groups[(0, c.key())].append(r)
    scores = {}
    for (b, key), rs in groups.items():
        c = candidates[key]
        scores[(b, key)] = Choice(
            c.strategy,
            c.n,
            c.params,
            sum(r.correct for r in rs) / len(rs),
            sum(r.compute.policy_total_tokens for r in rs) / len(rs),
        )
    return scores


def _best(options: list[Choice]) -> Choice:
    return max(options, key=lambda c: (c.accuracy, -c.tokens))


def fit_router(
    rows: list[SearchResult], bins: dict[str, int], num_bins: int, budgets: list[int] | None = None
) -> RouterTable:
    scores = candidate_scores(rows, bins)
    if not scores:
        raise ConfigError("results: no result row belongs to a problem of the difficulty file")
    budgets = sorted(budgets or {c.n for c in scores.values() if c.strategy != "greedy"})
    seen = sorted({b for b, _ in scores})
    by_bin_n: dict[tuple[int, int], list[Choice]] = defaultdict(list)
    for (b, _), c in scores.items():
        by_bin_n[(b, c.n)].append(c)
    even = {}
    for budget in budgets:
        row = {b: _best(by_bin_n[(b, budget)]) for b in seen if by_bin_n[(b, budget)]}
        if 0 not in row:
            raise ConfigError(f"budgets: no validation result has n={budget}")
        even[budget] = row
    counts: dict[int, int] = defaultdict(int)
    for pid in {r.problem_id for r in rows if r.problem_id in bins}:
        counts[bins[pid]] += 1
    share = {b: counts[b] / sum(counts.values()) for b in sorted(counts)}
    menus = {
        b: [even[budget][b] for budget in budgets if b in even[budget]] for b in share
    }  # each bin's best at every budget
    uneven = {budget: allocate(budget, share, menus, pooled=even[budget][0]) for budget in budgets}
    return RouterTable(num_bins, budgets, share, even, uneven)


def allocate(
    budget: int, share: dict[int, float], options: dict[int, list[Choice]], pooled: Choice
) -> dict[int, Choice]:
    """Per-bin choices whose share-weighted mean n is at most `budget`, maximising expected accuracy.

    Exhaustive over the (budgets per bin) ** (bins) combinations: 5 budgets and 5 bins are 3,125.
    """
    bins = sorted(options)
    best, best_value = None, (-1.0, 0.0)
    for combo in itertools.product(*(options[b] for b in bins)):
        cost = sum(share[b] * c.n for b, c in zip(bins, combo))
        if cost > budget + 1e-9:
            continue
        value = (sum(share[b] * c.accuracy for b, c in zip(bins, combo)), -cost)
        if value > best_value:
            best, best_value = combo, value
    row = dict(zip(bins, best)) if best else {}
    row[0] = pooled
    return row


def run(args: FitRouterArguments) -> RouterTable:
    """Fit the table on the validation results and bins, print it and save it to `args.output`."""
    from ponder.data.difficulty import read as read_difficulty

    bins = {pid: d.bin for pid, d in read_difficulty(args.difficulty).items()}
    rows = [r for folder in args.results for r in read_results(Path(folder) / "results.jsonl")]
    table = fit_router(rows, bins, max(bins.values()), args.budgets or None)
    path = table.save(args.output)
    print(format_table(table))
    print(f"wrote {path}")
    return table


def main(argv: list[str] | None = None) -> RouterTable:
    return run(*parse_config((FitRouterArguments,), argv, prog="ponder fit-router", description=__doc__))


def format_table(table: RouterTable) -> str:
    lines = [
        f"{'allocation':<11}{'budget':>7}{'bin':>5}{'share':>7}  {'choice':<34}{'val acc':>8}{'tokens':>8}"
    ]
    for name, t in (("even", table.even), ("uneven", table.uneven)):
        for budget in table.budgets:
            for b, c in sorted(t[budget].items()):
                if b == 0:
                    continue
                desc = f"{c.strategy}@{c.n} " + ",".join(
                    f"{k}={v}" for k, v in sorted(c.params.items()) if k != "select"
                )
                lines.append(
                    f"{name:<11}{budget:>7}{b:>5}{100 * table.bin_share[b]:>6.0f}%  {desc[:34]:<34}"
                    f"{100 * c.accuracy:>7.1f}%{c.tokens:>8.0f}"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder fit-router", main)
