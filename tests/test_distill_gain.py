"""distill_gain.py's recipe choice: on dev problems, from the very rows the test run trains on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ponder.config import recipe
from ponder.data.results import read_results, results_config
from ponder.data.splits import split_of
from ponder.errors import ConfigError
from ponder.models import SHIPPED_POLICY
from ponder.pipelines.evolve import EvolveArguments, trained_on

BENCHMARKS = Path(__file__).parent / "benchmarks"


@pytest.fixture
def distill_gain(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import distill_gain

    return distill_gain


def test_recipes_parse_and_a_malformed_one_is_named(distill_gain) -> None:
    assert distill_gain.parse_recipes("3e-4:200,1e-4:50") == [(3e-4, 200), (1e-4, 50)]
    with pytest.raises(ConfigError, match="got '3e-4'$"):
        distill_gain.parse_recipes("3e-4,1e-4:50")
    with pytest.raises(ConfigError, match="'0:10' needs a learning rate > 0"):
        distill_gain.parse_recipes("0:10")


def test_the_recipe_is_chosen_on_dev_problems_with_both_arms_trained_on_their_test_run_rows(
    distill_gain, tmp_path
) -> None:
    """The shipped ArithWorld policy searches 10 train problems with the oracle (beam search, N=2);
    each recipe trains the searched arm and the rejection-sampling control on those rows and reads
    greedy accuracy on dev problems only. The chosen recipe is the best mean of the two arms."""
    evolved = EvolveArguments(
        policy=str(SHIPPED_POLICY),
        prm="oracle",
        train_per_level=2,
        search_strategy="beam_search",
        budget=2,
        output_dir=str(tmp_path / "searched"),
        wandb=False,
    )
    recipes = [(1e-5, 1), (1e-3, 2)]
    chosen, grid = distill_gain.choose_recipe(evolved, recipes, 2, tmp_path / "dev")

    assert [(row["learning_rate"], row["max_steps"]) for row in grid] == recipes
    means = [row["mean"] for row in grid]
    assert chosen == recipes[means.index(max(means))]
    for row in grid:
        assert row["mean"] == pytest.approx(
            (row["greedy_dev"]["searched"] + row["greedy_dev"]["control"]) / 2, abs=0.06
        )
    # the rows the test run then trains on: the searched round's and the control's, resumed there
    rows = {"searched": tmp_path / "searched" / "round-1" / "data", "control": tmp_path / "control" / "data"}
    assert all((folder / "sft.jsonl").is_file() for folder in rows.values())
    for lr, steps in recipes:
        for arm, data in rows.items():
            folder = tmp_path / "dev" / f"lr{lr:g}-steps{steps}" / arm
            sft_yaml = recipe("train", "distill_sft.yaml").read_bytes()
            learned = {"method": "sft", "config": hashlib.sha256(sft_yaml).hexdigest()}
            assert (folder / "policy" / "trained_on_rows.txt").is_file()
            assert trained_on(folder / "policy", data, {**learned, "max_steps": steps, "learning_rate": lr})
            evaluated = read_results(folder / "eval" / "results.jsonl")
            assert results_config(folder / "eval")["split"] == "dev"
            assert len(evaluated) == 10 and all(split_of(r.question) == "dev" for r in evaluated)
