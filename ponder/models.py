"""Checks on model names where they enter, so a typo fails in one line instead of deep inside transformers."""

from __future__ import annotations

from pathlib import Path


def check_model_name(key: str, name: str) -> None:
    """Accept an existing folder or something shaped like a hub name (`org/model`)."""
    if Path(name).exists():
        return
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ValueError(f"{key}: no model folder '{name}' (and it is not a hub name like org/model)")
