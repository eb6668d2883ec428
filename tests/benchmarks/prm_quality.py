"""Benchmark: a PRM learned from ponder's own Monte-Carlo labels, against the exact checker.

The default recipe, end to end with a world's shipped policy (`--world`: ArithWorld or Countdown):
  1. `ponder data prm-labels` with configs/data/prm_labels.yaml (training problems, seed 2);
  2. `ponder train prm` with configs/train/prm.yaml, timed (target: at most 10 minutes on 2 cores);
  3. `ponder eval prm`: step AUROC against the oracle checker on held-out problems (seed 1;
     target >= 0.90);
  4. `ponder infer` with weighted best-of-N and beam search at N=16 on held-out problems, once
     with the learned PRM and once with the oracle PRM, on the same samples (same seed): the gap
     of weighted best-of-N in accuracy points, on all levels and on levels 3-5 only
     (`gap_points_hard`, target <= 5): levels 1-2 are solved by every method and dilute the gap;
  5. the PRM's base LM as the policy, without a PRM: greedy and majority vote at N=16 on the same
     problems, with FLOPs. ArithWorld's PRM starts from a stronger LM than the policy it guides;
     when that LM alone beats the search it guides, the PRM's value lies in its base, not in its
     labels. Countdown's starts from the policy itself, so there this row is the policy's own
     greedy and majority vote: the control a PRM must beat at equal samples.
`train_test_overlap`: held-out problems whose question the policy, the PRM's base LM or the step
labels trained on (tests/benchmarks/overlap.py; `train_test_overlap_held_out_levels` without
a world's levels too small to hold questions out: ArithWorld's 1-2).
Last line: one JSON object with keys `auroc`, `gap_points`, `gap_points_hard`, `base_policy_greedy`,
`learned_minus_base_majority_points_hard` (weighted best-of-N with the learned PRM minus the base
LM's majority vote at the same N, levels 3-5), `intervals` (each difference paired on the same
problems, with a bootstrap 95% interval and its problem count), `train_s`, `train_test_overlap`,
`train_test_overlap_held_out_levels` (and the details: accuracy overall and per level, mean FLOPs
per problem of each method).

    python tests/benchmarks/prm_quality.py [--world arithworld] [--policy DIR] [--prm_base DIR]
                                           [--work_dir DIR] [--per_level 100] [--label_per_level 300]
                                           [--n 16] [--split test] [--prm_recipe YAML]

A PRM recipe is chosen with `--split dev --prm_recipe candidate.yaml` (the held-out problems of the
dev split; the labels come from the train split either way), and reported with the chosen recipe on
the test split, which nothing was tuned on. Each command resumes its own output, so a candidate
run in a folder holding copies of another run's `labels`, `search_oracle` and `base_policy` (they
do not depend on the PRM) costs only its training, its AUROC and its learned searches.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from overlap import distinct_problems, overlap_report

from ponder.config import from_yaml, recipe
from ponder.data.results import read_results, results_problems
from ponder.data.sources import SourceArguments
from ponder.infer.eval_prm import EvalPRMArguments
from ponder.infer.eval_prm import run as eval_prm
from ponder.infer.run import InferArguments
from ponder.infer.run import run as infer
from ponder.pipelines.quickstart import WORLD_STARTS
from ponder.train.prm import PRMArguments, PRMConfig
from ponder.train.prm import run as train_prm
from ponder.train.prm_labels import LabelArguments
from ponder.train.prm_labels import run as label


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return round(time.perf_counter() - start, 1)


HARD_LEVELS = (3, 4, 5)  # levels 1-2 are near 100% for every method


def percent(hits: list[bool]) -> float:
    return round(100 * sum(hits) / len(hits), 1)


def accuracy(results_dir: Path, strategy: str) -> dict:
    """Accuracy in percent of one strategy's rows (one budget per run): overall, on levels 3-5
    ("hard"), per level; with the mean FLOPs per problem (policy and PRM) and the problem count."""
    rows = [r for r in read_results(results_dir / "results.jsonl") if r.strategy == strategy]
    by_level = {}
    for row in rows:
        by_level.setdefault(row.level, []).append(row.correct)
    return {
        "all": percent([r.correct for r in rows]),
        "hard": percent([r.correct for r in rows if r.level in HARD_LEVELS]),
        **{f"L{lv}": percent(v) for lv, v in sorted(by_level.items())},
        "flops": sum(r.compute.flops for r in rows) / len(rows),
        "problems": len(rows),
    }


def paired(mine: tuple[Path, str], theirs: tuple[Path, str], levels=None) -> dict:
    """Accuracy points of one run's strategy minus another's on the problems both answered (on
    `levels` only when given), with a bootstrap 95% interval over problems and their count."""
    from ponder.infer.accuracy import paired_by_key

    def correct(run: tuple[Path, str]) -> dict[str, bool]:
        folder, strategy = run
        rows = read_results(folder / "results.jsonl")
        return {
            r.problem_id: r.correct
            for r in rows
            if r.strategy == strategy and (not levels or r.level in levels)
        }

    return paired_by_key(correct(mine), correct(theirs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world", default="arithworld", choices=sorted(WORLD_STARTS), help="generated world")
    parser.add_argument(
        "--policy",
        default=None,
        help="policy folder that writes the labelled and the searched solutions (default: the world's "
        "shipped policy)",
    )
    parser.add_argument(
        "--prm_base",
        default=None,
        help="causal-LM folder the PRM starts from (default: the world's PRM base as the quickstart "
        "uses it: ArithWorld's shipped verifier LM, Countdown's policy)",
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for labels, PRM and results (default: a temporary one)"
    )
    parser.add_argument(
        "--label_per_level", type=int, default=None, help="override the recipe's training problems per level"
    )
    parser.add_argument(
        "--per_level", type=int, default=100, help="held-out problems per level for AUROC and search"
    )
    parser.add_argument(
        "--n",
        type=int,
        default=16,
        help="budget N: weighted best-of-N, beam search, the base's majority vote",
    )
    parser.add_argument(
        "--split",
        default="test",
        choices=("dev", "test"),
        help="split of the held-out problems: dev to choose a PRM recipe, test to report it",
    )
    parser.add_argument(
        "--prm_recipe",
        default=str(recipe("train", "prm.yaml")),
        help="PRM training recipe (YAML, as `ponder train prm --config` takes it); default: the shipped one",
    )
    args = parser.parse_args()
    start_from = WORLD_STARTS[args.world]
    args.policy = args.policy or str(start_from.policy)
    args.prm_base = args.prm_base or str(start_from.prm_base or args.policy)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="prm_quality_"))

    per_level = {"per_level": args.label_per_level} if args.label_per_level else {}
    label_s = timed(
        label,
        *from_yaml(
            (LabelArguments,),
            recipe("data", "prm_labels.yaml"),
            model_name_or_path=args.policy,
            dataset=args.world,
            output_dir=str(work / "labels"),
            **per_level,
        ),
    )
    train_s = timed(
        train_prm,
        *from_yaml(
            (PRMArguments, PRMConfig),
            args.prm_recipe,
            model_name_or_path=args.prm_base,
            dataset=str(work / "labels" / "labels.jsonl"),
            output_dir=str(work / "prm"),
            report_to="none",
        ),
    )
    table = eval_prm(
        EvalPRMArguments(
            prm="token-cls",
            prm_model=str(work / "prm"),
            model_name_or_path=args.policy,
            dataset=args.world,
            split=args.split,
            per_level=args.per_level,
            output=str(work / "eval_prm.json"),
        )
    )
    searched = ("weighted_best_of_n", "beam_search")
    search = {}
    for name, prm, prm_model in (("learned", "token-cls", str(work / "prm")), ("oracle", "oracle", None)):
        infer(
            InferArguments(
                model_name_or_path=args.policy,
                prm=prm,
                prm_model=prm_model,
                strategies=list(searched),
                budgets=[args.n],
                dataset=args.world,
                split=args.split,
                per_level=args.per_level,
                output_dir=str(work / f"search_{name}"),
            )
        )
        search[name] = {s: accuracy(work / f"search_{name}", s) for s in searched}
    infer(  # the PRM's base LM as the policy, on the same problems, with no PRM
        InferArguments(
            model_name_or_path=args.prm_base,
            strategies=["greedy", "majority"],
            budgets=[args.n],
            dataset=args.world,
            split=args.split,
            per_level=args.per_level,
            output_dir=str(work / "base_policy"),
        )
    )
    base = {s: accuracy(work / "base_policy", s) for s in ("greedy", "majority")}
    wbon = {name: runs["weighted_best_of_n"] for name, runs in search.items()}
    learned, oracle, majority = (
        (work / "search_learned", "weighted_best_of_n"),
        (work / "search_oracle", "weighted_best_of_n"),
        (work / "base_policy", "majority"),
    )
    intervals = {
        "gap_points": paired(oracle, learned),
        "gap_points_hard": paired(oracle, learned, HARD_LEVELS),
        # the control a PRM must beat: the base LM's own majority vote over the same number of samples
        "learned_minus_base_majority_points": paired(learned, majority),
        "learned_minus_base_majority_points_hard": paired(learned, majority, HARD_LEVELS),
    }
    overall = table[-1]
    searches = [work / f"search_{name}" for name in search] + [work / "base_policy"]
    test = distinct_problems(
        # what eval prm sampled on
        SourceArguments(dataset=args.world, split=args.split, per_level=args.per_level).load(),
        *(list(results_problems(folder).values()) for folder in searches),
    )
    overlap = overlap_report(
        test,
        {
            "policy": args.policy,
            "prm_base": args.prm_base,
            "prm_labels": str(work / "labels" / "labels.jsonl"),
        },
        world=args.world,
    )
    print(
        json.dumps(
            {
                "auroc": round(overall.auroc, 4),
                "gap_points": intervals["gap_points"]["points"],
                "gap_points_hard": intervals["gap_points_hard"]["points"],
                "base_policy_greedy": base["greedy"],
                "base_policy_majority": base["majority"],
                "learned_minus_base_majority_points_hard": intervals[
                    "learned_minus_base_majority_points_hard"
                ],
                "intervals": intervals,
                "train_s": train_s,
                "label_s": label_s,
                **overlap,
                "wbon_learned": wbon["learned"],
                "wbon_oracle": wbon["oracle"],
                "beam_learned": search["learned"]["beam_search"],
                "beam_oracle": search["oracle"]["beam_search"],
                "auroc_by_level": {s.group: s.auroc for s in table[:-1]},
                "processbench_f1": overall.f1,
                "world": args.world,
                "n": args.n,
                "per_level": args.per_level,
                "split": args.split,
                "prm_recipe": args.prm_recipe,
                "policy": args.policy,
                "prm_base": args.prm_base,
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
