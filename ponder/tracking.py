"""Weights & Biases set-up shared by every command.

ponder logs through transformers' `report_to="wandb"` and `wandb.init`. Without an API key a
run must not stop to ask for one or try the network, so W&B runs offline by default: the run is
written under `wandb/` and can be synced later with `wandb sync`.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

DEFAULT_PROJECT = "ponder"


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
