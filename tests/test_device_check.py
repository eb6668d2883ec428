"""scripts/device_check.sh, the GPU check, run end to end on the CPU at a tiny size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ponder.data.worlds import WORLDS
from ponder.models import ModelArguments

REPO = Path(__file__).resolve().parents[1]


def device_check(*argv: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/device_check.sh", *argv],
        cwd=REPO,
        env={**os.environ, "PYTHON": python},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_asking_for_the_cpu_keeps_models_on_it_in_float32():
    args = ModelArguments(device="cpu")
    assert (args.resolved_device(), args.resolved_dtype()) == ("cpu", "float32")


@pytest.mark.slow
def test_the_check_trains_searches_and_prints_one_json_line(tmp_path, tiny_recipe):
    out = tmp_path / "check"
    done = device_check(
        "--train_config", str(tiny_recipe), "--max_steps", "8", "--train_size", "200",
        "--eval_per_level", "1", "--per_level", "1", "--budget", "2", "--max_tokens", "32",
        "--strategies", "greedy", "beam_search", "--device", "cpu", "--output_dir", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # stdout is the JSON line alone
    record = json.loads(lines[0])

    assert record["device"] == record["device_name"] == "cpu"
    assert record["torch"] == torch.__version__
    assert record["train_steps"] == 8
    assert 0 < record["train_seconds"] <= record["train_total_seconds"] <= record["total_seconds"]
    assert set(record["policy_greedy"]) == {str(level) for level in WORLDS["arithworld"].levels}
    assert (out / "policy" / "config.json").is_file()

    rows = [json.loads(line) for line in (out / "search" / "results.jsonl").read_text().splitlines()]
    levels = len(WORLDS["arithworld"].levels)
    assert set(record["per_strategy"]) == {"greedy", "beam_search"}
    for name, measured in record["per_strategy"].items():
        mine = [r for r in rows if r["strategy"] == name]
        assert measured["n"] == len(mine) == levels  # one problem per level
        assert 0 <= measured["accuracy"] <= 1
        assert measured["accuracy"] == round(sum(r["correct"] for r in mine) / len(mine), 4)
        assert measured["tokens"] == sum(r["compute"]["policy_tokens"] for r in mine) > 0
        assert measured["tokens_per_second"] > 0
    assert {r["n"] for r in rows if r["strategy"] == "beam_search"} == {2}


def test_a_python_without_ponders_dependencies_is_told_what_is_missing(tmp_path):
    bare = tmp_path / "python"  # the same interpreter without its site-packages
    bare.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    bare.chmod(0o755)
    done = device_check(python=str(bare))
    assert done.returncode == 1
    assert done.stdout == ""
    message = done.stderr.strip().splitlines()[-1]
    assert "lacks: torch transformers accelerate peft trl datasets math_verify" in message
    assert "PONDER_WHEELS" in message
