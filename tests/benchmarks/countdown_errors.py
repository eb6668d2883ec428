"""Benchmark: where a Countdown policy goes wrong, per level: slips or dead ends.

A policy fails a Countdown problem in two different ways. A slip (wrong arithmetic, a number that
is not there, the numbers left restated wrongly, a wrong box) is what more training removes, as
in ArithWorld. A dead end (a valid step after which the target can no longer be made) is a wrong
choice: the world's reason to exist, and what search with a verifier can fix. This decodes the
policy greedily on `--per_level` problems of each level (`--split`, `--seed`) and counts, per
level, the solved problems and the reason for each failure's first bad step
(`ponder.data.countdown.step_errors`; "unfinished": every step valid but the target never
reached within `--max_tokens`). A policy whose failures are mostly dead ends is one where search
has room that training alone would not close cheaply.

Last line: one JSON object, per level: `n`, `solved`, `first_error` (share of problems per
reason), `first_error_step_mean` (0-based step of the first bad step, over failures), and
`dead_end_share_of_failures`.

    python tests/benchmarks/countdown_errors.py --policy DIR [--per_level 100] [--split dev] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from statistics import mean

from ponder.data import split_steps
from ponder.data.countdown import DEAD_END, grade_trajectory, step_errors
from ponder.data.splits import generate_split
from ponder.infer.backends.base import Sampling
from ponder.infer.backends.hf import HFBackend
from ponder.infer.prompts import build_prompt

UNFINISHED = "unfinished"


def first_error(question: str, text: str) -> tuple[int, str] | None:
    """The first bad step of a completion and why (None when it solves the problem)."""
    if grade_trajectory(question, text):
        return None
    steps = split_steps(text)
    errors = step_errors(question, steps)
    return next(((i, e) for i, e in enumerate(errors) if e is not None), (len(steps), UNFINISHED))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", required=True, help="Countdown policy folder")
    parser.add_argument("--per_level", type=int, default=100, help="problems per level")
    parser.add_argument("--split", default="dev", help="split the problems come from")
    parser.add_argument("--seed", type=int, default=1, help="seed of the problems")
    parser.add_argument("--max_tokens", type=int, default=256, help="most tokens per completion")
    args = parser.parse_args()

    problems = generate_split("countdown", args.split, args.per_level, args.seed)
    backend = HFBackend(args.policy, progress=True)
    prompts = [build_prompt(backend.tokenizer, p.question) for p in problems]
    completions = backend.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=args.max_tokens))
    outcomes: dict[int, list[tuple[int, str] | None]] = {}
    for problem, (completion,) in zip(problems, completions):
        outcomes.setdefault(problem.level, []).append(first_error(problem.question, completion.text))

    levels = {}
    for level, results in sorted(outcomes.items()):
        failures = [r for r in results if r is not None]
        reasons = Counter(reason for _, reason in failures)
        levels[level] = {
            "n": len(results),
            "solved": round(1 - len(failures) / len(results), 3),
            "first_error": {reason: round(k / len(results), 3) for reason, k in reasons.most_common()},
            "first_error_step_mean": round(mean(i for i, _ in failures), 2) if failures else None,
            "dead_end_share_of_failures": round(reasons[DEAD_END] / len(failures), 3) if failures else None,
        }
        shares = ", ".join(
            f"{reason} {100 * share:.0f}%" for reason, share in levels[level]["first_error"].items()
        )
        print(
            f"level {level}: solved {100 * levels[level]['solved']:.0f}% of {len(results)}; "
            f"first error: {shares}"
        )
    print(json.dumps({"policy": args.policy, "split": args.split, "seed": args.seed, "levels": levels}))


if __name__ == "__main__":
    main()
