"""Where a command's problems come from: one arguments type, shared by every command that reads problems.

A source is a generated world (`arithworld`: `per_level` problems per level of one `split` from
`seed`), a jsonl/json file, or a hub dataset (`split`). Commands inherit `SourceArguments`, so
`--dataset`, `--split`, `--limit`, `--seed` and `--per_level` mean the same everywhere, and every
command loads its problems with the same `load()`. A world's split is a bucket of its question
space (`ponder.data.splits`): "test" by default, as for a hub dataset, so that what a command
evaluates is held out of every training set; training commands default to "train".
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ponder.errors import ConfigError

from .loaders import load_problems
from .problem import Problem
from .splits import ALL, SPLITS, check_split, generate_split
from .worlds import WORLDS, World


@dataclass
class SourceArguments:
    dataset: str = field(
        default="arithworld",
        metadata={
            "help": f"A generated world ({', '.join(WORLDS)}), a jsonl/json file, or a hub dataset name."
        },
    )
    split: str = field(
        default="test",
        metadata={
            "help": f"A hub dataset's split, or a generated world's ({', '.join((*SPLITS, ALL))}): test for "
            "the numbers we report, dev for tuning, train for training."
        },
    )
    limit: int | None = field(default=None, metadata={"help": "Only the first this many problems."})
    seed: int = field(
        default=1,
        metadata={
            "help": "Seed of a generated world's problems (and of sampling where the command samples)."
        },
    )
    per_level: int = field(default=100, metadata={"help": "Generated worlds: problems per level."})

    def __post_init__(self):  # cooperative: a command's arguments may also inherit ModelArguments
        getattr(super(), "__post_init__", lambda: None)()
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit: must be >= 1, got {self.limit}")
        if self.per_level < 1:
            raise ConfigError(f"per_level: must be >= 1, got {self.per_level}")
        if self.generated_world:
            check_split(self.split)

    @property
    def generated_world(self) -> World | None:
        """The generated world `dataset` names, or None for a file or hub dataset."""
        return WORLDS.get(self.dataset) if self.dataset in WORLDS else None

    def source(self) -> SourceArguments:
        """Only the source fields (for a subclass that adds its own), e.g. to record or compare them."""
        return SourceArguments(**{f.name: getattr(self, f.name) for f in fields(SourceArguments)})

    def load(self) -> list[Problem]:
        """The problems: generated for a world (of its split), read from the file or hub dataset otherwise."""
        problems = (
            generate_split(self.dataset, self.split, self.per_level, self.seed)
            if self.generated_world
            else load_problems(self.dataset, split=self.split)
        )
        return problems[: self.limit] if self.limit else problems


def source_from_config(config: dict) -> SourceArguments:
    """The SourceArguments a command recorded in its config.json (its other keys are ignored)."""
    return SourceArguments(**{f.name: config[f.name] for f in fields(SourceArguments) if f.name in config})
