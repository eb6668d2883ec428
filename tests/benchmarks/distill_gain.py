"""Benchmark: one round of distilling search back into the policy (expert iteration) on ArithWorld.

`ponder evolve --rounds 1` from the shipped policy: beam search (N=16) solves fresh training
problems, the verified best trajectories become SFT rows (configs/train/distill_sft.yaml), and the
distilled policy is compared with the starting one on held-out problems (seed 1): greedy accuracy
(target: +10 points or more) and weighted best-of-N at N=16 with the same PRM (target: no fall).
The PRM is the learned one with `--prm_model`, else the oracle checker (results: docs/results.md).
Last line: one JSON object with keys `greedy_gain_points`, `bon_change_points` (and details).

    python tests/benchmarks/distill_gain.py [--prm_model DIR] [--work_dir DIR] [--train_per_level 800]
                                            [--search_strategy beam_search] [--eval_per_level 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ponder.models import SHIPPED_POLICY
from ponder.pipelines.evolve import EvolveArguments
from ponder.pipelines.evolve import run as evolve


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", default=str(SHIPPED_POLICY), help="starting ArithWorld policy")
    parser.add_argument("--prm_model", default=None, help="token-cls PRM folder; default: the oracle checker")
    parser.add_argument(
        "--work_dir", default=None, help="folder for the round's output (default: a temporary one)"
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
    parser.add_argument("--eval_per_level", type=int, default=100, help="held-out problems per level")
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="distill_gain_"))

    start = time.perf_counter()
    before, after = evolve(
        EvolveArguments(
            policy=args.policy,
            prm="token-cls" if args.prm_model else "oracle",
            prm_model=args.prm_model,
            rounds=1,
            train_per_level=args.train_per_level,
            search_strategy=args.search_strategy,
            eval_per_level=args.eval_per_level,
            output_dir=str(work),
        )
    )
    print(
        json.dumps(
            {
                "greedy_gain_points": round(100 * (after["greedy"] - before["greedy"]), 1),
                "bon_change_points": round(100 * (after["search"] - before["search"]), 1),
                "greedy": [before["greedy"], after["greedy"]],
                "bon": [before["search"], after["search"]],
                "train_s": round(after["train_s"], 1),
                "wall_s": round(time.perf_counter() - start, 1),
                "prm": args.prm_model or "oracle",
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
