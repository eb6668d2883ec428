"""Weights & Biases set-up shared by every command.

ponder logs through transformers' `report_to="wandb"` (trainers) and `log_run` (every other
command). Without an API key a run must not stop to ask for one or try the network, so W&B runs
offline by default: the run is written under `wandb/` and can be synced later with `wandb sync`.
A command of several stages (the quickstart, `ponder evolve`) puts them in one W&B group with
`wandb_scope`, so they sit on one dashboard. wandb itself is imported only when a run starts:
`--help` stays fast.
"""

from __future__ import annotations

import json
import netrc
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

DEFAULT_PROJECT = "ponder"
SETTING_ENV = {"run_group": "WANDB_RUN_GROUP", "mode": "WANDB_MODE"}  # W&B settings wandb_scope sets


def has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(Path.home() / ".netrc").authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def configure_wandb(project: str = DEFAULT_PROJECT) -> str:
    """Set W&B's environment before a run starts; returns the mode in force ("online"/"offline"/...)."""
    os.environ.setdefault("WANDB_PROJECT", project)
    if "WANDB_MODE" not in os.environ and not has_wandb_credentials():
        os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_SILENT", "true")
    return os.environ.get("WANDB_MODE", "online")


def finish_wandb(report_to: list[str], metrics: dict | None = None) -> None:
    """Log `metrics` to the command's W&B run, if one is open, and end it: the run is complete on
    disk now (offline runs too), and the next command in the same process (the quickstart and
    `ponder evolve` train several models) starts a run of its own instead of logging into this one."""
    if "wandb" not in report_to:
        return
    import wandb

    if wandb.run is not None:
        if metrics:
            wandb.log(metrics)
        wandb.finish()


def log_run(
    job_type: str,
    name: str,
    config: dict,
    results: dict,
    history: Sequence[dict] = (),
    images: Sequence[Path] = (),
) -> None:
    """One W&B run for a command that is not a trainer, finished on return: each `history` record as
    a step (curves), then in one step every number in `results` (nested keys joined by '/'), every
    list of records in it as a wandb.Table, and the PNGs of `images` as `plots/<name>`."""
    import wandb

    configure_wandb()
    with wandb.init(job_type=job_type, name=name, config=config, reinit="finish_previous") as run:
        for record in history:
            run.log(record)
        final = {
            key: wandb.Table(*table(value)) if isinstance(value, list) else value
            for key, value in loggable(results).items()
        }
        final.update({f"plots/{Path(path).stem}": wandb.Image(str(path)) for path in images})
        run.log(final)


def loggable(results: dict, prefix: str = "") -> dict:
    """The numbers and lists of records in `results`, by their nested keys joined by '/'; strings,
    None and other lists (paths, file names) are not metrics and are left out."""
    out = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(loggable(value, f"{name}/"))
        elif isinstance(value, (bool, int, float)):
            out[name] = value
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out[name] = value
    return out


def table(records: list[dict]) -> tuple[list[str], list[list]]:
    """Columns (every key, first seen first) and rows of a wandb.Table; a cell that is not a scalar
    (a list, a dict) is written as JSON, since a Table column holds one scalar type."""
    columns = list(dict.fromkeys(key for record in records for key in record))
    rows = [
        [
            value if value is None or isinstance(value, (str, bool, int, float)) else json.dumps(value)
            for value in (record.get(column) for column in columns)
        ]
        for record in records
    ]
    return columns, rows


def new_group(output_dir: str | Path) -> str:
    """The W&B group of a command of several stages: the one in force (WANDB_RUN_GROUP, e.g. the
    quickstart's around `ponder evolve`), else a new one named after `output_dir`, unique to this run."""
    return os.environ.get("WANDB_RUN_GROUP") or (
        f"{Path(output_dir).resolve().name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    )


@contextmanager
def wandb_scope(group: str, enabled: bool = True) -> Iterator[None]:
    """Every W&B run started inside, ponder's and transformers' WandbCallback's, lands in `group`, or
    none is written when not `enabled`; W&B's environment and settings are restored after.

    wandb reads WANDB_RUN_GROUP and WANDB_MODE once per process, when it is first set up, so setting
    the environment is not enough where it already is (a trainer ran before, or a test): its
    process-wide settings, which every `wandb.init` starts from, are changed as well."""
    import wandb

    configure_wandb()  # before W&B is set up: without a key, its settings must say offline
    settings = wandb.setup().settings
    wanted = {"run_group": group} if enabled else {"run_group": group, "mode": "disabled"}
    saved = {key: getattr(settings, key) for key in wanted}
    saved_env = {SETTING_ENV[key]: os.environ.get(SETTING_ENV[key]) for key in wanted}
    for key, value in wanted.items():
        setattr(settings, key, value)
        os.environ[SETTING_ENV[key]] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        for env, value in saved_env.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
