"""Benchmark: one round of distilling search back into the policy, against a control at equal cost.

Three arms start from the shipped policy, search (or sample) the same fresh training problems, keep
SFT rows with `ponder data distill` (`verified`: right final answer) and train them with the same
recipe and steps (configs/train/distill_sft.yaml, `--distill_max_steps` when given):

- searched: `ponder evolve --rounds 1` with the learned PRM: beam search at N=16 scored by the PRM,
  rows kept by the final-answer check and the PRM's `min_score`, as a user without an exact step
  checker would keep them;
- control (rejection sampling): the policy's own samples (`ponder infer --strategies majority`, no
  PRM) from one pool, cut with `ponder data distill --first_n K` to the K samples per problem whose
  policy tokens come closest to the searched arm's, every distinct right answer kept up to the same
  `max_per_problem` (4) as the searched arm, shortest first;
- oracle (a reference): the searched arm with ArithWorld's exact step checker as the PRM.

Each distilled policy is evaluated on held-out problems (seed 1, never searched for training):
greedy accuracy and weighted best-of-N at N=16 with that arm's PRM (the control's with the learned
PRM). `gain_over_control_points` is the searched arm's greedy accuracy minus the control's (target:
3 points or more); `greedy_gain_points` its gain over the starting policy. `train_test_overlap`
counts the held-out problems whose question the starting policy, the learned PRM (its base LM and
step labels, `--prm_base`, `--prm_labels`) or any arm's distillation rows trained on
(tests/benchmarks/overlap.py; `train_test_overlap_held_out_levels` without ArithWorld's small
levels 1-2).
Last line: one JSON object with those keys, `bon_gain_over_control_points`, and each arm's details.

    python tests/benchmarks/distill_gain.py --prm_model DIR [--work_dir DIR] [--train_per_level 800]
        [--search_strategy beam_search] [--budget 16] [--eval_per_level 100] [--distill_max_steps N]
        [--prm_base DIR] [--prm_labels FILE]

The learned PRM is one that `tests/benchmarks/prm_quality.py` trains (its work_dir's `prm`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from overlap import beside_prm, distinct_problems, overlap_report

from ponder.config import from_yaml, recipe
from ponder.data.distill import DistillDataArguments
from ponder.data.distill import run as distill_data
from ponder.data.results import read_results, results_config, results_problems
from ponder.data.sources import source_from_config
from ponder.infer.run import InferArguments
from ponder.infer.run import run as infer
from ponder.models import SHIPPED_POLICY, SHIPPED_VERIFIER
from ponder.pipelines.evolve import EvolveArguments, evaluate_round, record_rows, trained_on
from ponder.pipelines.evolve import run as evolve
from ponder.train.distill import DistillArguments, DistillSFTConfig
from ponder.train.distill import run as train_distill


def policy_tokens(folder: Path, first_n: int | None = None) -> int:
    """Policy tokens of a results folder's rows; with `first_n`, of each row's first samples only
    (a pool's tokens at a smaller budget)."""
    rows = read_results(folder / "results.jsonl")
    if first_n is None:
        return sum(r.compute.policy_tokens for r in rows)
    return sum(t.tokens for r in rows for t in r.trajectories[:first_n])


def sample_pool(policy: str, search: Path, tokens: int, pool: int, work: Path) -> tuple[Path, int]:
    """A pool of the policy's own samples on the searched problems (same source, split and seed),
    doubled until it holds `tokens` policy tokens; the pool's folder and the K whose first K
    samples per problem come closest to `tokens`."""
    source = source_from_config(results_config(search))
    while True:
        folder = work / f"pool-{pool}"
        infer(
            InferArguments(
                **asdict(source),
                model_name_or_path=policy,
                strategies=["majority"],
                budgets=[pool],
                output_dir=str(folder),
            )
        )
        if policy_tokens(folder, pool) >= tokens:
            return folder, min(range(1, pool + 1), key=lambda n: abs(policy_tokens(folder, n) - tokens))
        pool *= 2


def control_arm(evolved: EvolveArguments, work: Path) -> dict:
    """The rejection-sampling control of the searched round in `evolved.output_dir`: its policy
    tokens, rows, SFT recipe and steps, and evaluation, with the policy's own samples in place of
    the PRM's search."""
    search = Path(evolved.output_dir) / "round-1" / "search"
    tokens = policy_tokens(search)
    pool, first_n = sample_pool(evolved.policy, search, tokens, 2 * evolved.budget, work)
    counts = distill_data(
        DistillDataArguments(results=[str(pool)], output_dir=str(work / "data"), first_n=first_n)
    )
    policy = work / "policy"
    if not trained_on(policy, work / "data"):
        overrides = {"max_steps": evolved.distill_max_steps, "learning_rate": evolved.distill_learning_rate}
        train_distill(
            *from_yaml(
                (DistillArguments, DistillSFTConfig),
                recipe("train", "distill_sft.yaml"),
                method="sft",
                model_name_or_path=evolved.policy,
                dataset=str(work / "data"),
                eval_per_level=0,
                output_dir=str(policy),
                report_to="none",
                **{k: v for k, v in overrides.items() if v is not None},
            )
        )
        record_rows(policy, work / "data")
    return {
        **evaluate_round(str(policy), evolved.prm_model, evolved, work / "eval"),
        "pool_k": first_n,
        "policy_tokens": policy_tokens(pool, first_n),
        "searched_policy_tokens": tokens,
        "sft_rows": counts["sft_rows"],
    }


def sft_rows(round_dir: Path) -> int:
    return json.loads((round_dir / "data" / "summary.json").read_text())["sft_rows"]


def points(a: float, b: float) -> float:
    return round(100 * (a - b), 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", default=str(SHIPPED_POLICY), help="starting ArithWorld policy")
    parser.add_argument(
        "--prm_model", required=True, help="learned token-cls PRM folder (prm_quality.py's work_dir/prm)"
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for every arm's output (default: a temporary one)"
    )
    parser.add_argument(
        "--train_per_level",
        type=int,
        default=800,
        help="training problems per level searched for distillation",
    )
    parser.add_argument(
        "--search_strategy",
        default="beam_search",
        help="strategy that searches the training problems (evaluation is weighted best-of-N)",
    )
    parser.add_argument("--budget", type=int, default=16, help="N of the searches and of the evaluation")
    parser.add_argument("--eval_per_level", type=int, default=100, help="held-out problems per level")
    parser.add_argument(
        "--distill_max_steps", type=int, default=None, help="SFT steps of every arm (default: the recipe's)"
    )
    parser.add_argument(
        "--prm_base",
        default=str(SHIPPED_VERIFIER),
        help="causal-LM folder the learned PRM started from (for train_test_overlap)",
    )
    parser.add_argument(
        "--prm_labels",
        default=None,
        help="step labels the learned PRM was trained on (default: prm_quality.py's layout, "
        "labels/labels.jsonl beside the PRM folder; for train_test_overlap)",
    )
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="distill_gain_"))

    start = time.perf_counter()
    arms = {
        name: EvolveArguments(
            policy=args.policy,
            prm=prm,
            prm_model=prm_model,
            rounds=1,
            train_per_level=args.train_per_level,
            search_strategy=args.search_strategy,
            budget=args.budget,
            eval_per_level=args.eval_per_level,
            distill_max_steps=args.distill_max_steps,
            output_dir=str(work / name),
        )
        for name, prm, prm_model in (("searched", "token-cls", args.prm_model), ("oracle", "oracle", None))
    }
    before, searched = evolve(arms["searched"])
    oracle_before, oracle = evolve(arms["oracle"])
    control = control_arm(arms["searched"], work / "control")
    evals = [work / arm / f"round-{r}" / "eval" for arm in ("searched", "oracle") for r in (0, 1)]
    test = distinct_problems(
        *(list(results_problems(f).values()) for f in [*evals, work / "control" / "eval"])
    )
    overlap = overlap_report(
        test,
        {
            "policy": args.policy,
            "prm_base": args.prm_base,
            "prm_labels": args.prm_labels or beside_prm(args.prm_model),
            "distill_searched": str(work / "searched" / "round-1" / "data"),
            "distill_oracle": str(work / "oracle" / "round-1" / "data"),
            "distill_control": str(work / "control" / "data"),
        },
    )
    print(
        json.dumps(
            {
                "gain_over_control_points": points(searched["greedy"], control["greedy"]),
                "bon_gain_over_control_points": points(searched["search"], control["search"]),
                "greedy_gain_points": points(searched["greedy"], before["greedy"]),
                "bon_change_points": points(searched["search"], before["search"]),
                "greedy": {
                    "start": before["greedy"],
                    "searched": searched["greedy"],
                    "control": control["greedy"],
                    "oracle": oracle["greedy"],
                },
                "bon": {
                    "start": before["search"],
                    "searched": searched["search"],
                    "control": control["search"],
                    "start_oracle_prm": oracle_before["search"],
                    "oracle": oracle["search"],
                },
                "sft_rows": {
                    "searched": sft_rows(work / "searched" / "round-1"),
                    "control": control["sft_rows"],
                    "oracle": sft_rows(work / "oracle" / "round-1"),
                },
                "policy_tokens": {
                    "searched": control["searched_policy_tokens"],
                    "control": control["policy_tokens"],
                },
                **overlap,
                "control_pool_k": control["pool_k"],
                "train_s": {"searched": round(searched["train_s"], 1), "oracle": round(oracle["train_s"], 1)},
                "wall_s": round(time.perf_counter() - start, 1),
                "prm": args.prm_model,
                "eval_per_level": args.eval_per_level,
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
