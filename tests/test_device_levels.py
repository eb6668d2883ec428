"""scripts/device_levels.sh, level probes side by side for a GPU lease, run on the CPU at a tiny size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TABLE = "tests/benchmarks/levels_longmul.yaml"


def device_levels(out: Path, seconds: int, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/device_levels.sh", str(out), str(seconds), *argv],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_each_probe_trains_scores_and_leaves_its_json_line_and_policy(tmp_path, tiny_recipe):
    # The tiny recipe comes after the script's own --config; the probe's parser keeps the last one.
    done = device_levels(
        tmp_path / "out", 300, f"{TABLE}:40", f"{TABLE}:48",
        "--", "--config", str(tiny_recipe), "--max_steps", "2", "--eval_per_level", "1", "--eval_k", "2",
        "--max_length", "512", "--save_steps", "1", "--device", "cpu",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for samples in (40, 48):
        folder = tmp_path / "out" / "probes" / f"levels_longmul-{samples}"
        assert f"levels_longmul-{samples}: exit 0" in done.stderr
        record = json.loads((folder / "result.json").read_text())
        assert record["samples"] == samples
        assert record["table"]["5"]["n_ops"] == 12  # the table asked for, not today's levels
        assert {level: row["n"] for level, row in record["levels"].items()} == {
            f"L{level}": 1 for level in range(1, 6)
        }
        policy = folder / "policy"
        assert (policy / "model.safetensors").is_file()
        assert not list(policy.glob("checkpoint-*"))  # the trainer's checkpoints are dropped


def test_a_probe_past_its_time_is_stopped_and_leaves_no_result(tmp_path):
    done = device_levels(tmp_path / "out", 1, f"{TABLE}:40", "--", "--device", "cpu")
    assert done.returncode == 0
    assert "levels_longmul-40: exit 124" in done.stderr
    assert not (tmp_path / "out" / "probes" / "levels_longmul-40" / "result.json").exists()
