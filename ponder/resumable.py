"""Output folders that a killed run resumes: JSON lines appended as work finishes.

A run writes `config.json` (its arguments and a hash of those that change results) beside its
JSON-lines file. Started again on the same folder, it keeps every complete line, cuts a line
that a kill left half-written, and refuses a folder that holds results of another configuration
rather than mixing the two. `ponder infer` and `ponder data prm-labels` both work this way.

A folder copied together with its inputs still resumes: where the recorded configuration names
other files or folders than this run's, they count as the same when their bytes are the same, so
a copied work dir need not redo what it already holds. Inputs that are no longer where the record
says cannot be compared, and the folder is refused. `ponder infer --reuse_results` compares the
folders it borrows from in the same way.
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
        if previous.get("config_hash") != digest and not _same_but_moved(previous, config):
            raise ConfigError(
                f"output_dir: {out_dir} holds output of a different configuration; use another folder"
            )
    config_path.write_text(json.dumps({**arguments, "config_hash": digest}, indent=2))
    _drop_partial_line(path)
    return path, digest


def _same_but_moved(previous: dict, config: dict) -> bool:
    """Whether the recorded arguments `previous` hold the same configuration as `config` except
    for paths that point at identical contents (a work dir copied with its problem files)."""
    recorded = {key: previous.get(key) for key in config}
    # arguments that do not hash to the recorded hash cannot vouch for the folder's contents
    return config_hash(recorded) == previous.get("config_hash") and not differing_keys(recorded, config)


def differing_keys(recorded: dict, config: dict) -> list[str]:
    """The keys of `config` whose value differs from `recorded`'s, where two paths to the same bytes
    do not differ (nor two lists of such paths): a hash cannot tell a moved input from a changed
    one, so those are read from disk. Only values that differ are read, so an unchanged multi-GB
    model is never hashed."""
    config = json.loads(json.dumps(config))  # tuples become lists, as in the recorded JSON
    return sorted(key for key, value in config.items() if not _same_setting(recorded.get(key), value))


def _same_setting(old, new) -> bool:
    if old == new:
        return True
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(map(_same_setting, old, new))
    if isinstance(old, str) and isinstance(new, str):
        old_digest = _content_digest(Path(old))
        return old_digest is not None and old_digest == _content_digest(Path(new))
    return False


def _content_digest(path: Path) -> str | None:
    """SHA-1 of a file's bytes, or of a folder's relative file names and their bytes; None if absent.

    A folder's own run record (a `config.json` written by `open_output`) is left out: it names the
    folder's paths, so it differs in every copy, and what the folder holds is its other files."""
    if path.is_file():
        files = [("", path)]
    elif path.is_dir():
        files = sorted(
            (str(f.relative_to(path)), f) for f in path.rglob("*") if f.is_file() and not _is_run_record(f)
        )
    else:
        return None
    digest = hashlib.sha1()
    for name, file in files:
        digest.update(name.encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _is_run_record(file: Path) -> bool:
    if file.name != "config.json":
        return False
    try:
        return "config_hash" in json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError):
        return False


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
