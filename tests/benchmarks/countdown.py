"""Benchmark: the loop on Countdown, a world where steps are choices and dead ends exist (issue 22).

On ArithWorld every error is a sampling slip, so search, a learned PRM and distillation measured
there say little about maths, where a step is a choice and a verifier can learn which choices lead
nowhere. Countdown (data/countdown.py) has such choices; this runs the whole loop on it from a
Countdown policy (`--policy`, default the shipped one: its recipe.yaml, at 3e-3 not today's 1e-3):

  1. `ponder data prm-labels` (configs/data/prm_labels.yaml: Monte-Carlo rollouts of the policy on
     train-split problems, seed 2), then `ponder train prm` (configs/train/prm.yaml) started from
     the policy itself: no model in the loop trained on more ground truth than the policy;
  2. `ponder eval prm` on test-split problems (seed 1), the policy's sampled steps labelled by
     Countdown's exact checker (valid, and the target still reachable): `within_question_auroc`
     (the final-step AUROC inside each question, what choosing among one question's attempts
     needs; target >= 0.75) and the overall step `auroc`;
  3. `ponder infer` on the same test problems at N=`--n` with the learned PRM: greedy, majority,
     weighted best-of-N (one pool of samples for the three), beam search and lookahead; and
     weighted best-of-N with the oracle PRM on the same samples (same seed), a reference.
     `learned_prm_minus_majority_points`: weighted best-of-N minus majority, levels 3-5 (target
     >= 10); `beam_minus_bon_points`: beam search minus weighted best-of-N on the hardest two
     levels (target >= 5); `lookahead_minus_beam_points`: lookahead minus beam search, same levels.
     Each is paired by problem, with a bootstrap 95% interval (ponder.infer.accuracy.paired_by_key);
  4. one round of distillation (tests/benchmarks/distill_gain.py's arms, `--skip_distill` skips it):
     the policy searches fresh train-split problems with the learned PRM (`--distill_strategy`),
     `ponder data distill` keeps the rows the grader verifies (the whole trajectory checked) that
     the learned PRM scores at least its `min_score` (no oracle step checker), SFT with
     configs/train/distill_sft.yaml; against the rejection-sampling control at equal policy tokens
     (distill_gain.control_arm). `distill_gain_over_control_points`: greedy test accuracy of the
     searched arm minus the control's (paired, with its interval);
  5. `train_test_overlap` (tests/benchmarks/overlap.py; must be 0): test problems whose question the
     policy's recipe, the step labels or a distillation arm's rows trained on.

Nothing is tuned here: every setting is a shipped recipe's or an option's, so no dev split is
read; the reported numbers are on the test split, whose questions no training set holds (splits
partition the question space). Every stage writes into `--work_dir` and a rerun resumes it.
Last line: one JSON object with those keys, `targets` (each target, its value and whether it is
met), accuracy and policy tokens per strategy and level, each stage's wall time and the settings.

    python tests/benchmarks/countdown.py [--policy DIR] [--work_dir DIR] [--per_level 100] [--n 16]
        [--label_per_level N] [--prm_max_steps N] [--skip_distill] [--distill_train_per_level 800]
        [--distill_strategy beam_search] [--distill_max_steps N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from distill_gain import control_arm, points, policy_tokens
from overlap import distinct_problems, overlap_report
from prm_quality import HARD_LEVELS, accuracy

from ponder.config import from_yaml, recipe
from ponder.data.loaders import DatasetError
from ponder.data.results import SearchResult, read_results, results_problems
from ponder.data.sources import SourceArguments
from ponder.data.worlds import WORLDS
from ponder.infer.accuracy import paired_by_key
from ponder.infer.eval_prm import EvalPRMArguments
from ponder.infer.eval_prm import run as eval_prm
from ponder.infer.run import InferArguments
from ponder.infer.run import run as infer
from ponder.models import SHIPPED_COUNTDOWN_POLICY
from ponder.pipelines.evolve import EVAL_SEED, EvolveArguments, evaluate_round, round_accuracy, run_round
from ponder.tracking import wandb_scope
from ponder.train.prm import PRMArguments, PRMConfig
from ponder.train.prm import run as train_prm
from ponder.train.prm_labels import LabelArguments
from ponder.train.prm_labels import run as label

WORLD = "countdown"
TEST_SEED = EVAL_SEED  # the distillation arms are evaluated by evolve on the very same test problems
HARDEST = WORLDS.get(WORLD).levels[-2:]
LEARNED = ("greedy", "majority", "weighted_best_of_n", "beam_search", "lookahead")
TARGETS = {
    "learned_prm_minus_majority_points": 10,
    "beam_minus_bon_points": 5,
    "within_question_auroc": 0.75,
}


@contextmanager
def clock(wall: dict, stage: str):
    """Time one stage into `wall[stage]` (seconds)."""
    start = time.perf_counter()
    yield
    wall[stage] = round(time.perf_counter() - start, 1)


def rows_by_problem(folder: Path, strategy: str) -> dict[str, SearchResult]:
    return {r.problem_id: r for r in read_results(folder / "results.jsonl") if r.strategy == strategy}


def difference(a: dict[str, SearchResult], b: dict[str, SearchResult], levels) -> dict:
    """a - b in accuracy points on the problems of `levels` both searched, paired by problem."""

    def correct(rows: dict[str, SearchResult]) -> dict[str, bool]:
        return {p: r.correct for p, r in rows.items() if r.level in levels}

    return {**paired_by_key(correct(a), correct(b)), "levels": list(levels)}


def strategy_table(folder: Path, strategy: str) -> dict:
    """prm_quality's accuracy (overall, levels 3-5, per level, FLOPs) with mean tokens per problem."""
    rows = rows_by_problem(folder, strategy).values()
    return {
        **accuracy(folder, strategy),
        "policy_tokens": round(sum(r.compute.policy_tokens for r in rows) / len(rows), 1),
        "prm_tokens": round(sum(r.compute.prm_tokens for r in rows) / len(rows), 1),
    }


def learned_prm(args, work: Path, wall: dict) -> Path:
    """Monte-Carlo step labels of the policy on train-split problems and the PRM trained on them
    from the policy itself; the PRM folder (labels in `work/labels`, as prm_quality.py lays them)."""
    with clock(wall, "labels_s"):
        label(
            *from_yaml(
                (LabelArguments,),
                recipe("data", "prm_labels.yaml"),
                model_name_or_path=args.policy,
                dataset=WORLD,
                output_dir=str(work / "labels"),
                **({"per_level": args.label_per_level} if args.label_per_level else {}),
            )
        )
    prm = work / "prm"
    with clock(wall, "train_prm_s"):
        if not (prm / "prm_config.json").is_file():
            train_prm(
                *from_yaml(
                    (PRMArguments, PRMConfig),
                    recipe("train", "prm.yaml"),
                    model_name_or_path=args.policy,
                    dataset=str(work / "labels" / "labels.jsonl"),
                    output_dir=str(prm),
                    report_to="none",
                    **({"max_steps": args.prm_max_steps} if args.prm_max_steps else {}),
                )
            )
    return prm


def search(args, folder: Path, strategies, prm: str, prm_model: str | None) -> None:
    infer(
        InferArguments(
            model_name_or_path=args.policy,
            prm=prm,
            prm_model=prm_model,
            strategies=list(strategies),
            budgets=[args.n],
            dataset=WORLD,
            per_level=args.per_level,
            seed=TEST_SEED,
            output_dir=str(folder),
            wandb=False,
        )
    )


def searched_arm(evolved: EvolveArguments) -> dict:
    """`ponder evolve`'s round 1 on Countdown (`run_round`): search train-split problems with the
    learned PRM, keep verified rows, SFT with the recipe; then its evaluation on the test problems."""
    folder = Path(evolved.output_dir) / "round-1"
    start = time.perf_counter()
    policy, _, _ = run_round(1, evolved.policy, evolved.prm_model, evolved)
    train_s = round(time.perf_counter() - start, 1)
    return {
        **evaluate_round(policy, evolved.prm_model, evolved, folder / "eval"),
        "sft_rows": sum(1 for _ in (folder / "data" / "sft.jsonl").open()),
        "policy_tokens": policy_tokens(folder / "search"),
        "train_s": train_s,
    }


def distillation(args, prm: Path, work: Path) -> dict:
    """distill_gain's searched arm and rejection-sampling control on Countdown, from the policy, both
    evaluated on stage 3's test problems (round 0 is read from stage 3's greedy and weighted
    best-of-N rows)."""
    evolved = EvolveArguments(
        policy=args.policy,
        prm="token-cls",
        prm_model=str(prm),
        world=WORLD,
        train_per_level=args.distill_train_per_level,
        search_strategy=args.distill_strategy,
        budget=args.n,
        eval_per_level=args.per_level,
        eval_dataset=WORLD,
        distill_max_steps=args.distill_max_steps,
        output_dir=str(work / "distill" / "searched"),
        wandb=False,
    )
    start = round_accuracy([work / "search_learned"], evolved)
    try:  # evolve's evaluation and the control's pool log to W&B unless told not to
        with wandb_scope(evolved.output_dir, enabled=False):
            searched = searched_arm(evolved)
            control = control_arm(evolved, work / "distill" / "control")
    except DatasetError as error:  # no verified row to distil (a policy that solves nothing)
        return {"distill_gain_over_control_points": None, "distill_not_run": str(error)}
    greedy = difference(
        rows_by_problem(work / "distill" / "searched" / "round-1" / "eval", "greedy"),
        rows_by_problem(work / "distill" / "control" / "eval", "greedy"),
        WORLDS.get(WORLD).levels,
    )
    arms = {"start": start, "searched": searched, "control": control}
    return {
        "distill_gain_over_control_points": points(searched["greedy"], control["greedy"]),
        "distill_gain_over_control": greedy,
        "distill": {
            "greedy": {name: round(100 * arm["greedy"], 1) for name, arm in arms.items()},
            "bon": {name: round(100 * arm["search"], 1) for name, arm in arms.items()},
            "sft_rows": {"searched": searched["sft_rows"], "control": control["sft_rows"]},
            "policy_tokens": {"searched": searched["policy_tokens"], "control": control["policy_tokens"]},
            "control_pool_k": control["pool_k"],
            "searched_train_s": searched["train_s"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--policy",
        default=str(SHIPPED_COUNTDOWN_POLICY),
        help="Countdown policy folder (default: the shipped one)",
    )
    parser.add_argument("--work_dir", default=None, help="folder for every stage (default: a temporary one)")
    parser.add_argument("--per_level", type=int, default=100, help="test problems per level (seed 1)")
    parser.add_argument("--n", type=int, default=16, help="budget N of every search and vote")
    parser.add_argument(
        "--label_per_level",
        type=int,
        default=None,
        help="train problems per level labelled (default: the recipe's)",
    )
    parser.add_argument(
        "--prm_max_steps", type=int, default=None, help="PRM optimizer steps (default: recipe's)"
    )
    parser.add_argument("--skip_distill", action="store_true", help="skip stage 4 (distillation)")
    parser.add_argument(
        "--distill_train_per_level", type=int, default=800, help="train problems per level searched to distil"
    )
    parser.add_argument(
        "--distill_strategy", default="beam_search", help="strategy that searches the problems distilled from"
    )
    parser.add_argument(
        "--distill_max_steps", type=int, default=None, help="SFT steps of both arms (default: the recipe's)"
    )
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="countdown_"))
    wall: dict = {}

    prm = learned_prm(args, work, wall)
    with clock(wall, "eval_prm_s"):
        table = eval_prm(
            EvalPRMArguments(
                prm="token-cls",
                prm_model=str(prm),
                model_name_or_path=args.policy,
                dataset=WORLD,
                per_level=args.per_level,
                seed=TEST_SEED,
                output=str(work / "eval_prm.json"),
                wandb=False,
            )
        )
    overall = table[-1]
    with clock(wall, "search_learned_s"):
        search(args, work / "search_learned", LEARNED, "token-cls", str(prm))
    with clock(wall, "search_oracle_s"):
        search(args, work / "search_oracle", ["weighted_best_of_n"], "oracle", None)
    learned = {s: rows_by_problem(work / "search_learned", s) for s in LEARNED}
    paired = {
        "learned_prm_minus_majority_points": difference(
            learned["weighted_best_of_n"], learned["majority"], HARD_LEVELS
        ),
        "beam_minus_bon_points": difference(learned["beam_search"], learned["weighted_best_of_n"], HARDEST),
        "lookahead_minus_beam_points": difference(learned["lookahead"], learned["beam_search"], HARDEST),
    }
    if args.skip_distill:
        distilled = {"distill_gain_over_control_points": None, "distill_not_run": "--skip_distill"}
    else:
        with clock(wall, "distill_s"):
            distilled = distillation(args, prm, work)

    with clock(wall, "overlap_s"):
        evals = [work / "distill" / arm for arm in ("searched/round-1/eval", "control/eval")]
        test = distinct_problems(
            SourceArguments(dataset=WORLD, per_level=args.per_level, seed=TEST_SEED).load(),  # eval prm's
            *(
                list(results_problems(folder).values())
                for folder in [work / "search_learned", work / "search_oracle", *evals]
                if (folder / "config.json").is_file()
            ),
        )
        rows = {"distill_searched": "searched/round-1/data", "distill_control": "control/data"}
        overlap = overlap_report(
            test,
            {
                "policy": args.policy,  # also the PRM's base
                "prm_labels": str(work / "labels" / "labels.jsonl"),
                **{
                    name: str(work / "distill" / path)
                    for name, path in rows.items()
                    if not args.skip_distill and (work / "distill" / path / "sft.jsonl").is_file()
                },
            },
            world=WORLD,
        )
    headline = {
        **{key: cell["points"] for key, cell in paired.items()},
        "distill_gain_over_control_points": distilled.pop("distill_gain_over_control_points"),
        "within_question_auroc": None if overall.within_auroc is None else round(overall.within_auroc, 4),
        "auroc": None if overall.auroc is None else round(overall.auroc, 4),
    }
    print(
        json.dumps(
            {
                **headline,
                **{k: overlap.pop(k) for k in ("train_test_overlap", "train_test_overlap_held_out_levels")},
                "targets": {
                    key: {
                        "target": target,
                        "value": headline[key],
                        "met": headline[key] is not None and headline[key] >= target,
                    }
                    for key, target in TARGETS.items()
                },
                "paired": paired,
                "within_question_auroc_ci": [overall.within_low, overall.within_high],
                "within_questions": overall.within_questions,
                "auroc_by_level": {s.group: s.auroc for s in table[:-1]},
                "within_auroc_by_level": {s.group: s.within_auroc for s in table[:-1]},
                "learned": {s: strategy_table(work / "search_learned", s) for s in LEARNED},
                "oracle_weighted_best_of_n": strategy_table(work / "search_oracle", "weighted_best_of_n"),
                **distilled,
                **overlap,
                "wall_s": wall,
                "settings": {
                    "policy": args.policy,
                    "n": args.n,
                    "per_level": args.per_level,
                    "test_seed": TEST_SEED,
                    "label_per_level": args.label_per_level,
                    "prm_max_steps": args.prm_max_steps,
                    "prm_base": args.policy,
                    "distill_train_per_level": None if args.skip_distill else args.distill_train_per_level,
                    "distill_strategy": None if args.skip_distill else args.distill_strategy,
                    "distill_max_steps": args.distill_max_steps,
                },
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
