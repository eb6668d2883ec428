"""The report of a quickstart run: `report.md` with every results table, and the PNGs beside it.

    accuracy_vs_n.png       accuracy against budget N per strategy (learned PRM; oracle-PRM weighted BoN)
    accuracy_vs_tokens.png  the same against policy tokens per problem
    accuracy_vs_flops.png   the same against FLOPs, with a larger policy's greedy and best-of-N as
                            reference lines when one was evaluated (small model + search vs large model)
    accuracy_by_level.png   greedy, pass@k, and each strategy at the largest budget, per level
    prm_calibration.png     the learned PRM's reliability diagram against the exact checker
    distill_rounds.png      greedy and search accuracy per distillation round (when distillation ran)

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


def level_accuracy(results_dirs: list[Path], budget: int) -> dict[str, dict[int, float]]:
    """Accuracy per level of every strategy at `budget` (greedy at 1), from results folders."""
    from ponder.data.results import read_results

    hits: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for folder in results_dirs:
        for row in read_results(folder / "results.jsonl"):
            if row.n == budget or row.strategy == "greedy":
                hits[row.strategy][row.level].append(row.correct)
    return {s: {lv: sum(v) / len(v) for lv, v in sorted(by.items())} for s, by in sorted(hits.items())}


def plot_levels(levels: list[dict], search: dict[str, dict[int, float]], budget: int, path: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(7, 4.4))
    xs = [row["level"] for row in levels]
    ax.plot(xs, [100 * row["greedy"] for row in levels], "k--", marker="o", label="greedy (policy alone)")
    ax.plot(
        xs,
        [100 * row["pass_at_k"] for row in levels],
        "k:",
        marker="^",
        label=f"pass@{levels[0]['k']} (upper bound)",
    )
    for strategy, by_level in search.items():
        if strategy != "greedy":
            ax.plot(
                list(by_level),
                [100 * v for v in by_level.values()],
                marker=".",
                label=f"{strategy} @ N={budget}",
            )
    ax.set_xlabel("level")
    ax.set_xticks(xs)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy per level")
    return save_figure(fig, ax, path, legend_size=7)


def plot_rounds(rounds: list[dict], path: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(6, 4.2))
    xs = [r["round"] for r in rounds]
    for key, label in (("greedy", "greedy"), ("search", "weighted best-of-N")):
        ax.plot(xs, [100 * r[key] for r in rounds], marker="o", label=label)
    ax.set_xlabel("distillation round (0 = starting policy)")
    ax.set_xticks(xs)
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title("gains per distillation round")
    return save_figure(fig, ax, path, legend_size=None)


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
    lines += ["## Policy alone (held-out problems)", "", "| level | greedy | pass@k |", "| --- | --- | --- |"]
    lines += [
        f"| {r['level']} | {_pct(r['greedy'])} | {_pct(r['pass_at_k'])} (k={r['k']}) |"
        for r in summary["levels"]
    ]
    lines += [
        "",
        "## Learned PRM against the exact checker",
        "",
        "| group | steps | AUROC | within-question AUROC | ProcessBench F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in prm_scores:
        auc = "-" if s.auroc is None else f"{s.auroc:.3f}"
        within = "-" if s.within_auroc is None else f"{s.within_auroc:.3f}"
        lines.append(f"| {s.group} | {s.steps} | {auc} | {within} | {_pct(s.f1)} |")
    lines += ["", "![PRM calibration](prm_calibration.png)", ""]
    lines += [
        "## Search on the test split",
        "",
        "| strategy | N | accuracy | 95% CI | policy tokens | FLOPs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    shown = sorted(
        {
            (p.strategy, p.n)
            for p in points
            if p.n in routing["plan"]["budgets"] or p.n == routing["plan"]["baseline_max_n"]
        }
    )
    for p in sorted((p for p in points if (p.strategy, p.n) in shown), key=lambda p: (p.strategy, p.n)):
        interval = f"[{100 * p.low:.0f}, {100 * p.high:.0f}]"
        lines.append(
            f"| {p.strategy} | {p.n} | {_pct(p.accuracy)} | {interval} | {p.tokens:.0f} | {p.flops:.2e} |"
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
        "| bins | budgets | accuracy | tokens | weighted BoN tokens | efficiency |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, bins, spread in (
        ("efficiency_oracle", "oracle", "even"),
        ("efficiency_predicted", "predicted", "even"),
        ("efficiency_oracle_uneven", "oracle", "uneven"),
        ("efficiency_predicted_uneven", "predicted", "uneven"),
    ):
        e = routing[key]
        ratio = f"{'' if e['reached'] else '≥ '}{e['ratio']:.2f}×"
        lines.append(
            f"| {bins} | {spread} | {_pct(e['accuracy'])} | {e['tokens']:.0f} | {e['baseline_tokens']:.0f} "
            f"| {ratio} |"
        )
    pred = routing["predictor"]
    lines += [
        "",
        "Difficulty predictor on the test split's oracle bins: "
        + ", ".join(f"{k} {v:.3f}" for k, v in pred.items() if isinstance(v, (int, float))),
        "",
    ]
    if rounds:
        lines += [
            "## Distillation",
            "",
            "| round | greedy | weighted BoN | train s |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r['round']} | {_pct(r['greedy'])} | {_pct(r['search'])} | {r.get('train_s', 0):.0f} |"
            for r in rounds
        ]
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
