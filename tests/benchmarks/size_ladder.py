"""Benchmark: a small policy with search against a policy >= 14x larger, at equal inference FLOPs.

The published headline ponder is built around (Snell et al. 2024; HF's search-and-learn: a 1B
model with search near 8B, 3B above 70B), measured on the policy-size ladder (`ponder ladder`,
every rung trained on the train split to its dev plateau):

  1. a learned PRM for the small policy: `ponder data prm-labels` on its own solutions to training
     problems, then `ponder train prm` started from `--prm_base` (default: the small policy itself,
     so the PRM knows no more arithmetic than the policy; the base is also reported as a policy);
  2. with that PRM and with the oracle (the world's step checker, a reference), the routing
     pipeline (`ponder.pipelines.routing.run_routing`) searches the dev split with every fixed
     strategy and budget, fits the router there, and runs every fixed strategy and compute-optimal
     search (predicted difficulty bins) on the test split, budgets 1..64;
  3. every other rung, on the same test problems: greedy and majority vote at `--large_budgets`.

Policy FLOPs are 2 x parameters x generated tokens (ponder's count; the prompt's prefill is not in
it, for either model); the PRM's FLOPs are reported beside them. For each pair (small, larger rung;
the headline pair is the largest, which must be >= 14x the small one), per level and overall, the
small policy's accuracy with each strategy is read off its curve at the large policy's mean policy
FLOPs (greedy, and majority@N), interpolated linearly in log FLOPs between the two budgets around
it, problem by problem, so the difference is paired and its 95% interval is a bootstrap over
problems. When even the largest budget costs less than the large policy, the small policy's
accuracy there is a lower bound (`bound: true`).
`small_search_minus_large_greedy_points` is compute-optimal search (predicted bins, learned PRM),
chosen before any number was seen; every strategy is in `by_strategy`. `levels_won`: levels where
that difference is >= 0 (`levels_won_significant`: its interval lies above 0).

Matching policy FLOPs leaves the PRM out of the bill, and a PRM started from a larger LM can cost
many times the policy. The control at equal total FLOPs gives the large policy the small one's
policy + PRM FLOPs to spend on majority vote (no PRM): its majority curve read at that total
(`small_search_minus_large_majority_equal_total_flops_points`; a bound beyond its largest budget).

The exchange rate (Snell et al. 2024, section 7): with pre-training FLOPs 6 x parameters x
training tokens and R = the large policy's inference tokens over its pre-training tokens, the
FLOPs the large policy costs in total are spent instead on the small policy's pre-training and
search: per level, the small policy's accuracy at the inference FLOPs per query that leaves, minus
the large policy's greedy accuracy, for R in `--ratios`. `exchange_rate.png` and
`flops_matched.png` (accuracy against policy FLOPs, a line per rung and per search strategy) are
written to the work folder.

Last line: one JSON object with keys `size_ratio`, `small_search_minus_large_greedy_points`,
`small_search_minus_large_greedy_points_oracle`, `levels_won`,
`small_search_minus_large_majority_equal_total_flops_points`, `exchange_rate`,
`train_test_overlap`, `world` (the generated world of the rungs, whose splits are searched) and details.

    python tests/benchmarks/size_ladder.py [--ladder outputs/ladder/ladder.json] [--extra_rungs DIR ...]
        [--work_dir DIR]
        [--test_per_level 100] [--val_per_level 40] [--budgets 1 2 4 8 16 32 64] [--large_n 4]
        [--large_budgets 1 4 16 64]
        [--prm_base DIR] [--prm_model DIR] [--label_per_level 300]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from overlap import distinct_problems, overlap_report

from ponder.config import from_yaml, recipe
from ponder.data import load_problems
from ponder.data.results import read_results
from ponder.infer.accuracy import paired_difference
from ponder.infer.eval_search import Outcomes, outcomes
from ponder.infer.run import InferArguments
from ponder.infer.run import run as infer
from ponder.models import SHIPPED_COUNTDOWN_LADDER, SHIPPED_COUNTDOWN_POLICY, SHIPPED_LADDER
from ponder.pipelines.ladder import read_ladder
from ponder.pipelines.routing import RoutingPlan, run_routing
from ponder.plots import plot_policy_flops, pyplot, save_figure

MIN_RATIO = 14
HEADLINE = "compute_optimal"  # predicted bins: what a user without difficulty labels runs


def load_ladder(path: Path, extra: list[str] = ()) -> list[dict]:
    """Rungs (name, checkpoint, parameters, training tokens), smallest first: a ladder.json
    (`read_ladder`: a shipped one reads its checkpoints beside it) and `extra` checkpoints of
    `ponder train policy` (`training_record`: parameters, and the tokens of the run and of the runs it
    continued), such as configs/train/policy_large.yaml trained by scripts/device_check.sh on a GPU."""
    rungs = read_ladder(path)
    for folder in map(Path, extra):
        record, samples, tokens = training_record(folder)
        rungs.append(
            {
                "rung": folder.name,
                "checkpoint": str(folder),
                "dataset": record["args"]["dataset"],
                "parameters": record["parameters"],
                "train_tokens": tokens,
                "plateaued": None,  # one run: nobody checked
                "curve": [{"samples": samples, "train_tokens": tokens}],
            }
        )
    worlds = {world_of([r]) for r in rungs}
    if len(worlds) > 1:
        raise SystemExit(f"size_ladder: the rungs were trained on different worlds {sorted(worlds)}")
    return sorted(rungs, key=lambda r: r["parameters"])


def training_record(folder: Path) -> tuple[dict, int, int]:
    """A `ponder train policy` checkpoint's eval_results.json, and the samples and tokens it was
    trained on in all (`training_totals`: a 'continue' stage counts the checkpoint it started from)."""
    from ponder.train.policy import training_totals

    path = folder / "eval_results.json"
    if not path.is_file():
        raise SystemExit(f"size_ladder: {folder} has no eval_results.json (not a `ponder train policy` run)")
    record = json.loads(path.read_text())
    if "train_tokens" not in record:
        raise SystemExit(f"size_ladder: {path} has no train_tokens (retrain it)")
    totals = training_totals(folder)
    if totals is None:
        raise SystemExit(
            f"size_ladder: {folder} started from {record['args'].get('model_name_or_path')}, whose training "
            "tokens are unknown (its pre-training FLOPs would be left out)"
        )
    return record, *totals


def world_of(rungs: list[dict]) -> str:
    """The generated world every rung was trained on, whose splits the comparison searches (a ladder
    written before rungs recorded their `dataset` is ArithWorld's)."""
    return rungs[0].get("dataset") or "arithworld"


def learned_prm(small: dict, args, work: Path) -> tuple[str, str, str]:
    """A PRM for the small policy from its own Monte-Carlo labels; (PRM folder, its base, labels)."""
    from ponder.train.prm import PRMArguments, PRMConfig
    from ponder.train.prm import run as train_prm
    from ponder.train.prm_labels import LabelArguments
    from ponder.train.prm_labels import run as label

    if args.prm_model:
        return args.prm_model, args.prm_base or "unknown (given with --prm_model)", "unknown"
    base = args.prm_base or small["checkpoint"]
    labels = work / "prm-labels"
    label(
        *from_yaml(
            (LabelArguments,),
            recipe("data", "prm_labels.yaml"),
            model_name_or_path=small["checkpoint"],
            dataset=world_of([small]),
            per_level=args.label_per_level,
            output_dir=str(labels),
        )
    )
    prm = work / "prm"
    if not (prm / "prm_config.json").is_file():
        train_prm(
            *from_yaml(
                (PRMArguments, PRMConfig),
                recipe("train", "prm.yaml"),
                model_name_or_path=base,
                dataset=str(labels / "labels.jsonl"),
                output_dir=str(prm),
                report_to="none",
            )
        )
    return str(prm), base, str(labels / "labels.jsonl")


def run_policy(checkpoint: str, test_file: str, budgets: list[int], folder: Path) -> list:
    """Greedy and majority vote at `budgets` of a policy on the test problems (no PRM)."""
    infer(
        InferArguments(
            model_name_or_path=checkpoint,
            dataset=test_file,
            strategies=["greedy", "majority"],
            budgets=sorted(set(budgets)),
            output_dir=str(folder),
        )
    )
    return read_results(folder / "results.jsonl")


def restrict(o: Outcomes, problems: list[str]) -> Outcomes:
    """`o` on `problems` only (those it has)."""
    wanted = set(problems)
    keep = [j for j, p in enumerate(o.problems) if p in wanted]

    def cut(table):
        return [[line[j] for j in keep] for line in table]

    return Outcomes(
        o.strategy, o.ns, [o.problems[j] for j in keep], cut(o.correct), cut(o.tokens), cut(o.flops)
    )


def policy_flops(o: Outcomes, params: int) -> list[float]:
    """Mean policy FLOPs per problem at each of `o`'s budgets: 2 x parameters x generated tokens."""
    return [2 * params * float(np.mean(line)) for line in o.tokens]


def accuracies(o: Outcomes) -> list[float]:
    """`o`'s accuracy at each budget, in percent."""
    return [100 * float(np.mean(line)) for line in o.correct]


def at_flops(o: Outcomes, params: int, flops: float) -> dict:
    """Each problem's correctness on `o`'s curve at mean policy FLOPs `flops` (linear in log FLOPs
    between the budgets around it), with the PRM FLOPs spent there and whether it is a bound."""
    policy = policy_flops(o, params)
    prm = [float(np.mean(f)) - p for f, p in zip(o.flops, policy)]
    order = sorted(range(len(o.ns)), key=lambda i: policy[i])
    if flops <= policy[order[0]]:
        i, j, share, bound = order[0], order[0], 0.0, flops < policy[order[0]]
    elif flops >= policy[order[-1]]:
        i, j, share, bound = order[-1], order[-1], 0.0, flops > policy[order[-1]]
    else:
        k = next(k for k in range(len(order) - 1) if policy[order[k + 1]] >= flops)
        i, j = order[k], order[k + 1]
        share = (math.log(flops) - math.log(policy[i])) / (math.log(policy[j]) - math.log(policy[i]))
        bound = False
    correct = (1 - share) * np.array(o.correct[i]) + share * np.array(o.correct[j])
    return {
        "correct": correct,
        "n": o.ns[i] + share * (o.ns[j] - o.ns[i]),
        "prm_flops": (1 - share) * prm[i] + share * prm[j],
        # below the cheapest budget the small policy is already dearer: an upper bound on it;
        # above the largest one, its accuracy there is a lower bound (it spent less)
        "bound": bool(bound),
    }


def compare(
    small_rows, small_params, large_rows, large_params, large_n, levels: dict[str, int], strategies
) -> dict:
    """Per strategy, reference (large greedy, large majority@N) and level: the small policy at the
    large one's policy FLOPs, minus the large one; and the control at equal total FLOPs."""
    large = {s: outcomes(large_rows, s) for s in ("greedy", "majority")}
    by_level = {
        lv: sorted(p for p, level in levels.items() if level == lv) for lv in sorted(set(levels.values()))
    }
    out: dict = {}
    for strategy in strategies:
        curve = outcomes(small_rows, strategy)
        for reference, n in (("greedy", 1), ("majority", large_n)):
            ref = large[reference]
            shared = set(curve.problems) & set(ref.problems)
            cells = {}
            for lv, problems in [*by_level.items(), ("all", sorted(levels))]:
                problems = [p for p in problems if p in shared]
                mine, theirs = restrict(curve, problems), restrict(ref, problems)
                i = theirs.ns.index(n)
                target = float(np.mean(theirs.flops[i]))
                point = at_flops(mine, small_params, target)
                large_correct = np.array(theirs.correct[i])
                cells[str(lv)] = {
                    **paired_difference(point["correct"], large_correct),
                    "small": round(100 * float(point["correct"].mean()), 1),
                    "large": round(100 * float(large_correct.mean()), 1),
                    "small_n": round(point["n"], 1),
                    "policy_flops": target,
                    "prm_flops": point["prm_flops"],
                    "bound": point["bound"],
                    "problems": len(problems),
                }
            out.setdefault(strategy, {})[f"vs_large_{reference}"] = cells
        out[strategy]["vs_large_majority_equal_total_flops"] = equal_total_flops(
            out[strategy]["vs_large_greedy"], curve, small_params, large, large_params, by_level, levels
        )
    return out


def equal_total_flops(
    at_greedy: dict, curve: Outcomes, small_params: int, large: dict, large_params: int, by_level, levels
) -> dict:
    """Per level: the small policy's point at the large greedy's policy FLOPs (`at_greedy`), minus
    the large policy's majority vote given the same total FLOPs (the small one's policy + PRM)."""
    votes = large["majority"]
    shared = set(curve.problems) & set(votes.problems)
    cells = {}
    for lv, problems in [*by_level.items(), ("all", sorted(levels))]:
        problems = [p for p in problems if p in shared]
        mine = at_flops(restrict(curve, problems), small_params, at_greedy[str(lv)]["policy_flops"])
        total = at_greedy[str(lv)]["policy_flops"] + mine["prm_flops"]
        theirs = at_flops(restrict(votes, problems), large_params, total)
        cells[str(lv)] = {
            **paired_difference(mine["correct"], theirs["correct"]),
            "small": round(100 * float(mine["correct"].mean()), 1),
            "large": round(100 * float(theirs["correct"].mean()), 1),
            "large_n": round(theirs["n"], 1),
            "total_flops": total,
            # beyond the large policy's largest vote its accuracy is a lower bound: ours an upper one
            "bound": mine["bound"] or theirs["bound"],
            "problems": len(problems),
        }
    return cells


def exchange_rate(curve: Outcomes, small: dict, large: dict, large_rows, levels, ratios) -> dict:
    """Per R and level: accuracy of the small policy searching with the FLOPs the large policy costs
    (pre-training + inference at R) beyond the small policy's own pre-training, minus large greedy."""
    greedy = outcomes(large_rows, "greedy")
    searched = set(curve.problems)
    table: dict = {}
    for lv in sorted(set(levels.values())):
        problems = [p for p, level in levels.items() if level == lv and p in searched]
        mine, theirs = restrict(curve, problems), restrict(greedy, problems)
        tokens = float(np.mean(theirs.tokens[0]))  # the large policy's inference tokens per query
        for r in ratios:
            queries = r * large["train_tokens"] / tokens
            total = (
                6 * large["parameters"] * large["train_tokens"] + 2 * large["parameters"] * tokens * queries
            )
            per_query = (total - 6 * small["parameters"] * small["train_tokens"]) / queries
            cell = {
                "flops_per_query": per_query,
                "multiple_of_large_greedy": per_query / (2 * large["parameters"] * tokens),
            }
            if per_query <= 0:
                cell |= {"points": None, "why": "the small policy's pre-training alone costs more"}
            else:
                point = at_flops(mine, small["parameters"], per_query)
                cell |= paired_difference(point["correct"], np.array(theirs.correct[0]))
                cell |= {"small_n": round(point["n"], 1), "bound": point["bound"]}
            table.setdefault(f"R={r:g}", {})[str(lv)] = cell
    return table


def plot_flops(
    curves: dict[str, Outcomes], small: dict, rung_rows: dict, work: Path, n_problems: int
) -> Path:
    sizes = {}
    for name, (params, rows) in rung_rows.items():
        # greedy, then majority vote from N = 2 (its N = 1 is one sample, not the greedy answer)
        points = []
        for strategy in ("greedy", "majority"):
            o = outcomes(rows, strategy)
            points += [
                (x, y)
                for n, x, y in zip(o.ns, policy_flops(o, params), accuracies(o))
                if strategy == "greedy" or n > 1
            ]
        points.sort()
        sizes[f"{name} greedy, majority"] = ([x for x, _ in points], [y for _, y in points])
    searched = {
        f"{small['rung']} + {strategy}": (policy_flops(o, small["parameters"]), accuracies(o))
        for strategy, o in curves.items()
    }
    title = f"Small policy with search against larger policies (n = {n_problems} test problems)"
    return plot_policy_flops(searched, sizes, work / "flops_matched.png", title)


def plot_exchange(table: dict, work: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for r, cells in table.items():
        levels = sorted(cells, key=int)
        ys = [cells[lv]["points"] for lv in levels]
        ax.plot(
            [int(lv) for lv in levels],
            [y if y is not None else float("nan") for y in ys],
            marker="o",
            label=r,
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("level (difficulty)")
    ax.set_ylabel("small + search minus large greedy (points)")
    ax.set_title("Exchange rate: test-time search against a larger model at equal total FLOPs")
    return save_figure(fig, ax, work / "exchange_rate.png")


def prm_share(c: dict) -> str:
    """The PRM FLOPs of a comparison cell as a multiple of the policy FLOPs it was matched at."""
    return f"{c['prm_flops'] / c['policy_flops']:.1f}x" if c["prm_flops"] > 0 else "0"


def write_report(result: dict, work: Path) -> Path:
    """report.md beside the plots: the FLOPs-matched comparison per strategy and level (each with
    its 95% interval and problem count), then the exchange rate."""

    def cell(c: dict) -> str:
        if c.get("points") is None:
            return "-"
        return f"{c['points']:+.1f} [{c['low']:+.1f}, {c['high']:+.1f}]{' (bound)' if c.get('bound') else ''}"

    lines = [f"# Small policy + search against larger policies at equal FLOPs ({result['world']})", ""]
    for large, pair in result["pairs"].items():
        lines += [
            f"## {pair['small']} against {large} ({pair['size_ratio']}x the parameters)",
            "",
            "Points of test accuracy: the small policy at the larger one's mean policy FLOPs per problem, "
            "minus the larger one; 95% bootstrap interval over problems; (bound): the larger one's FLOPs "
            "lie outside the small policy's budgets (above the largest: the small policy's number is a "
            "lower bound). PRM FLOPs: what the PRM spent there over all problems, as a multiple of the "
            "policy FLOPs matched (the comparison holds policy FLOPs equal; the PRM's are beside them).",
            "",
        ]
        for prm in [name for name in ("learned", "oracle") if name in pair]:
            for reference in ("greedy", "majority", "majority_equal_total_flops"):
                some = next(iter(pair[prm].values()))[f"vs_large_{reference}"]
                levels = list(some)
                total = reference == "majority_equal_total_flops"
                title = {
                    "greedy": "greedy",
                    "majority": f"majority@{pair['large_n']}",
                    "majority_equal_total_flops": "majority vote at equal total FLOPs (policy + PRM)",
                }[reference]
                lines += [
                    f"### {prm} PRM, against {large} {title}",
                    "",
                    "| strategy | "
                    + " | ".join(f"level {lv} (n={some[lv]['problems']})" for lv in levels)
                    + (" | the larger one's N |" if total else " | PRM FLOPs |"),
                    "| --- " * (len(levels) + 2) + "|",
                ]
                for strategy, cells in pair[prm].items():
                    row = cells[f"vs_large_{reference}"]
                    last = f"{row['all']['large_n']:.1f}" if total else prm_share(row["all"])
                    lines.append(
                        f"| {strategy} | " + " | ".join(cell(row[lv]) for lv in levels) + f" | {last} |"
                    )
                lines.append("")
        lines += [
            "### Exchange rate (learned PRM, compute-optimal)",
            "",
            "R: the larger policy's inference tokens over its pre-training tokens. Each cell: the small "
            "policy searching with the FLOPs the larger one costs beyond the small one's pre-training, "
            "minus the larger one's greedy (points); the multiple is of the larger policy's greedy FLOPs.",
            "",
        ]
        for r, cells in pair["exchange_rate"].items():
            levels = list(cells)
            lines.append(
                f"- {r}: "
                + "; ".join(
                    f"level {lv} {cell(c)} at {c['multiple_of_large_greedy']:.1f}x" for lv, c in cells.items()
                )
            )
        lines.append("")
    lines += ["![accuracy against FLOPs](flops_matched.png)", "", "![exchange rate](exchange_rate.png)", ""]
    path = work / "report.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ladder",
        default=str(SHIPPED_LADDER),
        help="ladder.json of `ponder ladder` (default: the shipped ArithWorld ladder; Countdown's small "
        f"rungs: {SHIPPED_COUNTDOWN_LADDER.relative_to(SHIPPED_LADDER.parents[3])}, with "
        f"--extra_rungs {SHIPPED_COUNTDOWN_POLICY.relative_to(SHIPPED_LADDER.parents[3])})",
    )
    parser.add_argument(
        "--extra_rungs",
        nargs="*",
        default=[],
        help="more policy checkpoints as rungs (e.g. policy_large trained by scripts/device_check.sh)",
    )
    parser.add_argument("--work_dir", default=None, help="folder for every stage (default: a temporary one)")
    parser.add_argument("--test_per_level", type=int, default=100, help="test problems per level")
    parser.add_argument("--val_per_level", type=int, default=40, help="dev problems per level for the router")
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64], help="search budgets N"
    )
    parser.add_argument(
        "--prms",
        nargs="+",
        choices=["learned", "oracle"],
        default=["learned", "oracle"],
        help="PRMs to search with (learned first: the headline; the oracle is a reference)",
    )
    parser.add_argument(
        "--large_n",
        type=int,
        default=4,
        help="N of the larger policies' majority vote, matched in policy FLOPs",
    )
    parser.add_argument(
        "--large_budgets",
        type=int,
        nargs="+",
        default=[1, 4, 16, 64],
        help="the larger policies' majority-vote budgets for the control at equal total (policy + PRM) FLOPs",
    )
    parser.add_argument(
        "--prm_base", default=None, help="LM the learned PRM starts from (default: the small policy)"
    )
    parser.add_argument(
        "--prm_model", default=None, help="a learned PRM folder to use instead of training one"
    )
    parser.add_argument(
        "--label_per_level", type=int, default=300, help="training problems per level for the PRM labels"
    )
    parser.add_argument(
        "--ratios", type=float, nargs="+", default=[0.1, 1.0, 10.0], help="R for the exchange rate"
    )
    args = parser.parse_args()
    if "learned" not in args.prms:
        parser.error("--prms: the learned PRM is the headline; it always runs")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="size_ladder_"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    rungs = load_ladder(Path(args.ladder), args.extra_rungs)
    small = rungs[0]
    larger = rungs[1:]  # smallest first: the last is the headline's
    if not larger or larger[-1]["parameters"] < MIN_RATIO * small["parameters"]:
        raise SystemExit(
            f"size_ladder: no rung is {MIN_RATIO}x the smallest ({small['parameters']:,} parameters)"
        )
    prm_model, prm_base, prm_labels = learned_prm(small, args, work)

    summaries = {}
    scorers = {"learned": ("token-cls", prm_model), "oracle": ("oracle", None)}
    for name, (scorer, model) in ((name, scorers[name]) for name in args.prms):
        summaries[name] = run_routing(
            RoutingPlan(
                policy=small["checkpoint"],
                prm=scorer,
                prm_model=model,
                output_dir=str(work / f"small-{name}"),
                world=world_of(rungs),
                val_per_level=args.val_per_level,
                test_per_level=args.test_per_level,
                budgets=args.budgets,
                baseline_pool_n=max(args.budgets),
                baseline_max_n=max(args.budgets),
                fixed_max_n=max(args.budgets),
            )
        )
    test_file = summaries["learned"]["test_file"]
    test = load_problems(test_file)
    levels = {p.id: p.level for p in test}
    rung_rows = {
        r["rung"]: (
            r["parameters"],
            run_policy(
                r["checkpoint"],
                test_file,
                [args.large_n, *args.large_budgets],
                work / f"rung-{r['rung']}-{r['curve'][-1]['samples']}",
            ),
        )
        for r in rungs
    }
    base_rows = None
    if prm_base != small["checkpoint"] and Path(prm_base).is_dir():
        base_rows = run_policy(prm_base, test_file, [args.large_n], work / "prm-base-policy")

    small_rows = {
        name: [r for folder in s["test_folders"] for r in read_results(Path(folder) / "results.jsonl")]
        for name, s in summaries.items()
    }
    strategies = sorted(
        {r.strategy for r in small_rows["learned"]}
        - {"compute_optimal_oracle", "compute_optimal_oracle_uneven"}
    )
    pairs = {}
    for large in larger:
        large_rows = rung_rows[large["rung"]][1]
        pair = {
            "size_ratio": round(large["parameters"] / small["parameters"], 1),
            "small": small["rung"],
            "large": large["rung"],
            "large_n": args.large_n,
        }
        for name in summaries:
            pair[name] = compare(
                small_rows[name],
                small["parameters"],
                large_rows,
                large["parameters"],
                args.large_n,
                levels,
                strategies,
            )
        pair["exchange_rate"] = exchange_rate(
            outcomes(small_rows["learned"], HEADLINE), small, large, large_rows, levels, args.ratios
        )
        pairs[large["rung"]] = pair
    headline_pair = pairs[larger[-1]["rung"]]  # the largest ratio, >= MIN_RATIO
    learned = headline_pair["learned"][HEADLINE]["vs_large_greedy"]
    oracle = headline_pair["oracle"][HEADLINE]["vs_large_greedy"] if "oracle" in summaries else {}
    total = headline_pair["learned"][HEADLINE]["vs_large_majority_equal_total_flops"]
    level_keys = [k for k in learned if k != "all"]
    curves = {s: outcomes(small_rows["learned"], s) for s in ("weighted_best_of_n", "beam_search", HEADLINE)}
    plots = [
        plot_flops(curves, small, rung_rows, work, len(test)),
        plot_exchange(headline_pair["exchange_rate"], work),
    ]
    sources = {rung["rung"]: rung["checkpoint"] for rung in rungs}
    sources |= {"prm_labels": prm_labels} if Path(prm_labels).is_file() else {}
    sources |= {f"router_validation_{n}": str(work / f"small-{n}" / "val_problems.jsonl") for n in summaries}
    if Path(prm_base).is_dir():
        sources["prm_base"] = prm_base
    result = {
        "size_ratio": headline_pair["size_ratio"],
        "world": world_of(rungs),
        "small_search_minus_large_greedy_points": {k: v["points"] for k, v in learned.items()},
        "small_search_minus_large_greedy_points_oracle": (
            {k: v["points"] for k, v in oracle.items()} if oracle else "not run (--prms)"
        ),
        "levels_won": [int(k) for k in level_keys if learned[k]["points"] >= 0],
        "levels_won_significant": [int(k) for k in level_keys if learned[k]["low"] > 0],
        "small_search_minus_large_majority_equal_total_flops_points": {
            k: v["points"] for k, v in total.items()
        },
        "equal_total_flops_bounds": [k for k, v in total.items() if v["bound"]],
        "headline": f"{small['rung']} + {HEADLINE} (learned PRM) vs {headline_pair['large']} greedy, "
        "equal policy FLOPs",
        "intervals": {k: [v["low"], v["high"]] for k, v in learned.items()},
        "exchange_rate": {
            r: {lv: c["points"] for lv, c in cells.items()}
            for r, cells in headline_pair["exchange_rate"].items()
        },
        "prm_base": prm_base,
        "prm_base_as_policy": (
            "the small policy itself (its greedy and majority are its curves' N = 1 and majority)"
            if base_rows is None
            else {
                s: round(100 * outcomes(base_rows, s).accuracy(n), 1)
                for s, n in (("greedy", 1), ("majority", args.large_n))
            }
        ),
        "rungs": {
            r["rung"]: {
                "parameters": r["parameters"],
                "train_tokens": r["train_tokens"],
                "plateaued": r["plateaued"],
            }
            for r in rungs
        },
        **overlap_report(distinct_problems(test), sources, world=world_of(rungs)),
        "pairs": pairs,
        "plots": [str(p) for p in plots],
        "wall_s": round(time.perf_counter() - start, 1),
        "work_dir": str(work),
    }
    line = json.dumps(result, default=float)
    (work / "size_ladder.json").write_text(line + "\n")
    write_report(result, work)
    print(line)


if __name__ == "__main__":
    main()
