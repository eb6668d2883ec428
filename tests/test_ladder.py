"""`ponder ladder` (policy sizes trained on doubling samples to a plateau) and the arithmetic of
tests/benchmarks/size_ladder.py (a small policy's curve read at a larger one's FLOPs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.config import recipe
from ponder.data.splits import split_of
from ponder.data.worlds import WORLDS
from ponder.errors import ConfigError
from ponder.pipelines.ladder import LadderArguments, read_ladder, stage_overrides, stage_samples
from ponder.pipelines.ladder import run as ladder
from ponder.train.policy import recipe_training_questions, training_totals

TINY = str(recipe("train", "policy_tiny.yaml"))
BENCHMARKS = Path(__file__).parent / "benchmarks"


def test_stages_from_scratch_train_once_on_all_their_samples(tmp_path: Path) -> None:
    args = LadderArguments(rungs=[TINY], output_dir=str(tmp_path), start_samples=1000, max_samples=9000)
    first, third = stage_overrides(args, TINY, 0, 3e-3), stage_overrides(args, TINY, 2, 3e-3)
    assert (first["train_size"], third["train_size"]) == (1000, 4000)
    assert first["problem_seed"] == third["problem_seed"]  # so stage 2's problems hold stage 0's
    assert "model_name_or_path" not in third and "learning_rate" not in third


def test_stages_double_the_samples_and_continue_from_the_last_one(tmp_path: Path) -> None:
    args = LadderArguments(
        rungs=[TINY], output_dir=str(tmp_path), start_samples=1000, max_samples=9000, schedule="continue"
    )
    assert stage_samples(args) == [1000, 2000, 4000, 8000]
    first, third = stage_overrides(args, TINY, 0, 3e-3), stage_overrides(args, TINY, 2, 3e-3)
    assert first["train_size"] == 1000 and "model_name_or_path" not in first
    # stage 2 sees as many fresh problems as stages 0-1 did, from the stage before
    assert third["train_size"] == 2000 and third["problem_seed"] == first["problem_seed"] + 2
    assert third["model_name_or_path"].endswith("policy_tiny/samples-2000")
    assert third["learning_rate"] == pytest.approx(3e-3)  # a warm restart to the recipe's peak
    assert first["dataset_split"] == "train" and first["eval_split"] == "dev"
    assert first["eval_seed"] == third["eval_seed"]  # every stage is measured on the same dev problems


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"rungs": ["missing.yaml"]}, "rungs"),
        ({"rungs": [TINY, TINY]}, "rungs"),
        ({"start_samples": 2000, "max_samples": 1000}, "start_samples"),
        ({"continue_lr_ratio": 0.0}, "continue_lr_ratio"),
        ({"schedule": "cyclic"}, "schedule"),
    ],
)
def test_bad_ladders_fail_naming_the_key(options: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        LadderArguments(**{"rungs": [TINY], **options})


def test_a_rung_stops_at_its_plateau_resumes_and_records_what_it_trained_on(
    tmp_path: Path, size_ladder
) -> None:
    """Two real stages of the tiny rung, continued (the schedule whose recipes chain): a few steps
    each leave it at 0%, so the first doubling gains nothing and (with no minimum) the rung has
    plateaued; a rerun with a higher minimum reuses both stages and trains only the third. The recipe
    each stage writes rebuilds its training questions: train split only, every stage's problems;
    size_ladder.py, given the last stage's folder as an extra rung, counts every stage's tokens."""
    options = dict(
        rungs=[TINY],
        output_dir=str(tmp_path),
        start_samples=64,
        max_samples=256,
        dev_per_level=2,
        wandb=False,
        schedule="continue",
    )
    [rung] = ladder(LadderArguments(**options, min_samples=0))
    assert rung["plateaued"] and rung["plateau_samples"] == 128
    assert [p["samples"] for p in rung["curve"]] == [64, 128]
    assert not (tmp_path / "policy_tiny" / "samples-256").exists()
    assert rung["curve"][1]["train_tokens"] > rung["curve"][0]["train_tokens"] > 0
    assert rung["parameters"] == 69_152
    # the doubling's gain, paired on the same 10 dev problems: 0% twice gains exactly 0
    assert "gain_paired" not in rung["curve"][0]
    assert rung["curve"][1]["gain_paired"] == {"points": 0.0, "low": 0.0, "high": 0.0, "n": 10}
    model = tmp_path / "policy_tiny" / "samples-128" / "model.safetensors"
    trained_at = model.stat().st_mtime

    shipped = tmp_path / "shipped"
    [rung] = ladder(LadderArguments(**options, min_samples=256, ship_dir=str(shipped)))
    assert [p["samples"] for p in rung["curve"]] == [64, 128, 256]
    assert model.stat().st_mtime == trained_at  # finished stages are not trained again
    assert rung["checkpoint"].endswith("samples-256") and rung["plateaued"]
    saved = json.loads((tmp_path / "ladder.json").read_text())
    assert saved[0]["curve"] == rung["curve"] and (tmp_path / "ladder.png").is_file()

    with pytest.raises(ConfigError, match="other options"):  # a stage is never mixed with another recipe
        ladder(LadderArguments(**options, min_samples=256, continue_lr_ratio=0.5))

    questions = recipe_training_questions(rung["checkpoint"])
    assert {split_of(q) for q in questions} == {"train"}
    assert len(questions) > len(recipe_training_questions(rung["curve"][0]["checkpoint"]))
    _, samples, tokens = size_ladder.training_record(Path(rung["checkpoint"]))
    assert (samples, tokens) == (256, rung["curve"][-1]["train_tokens"])
    # the record carries its totals, so the folder answers without the one it continued from
    record_path = Path(rung["checkpoint"]) / "eval_results.json"
    record = json.loads(record_path.read_text())
    (Path(record["args"]["model_name_or_path"]) / "eval_results.json").unlink()
    assert size_ladder.training_record(Path(rung["checkpoint"]))[1:] == (samples, tokens)
    del record["total_train_samples"], record["total_train_tokens"]  # a record from before the totals
    record_path.write_text(json.dumps(record))
    with pytest.raises(SystemExit, match="training tokens are unknown"):
        size_ladder.training_record(Path(rung["checkpoint"]))

    # the shipped copy holds the model files, not the trainer's optimizer states, and moves as a whole
    moved = tmp_path / "elsewhere"
    shipped.rename(moved)
    [read] = read_ladder(moved / "ladder.json")
    assert read["checkpoint"] == str(moved / "policy_tiny") and read["dataset"] == "arithworld"
    assert (moved / "policy_tiny" / "model.safetensors").is_file()
    assert not list((moved / "policy_tiny").glob("checkpoint-*"))
    assert not (moved / "policy_tiny" / "training_args.bin").exists()
    assert not (moved / "policy_tiny" / "eval_samples.jsonl").exists()
    assert read["train_tokens"] == rung["curve"][-1]["train_tokens"]
    (moved / "policy_tiny" / "config.json").unlink()
    with pytest.raises(ConfigError, match="rung policy_tiny has no checkpoint"):
        read_ladder(moved / "ladder.json")


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


def test_the_prm_flops_spent_at_the_matched_point_are_reported_beside_the_policys(size_ladder) -> None:
    """A PRM that costs 3x the policy's FLOPs at every budget: half-way in log FLOPs between N=4 and
    N=16 it spent half of each budget's PRM FLOPs, shown as a multiple of the policy FLOPs matched."""
    o = curve([[0, 0], [0, 1], [1, 1]], [100, 400, 1600])
    o.flops[:] = [[4 * 2 * 10 * t] * 2 for t in (100, 400, 1600)]  # policy + a PRM at 3x it
    point = size_ladder.at_flops(o, 10, 2 * 10 * 800)
    assert point["prm_flops"] == pytest.approx(0.5 * 3 * 8000 + 0.5 * 3 * 32000)
    cell = {"prm_flops": point["prm_flops"], "policy_flops": 2 * 10 * 800}
    assert size_ladder.prm_share(cell) == "3.8x"
    assert size_ladder.prm_share({"prm_flops": 0.0, "policy_flops": 1.0}) == "0"


def test_the_control_gives_the_large_policy_the_small_ones_policy_and_prm_flops(size_ladder) -> None:
    """The small policy (10 parameters, a PRM at 3x its FLOPs) matched at N=4 spends 8,000 policy and
    24,000 PRM FLOPs; the large one (40 parameters) gets all 32,000 for majority vote: its N=4."""
    from ponder.infer.eval_search import Outcomes

    small = curve([[0, 0], [0, 1], [1, 1]], [100, 400, 1600])
    small.flops[:] = [[4 * 2 * 10 * t] * 2 for t in (100, 400, 1600)]
    tokens = [[t] * 2 for t in (100, 400, 1000)]
    votes = Outcomes("majority", [1, 4, 16], ["p0", "p1"], [[0, 0], [1, 1], [1, 1]], tokens, [])
    votes.flops[:] = [[2 * 40 * t] * 2 for t in (100, 400, 1000)]

    def control(small_policy_flops: float) -> dict:
        at_greedy = {lv: {"policy_flops": small_policy_flops} for lv in ("1", "all")}
        large = {"majority": votes}
        return size_ladder.equal_total_flops(
            at_greedy, small, 10, large, 40, {1: ["p0", "p1"]}, {"p0": 1, "p1": 1}
        )

    cells = control(2 * 10 * 400)
    assert cells["all"]["total_flops"] == pytest.approx(32000)
    assert cells["all"]["large_n"] == pytest.approx(4) and not cells["all"]["bound"]
    assert (cells["all"]["small"], cells["all"]["large"], cells["all"]["points"]) == (50.0, 100.0, -50.0)
    assert control(2 * 10 * 1600)["all"]["bound"]  # 128,000 in all: beyond the vote's N=16 (80,000)


def test_paired_difference_has_a_bootstrap_interval(size_ladder) -> None:
    import numpy as np

    small, large = np.array([1.0] * 30 + [0.0] * 10), np.array([1.0] * 20 + [0.0] * 20)
    d = size_ladder.paired_difference(small, large)
    assert d["points"] == 25.0 and 0 < d["low"] < 25 < d["high"]
    same = size_ladder.paired_difference(small, small)
    assert same == {"points": 0.0, "low": 0.0, "high": 0.0}


def test_the_exchange_rate_spends_the_larger_policys_total_flops(size_ladder) -> None:
    """Large: 10 parameters, 1,000 training tokens, 10 tokens per greedy answer; small: 1 parameter,
    1,000 tokens. At R = 1 there are 100 queries; the large policy costs 6*10*1000 + 2*10*10*100 =
    80,000 FLOPs, the small one's pre-training 6,000, which leaves 740 per query: 3.7x the large
    policy's greedy, between the small policy's budgets 4 (200 FLOPs) and 16 (2,000)."""
    from ponder.data.results import Compute, SearchResult

    small_curve = curve([[0, 0], [0, 1], [1, 1]], [10, 100, 1000])
    large_rows = [
        SearchResult(p, "greedy", 1, {}, "1", ok, "1", level=1, compute=Compute(policy_tokens=10, flops=200))
        for p, ok in (("p0", True), ("p1", False))
    ]
    table = size_ladder.exchange_rate(
        small_curve,
        {"parameters": 1, "train_tokens": 1000},
        {"parameters": 10, "train_tokens": 1000},
        large_rows,
        {"p0": 1, "p1": 1},
        [1.0, 1000.0],
    )
    cell = table["R=1"]["1"]
    assert cell["flops_per_query"] == pytest.approx(740)
    assert cell["multiple_of_large_greedy"] == pytest.approx(3.7)
    assert 4 < cell["small_n"] < 16 and not cell["bound"]
    # many queries: pre-training hardly counts, the small policy gets the large one's greedy FLOPs,
    # 10x its own greedy tokens
    many = table["R=1000"]["1"]
    assert many["multiple_of_large_greedy"] == pytest.approx(1.0, rel=0.01)
    assert many["small_n"] == pytest.approx(4.0, rel=0.01)


def test_every_shipped_policy_counts_its_training_without_the_folders_it_continued_from() -> None:
    """A shipped checkpoint that continued another must carry its totals: the folder it continued
    from stayed on the machine that trained it, and a fresh clone has only the shipped one."""
    from ponder.models import CHECKPOINTS

    records = CHECKPOINTS.glob("**/eval_results.json")
    counted = [path for path in records if "train_tokens" in json.loads(path.read_text())]
    assert len(counted) >= 5  # the ArithWorld ladder's three rungs, Countdown's two and its policy
    for path in counted:
        assert training_totals(path.parent) is not None, path


def test_the_comparison_searches_the_world_its_rungs_were_trained_on(size_ladder) -> None:
    """A Countdown ladder is compared on Countdown's splits; rungs of two worlds are refused."""
    from ponder.models import SHIPPED_COUNTDOWN_LADDER, SHIPPED_COUNTDOWN_POLICY, SHIPPED_LADDER

    assert size_ladder.world_of(size_ladder.load_ladder(SHIPPED_LADDER)) == "arithworld"
    rungs = size_ladder.load_ladder(SHIPPED_COUNTDOWN_LADDER, [str(SHIPPED_COUNTDOWN_POLICY)])
    assert [r["rung"] for r in rungs] == [
        "policy_countdown_tiny",
        "policy_countdown_small",
        "countdown-policy",
    ]
    assert size_ladder.world_of(rungs) == "countdown"
    # the shipped copy counts the stages it continued from, which stayed behind on another machine
    assert rungs[-1]["train_tokens"] == rungs[0]["train_tokens"] == 361_524_988  # same problem streams
    with pytest.raises(SystemExit, match="different worlds"):
        size_ladder.load_ladder(SHIPPED_LADDER, [str(SHIPPED_COUNTDOWN_POLICY)])


def test_a_level_probe_trains_and_scores_the_candidate_table_in_its_own_process(tmp_path: Path) -> None:
    table = tmp_path / "levels.yaml"
    table.write_text(
        "1: {n_ops: 2, start_max: 9, operand_max: 9, mul_max: 0, value_max: 99}\n"
        "2: {n_ops: 7, start_max: 999, operand_max: 999, mul_max: 99, value_max: 9999}\n"
    )
    out = tmp_path / "probe"
    command = [sys.executable, str(BENCHMARKS / "level_probe.py"), "--table", str(table), "--samples", "64"]
    command += ["--output_dir", str(out), "--config", str(recipe("train", "policy_tiny.yaml"))]
    command += ["--eval_per_level", "3", "--eval_k", "2"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(line["levels"]) == {"L1", "L2"} and line["levels"]["L2"]["n"] == 3
    assert line["table"]["2"]["n_ops"] == 7 and line["samples"] == 64 and line["train_tokens"] > 0
    # the candidate's levels were trained and scored there; this process's world is untouched
    assert (out / "model.safetensors").is_file()
    assert WORLDS.get("arithworld").levels == (1, 2, 3, 4, 5)
    # --model scores that policy on the same dev problems without training: the same greedy answers
    command = [sys.executable, str(BENCHMARKS / "level_probe.py"), "--table", str(table), "--model", str(out)]
    command += ["--output_dir", str(tmp_path / "scores"), "--eval_per_level", "3", "--eval_k", "2"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    scored = json.loads(done.stdout.strip().splitlines()[-1])
    assert scored["samples"] == 0 and scored["model"] == str(out) and scored["train_tokens"] == 0
    assert {level: row["greedy"] for level, row in scored["levels"].items()} == {
        level: row["greedy"] for level, row in line["levels"].items()
    }
    assert (tmp_path / "scores" / "eval_levels.json").is_file()
