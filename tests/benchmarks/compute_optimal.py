"""Benchmark: compute-optimal, difficulty-routed search against weighted best-of-N (Snell et al. 2024).

With a world's shipped policy (`--world`: ArithWorld or Countdown),
`ponder.pipelines.routing.run_routing` searches a validation split with every strategy and budget,
bins its problems by the policy's pass rate, fits the router and a difficulty predictor there, and
then on a disjoint test split runs every fixed strategy and compute-optimal search with oracle and
predicted bins. It runs once with the oracle PRM (the world's step checker) and, given
`--prm_model`, once with that learned PRM.

`efficiency_*` is how many more policy tokens weighted best-of-N needs to reach compute-optimal's
accuracy at N = 16 (predicted bins; `oracle_bins` and the uneven budgets below it), interpolated on
its curve, whose pool doubles from 64 until it gets there or reaches `--baseline_max_n` (256), with
a bootstrap 95% interval over the test problems. `reached: false` marks a lower bound, printed
">= r", which never meets the target (>= 4). `routing_gain_vs_best_fixed` is the same ratio against
the fixed strategy (and hyper-parameters) with the best validation accuracy at N = 16;
`efficiency_vs_best_of_n` against best-of-N (the PRM's top-scored sample, no voting) on the same
samples, a reference where weighted voting levels off below compute-optimal and its ratio stays a
bound (best-of-N's pool is not extended past the first, 64).
`train_test_overlap` counts the test problems whose question the policy, the learned PRM (its
base LM and its step labels, `--prm_base`, `--prm_labels`) or the router's validation problems
(which the router and the difficulty predictor are fitted on) trained on (tests/benchmarks/overlap.py;
`train_test_overlap_held_out_levels` without a world's levels too small to hold questions out).
Last line: one JSON object with keys `efficiency_learned`, `efficiency_oracle`,
`routing_gain_vs_best_fixed`, `efficiency_vs_best_of_n`, `targets`, `train_test_overlap`,
`train_test_overlap_held_out_levels` (and details).

    python tests/benchmarks/compute_optimal.py [--world arithworld] [--policy DIR] [--prm_model DIR]
                                               [--work_dir DIR] [--val_per_level 60]
                                               [--test_per_level 100] [--baseline_max_n 256]
                                               [--prm_base DIR] [--prm_labels FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from overlap import beside_prm, distinct_problems, overlap_report

from ponder.data import load_problems
from ponder.pipelines.quickstart import WORLD_STARTS
from ponder.pipelines.routing import RoutingPlan, run_routing

TARGET = 4.0
SHOWN = (
    "ratio",
    "low",
    "high",
    "reached",
    "high_bound",
    "reached_share",
    "text",
    "accuracy",
    "tokens",
    "baseline_tokens",
    "baseline_max_n",
)


def brief(e: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in e.items() if k in SHOWN}


def headline(summary: dict) -> dict:
    """Predicted bins (what a user without labels runs), with the oracle bins and uneven budgets below."""
    return {
        **brief(summary["efficiency_predicted"]),
        "bins": "predicted",
        "oracle_bins": brief(summary["efficiency_oracle"]),
        "uneven": brief(summary["efficiency_predicted_uneven"]),
        "oracle_bins_uneven": brief(summary["efficiency_oracle_uneven"]),
    }


def gain(summary: dict) -> dict:
    g = summary["routing_gain_vs_best_fixed"]
    return {
        **brief(g["compute_optimal"]),
        "fixed": {k: round(v, 3) if isinstance(v, float) else v for k, v in g["fixed"].items()},
        "oracle_bins": brief(g["compute_optimal_oracle"]),
    }


def target(e: dict | None) -> dict:
    """Met only by a measured ratio: a lower bound (`reached: false`) never meets it. An interval
    whose upper end is a bound (`high_bound`) still lets a measured point estimate meet it, and
    says so (`interval_measured: false`)."""
    if e is None:
        return {"met": False, "why": "not run"}
    return {
        "met": e["reached"] and e["ratio"] >= TARGET,
        "ratio": e["text"],
        "reached": e["reached"],
        "interval_measured": e["reached"] and not e.get("high_bound", False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world", default="arithworld", choices=sorted(WORLD_STARTS), help="generated world")
    parser.add_argument("--policy", default=None, help="policy folder (default: the world's shipped policy)")
    parser.add_argument(
        "--prm_model",
        default=None,
        help="learned token-cls PRM folder (`ponder train prm`); without it only the oracle PRM runs",
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for every stage's output (default: a temporary one)"
    )
    parser.add_argument(
        "--val_per_level", type=int, default=60, help="validation problems per level (router and predictor)"
    )
    parser.add_argument("--test_per_level", type=int, default=100, help="test problems per level")
    parser.add_argument(
        "--baseline_max_n",
        type=int,
        default=256,
        help="largest N weighted best-of-N's pool doubles to while it has not reached compute-optimal",
    )
    parser.add_argument("--fixed_max_n", type=int, default=64, help="the same for the best fixed strategy")
    parser.add_argument(
        "--prm_base",
        default=None,
        help="causal-LM folder the learned PRM started from, for train_test_overlap (default: the "
        "world's PRM base as the quickstart uses it: ArithWorld's verifier, Countdown's policy)",
    )
    parser.add_argument(
        "--prm_labels",
        default=None,
        help="step labels the learned PRM was trained on (default: prm_quality.py's layout, "
        "labels/labels.jsonl beside the PRM folder; for train_test_overlap)",
    )
    args = parser.parse_args()
    start_from = WORLD_STARTS[args.world]
    args.policy = args.policy or str(start_from.policy)
    args.prm_base = args.prm_base or str(start_from.prm_base or args.policy)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="compute_optimal_"))

    start = time.perf_counter()
    prms = {"oracle": ("oracle", None)}
    if args.prm_model:
        prms["learned"] = ("token-cls", args.prm_model)
    summaries = {}
    for name, (scorer, model) in prms.items():
        summaries[name] = run_routing(
            RoutingPlan(
                policy=args.policy,
                world=args.world,
                prm=scorer,
                prm_model=model,
                output_dir=str(work / name),
                val_per_level=args.val_per_level,
                test_per_level=args.test_per_level,
                baseline_max_n=args.baseline_max_n,
                fixed_max_n=args.fixed_max_n,
            )
        )
    sources = {"policy": args.policy}
    if args.prm_model:
        sources["prm_base"] = args.prm_base
        sources["prm_labels"] = args.prm_labels or beside_prm(args.prm_model)
    sources |= {f"router_validation_{name}": str(work / name / "val_problems.jsonl") for name in summaries}
    test = distinct_problems(*(load_problems(s["test_file"]) for s in summaries.values()))
    efficiency = {name: headline(s) for name, s in summaries.items()}
    learned = efficiency.get("learned")
    print(
        json.dumps(
            {
                "efficiency_learned": learned or "not run: no --prm_model given, only the oracle PRM ran",
                "efficiency_oracle": efficiency["oracle"],
                "routing_gain_vs_best_fixed": {name: gain(s) for name, s in summaries.items()},
                "efficiency_vs_best_of_n": {
                    name: brief(s["efficiency_vs_best_of_n"]) for name, s in summaries.items()
                },
                "targets": {f"efficiency_learned >= {TARGET:g}": target(learned)},
                **overlap_report(test, sources, world=args.world),
                "predictor": {name: s["predictor"] for name, s in summaries.items()},
                "world": args.world,
                "policy": args.policy,
                "prm": args.prm_model or "oracle only",
                "wall_s": round(time.perf_counter() - start, 1),
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
