"""`ponder ladder` (policy sizes trained on doubling samples to a plateau) and the arithmetic of
tests/benchmarks/size_ladder.py (a small policy's curve read at a larger one's FLOPs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.config import recipe
from ponder.data.splits import split_of
from ponder.errors import ConfigError
from ponder.pipelines.ladder import LadderArguments, stage_overrides, stage_samples
from ponder.pipelines.ladder import run as ladder
from ponder.train.policy import recipe_training_questions

TINY = str(recipe("train", "policy_tiny.yaml"))
BENCHMARKS = Path(__file__).parent / "benchmarks"


def test_stages_double_the_samples_and_continue_from_the_last_one(tmp_path: Path) -> None:
    args = LadderArguments(rungs=[TINY], output_dir=str(tmp_path), start_samples=1000, max_samples=9000)
    assert stage_samples(args) == [1000, 2000, 4000, 8000]
    first, third = stage_overrides(args, TINY, 0, 3e-3), stage_overrides(args, TINY, 2, 3e-3)
    assert first["train_size"] == 1000 and "model_name_or_path" not in first
    # stage 2 sees as many fresh problems as stages 0-1 did, from the stage before, at a third of the LR
    assert third["train_size"] == 2000 and third["problem_seed"] == first["problem_seed"] + 2
    assert third["model_name_or_path"].endswith("policy_tiny/samples-2000")
    assert third["learning_rate"] == pytest.approx(1e-3)
    assert first["dataset_split"] == "train" and first["eval_split"] == "dev"
    assert first["eval_seed"] == third["eval_seed"]  # every stage is measured on the same dev problems


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"rungs": ["missing.yaml"]}, "rungs"),
        ({"rungs": [TINY, TINY]}, "rungs"),
        ({"start_samples": 2000, "max_samples": 1000}, "start_samples"),
        ({"continue_lr_ratio": 0.0}, "continue_lr_ratio"),
    ],
)
def test_bad_ladders_fail_naming_the_key(options: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        LadderArguments(**{"rungs": [TINY], **options})


def test_a_rung_stops_at_its_plateau_resumes_and_records_what_it_trained_on(tmp_path: Path) -> None:
    """Two real stages of the tiny rung: a few steps each leave it at 0%, so the first doubling gains
    nothing and (with no minimum) the rung has plateaued; a rerun with a higher minimum reuses both
    stages and trains only the third. The recipe each stage writes rebuilds its training questions:
    train split only, every stage's problems."""
    options = dict(
        rungs=[TINY],
        output_dir=str(tmp_path),
        start_samples=64,
        max_samples=256,
        dev_per_level=2,
        wandb=False,
    )
    [rung] = ladder(LadderArguments(**options, min_samples=0))
    assert rung["plateaued"] and rung["plateau_samples"] == 128
    assert [p["samples"] for p in rung["curve"]] == [64, 128]
    assert not (tmp_path / "policy_tiny" / "samples-256").exists()
    assert rung["curve"][1]["train_tokens"] > rung["curve"][0]["train_tokens"] > 0
    assert rung["parameters"] == 69_152
    model = tmp_path / "policy_tiny" / "samples-128" / "model.safetensors"
    trained_at = model.stat().st_mtime

    [rung] = ladder(LadderArguments(**options, min_samples=256))
    assert [p["samples"] for p in rung["curve"]] == [64, 128, 256]
    assert model.stat().st_mtime == trained_at  # finished stages are not trained again
    assert rung["checkpoint"].endswith("samples-256") and rung["plateaued"]
    saved = json.loads((tmp_path / "ladder.json").read_text())
    assert saved[0]["curve"] == rung["curve"] and (tmp_path / "ladder.png").is_file()

    questions = recipe_training_questions(rung["checkpoint"])
    assert {split_of(q) for q in questions} == {"train"}
    assert len(questions) > len(recipe_training_questions(rung["curve"][0]["checkpoint"]))


@pytest.fixture
def size_ladder(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import size_ladder

    return size_ladder


def curve(correct: list[list[float]], tokens: list[float]):
    from ponder.infer.eval_search import Outcomes

    problems = [f"p{i}" for i in range(len(correct[0]))]
    return Outcomes(
        "s",
        [1, 4, 16][: len(correct)],
        problems,
        correct,
        [[t] * len(problems) for t in tokens],
        [[2 * 10 * t] * len(problems) for t in tokens],
    )


def test_a_curve_is_read_at_equal_flops_problem_by_problem(size_ladder) -> None:
    """10 parameters: budgets cost 2*10*100, 2*10*400 and 2*10*1600 FLOPs. Half-way in log FLOPs
    between N=4 and N=16 each problem counts half of each budget's verdict."""
    o = curve([[0, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 0]], [100, 400, 1600])
    point = size_ladder.at_flops(o, 10, 2 * 10 * 800)
    assert list(point["correct"]) == pytest.approx([0.5, 1.0, 1.0, 0.0])
    assert point["n"] == pytest.approx(10.0) and not point["bound"]
    exact = size_ladder.at_flops(o, 10, 2 * 10 * 400)
    assert list(exact["correct"]) == [0, 1, 1, 0] and not exact["bound"]
    beyond = size_ladder.at_flops(o, 10, 2 * 10 * 5000)  # more FLOPs than the largest budget spent
    assert beyond["bound"] and list(beyond["correct"]) == [1, 1, 1, 0]


def test_paired_difference_has_a_bootstrap_interval(size_ladder) -> None:
    import numpy as np

    small, large = np.array([1.0] * 30 + [0.0] * 10), np.array([1.0] * 20 + [0.0] * 20)
    d = size_ladder.paired_difference(small, large)
    assert d["points"] == 25.0 and 0 < d["low"] < 25 < d["high"]
    same = size_ladder.paired_difference(small, small)
    assert same == {"points": 0.0, "low": 0.0, "high": 0.0}
