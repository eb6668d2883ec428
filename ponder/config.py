"""Configs the way TRL scripts take them: dataclasses, a YAML file, and `--key value` overrides.

Every command parses a tuple of dataclasses. The YAML file's keys are turned into command-line
arguments placed before the user's own, so one code path validates both: argparse converts
and checks each value, and a later `--key` on the command line wins over the file. Mistakes a
user can make (an unknown key, a value of the wrong type, a missing file) end the program with
exit code 2 and one line that names the key — never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml
from transformers import HfArgumentParser


class ConfigError(ValueError):
    """A user-caused config problem; the CLI prints it as one line and exits with code 2."""


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

    def parse(self, argv: list[str] | None = None) -> tuple[Any, ...]:
        """Parse YAML (if `--config` is given) and CLI flags into one instance per dataclass."""
        argv = list(sys.argv[1:] if argv is None else argv)
        config_path = _pop_config(argv)
        file_args = yaml_to_argv(config_path, self.field_names()) if config_path else []
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
    """Parse `argv` into the given dataclasses; on a user error print one line and exit 2."""
    parser = PonderParser(dataclass_types, prog=prog, description=description)
    try:
        return parser.parse(argv)
    except ConfigError as err:
        fail(f"{parser.prog}: error: {err}")
    except ValueError as err:  # a dataclass's __post_init__ rejecting a combination of values
        fail(f"{parser.prog}: error: {str(err).splitlines()[0]}")


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(2)
