"""Output folders that a killed run resumes: JSON lines appended as work finishes.

A run writes `config.json` (its arguments and a hash of those that change results) beside its
JSON-lines file. Started again on the same folder, it keeps every complete line, cuts a line
that a kill left half-written, and refuses a folder that holds results of another configuration
rather than mixing the two. `ponder infer` and `ponder data prm-labels` both work this way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ponder.errors import ConfigError


def config_hash(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def open_output(out_dir: str | Path, filename: str, arguments: dict, config: dict) -> tuple[Path, str]:
    """The JSON-lines path in `out_dir`, ready to append to, and the hash of `config`.

    `arguments` are recorded in config.json for people; `config` (the subset that changes
    results) is hashed. Raises ConfigError when the folder holds another configuration's output.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / filename
    digest = config_hash(config)
    config_path = out_dir / "config.json"
    if config_path.exists() and path.exists():
        previous = json.loads(config_path.read_text())
        if previous.get("config_hash") != digest:
            raise ConfigError(
                f"output_dir: {out_dir} holds output of a different configuration; use another folder"
            )
    config_path.write_text(json.dumps({**arguments, "config_hash": digest}, indent=2))
    _drop_partial_line(path)
    return path, digest


def complete_lines(path: str | Path) -> list[dict]:
    """Every complete JSON line of `path` (none if it does not exist; a cut last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def _drop_partial_line(path: Path) -> None:
    """A kill mid-write leaves a last line without its newline: cut it so appends stay valid."""
    if path.exists():
        text = path.read_text()
        if text and not text.endswith("\n"):
            path.write_text(text[: text.rfind("\n") + 1])
