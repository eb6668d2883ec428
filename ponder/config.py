"""Configs the way TRL scripts take them: dataclasses, a YAML file, and `--key value` overrides.

Every command parses a tuple of dataclasses. The YAML file's keys are turned into command-line
arguments placed before the user's own, so one code path validates both: argparse converts
and checks each value, and a later `--key` on the command line wins over the file. Mistakes a
user can make (an unknown key, a value of the wrong type, a missing file) raise `ConfigError`,
which the `ponder` command turns into exit code 2 and one line that names the key.

Pipelines build the same dataclasses in code: `from_yaml(types, recipe(...), key=value)` reads a
recipe through the same parser and sets typed values on top, with no argv strings in between.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import yaml
from transformers import HfArgumentParser

from ponder.errors import ConfigError


class PonderParser(HfArgumentParser):
    """`HfArgumentParser` that adds `--config FILE.yaml` and fails in one line."""

    def __init__(self, dataclass_types, prog: str | None = None, description: str | None = None):
        super().__init__(dataclass_types, prog=prog, description=description)
        self.add_argument(
            "--config",
            type=str,
            default=None,
            help="YAML file of `key: value` options; options given on the command line override it.",
        )

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)

    def field_names(self) -> set[str]:
        return {f.name for dtype in self.dataclass_types for f in dataclasses.fields(dtype) if f.init}

    def option_names(self) -> set[str]:
        """Field names and their aliases (`metadata={"aliases": ["--model"]}`): the keys YAML may use."""
        aliases = {
            alias.lstrip("-")
            for dtype in self.dataclass_types
            for f in dataclasses.fields(dtype)
            for alias in f.metadata.get("aliases", [])
        }
        return self.field_names() | aliases

    def parse(self, argv: list[str] | None = None) -> tuple[Any, ...]:
        """Parse YAML (if `--config` is given) and CLI flags into one instance per dataclass."""
        argv = list(sys.argv[1:] if argv is None else argv)
        config_path = _pop_config(argv)
        file_args = yaml_to_argv(config_path, self.option_names()) if config_path else []
        parsed = self.parse_args_into_dataclasses(args=file_args + argv, look_for_args_file=False)
        return parsed[: len(self.dataclass_types)]  # drop the namespace holding only `config`


def _pop_config(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--config":
            if i + 1 >= len(argv):
                raise ConfigError("argument --config: expected a YAML file path")
            path = argv[i + 1]
            del argv[i : i + 2]
            return path
        if arg.startswith("--config="):
            del argv[i]
            return arg.split("=", 1)[1]
    return None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    return content


def yaml_to_argv(path: str | Path, known: set[str]) -> list[str]:
    """Turn a YAML mapping into `--key value` arguments, rejecting keys no dataclass declares."""
    argv: list[str] = []
    for key, value in load_yaml(path).items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key '{key}'")
        if value is None:
            continue
        if isinstance(value, list):
            argv += [f"--{key}", *map(str, value)]
        elif isinstance(value, dict):
            argv += [f"--{key}", json.dumps(value)]
        else:
            argv += [f"--{key}", str(value)]
    return argv


def parse_config(
    dataclass_types, argv: list[str] | None = None, prog: str | None = None, description: str | None = None
):
    """Parse `argv` (and the YAML file it names with --config) into the given dataclasses.

    Raises ConfigError on any user mistake, a dataclass's `__post_init__` rejecting a value included.
    """
    parser = PonderParser(dataclass_types, prog=prog, description=description)
    try:
        return parser.parse(argv)
    except ConfigError:
        raise
    except ValueError as err:  # a dataclass's __post_init__ rejecting a combination of values
        raise ConfigError(str(err).splitlines()[0]) from None


def from_yaml(dataclass_types, path: str | Path | None = None, **overrides: Any) -> tuple[Any, ...]:
    """The dataclasses a command parses, from a YAML recipe (optional) with typed `overrides` on top.

    The file goes through the same parser as on the command line (so its values are converted and
    checked the same way); `overrides` are Python values, set as they are. An override that no
    dataclass declares raises ConfigError, as an unknown YAML key does.
    """
    parser = PonderParser(dataclass_types)
    unknown = sorted(set(overrides) - parser.field_names())
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}")
    file_args = yaml_to_argv(path, parser.option_names()) if path else []
    namespace, _ = parser.parse_known_args(args=file_args)
    values = {**vars(namespace), **overrides}
    built = []
    for dtype in dataclass_types:
        names = {f.name for f in dataclasses.fields(dtype) if f.init}
        try:
            built.append(dtype(**{k: v for k, v in values.items() if k in names}))
        except ConfigError:
            raise
        except ValueError as err:
            raise ConfigError(str(err).splitlines()[0]) from None
    return tuple(built)


def recipe(*parts: str) -> Path:
    """A shipped recipe such as `recipe("train", "prm.yaml")` (configs/ installs as ponder.configs)."""
    return Path(str(resources.files("ponder.configs").joinpath(*parts)))
