"""Shared fixtures: paths to ../shared/data and tiny policies (ArithWorld, Countdown) trained for real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def offline_wandb(tmp_path_factory):
    """W&B runs offline into a temporary folder, never asking for a key or touching the network."""
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_DIR"] = str(tmp_path_factory.mktemp("wandb"))


@pytest.fixture(scope="session", autouse=True)
def draw_cache_in_tmp(tmp_path_factory):
    """Large draws are kept in a temporary folder, never in the user's cache."""
    os.environ["PONDER_DRAW_CACHE"] = str(tmp_path_factory.mktemp("draws"))


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    """A policy recipe small enough to train for a few steps in seconds, for the scripts that take a
    recipe file (the device scripts default to the large recipes)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "dataset: arithworld\nhidden_size: 32\nnum_hidden_layers: 1\nnum_attention_heads: 2\n"
        "intermediate_size: 64\nper_device_train_batch_size: 16\nlearning_rate: 0.01\nbf16: false\n"
    )
    return path


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory) -> Path:
    """A 2-layer Llama trained from scratch with the real `ponder train policy` for a few steps."""
    from ponder.train.policy import main

    out = tmp_path_factory.mktemp("tiny_policy")
    main(
        [
            "--output_dir",
            str(out),
            "--train_size",
            "2000",
            "--max_steps",
            "80",
            "--hidden_size",
            "64",
            "--num_hidden_layers",
            "2",
            "--num_attention_heads",
            "2",
            "--intermediate_size",
            "128",
            "--per_device_train_batch_size",
            "16",
            "--learning_rate",
            "0.01",
            "--eval_per_level",
            "4",
            "--eval_k",
            "2",
            "--report_to",
            "wandb",
            "--save_steps",
            "15",
        ]
    )
    return out


@pytest.fixture(scope="session")
def tiny_countdown_policy(tmp_path_factory) -> Path:
    """The same tiny Llama trained on Countdown for a few steps with the real `ponder train policy`."""
    from ponder.train.policy import main

    out = tmp_path_factory.mktemp("tiny_countdown_policy")
    main(
        [
            *("--dataset", "countdown", "--output_dir", str(out), "--train_size", "600", "--max_steps", "30"),
            *("--hidden_size", "64", "--num_hidden_layers", "2", "--num_attention_heads", "2"),
            *("--intermediate_size", "128", "--per_device_train_batch_size", "16", "--learning_rate", "0.01"),
            *("--eval_per_level", "2", "--eval_k", "0", "--report_to", "none"),
        ]
    )
    return out
