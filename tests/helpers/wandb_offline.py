"""Read an offline W&B run back: the records of a `run-*.wandb` file, as the SDK wrote them.

wandb 0.31 no longer ships a Python reader for its transaction log, so this is the format as
its writer documents it: a 7-byte file header (":W&B", magic, version), then 32 KiB blocks of
records, each with a 7-byte header (CRC-32, little-endian length, type: 1 full, 2 first,
3 middle, 4 last) and a protobuf `Record` split across blocks when it is long.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7


def records(path: str | Path) -> Iterator[pb.Record]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # the writer pads a block's tail that cannot hold a record header
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        pending += data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (1, 4) and pending:
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def finished_runs(timeout: float = 60.0) -> list[Path]:
    """The run files under $WANDB_DIR, once each is complete on disk.

    `wandb.finish()` returns before W&B's service process has written the run's last records (its
    writer flushes asynchronously), so a test that reads the file right away can miss what was
    logged; this waits until every run file ends with its `exit` record."""
    deadline = time.monotonic() + timeout
    while True:
        runs = sorted(Path(os.environ["WANDB_DIR"]).glob("wandb/offline-run-*/run-*.wandb"))
        unfinished = [run for run in runs if not _has_exit(run)]
        if not unfinished:
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"W&B runs not finished on disk after {timeout} s: {unfinished}")
        time.sleep(0.2)


def _has_exit(path: Path) -> bool:
    try:
        return any(record.WhichOneof("record_type") == "exit" for record in records(path))
    except (ValueError, struct.error, DecodeError):  # a file not yet headed, or a record cut off mid-write
        return False


def logged_keys(path: str | Path, record_type: str) -> set[str]:
    """Every key the run's `record_type` records carry, nested keys joined by '/': "config" for
    what `wandb.init` and `config.update` set, "history" for what `run.log` logged."""
    keys = set()
    for record in records(path):
        if record.WhichOneof("record_type") == record_type:
            items = record.config.update if record_type == "config" else record.history.item
            keys |= {item.key or "/".join(item.nested_key) for item in items}
    return keys


def config_keys(path: str | Path) -> set[str]:
    """Keys of the config given to `wandb.init` (in the run record) and of every later update."""
    return logged_keys(path, "config") | {item.key for item in run_record(path).config.update}


def history_keys(path: str | Path) -> set[str]:
    return logged_keys(path, "history")


def run_project(path: str | Path) -> str:
    return run_record(path).project


def run_record(path: str | Path) -> pb.RunRecord:
    """The run's own record: its project, run_group, job_type and display_name."""
    return next(r.run for r in records(path) if r.WhichOneof("record_type") == "run")
