"""`ponder eval search`: accuracy against budget for every strategy of a `ponder infer` run.

For each strategy and budget N: accuracy with a 95% Wilson interval, and the mean policy
tokens and FLOPs spent per problem. The best-of-N family (majority, best-of-N, weighted
best-of-N) gets a point for every N up to the largest pool, by subsampling N of the pool's
samples many times per problem (search-and-learn's curves). Writes a table to stdout and
`summary.json`, PNG plots of accuracy against N, tokens and FLOPs, and the same curves to W&B.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import ConfigError, parse_config
from ponder.data import grade
from ponder.data.results import SearchResult, read_results
from ponder.plots import pyplot, save_figure
from ponder.tracking import log_run

from .strategies.selection import SELECTORS


@dataclass
class EvalSearchArguments:
    results: list[str] = field(
        default_factory=lambda: ["outputs/infer"],
        metadata={
            "help": "Results folders (or results.jsonl files) of `ponder infer`; several are drawn together "
            "(e.g. fixed strategies and compute-optimal runs)."
        },
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where tables and plots go (default: the first results folder)."}
    )
    subsamples: int = field(
        default=32, metadata={"help": "Random subsets per problem and N for the best-of-N curves."}
    )
    levels: bool = field(default=True, metadata={"help": "Also report accuracy per level."})
    wandb: bool = field(
        default=True, metadata={"help": "Log the curves and table to W&B (offline without an API key)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the subsampling."})


@dataclass
class Point:
    strategy: str
    n: int
    accuracy: float
    low: float
    high: float
    problems: int
    tokens: float  # mean policy tokens per problem
    flops: float  # mean FLOPs per problem
    level: int | None = None


def wilson(successes: float, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return 0.0, 0.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def direct_points(rows: list[SearchResult], level: int | None = None) -> list[Point]:
    """One point per (strategy, n) as it was run."""
    groups: dict[tuple[str, int], list[SearchResult]] = defaultdict(list)
    for r in rows:
        groups[(r.strategy, r.n)].append(r)
    points = []
    for (strategy, n), rs in sorted(groups.items()):
        correct = sum(r.correct for r in rs)
        points.append(
            Point(
                strategy,
                n,
                correct / len(rs),
                *wilson(correct, len(rs)),
                len(rs),
                sum(r.compute.policy_tokens for r in rs) / len(rs),
                sum(r.compute.flops for r in rs) / len(rs),
                level,
            )
        )
    return points


def subsampled_points(
    rows: list[SearchResult], subsamples: int, seed: int, level: int | None = None
) -> list[Point]:
    """Best-of-N-family accuracy for every N up to the pool size, from the largest pool per problem."""
    pools: dict[tuple[str, str], SearchResult] = {}
    for r in rows:
        key = (r.strategy, r.problem_id)
        if r.strategy in SELECTORS and (key not in pools or r.n > pools[key].n):
            pools[key] = r
    rng = random.Random(seed)
    verdicts: dict[tuple[str, str], bool] = {}

    def is_right(answer: str | None, reference: str) -> bool:
        if answer is None:
            return False
        if (answer, reference) not in verdicts:
            verdicts[(answer, reference)] = grade(f"\\boxed{{{answer}}}", reference)
        return verdicts[(answer, reference)]

    by_strategy: dict[str, list[SearchResult]] = defaultdict(list)
    for (strategy, _), r in pools.items():
        by_strategy[strategy].append(r)
    points = []
    for strategy, pool_rows in sorted(by_strategy.items()):
        aggregation = pool_rows[0].params.get("aggregation", "last")
        n_max = min(len(r.trajectories) for r in pool_rows)
        for n in range(1, n_max + 1):
            acc, tokens, flops = 0.0, 0.0, 0.0
            for r in pool_rows:
                draws = 1 if n == len(r.trajectories) else subsamples
                for _ in range(draws):
                    subset = r.trajectories if draws == 1 else rng.sample(r.trajectories, n)
                    acc += is_right(SELECTORS[strategy](subset, aggregation), r.reference) / draws
                    tokens += sum(t.tokens for t in subset) / draws
                flops += r.compute.flops * n / len(r.trajectories)
            k = len(pool_rows)
            points.append(Point(strategy, n, acc / k, *wilson(acc, k), k, tokens / k, flops / k, level))
    return points


def evaluate_results(
    rows: list[SearchResult], subsamples: int = 32, seed: int = 0, levels: bool = True
) -> list[Point]:
    points = _curves(rows, subsamples, seed)
    if levels:
        for level in sorted({r.level for r in rows if r.level is not None}):
            points += _curves([r for r in rows if r.level == level], subsamples, seed, level)
    return points


def _curves(rows, subsamples, seed, level=None) -> list[Point]:
    subsampled = subsampled_points(rows, subsamples, seed, level)
    covered = {p.strategy for p in subsampled}
    return [p for p in direct_points(rows, level) if p.strategy not in covered] + subsampled


def tokens_to_reach(curve: list[Point], accuracy: float) -> tuple[float, bool]:
    """Policy tokens at which an accuracy curve first reaches `accuracy`.

    Interpolated linearly in log tokens between the two measured points around the crossing;
    when the curve never gets there, its last point's tokens and False (a lower bound).
    """
    curve = sorted(curve, key=lambda p: p.tokens)
    if curve[0].accuracy >= accuracy:
        return curve[0].tokens, True
    for a, b in zip(curve, curve[1:]):
        if b.accuracy >= accuracy:
            t = (accuracy - a.accuracy) / (b.accuracy - a.accuracy)
            return math.exp(math.log(a.tokens) + t * (math.log(b.tokens) - math.log(a.tokens))), True
    return curve[-1].tokens, False


def efficiency(points: list[Point], strategy: str, n: int, baseline: str = "weighted_best_of_n") -> dict:
    """How many times more policy tokens `baseline` needs to match `strategy`'s accuracy at budget n.

    Snell et al. (2024) report this against best-of-N; `reached` is False when the baseline's
    curve never reaches that accuracy, and the ratio is then a lower bound.
    """
    overall = [p for p in points if p.level is None]
    target = next((p for p in overall if p.strategy == strategy and p.n == n), None)
    curve = [p for p in overall if p.strategy == baseline]
    if target is None or not curve:
        raise ConfigError(f"efficiency: need {strategy} at N={n} and a {baseline} curve in the results")
    tokens, reached = tokens_to_reach(curve, target.accuracy)
    return {
        "ratio": tokens / target.tokens,
        "reached": reached,
        "accuracy": target.accuracy,
        "tokens": target.tokens,
        "baseline_tokens": tokens,
    }


def format_table(points: list[Point]) -> str:
    lines = [f"{'strategy':<20}{'level':>6}{'N':>5}{'accuracy':>10}{'95% CI':>16}{'tokens':>10}{'FLOPs':>11}"]
    for p in points:
        level = "all" if p.level is None else str(p.level)
        interval = f"[{100 * p.low:.0f}, {100 * p.high:.0f}]"
        lines.append(
            f"{p.strategy:<20}{level:>6}{p.n:>5}{100 * p.accuracy:>9.1f}%{interval:>16}"
            f"{p.tokens:>10.0f}{p.flops:>11.2e}"
        )
    return "\n".join(lines)


def plot(points: list[Point], out_dir: Path) -> list[Path]:
    """Accuracy against N, tokens and FLOPs (all levels), and against N per level."""
    plt = pyplot()

    paths = []
    overall = [p for p in points if p.level is None]
    for x, label, log in (
        ("n", "budget N (generations)", 2),
        ("tokens", "policy tokens per problem", 10),
        ("flops", "FLOPs per problem", 10),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for strategy in sorted({p.strategy for p in overall}):
            pts = sorted((p for p in overall if p.strategy == strategy), key=lambda p: getattr(p, x))
            if len(pts) == 1:  # greedy: one point, drawn as a reference line
                ax.axhline(100 * pts[0].accuracy, linestyle="--", color="black", linewidth=1, label=strategy)
                continue
            xs = [getattr(p, x) for p in pts]
            ax.plot(xs, [100 * p.accuracy for p in pts], marker="o" if len(pts) < 8 else None, label=strategy)
            ax.fill_between(xs, [100 * p.low for p in pts], [100 * p.high for p in pts], alpha=0.12)
        if all(getattr(p, x) > 0 for p in overall):
            ax.set_xscale("log", base=log)
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"accuracy against {label}")
        paths.append(save_figure(fig, ax, out_dir / f"accuracy_vs_{x}.png"))
    levels = sorted({p.level for p in points if p.level is not None})
    if levels:
        fig, axes = plt.subplots(1, len(levels), figsize=(3.2 * len(levels), 3.4), sharey=True, squeeze=False)
        for ax, level in zip(axes[0], levels):
            pts = [p for p in points if p.level == level]
            for strategy in sorted({p.strategy for p in pts}):
                s = sorted((p for p in pts if p.strategy == strategy), key=lambda p: p.n)
                if len(s) == 1:
                    ax.axhline(
                        100 * s[0].accuracy, linestyle="--", color="black", linewidth=1, label=strategy
                    )
                else:
                    ax.plot([p.n for p in s], [100 * p.accuracy for p in s], label=strategy)
            ax.set_xscale("log", base=2)
            ax.set_title(f"level {level}")
            ax.set_xlabel("N")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("accuracy (%)")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / "accuracy_vs_n_by_level.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def log_to_wandb(points: list[Point], plots: list[Path], run_name: str, config: dict) -> None:
    """The table of every point, a curve per strategy (all levels) and the PNGs, as one W&B run."""
    overall = sorted((p for p in points if p.level is None), key=lambda p: (p.strategy, p.n))
    log_run(
        "eval-search",
        run_name,
        config,
        {"search/table": [asdict(p) for p in points]},
        history=[
            {f"search/{p.strategy}/{key}": getattr(p, key) for key in ("accuracy", "n", "tokens")}
            for p in overall
        ],
        images=plots,
    )


def log_search(results_path: Path, config: dict) -> None:
    """What a `ponder infer` run found, as one W&B run: per strategy and budget as run, accuracy and
    mean policy tokens and FLOPs per problem, as a table and as a curve per strategy."""
    points = direct_points(read_results(results_path))
    folder = results_path.parent
    log_run(
        "infer",
        f"infer {folder.parent.name}/{folder.name}",
        config,
        {"infer/table": [asdict(p) for p in points]},
        history=[
            {f"infer/{p.strategy}/{key}": getattr(p, key) for key in ("accuracy", "n", "tokens", "flops")}
            for p in points
        ],
    )


def run(args: EvalSearchArguments) -> list[Point]:
    """Points of every strategy and budget (and level): printed, saved as summary.json, plotted, logged."""
    paths = [Path(p) / "results.jsonl" if Path(p).is_dir() else Path(p) for p in args.results]
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"results: no results file at {path}")
    rows = [row for path in paths for row in read_results(path)]
    path = paths[0]
    points = evaluate_results(rows, args.subsamples, args.seed, args.levels)
    print(format_table([p for p in points if p.level is None]))
    out_dir = Path(args.output_dir) if args.output_dir else path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps([asdict(p) for p in points], indent=2))
    plots = plot(points, out_dir)
    print(f"wrote {out_dir / 'summary.json'} and {', '.join(p.name for p in plots)}")
    if args.wandb:
        log_to_wandb(points, plots, f"eval-{path.parent.name}", asdict(args))
    return points


def main(argv: list[str] | None = None) -> list[Point]:
    return run(*parse_config((EvalSearchArguments,), argv, prog="ponder eval search", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder eval search", main)
