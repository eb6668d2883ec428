"""`ponder eval search`: accuracy against budget for every strategy of a `ponder infer` run.

For each strategy and budget N: accuracy with a 95% Wilson interval, and the mean policy
tokens and FLOPs spent per problem. The best-of-N family (majority, best-of-N, weighted
best-of-N) gets a point for every N up to 16 and four per doubling above, up to the largest
pool, by subsampling N of the pool's samples many times per problem (search-and-learn's curves).
Writes a table to stdout and `summary.json`, PNG plots of accuracy against N, tokens and FLOPs,
and the same curves to W&B. `efficiency` and `routing_gain_vs_best_fixed` turn per-problem
outcomes into token ratios with bootstrap intervals (the compute-optimal benchmark's numbers).
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import ConfigError, parse_config
from ponder.data.grading import answers_of, grade_trajectory
from ponder.data.results import SearchResult, Trajectory, read_results
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
    n: int  # the budget N
    accuracy: float
    low: float  # 95% Wilson interval of the accuracy
    high: float
    problems: int  # distinct problems behind the accuracy
    tokens: float  # mean policy tokens per problem (written, and re-read by revisions)
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
    """One point per (strategy, n) as it was run. Rows of one problem under several hyper-parameters
    (two beam widths at one N) are averaged, but the interval is as wide as its distinct problems make
    it: they, not the rows, are the independent draws."""
    groups: dict[tuple[str, int], list[SearchResult]] = defaultdict(list)
    for r in rows:
        groups[(r.strategy, r.n)].append(r)
    points = []
    for (strategy, n), rs in sorted(groups.items()):
        accuracy, problems = sum(r.correct for r in rs) / len(rs), len({r.problem_id for r in rs})
        points.append(
            Point(
                strategy,
                n,
                accuracy,
                *wilson(accuracy * problems, problems),
                problems,
                sum(r.compute.policy_total_tokens for r in rs) / len(rs),
                sum(r.compute.flops for r in rs) / len(rs),
                level,
            )
        )
    return points


def curve_budgets(n_max: int) -> list[int]:
    """The N at which a pool's curve is drawn: every N up to 16, then four per doubling (2^(1/4)
    apart), and `n_max` itself. Every N up to 256 would cost twenty times the votes for points that
    differ by a fraction of a sample; interpolation between these is as good."""
    ns = set(range(1, min(n_max, 16) + 1)) | {n_max}
    base = 16
    while base < n_max:
        ns |= {n for n in (base * 5 // 4, base * 3 // 2, base * 7 // 4, 2 * base) if n <= n_max}
        base *= 2
    return sorted(ns)


@dataclass
class Outcomes:
    """One strategy's result on each problem at each budget: what a curve's points average and what
    a bootstrap resamples. Row i holds budget `ns[i]`; column j problem `problems[j]`. For a pool,
    `correct` is the share of subsets of N samples whose chosen answer is right."""

    strategy: str
    ns: list[int]
    problems: list[str]
    correct: list[list[float]]
    tokens: list[list[float]]  # policy tokens
    flops: list[list[float]]

    def accuracy(self, n: int) -> float:
        return sum(self.correct[self.ns.index(n)]) / len(self.problems)


def chosen_is_right(chosen: Trajectory | None, row: SearchResult) -> bool:
    """Whether the trajectory a selector chose from some of `row`'s samples solves its problem
    (`grade_trajectory`, which remembers the answers it graded: subsets repeat the same ones)."""
    return chosen is not None and grade_trajectory(row.problem, chosen.text, chosen.answer)


def largest_pools(rows: list[SearchResult], params: dict | None = None) -> dict[str, list[SearchResult]]:
    """Per best-of-N-family strategy, each problem's largest pool (with `params`, when given)."""
    pools: dict[tuple[str, str], SearchResult] = {}
    for r in rows:
        key = (r.strategy, r.problem_id)
        if r.strategy not in SELECTORS or (params is not None and r.params != params):
            continue
        if key not in pools or r.n > pools[key].n:
            pools[key] = r
    by_strategy: dict[str, list[SearchResult]] = defaultdict(list)
    for (strategy, _), r in pools.items():
        by_strategy[strategy].append(r)
    return by_strategy


def pool_outcomes(pool_rows: list[SearchResult], subsamples: int, rng: random.Random) -> Outcomes:
    """Every N of `curve_budgets` up to the smallest pool, from `subsamples` random subsets of N of
    each problem's pool (the whole pool at its own size)."""
    strategy = pool_rows[0].strategy
    aggregation = pool_rows[0].params.get("aggregation", "last")
    ns = curve_budgets(min(len(r.trajectories) for r in pool_rows))
    out = Outcomes(strategy, ns, [r.problem_id for r in pool_rows], [], [], [])
    groups = [answers_of(r.problem).group for r in pool_rows]
    for n in ns:
        correct, tokens, flops = [], [], []
        for r, group in zip(pool_rows, groups):
            draws = 1 if n == len(r.trajectories) else subsamples
            acc, tok = 0.0, 0.0
            for _ in range(draws):
                subset = r.trajectories if draws == 1 else rng.sample(r.trajectories, n)
                chosen = SELECTORS[strategy](subset, aggregation, group)
                acc += chosen_is_right(chosen, r) / draws
                tok += sum(t.tokens for t in subset) / draws
            correct.append(acc)
            tokens.append(tok)
            flops.append(r.compute.flops * n / len(r.trajectories))
        out.correct.append(correct)
        out.tokens.append(tokens)
        out.flops.append(flops)
    return out


def direct_outcomes(rows: list[SearchResult]) -> Outcomes:
    """Rows of one strategy as they were run, on the problems that have a row at every budget."""
    by_n: dict[int, dict[str, SearchResult]] = defaultdict(dict)
    for r in rows:
        by_n[r.n][r.problem_id] = r
    ns = sorted(by_n)
    problems = sorted(set.intersection(*(set(by_n[n]) for n in ns)))
    table = [[by_n[n][p] for p in problems] for n in ns]
    return Outcomes(
        rows[0].strategy,
        ns,
        problems,
        [[float(r.correct) for r in line] for line in table],
        [[float(r.compute.policy_total_tokens) for r in line] for line in table],
        [[r.compute.flops for r in line] for line in table],
    )


def outcomes(
    rows: list[SearchResult], strategy: str, params: dict | None = None, subsamples: int = 32, seed: int = 0
) -> Outcomes:
    """`strategy`'s outcomes (only rows with `params`, when given): subsampled from each problem's
    largest pool for the best-of-N family, as run for every other strategy."""
    if strategy in SELECTORS:
        pools = largest_pools([r for r in rows if r.strategy == strategy], params)
        if pools:
            return pool_outcomes(pools[strategy], subsamples, random.Random(seed))
    mine = [r for r in rows if r.strategy == strategy and (params is None or r.params == params)]
    if not mine:
        raise ConfigError(f"results: no {strategy} rows{f' with {params}' if params else ''}")
    return direct_outcomes(mine)


def subsampled_points(
    rows: list[SearchResult], subsamples: int, seed: int, level: int | None = None
) -> list[Point]:
    """Best-of-N-family accuracy at the N of `curve_budgets` up to the pool size, from the largest
    pool per problem."""
    rng = random.Random(seed)
    points = []
    for strategy, pool_rows in sorted(largest_pools(rows).items()):
        o = pool_outcomes(pool_rows, subsamples, rng)
        k = len(o.problems)
        for i, n in enumerate(o.ns):
            acc = sum(o.correct[i])
            tokens, flops = sum(o.tokens[i]) / k, sum(o.flops[i]) / k
            points.append(Point(strategy, n, acc / k, *wilson(acc, k), k, tokens, flops, level))
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


def interpolate_tokens(tokens: list[float], accuracies: list[float], accuracy: float) -> tuple[float, bool]:
    """Tokens at which a curve (points in any order) first reaches `accuracy`, and whether it does.

    Linear in log tokens between the two points around the crossing: accuracy grows about linearly
    in log compute, so the points (at budgets that double) lie near a line there, whereas a chord in
    plain tokens runs below the concave curve and would credit the baseline with more tokens than
    it needs (a larger ratio). A curve that starts above `accuracy` gives its first point's tokens;
    one that never gets there, its last point's tokens and False: the tokens are a lower bound.
    """
    curve = sorted(zip(tokens, accuracies))
    if curve[0][1] >= accuracy:
        return curve[0][0], True
    for (t0, a0), (t1, a1) in zip(curve, curve[1:]):
        if a1 >= accuracy:
            share = (accuracy - a0) / (a1 - a0)
            return math.exp(math.log(t0) + share * (math.log(t1) - math.log(t0))), True
    return curve[-1][0], False


def tokens_to_reach(curve: list[Point], accuracy: float) -> tuple[float, bool]:
    """`interpolate_tokens` on a strategy's points."""
    return interpolate_tokens([p.tokens for p in curve], [p.accuracy for p in curve], accuracy)


# Share of bootstrap resamples whose baseline curve must reach the target for the 95% interval's
# upper end (the 97.5th percentile) to be a measurement rather than a bound.
INTERVAL_REACHED = 0.975


def efficiency(target: Outcomes, n: int, baseline: Outcomes, resamples: int = 1000, seed: int = 0) -> dict:
    """How many times more policy tokens `baseline` needs to reach `target`'s accuracy at budget n.

    Snell et al. (2024) report this against weighted best-of-N. The interval is a percentile
    bootstrap over problems (the same resample for both strategies, on the problems both have):
    `resamples` draws with `seed`, each recomputing both accuracies, both mean token counts and the
    interpolated crossing. When the baseline's curve never reaches the accuracy, `reached` is False,
    the ratio is a lower bound (`ratio_bound`, and `text` reads ">= r"), and no target may count it;
    `reached_share` is the share of resamples in which it did. A resample whose curve stops short
    gives a lower bound too, so when more than 2.5% of them do, the interval's upper end is one
    (`high_bound`, and `text` reads "r [low, >= high]"): the curve must reach further before the
    interval is measured.
    """
    import numpy as np

    if n not in target.ns:
        raise ConfigError(f"efficiency: no {target.strategy} result at N={n}")
    problems = sorted(set(target.problems) & set(baseline.problems))
    if not problems:
        raise ConfigError(f"efficiency: {target.strategy} and {baseline.strategy} share no problem")

    def columns(o: Outcomes, table: list[list[float]]) -> np.ndarray:
        index = {p: j for j, p in enumerate(o.problems)}
        return np.array(table)[:, [index[p] for p in problems]]

    i = target.ns.index(n)
    t_correct, t_tokens = columns(target, [target.correct[i]])[0], columns(target, [target.tokens[i]])[0]
    b_correct, b_tokens = columns(baseline, baseline.correct), columns(baseline, baseline.tokens)

    def ratio(weights: np.ndarray) -> tuple[float, bool, float, float, float]:
        total = weights.sum()
        accuracy, tokens = weights @ t_correct / total, weights @ t_tokens / total
        needed, reached = interpolate_tokens(
            list(b_tokens @ weights / total), list(b_correct @ weights / total), accuracy
        )
        return needed / tokens, reached, accuracy, tokens, needed

    value, reached, accuracy, tokens, needed = (float(x) for x in ratio(np.ones(len(problems))))
    rng = np.random.default_rng(seed)
    draws = [ratio(w) for w in rng.multinomial(len(problems), [1 / len(problems)] * len(problems), resamples)]
    low, high = (float(x) for x in np.percentile([d[0] for d in draws], [2.5, 97.5]))
    reached_share = sum(d[1] for d in draws) / resamples
    high_bound = reached_share < INTERVAL_REACHED
    upper = f">= {high:.2f}" if high_bound else f"{high:.2f}"
    return {
        "ratio": value,
        "low": low,
        "high": high,
        "reached": bool(reached),
        "ratio_bound": not reached,
        "high_bound": high_bound,
        "text": f"{value:.2f} [{low:.2f}, {upper}]" if reached else f">= {value:.2f}",
        "reached_share": reached_share,
        "accuracy": accuracy,
        "tokens": tokens,
        "baseline": baseline.strategy,
        "baseline_tokens": needed,
        "baseline_max_n": max(baseline.ns),
        "problems": len(problems),
        "resamples": resamples,
    }


def best_fixed(rows: list[SearchResult], n: int, strategies: list[str]) -> dict:
    """The strategy and hyper-parameters among `strategies` with the highest accuracy at budget n
    (ties: fewer mean policy tokens), from rows of a split other than the one it is measured on.
    Only strategies run at n compete (greedy runs at N = 1 only)."""
    groups: dict[str, list[SearchResult]] = defaultdict(list)
    for r in rows:
        if r.strategy in strategies and r.n == n:
            groups[json.dumps([r.strategy, r.params], sort_keys=True)].append(r)
    if not groups:
        raise ConfigError(f"strategies: none of {strategies} was run at N={n}")
    scores = []
    for key, rs in groups.items():
        strategy, params = json.loads(key)
        accuracy = sum(r.correct for r in rs) / len(rs)
        tokens = sum(r.compute.policy_total_tokens for r in rs) / len(rs)
        scores.append({"strategy": strategy, "params": params, "accuracy": accuracy, "tokens": tokens})
    return max(scores, key=lambda s: (s["accuracy"], -s["tokens"]))


def routing_gain_vs_best_fixed(
    validation: list[SearchResult],
    test: list[SearchResult],
    routed: list[str],
    n: int,
    fixed: list[str],
    subsamples: int = 32,
    seed: int = 0,
    resamples: int = 1000,
) -> dict:
    """What routing buys over the best single fixed strategy: the fixed strategy and hyper-parameters
    with the best validation accuracy at budget n (`best_fixed`), and for each routed strategy the
    `efficiency` of routing at n against that one's curve over budgets on the test rows (its
    tokens to reach the routed accuracy, over the routed tokens). A strategy that caps a
    hyper-parameter by N (a beam width above N) has other hyper-parameters at small N: its curve
    starts at the smallest N run with the chosen ones."""
    choice = best_fixed(validation, n, fixed)
    curve = outcomes(test, choice["strategy"], choice["params"], subsamples, seed)
    gains = {s: efficiency(outcomes(test, s), n, curve, resamples, seed) for s in routed}
    return {"fixed": {**choice, "split": "validation", "n": n}, **gains}


def format_table(points: list[Point]) -> str:
    """One line per point: N is the budget, `problems` the distinct problems behind the accuracy."""
    lines = [
        f"{'strategy':<20}{'level':>6}{'N':>5}{'problems':>9}{'accuracy':>10}{'95% CI':>16}"
        f"{'tokens':>10}{'FLOPs':>11}"
    ]
    for p in points:
        level = "all" if p.level is None else str(p.level)
        interval = f"[{100 * p.low:.0f}, {100 * p.high:.0f}]"
        lines.append(
            f"{p.strategy:<20}{level:>6}{p.n:>5}{p.problems:>9}{100 * p.accuracy:>9.1f}%{interval:>16}"
            f"{p.tokens:>10.0f}{p.flops:>11.2e}"
        )
    return "\n".join(lines)


def problems_label(points: list[Point]) -> str:
    """How many problems stand behind `points`, for a legend or a title: "n=100", or "n=98-100"
    when some points had fewer (a strategy run on part of the problems)."""
    counts = sorted({p.problems for p in points})
    return f"n={counts[0]}" if len(counts) == 1 else f"n={counts[0]}-{counts[-1]}"


def plot(points: list[Point], out_dir: Path) -> list[Path]:
    """Accuracy against N, tokens and FLOPs (all levels), and against N per level; every strategy's
    legend (every level's title) says how many problems stand behind its curve."""
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
            name = f"{strategy} ({problems_label(pts)})"
            if len(pts) == 1:  # greedy: one point, drawn as a reference line
                ax.axhline(100 * pts[0].accuracy, linestyle="--", color="black", linewidth=1, label=name)
                continue
            xs = [getattr(p, x) for p in pts]
            ax.plot(xs, [100 * p.accuracy for p in pts], marker="o" if len(pts) < 8 else None, label=name)
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
            ax.set_title(f"level {level} ({problems_label(pts)})")
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
