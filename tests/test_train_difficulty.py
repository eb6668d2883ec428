"""`ponder train difficulty` for real on ArithWorld questions, its metrics by hand, its data loading."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from ponder.cli import main as ponder_main
from ponder.config import parse_config
from ponder.data import DatasetError
from ponder.data.arithworld import generate_problems
from ponder.infer.difficulty import average_ranks, difficulty_metrics, load_difficulty_predictor, spearman
from ponder.models import SHIPPED_POLICY
from ponder.train.difficulty import DifficultyArguments, DifficultyConfig, load_labelled, main

REPO = Path(__file__).resolve().parents[1]
POLICY = SHIPPED_POLICY
PASS_RATE = {1: 0.95, 2: 0.8, 3: 0.6, 4: 0.35, 5: 0.15}  # roughly the shipped policy's greedy accuracy


def write_labels(path: Path, per_level: int, seed: int) -> list[dict]:
    """A `ponder data difficulty` file from ArithWorld, bin = level (a level's operation count shows in
    the question)."""
    rng = random.Random(seed)
    rows = [
        {
            "problem_id": p.id,
            "question": p.question,
            "level": p.level,
            "samples": 8,
            "bin": p.level,
            "pass_rate": min(1.0, max(0.0, PASS_RATE[p.level] + rng.uniform(-0.1, 0.1))),
        }
        for p in generate_problems(per_level, seed=seed)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_spearman_with_ties_matches_a_hand_computation():
    assert average_ranks([3, 1, 3, 2]) == [3.5, 1.0, 3.5, 2.0]
    # ranks (1, 2.5, 2.5, 4) against (1, 3, 2, 4): covariance 4.5, variances 4.5 and 5
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(math.sqrt(0.9))
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_metrics_on_a_hand_made_example():
    probabilities = [
        [0.7, 0.2, 0.1, 0.0, 0.0],  # bin 1, expected bin 1.4
        [0.1, 0.6, 0.3, 0.0, 0.0],  # bin 2, expected 2.2
        [0.0, 0.1, 0.2, 0.3, 0.4],  # bin 5, expected 4.0
        [0.0, 0.0, 0.6, 0.4, 0.0],  # bin 3, expected 3.4
    ]
    true_bins = [1, 3, 3, 5]
    metrics = difficulty_metrics(probabilities, true_bins)
    assert metrics["accuracy"] == 0.25
    assert metrics["within_one"] == 0.5
    # expected-bin ranks (1, 2, 4, 3) against bin ranks (1, 2.5, 2.5, 4): 3 / sqrt(5 * 4.5)
    assert metrics["spearman"] == pytest.approx(math.sqrt(0.4))
    # with pass rates the truth is -pass_rate, whose ranks (1, 2, 4, 3) match the prediction's exactly
    assert difficulty_metrics(probabilities, true_bins, [0.9, 0.5, 0.1, 0.2])["spearman"] == pytest.approx(
        1.0
    )
    # one missing pass rate: back to the bins
    assert difficulty_metrics(probabilities, true_bins, [0.9, None, 0.1, 0.2])["spearman"] == pytest.approx(
        math.sqrt(0.4)
    )


def test_help_and_the_recipe_parse(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--freeze_backbone" in out and "--label" in out and "--eval_dataset" in out
    monkeypatch.chdir(REPO)  # the recipe names the shipped policy relative to the repository
    args, config = parse_config(
        (DifficultyArguments, DifficultyConfig), ["--config", "configs/train/difficulty.yaml"]
    )
    assert (config.label, config.num_bins, config.report_to) == ("bin", 5, ["wandb"])
    assert Path(args.model_name_or_path).resolve() == POLICY


def test_a_row_without_its_label_fails_in_one_line_naming_it(tmp_path, capsys):
    data = tmp_path / "labels.jsonl"
    rows = write_labels(data, per_level=1, seed=0)
    del rows[1]["bin"]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SystemExit) as exit_:
        ponder_main(
            ["train", "difficulty", "--model", str(POLICY), "--dataset", str(data)]
            + ["--output_dir", str(tmp_path / "out"), "--report_to", "none"]
        )
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"{data}:2: missing field 'bin'" in err and "Traceback" not in err
    # the same file has every level, so --label level reads it
    assert [r["bin"] for r in load_labelled(str(data), "train", "level", 5)] == [1, 2, 3, 4, 5]
    rows[0]["bin"] = 7
    data.write_text(json.dumps(rows[0]) + "\n")
    with pytest.raises(DatasetError, match=r"labels.jsonl:1: bin 7 is outside 1..5"):
        load_labelled(str(data), "train", "bin", 5)


def test_math_levels_skip_the_unknown_ones(shared_data, capsys):
    train = shared_data / "math500" / "train_12k_reconstructed.jsonl"
    rows = load_labelled(str(train), "train", "level", 5)
    assert len(rows) == 11998  # two rows have level "?"
    assert "skipped 2 of 12000 rows with no integer 'level'" in capsys.readouterr().out
    assert {r["bin"] for r in rows} == {1, 2, 3, 4, 5} and all(r["pass_rate"] is None for r in rows)
    with pytest.raises(DatasetError, match="no 'bin' field.*--label level"):
        load_labelled(str(shared_data / "math500" / "test.jsonl"), "test", "bin", 5)


@pytest.mark.slow
def test_trained_predictor_learns_arithworld_levels(tmp_path, offline_wandb):
    train, held_out = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    write_labels(train, per_level=60, seed=0)
    eval_rows = write_labels(held_out, per_level=20, seed=1)
    out = tmp_path / "predictor"
    main(
        [
            "--model_name_or_path",
            str(POLICY),
            "--dataset",
            str(train),
            "--eval_dataset",
            str(held_out),
            "--output_dir",
            str(out),
            "--max_steps",
            "30",
            "--per_device_train_batch_size",
            "16",
            "--learning_rate",
            "0.002",
            "--logging_steps",
            "10",
            "--report_to",
            "wandb",
        ]
    )
    results = json.loads((out / "eval_results.json").read_text())
    assert results["n_train"] == 300 and results["n_eval"] == 100
    # chance is 0.2 accuracy; the operation count is in the question, so it learns fast
    assert results["accuracy"] > 0.6 and results["within_one"] > 0.9 and results["spearman"] > 0.7
    from helpers.wandb_offline import finished_runs, history_keys

    assert any("eval/spearman" in history_keys(run) for run in finished_runs())  # logged through the trainer

    predictor = load_difficulty_predictor(out)
    questions = [r["question"] for r in eval_rows]
    probabilities = predictor.probabilities(questions)
    assert predictor.predict(questions) == [p.index(max(p)) + 1 for p in probabilities]
    assert set(predictor.predict(questions)) <= {1, 2, 3, 4, 5}
    # the predictor lays questions out exactly as the trainer did, so it scores the same (other
    # batches change the float noise, which can swap the ranks of near-equal expected bins)
    again = difficulty_metrics(
        probabilities, [r["bin"] for r in eval_rows], [r["pass_rate"] for r in eval_rows]
    )
    assert again == pytest.approx({k: results[k] for k in again}, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra",
    [
        ["--use_peft", "true"],
        ["--freeze_backbone", "true", "--unfreeze_last_layers", "1", "--backbone_layers", "2"],
    ],
    ids=["lora", "frozen-2-layers"],
)
def test_cheaper_variants_save_a_plain_folder(tmp_path, extra):
    data = tmp_path / "labels.jsonl"
    write_labels(data, per_level=8, seed=0)
    out = tmp_path / "predictor"
    main(
        [
            "--model_name_or_path",
            str(POLICY),
            "--dataset",
            str(data),
            "--eval_fraction",
            "0.25",
            "--output_dir",
            str(out),
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "8",
            "--report_to",
            "none",
            *extra,
        ]
    )
    assert json.loads((out / "eval_results.json").read_text())["n_eval"] == 10
    predictor = load_difficulty_predictor(out)
    assert set(predictor.predict(["1 +2", "5 *3 -1 +2 -8 +1 +1"])) <= {1, 2, 3, 4, 5}
    if "--backbone_layers" in extra:
        policy = AutoModelForCausalLM.from_pretrained(POLICY)
        backbone = predictor.model.base_model
        assert len(backbone.layers) == 2
        assert torch.equal(
            backbone.layers[0].mlp.up_proj.weight, policy.model.layers[0].mlp.up_proj.weight
        )  # frozen
        assert not torch.equal(
            backbone.layers[1].mlp.up_proj.weight, policy.model.layers[1].mlp.up_proj.weight
        )  # trained
