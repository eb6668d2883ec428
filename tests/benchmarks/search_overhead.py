"""Benchmark: what step-wise tree search costs per generated token, relative to plain sampling.

On ArithWorld with the hf backend and the oracle PRM, runs best-of-N, beam search and DVTS at
N=16 over the same problems in one process and divides each tree strategy's generated tokens
per second by best-of-N's. Target: both ratios >= 0.67 (search costs at most 1.5x sampling per
token). The problems come from ArithWorld's generator (seed 1); `train_test_overlap` counts those
the policy trained on (tests/benchmarks/overlap.py; `train_test_overlap_held_out_levels` without
ArithWorld's small levels 1-2): a speed benchmark, but its accuracies are printed too.
Last line: one JSON object with keys `beam_ratio`, `dvts_ratio`, `train_test_overlap` and
`train_test_overlap_held_out_levels`.

    python tests/benchmarks/search_overhead.py [--model DIR] [--problems 64] [--n 16]
"""

from __future__ import annotations

import argparse
import json
import time

from overlap import overlap_report

from ponder.data.splits import generate_split
from ponder.infer.backends.hf import HFBackend
from ponder.infer.prm import load_prm
from ponder.infer.strategies import STRATEGIES, SearchContext
from ponder.models import SHIPPED_POLICY


def measure(strategy: str, problems, n: int, ctx: SearchContext, **params) -> dict:
    start = time.perf_counter()
    results = STRATEGIES[strategy].run(problems, n, ctx, **params)
    wall = time.perf_counter() - start
    tokens = sum(r.compute.policy_tokens for r in results)
    accuracy = sum(r.correct for r in results) / len(results)
    return {"tokens": tokens, "wall_s": round(wall, 2), "tokens_per_s": tokens / wall, "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(SHIPPED_POLICY), help="ArithWorld policy folder")
    parser.add_argument("--problems", type=int, default=65, help="problems (spread over the 5 levels)")
    parser.add_argument("--n", type=int, default=16, help="budget N")
    parser.add_argument("--beam_width", type=int, default=4, help="M")
    args = parser.parse_args()
    problems = generate_split("arithworld", "test", -(-args.problems // 5), seed=1)[: args.problems]
    backend = HFBackend(args.model, batch_size=512)
    ctx = SearchContext(
        backend=backend,
        prm=load_prm("oracle", model="arithworld"),
        tokenizer=backend.tokenizer,
        temperature=0.8,
        max_tokens=128,
        max_step_tokens=32,
        max_steps=8,
    )
    runs = {
        "best_of_n": measure("best_of_n", problems, args.n, ctx),
        "beam_search": measure("beam_search", problems, args.n, ctx, beam_width=args.beam_width),
        "dvts": measure("dvts", problems, args.n, ctx, beam_width=args.beam_width),
    }
    for name, run in runs.items():
        print(
            f"{name:<12} {run['tokens']:>8} tokens  {run['wall_s']:>7.1f} s  "
            f"{run['tokens_per_s']:>8.0f} tok/s  accuracy {run['accuracy']:.2f}"
        )
    base = runs["best_of_n"]["tokens_per_s"]
    print(
        json.dumps(
            {
                "beam_ratio": round(runs["beam_search"]["tokens_per_s"] / base, 3),
                "dvts_ratio": round(runs["dvts"]["tokens_per_s"] / base, 3),
                **overlap_report(problems, {"policy": args.model}),
                "problems": len(problems),
                "n": args.n,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
