"""`ponder data world`: write a generated world's problems (ArithWorld, Countdown) of one split to jsonl.

Each problem keeps its world in `meta.source`, so a command that reads the file grades and checks it
as that world's (`ponder.data.grading.world_grader`, the oracle PRM). Levels whose question space
is small repeat questions within a split; the command says how many distinct questions each such
level's problems hold (`ponder.data.splits`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import parse_config
from ponder.errors import ConfigError

from .loaders import load_problems, save_problems
from .splits import ALL, SPLITS, check_split, distinct_by_level, generate_split, small_levels
from .worlds import WORLDS


@dataclass
class WorldArguments:
    world: str = field(default="arithworld", metadata={"help": f"The world: {', '.join(WORLDS)}."})
    output: str = field(
        default="arithworld.jsonl",
        metadata={"help": "jsonl file to write (fields: id, question, answer, solution, level, meta)."},
    )
    n_per_level: int = field(default=100, metadata={"help": "Problems per level."})
    levels: list[int] | None = field(
        default=None, metadata={"help": "Levels to generate (default: all of the world's)."}
    )
    split: str = field(
        default="test",
        metadata={
            "help": f"Which part of the question space ({', '.join((*SPLITS, ALL))}): test for the "
            "numbers we report, dev for tuning, train for training."
        },
    )
    seed: int = field(default=0, metadata={"help": "Random seed; the same seed gives the same problems."})
    exclude: str | None = field(
        default=None,
        metadata={
            "help": "jsonl/json problems whose questions are left out (splits are disjoint already; "
            "this is for files from elsewhere)."
        },
    )

    def __post_init__(self):
        if self.n_per_level < 1:
            raise ConfigError(f"n_per_level must be >= 1, got {self.n_per_level}")
        levels = WORLDS.get(self.world).levels
        self.levels = self.levels or list(levels)
        bad = [level for level in self.levels if level not in levels]
        if bad:
            raise ConfigError(
                f"levels: unknown {self.world} level(s) {bad}; expected values in {list(levels)}"
            )
        check_split(self.split)


def run(args: WorldArguments) -> Path:
    """Generate the problems, leave out those whose questions `exclude` holds, write them; the file."""
    problems = generate_split(args.world, args.split, args.n_per_level, args.seed, args.levels)
    dropped = 0
    if args.exclude:
        taken = {p.question for p in load_problems(args.exclude)}
        kept = [p for p in problems if p.question not in taken]
        problems, dropped = kept, len(problems) - len(kept)
    output = Path(args.output)
    save_problems(problems, output)
    print(
        f"wrote {len(problems)} problems to {args.output}"
        + (f" ({dropped} left out: their questions are in {args.exclude})" if args.exclude else "")
    )
    distinct = distinct_by_level(problems)
    for level in sorted(set(args.levels) & set(small_levels(args.world))):
        print(f"level {level}: {distinct.get(level, 0)} distinct questions (a small level, reported apart)")
    return output


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((WorldArguments,), argv, prog="ponder data world", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder data world", main)
