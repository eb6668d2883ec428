"""Benchmark: how hard a candidate ArithWorld level table is for a policy recipe, before it is adopted.

Issue 19 asks for levels that leave room for the plateaued default policy (the top level at most
30% greedy, pass@16 at least twice that). Levels are code (`ponder.data.arithworld.LEVELS`), and
changing them changes every checkpoint's numbers, so a candidate table is tried here first: this
script registers the table as the world 'arithworld' for its own process only,
trains `--config` on `--samples` train-split problems of it exactly as `ponder train policy`
does (seeded, held-out splits), and reports dev greedy and pass@k per level. Nothing outside this
process changes; the checkpoint in `--output_dir` is what `ponder train policy` would make once
the table is adopted (options this script does not know go to that training run, e.g.
`--max_length 512` for chains longer than the recipe's 256 tokens). `--table` is a YAML file
mapping each level to its `Level` fields; the default, `WIDE`, spans the old levels 3 and 5 and six
harder ones (4-digit values, 1- and 2-digit multipliers, 4-8 operations), so one run maps where the
difficulty lies.

With `--model DIR` instead of `--samples`, nothing is trained: the policy in DIR is scored on the
table's dev problems, which says how far a policy trained on today's levels already gets on it.

Last line: one JSON object: `samples`, `train_tokens`, `train_s`, per level `greedy` and `pass_at_k`
(percent) with `n`, and the table.

    python tests/benchmarks/level_probe.py --samples 128000 --output_dir DIR [--table levels.yaml]
        [--config configs/train/policy.yaml] [--eval_per_level 100] [--eval_k 16] [RECIPE OPTIONS]
    python tests/benchmarks/level_probe.py --model DIR --output_dir OUT [--table levels.yaml]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ponder.config import load_yaml, parse_config
from ponder.data.arithworld import Level
from ponder.data.worlds import WORLDS, arithworld_of
from ponder.infer import eval_policy
from ponder.train.policy import PolicyArguments, PolicyConfig
from ponder.train.policy import run as train

WIDE = {
    1: Level(n_ops=3, start_max=50, operand_max=20, mul_max=5, value_max=299),  # the old level 3
    2: Level(n_ops=6, start_max=99, operand_max=99, mul_max=9, value_max=999),  # the old level 5
    3: Level(n_ops=4, start_max=999, operand_max=999, mul_max=9, value_max=9999),
    4: Level(n_ops=6, start_max=999, operand_max=999, mul_max=9, value_max=9999),
    5: Level(n_ops=8, start_max=999, operand_max=999, mul_max=9, value_max=9999),
    6: Level(n_ops=4, start_max=999, operand_max=999, mul_max=99, value_max=9999),
    7: Level(n_ops=6, start_max=999, operand_max=999, mul_max=99, value_max=9999),
    8: Level(n_ops=8, start_max=999, operand_max=999, mul_max=99, value_max=9999),
}


def read_table(path: str | None) -> dict[int, Level]:
    """The candidate table: `WIDE`, or a YAML file of `level: {n_ops: .., start_max: .., ...}`."""
    if path is None:
        return WIDE
    return {int(level): Level(**fields) for level, fields in load_yaml(Path(path)).items()}


def use_table(table: dict[int, Level]) -> None:
    """Make the world named 'arithworld' draw from `table` in this process: every command reaches a
    world through the registry, so the recipe and its records stay those of `--dataset arithworld`."""
    del WORLDS["arithworld"]
    WORLDS.add("arithworld", arithworld_of(table))


def score(args: argparse.Namespace) -> list[dict]:
    """`ponder eval policy` on the table's dev problems, the same ones a training run is scored on."""
    argv = [
        *("--model", args.model, "--dataset", "arithworld", "--split", "dev", "--seed", "1"),
        *("--per_level", str(args.eval_per_level), "--k", str(args.eval_k)),
        *("--output", str(Path(args.output_dir, "eval_levels.json"))),
    ]
    return eval_policy.main(argv)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    run = parser.add_mutually_exclusive_group(required=True)
    run.add_argument("--samples", type=int, help="training problems (train split)")
    run.add_argument("--model", help="score this policy on the table, without training")
    parser.add_argument(
        "--output_dir",
        required=True,
        help="where the policy is written (a rerun resumes); with --model, its scores",
    )
    parser.add_argument("--table", default=None, help="YAML level table (default: WIDE, in this file)")
    parser.add_argument("--config", default="configs/train/policy.yaml", help="the policy recipe")
    parser.add_argument("--eval_per_level", type=int, default=100, help="dev problems per level (seed 1)")
    parser.add_argument("--eval_k", type=int, default=16, help="samples per problem for pass@k")
    parser.add_argument("--problem_seed", type=int, default=100, help="seed of the training problems")
    # Anything else is a recipe option for the training run (`ponder train policy`'s, e.g.
    # --max_length for long chains, --dataset_num_proc on a machine with cores to spare).
    args, recipe_options = parser.parse_known_args()
    if args.model and recipe_options:
        parser.error(f"--model trains nothing; unexpected: {' '.join(recipe_options)}")

    table = read_table(args.table)
    use_table(table)
    if args.model:
        result = {"train_tokens": 0, "train_s": 0.0, "levels": score(args)}
    else:
        argv = [
            *("--config", args.config, "--train_size", str(args.samples), "--output_dir", args.output_dir),
            *("--eval_split", "dev", "--eval_seed", "1", "--eval_per_level", str(args.eval_per_level)),
            *("--eval_k", str(args.eval_k), "--problem_seed", str(args.problem_seed), "--report_to", "none"),
            *recipe_options,
        ]
        result = train(*parse_config((PolicyArguments, PolicyConfig), argv, prog="level_probe"))
    levels = {
        f"L{row['level']}" if row["level"] is not None else "all": {
            "n": row["n"],
            "greedy": round(100 * row["greedy"], 1),
            "pass_at_k": round(100 * row["pass_at_k"], 1) if row.get("pass_at_k") is not None else None,
        }
        for row in result["levels"]
    }
    print(
        json.dumps(
            {
                "samples": args.samples or 0,
                "model": args.model,
                "train_tokens": result["train_tokens"],
                "train_s": result["train_s"],
                "levels": levels,
                "table": {level: dataclasses.asdict(spec) for level, spec in table.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
