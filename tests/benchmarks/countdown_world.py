"""Benchmark: the Countdown world itself, per level, before any model: how large, how fast, how hard.

For `--per_level` problems of each level (dev split, `--seed`): the question space (`question_space`,
an estimate except where listed exactly), the solver's time per problem (`reachable` on the
question, caches cleared before each problem, so the time is a cold solve), the number of distinct
solution paths `solutions` draws out of 16 tries, their steps, and the dead-end rate: the share of
valid first moves (every pair and operator that the rules allow) after which the target is no
longer reachable. A world where most valid moves are dead ends is one where a verifier has
something to learn (ArithWorld has no choices: its rate is 0).

Then the speed a training run draws at: `--draw_per_level` train problems of each level, drawn as
`ponder train policy` draws them (one stream, warm caches, problems of other splits drawn and
dropped), in problems per second: what a ladder stage waits on before its first step.

Last line: one JSON object: per level `question_space`, `solve_ms_mean`, `solve_ms_max`,
`paths_of_16`, `steps_mean`, `dead_end_rate`; and `train_draws_per_s`.

    python tests/benchmarks/countdown_world.py [--per_level 100] [--seed 1] [--draw_per_level 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from itertools import combinations
from statistics import mean

from ponder.data import countdown, split_steps
from ponder.data.splits import generate_split


def clear_caches() -> None:
    """Empty every memo of the solver, so that each problem is timed from cold."""
    for name in dir(countdown):
        fn = getattr(countdown, name)
        if callable(fn) and hasattr(fn, "cache_clear"):
            fn.cache_clear()


def dead_end_rate(numbers: list[int], target: int) -> float:
    """The share of valid first moves after which the target cannot be reached."""
    outcomes = []
    for i, j in combinations(range(len(numbers)), 2):
        a, b = max(numbers[i], numbers[j]), min(numbers[i], numbers[j])
        rest = [n for k, n in enumerate(numbers) if k not in (i, j)]
        for op in countdown.OPERATORS:
            value = countdown.apply(a, op, b)
            if value is None:
                continue
            outcomes.append(value != target and not countdown.reachable([*rest, value], target))
    return sum(outcomes) / len(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per_level", type=int, default=100, help="dev problems per level")
    parser.add_argument("--seed", type=int, default=1, help="seed of the dev problems")
    parser.add_argument(
        "--draw_per_level", type=int, default=2000, help="train problems per level drawn to time drawing"
    )
    args = parser.parse_args()
    problems = generate_split("countdown", "dev", args.per_level, args.seed)
    levels = {}
    for level in countdown.LEVELS:
        mine = [p for p in problems if p.level == level]
        times, paths, steps, dead = [], [], [], []
        for p in mine:
            numbers, target = countdown.parse_question(p.question)
            clear_caches()
            start = time.perf_counter()
            assert countdown.reachable(numbers, target)
            times.append(1000 * (time.perf_counter() - start))
            drawn = countdown.solutions(p, random.Random(p.question), 16)
            paths.append(len(drawn))
            steps += [len(split_steps(text)) for text in drawn]
            dead.append(dead_end_rate(numbers, target))
        levels[level] = {
            "question_space": countdown.question_space(level),
            "solve_ms_mean": round(mean(times), 2),
            "solve_ms_max": round(max(times), 2),
            "paths_of_16": round(mean(paths), 2),
            "steps_mean": round(mean(steps), 2),
            "dead_end_rate": round(mean(dead), 3),
        }
        print(f"level {level}: {levels[level]}", flush=True)
    clear_caches()
    start = time.perf_counter()
    generate_split("countdown", "train", args.draw_per_level, args.seed)
    draws_per_s = args.draw_per_level * len(countdown.LEVELS) / (time.perf_counter() - start)
    print(
        json.dumps(
            {
                "per_level": args.per_level,
                "seed": args.seed,
                "levels": levels,
                "draw_per_level": args.draw_per_level,
                "train_draws_per_s": round(draws_per_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
