"""The report of a quickstart run: `report.md` with every results table, and the PNGs beside it.

    flops_matched.png       the searched policy's strategies (learned PRM) and every size of the
                            policy ladder (greedy, majority) against policy FLOPs: the report opens with it
    accuracy_vs_n.png       accuracy against budget N per strategy (learned PRM; oracle-PRM weighted BoN)
    accuracy_vs_tokens.png  the same against policy tokens per problem
    accuracy_vs_flops.png   the same against FLOPs, with a larger policy's greedy and best-of-N as
                            reference lines when one was evaluated (small model + search vs large model)
    accuracy_by_level.png   greedy, pass@k, and each strategy at the largest budget, per level
    prm_calibration.png     the learned PRM's reliability diagram against the exact checker
    distill_rounds.png      greedy and search accuracy per distillation round (when distillation ran)

Every table gives the questions behind each figure (n) and, where the figure is an estimate, its
95% interval; a summary written before they were recorded still reads, with "-" in their place.

Everything is read from what the stages already wrote (`summary.json` and the results folders),
so a report can be rebuilt without running anything again: `ponder report --run_dir DIR`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import parse_config
from ponder.errors import ConfigError
from ponder.plots import pyplot, save_figure


@dataclass
class ReportArguments:
    run_dir: str = field(
        default="outputs/quickstart", metadata={"help": "A quickstart output folder (holding summary.json)."}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where report.md and the PNGs go (default: RUN_DIR/report)."}
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _interval(low: float | None, high: float | None, scale: float = 100, digits: int = 0) -> str:
    """A 95% interval as the tables print it ("-" where a file written before intervals has none)."""
    if low is None or high is None:
        return "-"
    return f"[{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def _share_interval(share: float | None, n: int | None) -> str:
    """The 95% Wilson interval of a share of `n` problems."""
    from ponder.infer.eval_search import wilson

    if share is None or not n:
        return "-"
    return _interval(*wilson(share * n, n))


def _score(value: float | None, low: float | None, high: float | None) -> str:
    """An AUROC with its interval: "0.912 [0.88, 0.94]"."""
    if value is None:
        return "-"
    return f"{value:.3f}" + ("" if low is None else f" {_interval(low, high, 1, 2)}")


def level_accuracy(results_dirs: list[Path], budget: int) -> dict[str, dict[int, tuple[float, int]]]:
    """Accuracy per level of every strategy at `budget` (greedy at 1), and the distinct problems
    behind it, from results folders."""
    from ponder.data.results import read_results

    hits: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    problems: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for folder in results_dirs:
        for row in read_results(folder / "results.jsonl"):
            if row.n == budget or row.strategy == "greedy":
                hits[row.strategy][row.level].append(row.correct)
                problems[row.strategy][row.level].add(row.problem_id)
    return {
        s: {lv: (sum(v) / len(v), len(problems[s][lv])) for lv, v in sorted(by.items())}
        for s, by in sorted(hits.items())
    }


def _n_label(counts: list[int]) -> str:
    """How many problems per level stand behind a curve: "n=10", or "n=9-10" when levels differ."""
    low, high = min(counts), max(counts)
    return f"n={low}" if low == high else f"n={low}-{high}"


def plot_levels(
    levels: list[dict], search: dict[str, dict[int, tuple[float, int]]], budget: int, path: Path
) -> Path:
    """Greedy and pass@k (the policy-alone problems) and every strategy at `budget` (the test
    problems) per level; each legend says how many problems per level stand behind the curve."""
    fig, ax = pyplot().subplots(figsize=(7, 4.4))
    xs = [row["level"] for row in levels]
    alone = f", {_n_label([row['n'] for row in levels])}" if all("n" in row for row in levels) else ""
    ax.plot(
        xs, [100 * row["greedy"] for row in levels], "k--", marker="o", label=f"greedy (policy alone{alone})"
    )
    ax.plot(
        xs,
        [100 * row["pass_at_k"] for row in levels],
        "k:",
        marker="^",
        label=f"pass@{levels[0]['k']} (upper bound{alone})",
    )
    for strategy, by_level in search.items():
        if strategy != "greedy":
            ax.plot(
                list(by_level),
                [100 * acc for acc, _ in by_level.values()],
                marker=".",
                label=f"{strategy} @ N={budget} ({_n_label([n for _, n in by_level.values()])})",
            )
    ax.set_xlabel("level")
    ax.set_xticks(xs)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy per level (n: problems per level)")
    return save_figure(fig, ax, path, legend_size=7)


def plot_rounds(rounds: list[dict], path: Path) -> Path:
    """Greedy and search accuracy per round, with their 95% bands and the problems behind them."""
    fig, ax = pyplot().subplots(figsize=(6, 4.2))
    xs = [r["round"] for r in rounds]
    for key, label in (("greedy", "greedy"), ("search", "weighted best-of-N")):
        counts = [r[f"{key}_problems"] for r in rounds if f"{key}_problems" in r]
        if counts:
            label += f" ({_n_label(counts)})"
        ax.plot(xs, [100 * r[key] for r in rounds], marker="o", label=label)
        if all(f"{key}_low" in r for r in rounds):
            low, high = ([100 * r[f"{key}_{end}"] for r in rounds] for end in ("low", "high"))
            ax.fill_between(xs, low, high, alpha=0.12)
    ax.set_xlabel("distillation round (0 = starting policy)")
    ax.set_xticks(xs)
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title("gains per distillation round")
    return save_figure(fig, ax, path, legend_size=None)


def ladder_section(summary: dict, out: Path) -> list[str]:
    """The report's opening: the searched policy with each strategy (learned PRM) against every size
    of the ladder at equal policy FLOPs (2 x parameters x generated tokens; the PRM's FLOPs are in
    the search table below), as a plot and a table of the sizes."""
    from ponder.infer.eval_search import Point
    from ponder.plots import plot_policy_flops

    params = summary["policy_parameters"]
    learned = [Point(**p) for p in summary["search"]["learned"] if p["level"] is None]
    searched = {}
    for strategy in sorted({p.strategy for p in learned}):
        pts = sorted((p for p in learned if p.strategy == strategy), key=lambda p: p.tokens)
        searched[f"{strategy} ({params:,} params)"] = (
            [2 * params * p.tokens for p in pts],
            [100 * p.accuracy for p in pts],
        )
    sizes = {}
    rows = []
    for rung in summary["ladder"]:
        # greedy, then majority vote from N = 2 (its N = 1 is one sample, not the greedy answer)
        pts = [Point(**p) for p in rung["points"] if p["level"] is None]
        pts = sorted((p for p in pts if p.strategy == "greedy" or p.n > 1), key=lambda p: p.n)
        sizes[f"{rung['rung']} ({rung['parameters']:,} params) greedy, majority"] = (
            [2 * rung["parameters"] * p.tokens for p in pts],
            [100 * p.accuracy for p in pts],
        )
        plateau = {True: "yes", False: "no", None: "-"}[rung.get("plateaued")]
        for p in pts:
            rows.append(
                f"| {rung['rung']} | {rung['parameters']:,} | {rung['train_tokens']:,} | {plateau} "
                f"| {p.strategy}@{p.n} | {p.problems} | {_pct(p.accuracy)} | {_interval(p.low, p.high)} "
                f"| {2 * rung['parameters'] * p.tokens:.2e} |"
            )
    n = max((p.problems for p in learned), default=0)
    plot_policy_flops(
        searched, sizes, out / "flops_matched.png", f"Search against larger policies at equal FLOPs (n = {n})"
    )
    return [
        "## The searched policy against every size, at equal policy FLOPs",
        "",
        f"Policy FLOPs: 2 x parameters x generated tokens per problem (the PRM's are in the search "
        f"table). Solid: the searched policy ({params:,} parameters) with each strategy over N; dashed: "
        "each size of the ladder alone (greedy, then majority vote), on the same test problems.",
        "",
        "![accuracy against policy FLOPs](flops_matched.png)",
        "",
        "| size | parameters | training tokens | plateaued | strategy | n | accuracy | 95% CI "
        "| policy FLOPs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def run(args: ReportArguments) -> Path:
    """Write report.md and the PNGs of the quickstart run in `args.run_dir`; the path of report.md."""
    run_dir = Path(args.run_dir)
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise ConfigError(f"run_dir: no summary.json in {run_dir} (run `ponder quickstart` first)")
    from ponder.infer.eval_prm import PRMScores, plot_calibration
    from ponder.infer.eval_search import Point, plot

    summary = json.loads(summary_path.read_text())
    out = Path(args.output_dir) if args.output_dir else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    routing = summary["routing"]
    budget = max(routing["plan"]["budgets"])

    points = [Point(**p) for p in summary["search"]["learned"] if p["level"] is None]
    points += [
        Point(**{**p, "strategy": f"{p['strategy']} (oracle PRM)"})
        for p in summary["search"]["oracle"]
        if p["level"] is None
    ]
    points += [
        Point(**{**p, "strategy": f"larger policy: {p['strategy']}"})
        for p in summary["search"].get("reference", [])
        if p["level"] is None
    ]
    plot(points, out)
    by_level = level_accuracy([Path(f) for f in routing["test_folders"]], budget)
    plot_levels(summary["levels"], by_level, budget, out / "accuracy_by_level.png")
    prm_scores = [PRMScores(**s) for s in summary["prm"]]
    plot_calibration(prm_scores, out / "prm_calibration.png")
    rounds = summary.get("distill", {}).get("rounds", [])
    if rounds:
        plot_rounds(rounds, out / "distill_rounds.png")

    lines = ["# ponder quickstart report", "", f"Policy: `{summary['policy']}`.", ""]
    if summary.get("wandb_group"):
        lines += [f"W&B group of every stage's run: `{summary['wandb_group']}`.", ""]
    lines += [
        "n: the questions behind each figure; brackets: its 95% interval (Wilson for an accuracy, "
        "a bootstrap over questions for AUROC, F1 and efficiency).",
        "",
    ]
    if summary.get("ladder"):
        lines += ladder_section(summary, out)
    lines += [
        "## Policy alone (held-out problems)",
        "",
        "| level | n | greedy | 95% CI | pass@k | 95% CI |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary["levels"]:
        n = r.get("n")
        lines.append(
            f"| {r['level']} | {_count(n)} | {_pct(r['greedy'])} | {_share_interval(r['greedy'], n)} "
            f"| {_pct(r['pass_at_k'])} (k={r['k']}) | {_share_interval(r['pass_at_k'], n)} |"
        )
    lines += [
        "",
        "## Learned PRM against the exact checker",
        "",
        "Within-question AUROC counts only the questions with both a right and a wrong solution "
        "(n within); AUROC and F1 all of them (n).",
        "",
        "| group | n | solutions | steps | AUROC | n within | within-question AUROC | ProcessBench F1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in prm_scores:
        f1 = _pct(s.f1) + ("" if s.f1_low is None else f" {_interval(s.f1_low, s.f1_high)}")
        lines.append(
            f"| {s.group} | {_count(s.questions)} | {s.solutions} | {s.steps} "
            f"| {_score(s.auroc, s.auroc_low, s.auroc_high)} | {_count(s.within_questions)} "
            f"| {_score(s.within_auroc, s.within_low, s.within_high)} | {f1} |"
        )
    lines += ["", "![PRM calibration](prm_calibration.png)", ""]
    lines += [
        "## Search on the test split",
        "",
        "N: the budget (generations per problem); n: the problems searched.",
        "",
        "| strategy | N | n | accuracy | 95% CI | policy tokens | FLOPs |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    shown = sorted(
        {
            (p.strategy, p.n)
            for p in points
            if p.n in routing["plan"]["budgets"] or p.n == routing["plan"]["baseline_max_n"]
        }
    )
    for p in sorted((p for p in points if (p.strategy, p.n) in shown), key=lambda p: (p.strategy, p.n)):
        lines.append(
            f"| {p.strategy} | {p.n} | {p.problems} | {_pct(p.accuracy)} | {_interval(p.low, p.high)} "
            f"| {p.tokens:.0f} | {p.flops:.2e} |"
        )
    lines += [
        "",
        "![accuracy against N](accuracy_vs_n.png)",
        "",
        "![accuracy against FLOPs](accuracy_vs_flops.png)",
        "",
    ]
    if not summary["search"].get("reference"):
        lines += [
            "No larger policy was evaluated, so the FLOPs plot has no reference lines "
            "(`ponder quickstart --reference_policy DIR` adds its greedy and best-of-N).",
            "",
        ]
    lines += ["![accuracy per level](accuracy_by_level.png)", ""]
    lines += [
        "## Compute-optimal routing",
        "",
        f"Tokens weighted best-of-N needs to match compute-optimal at N={budget} (a ratio; `≥` when it "
        f"never did up to N={routing['plan']['baseline_max_n']}):",
        "",
        "| bins | budgets | n | accuracy | 95% CI | tokens | weighted BoN tokens | efficiency | 95% CI |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, bins, spread in (
        ("efficiency_oracle", "oracle", "even"),
        ("efficiency_predicted", "predicted", "even"),
        ("efficiency_oracle_uneven", "oracle", "uneven"),
        ("efficiency_predicted_uneven", "predicted", "uneven"),
    ):
        e = routing[key]
        ratio = f"{'' if e['reached'] else '≥ '}{e['ratio']:.2f}×"
        bootstrap = _interval(e.get("low"), e.get("high"), 1, 2) if e["reached"] else "-"
        if e["reached"] and e.get("high_bound"):  # the upper end is a lower bound (`efficiency`)
            bootstrap = f"[{e['low']:.2f}, ≥ {e['high']:.2f}]"
        n = e.get("problems")
        lines.append(
            f"| {bins} | {spread} | {_count(n)} | {_pct(e['accuracy'])} "
            f"| {_share_interval(e['accuracy'], n)} | {e['tokens']:.0f} | {e['baseline_tokens']:.0f} "
            f"| {ratio} | {bootstrap} |"
        )
    pred = routing["predictor"]
    metrics = ("accuracy", "within_one", "spearman")
    lines += [
        "",
        f"Difficulty predictor on the test split's oracle bins (n = {_count(pred.get('n_eval'))} questions): "
        + ", ".join(f"{k} {pred[k]:.3f}" for k in metrics if isinstance(pred.get(k), (int, float))),
        "",
    ]
    if rounds:
        lines += [
            "## Distillation",
            "",
            "| round | n | greedy | 95% CI | n | weighted BoN | 95% CI | train s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in rounds:
            cells = [str(r["round"])]
            for key in ("greedy", "search"):
                cells += [
                    _count(r.get(f"{key}_problems")),
                    _pct(r[key]),
                    _interval(r.get(f"{key}_low"), r.get(f"{key}_high")),
                ]
            lines.append(f"| {' | '.join(cells)} | {r.get('train_s', 0):.0f} |")
        lines += ["", "![gains per distillation round](distill_rounds.png)", ""]
    timings = {k: v for k, v in summary.items() if k.endswith("_s")}
    lines += ["## Time (seconds)", "", " · ".join(f"{k[:-2]} {v:.0f}" for k, v in timings.items()), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    print(f"wrote {path}")
    return path


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((ReportArguments,), argv, prog="ponder report", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder report", main)
