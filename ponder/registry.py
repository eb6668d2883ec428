"""Registries: names that a user types (a strategy, a PRM, a world) mapped to what they stand for.

One helper for every registry in ponder, so that adding a strategy or a PRM is adding a module
that registers it, and an unknown name fails the same way everywhere: a `ConfigError` that
names the option and lists what is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ponder.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name. `key` is the option a user sets to pick one (used in error messages)."""

    def __init__(self, key: str):
        self.key = key
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.key}: '{name}' is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`: `@REGISTRY.register("name")` over a class or function."""
        return lambda entry: self.add(name, entry)

    def get(self, name: str) -> T:
        """The entry called `name`; a ConfigError listing the known names if there is none."""
        if name not in self._entries:
            raise ConfigError(f"{self.key}: unknown '{name}' (expected one of: {', '.join(sorted(self))})")
        return self._entries[name]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def names(self, where: Callable[[T], bool] = lambda entry: True) -> list[str]:
        """Registered names whose entry satisfies `where`, in registration order."""
        return [name for name, entry in self._entries.items() if where(entry)]
