"""Where a command's problems come from: one arguments type, shared by every command that reads problems.

A source is a generated world (`arithworld`: `per_level` problems per level from `seed`), a
jsonl/json file, or a hub dataset (`split`). Commands inherit `SourceArguments`, so `--dataset`,
`--split`, `--limit`, `--seed` and `--per_level` mean the same everywhere, and every command
loads its problems with the same `load()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ponder.errors import ConfigError

from .loaders import load_problems
from .problem import Problem
from .worlds import WORLDS, World


@dataclass
class SourceArguments:
    dataset: str = field(
        default="arithworld",
        metadata={
            "help": f"A generated world ({', '.join(WORLDS)}), a jsonl/json file, or a hub dataset name."
        },
    )
    split: str = field(default="test", metadata={"help": "Split to load when `dataset` is a hub name."})
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

    @property
    def generated_world(self) -> World | None:
        """The generated world `dataset` names, or None for a file or hub dataset."""
        return WORLDS.get(self.dataset) if self.dataset in WORLDS else None

    def source(self) -> SourceArguments:
        """Only the source fields (for a subclass that adds its own), e.g. to record or compare them."""
        return SourceArguments(**{f.name: getattr(self, f.name) for f in fields(SourceArguments)})

    def load(self) -> list[Problem]:
        """The problems: generated for a world, read from the file or hub dataset otherwise."""
        world = self.generated_world
        problems = (
            world.generate(self.per_level, self.seed)
            if world
            else load_problems(self.dataset, split=self.split)
        )
        return problems[: self.limit] if self.limit else problems


def source_from_config(config: dict) -> SourceArguments:
    """The SourceArguments a command recorded in its config.json (its other keys are ignored)."""
    return SourceArguments(**{f.name: config[f.name] for f in fields(SourceArguments) if f.name in config})
