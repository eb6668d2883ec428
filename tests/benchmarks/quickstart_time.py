"""Benchmark: wall time of the whole loop, `ponder quickstart`, on 2 CPU cores (target <= 600 s).

Runs the quickstart into a fresh folder (the shipped policy unless `--train_policy`), with its
default sizes unless overridden by passing quickstart options after `--`, and prints the time of
each stage. `train_test_overlap` counts the problems its numbers come from (held-out levels, PRM
evaluation, search and routing test problems) whose question its training data holds: the policy
(a policy trained afresh is rebuilt from the quickstart's recipe), the PRM's base LM and step labels,
the router's validation problems, the distillation rows, a reference policy and the ladder's sizes
(tests/benchmarks/overlap.py; `train_test_overlap_held_out_levels` without ArithWorld's small
levels 1-2). Last line: one JSON object with keys `wall_s` (and the stage times),
`train_test_overlap` and `train_test_overlap_held_out_levels`.

    python tests/benchmarks/quickstart_time.py [--work_dir DIR] [-- --search_per_level 20 ...]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

from overlap import distinct_problems, overlap_report

from ponder.config import recipe
from ponder.data import load_problems
from ponder.data.results import results_problems
from ponder.data.sources import SourceArguments
from ponder.models import SHIPPED_VERIFIER
from ponder.pipelines.quickstart import main as quickstart_main


def policy_source(policy: str, work: Path) -> str:
    """The policy's folder, or for the one the quickstart trained afresh into `work/policy` (which
    has no recipe.yaml), a folder whose recipe is the command the quickstart ran, for
    `recipe_training_questions` to rebuild."""
    if (Path(policy) / "recipe.yaml").is_file() or Path(policy) != work / "policy":
        return policy
    folder = Path(tempfile.mkdtemp(prefix="quickstart_policy_recipe_"))
    argv = ["ponder", "train", "policy", "--config", str(recipe("train", "policy.yaml"))]
    command = shlex.join([*argv, "--eval_k", "0", "--output_dir", policy])
    (folder / "recipe.yaml").write_text(f"splits: true\ncommand: {json.dumps(command)}\n")
    return str(folder)


def quickstart_overlap(summary: dict, work: Path) -> dict:
    """train_test_overlap of every test problem the quickstart reports on, against its training data."""
    args, routing = summary["args"], summary["routing"]
    test = distinct_problems(
        SourceArguments(per_level=args["per_level"]).load(),  # greedy and pass@k per level
        SourceArguments(per_level=args["prm_eval_per_level"]).load(),  # the PRM's step AUROC
        list(results_problems(work / "search-oracle-prm").values()),
        load_problems(routing["test_file"]),  # routing, compute-optimal, the distilled round's evaluation
    )
    policy = policy_source(summary["policy"], work)
    verifier = str(SHIPPED_VERIFIER) if (SHIPPED_VERIFIER / "config.json").is_file() else policy
    sources = {
        "policy": policy,
        "prm_base": args["prm_base"] or verifier,  # as the quickstart chooses it
        "prm_labels": str(work / "prm-labels" / "labels.jsonl"),
        "router_validation": str(Path(routing["test_file"]).parent / "val_problems.jsonl"),
    }
    if summary["distill"]:
        sources["distill_rows"] = str(work / "evolve" / "round-1" / "data")
    if args["reference_policy"]:
        sources["reference_policy"] = args["reference_policy"]
    for rung in summary.get("ladder", []):  # each size's accuracy on the test problems is reported too
        sources[f"ladder_{rung['rung']}"] = rung["checkpoint"]
    return overlap_report(test, sources)


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    ours = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work_dir", default=None, help="quickstart output folder (default: a fresh temporary one)"
    )
    args = parser.parse_args(ours)
    work = args.work_dir or tempfile.mkdtemp(prefix="quickstart_time_")
    start = time.perf_counter()
    # the options after `--` are the user's own command line, so they go through the quickstart's parser
    summary = quickstart_main(["--output_dir", work, *extra])
    wall = round(time.perf_counter() - start, 1)
    print(
        json.dumps(
            {
                "wall_s": wall,
                **{k: v for k, v in summary.items() if k.endswith("_s")},
                **quickstart_overlap(summary, Path(work)),
                "options": extra,
                "work_dir": work,
            }
        )
    )


if __name__ == "__main__":
    main()
