"""Splits of a generated world: a partition of its question space that no training set crosses."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from ponder.config import from_yaml, recipe
from ponder.data import splits
from ponder.data.answers import STEP_SEPARATOR
from ponder.data.arithworld import LEVELS, apply, generate_problems, question_space
from ponder.data.sources import SourceArguments
from ponder.data.splits import (
    SPLITS,
    distinct_by_level,
    generate_split,
    small_levels,
    split_of,
    split_space,
    train_test_overlap,
)
from ponder.data.worlds import WORLDS, World, arithworld_of
from ponder.errors import ConfigError
from ponder.models import SHIPPED_POLICY, SHIPPED_VERIFIER


def brute_force_questions(level: int) -> set[str]:
    """Every question of a level by trying every start and operation sequence."""
    spec = LEVELS[level]
    ops = [(op, n) for op in "+-" for n in range(1, spec.operand_max + 1)]
    ops += [("*", n) for n in range(2, spec.mul_max + 1)]
    found = set()
    for start in range(1, spec.start_max + 1):
        for sequence in itertools.product(ops, repeat=spec.n_ops):
            value, ok = start, True
            for op, n in sequence:
                value = apply(value, op, n)
                ok = ok and 0 <= value <= spec.value_max
            if ok:
                found.add(" ".join([str(start)] + [f"{op}{n}" for op, n in sequence]))
    return found


def test_question_space_counts_levels_exactly_and_small_ones_are_listed_apart() -> None:
    for level in (1, 2):
        listed = brute_force_questions(level)
        assert question_space(level) == len(listed)
        assert set(WORLDS["arithworld"].questions(level)) == listed
    assert (question_space(1), question_space(2)) == (126, 5343)
    assert question_space(3) == 3_404_593
    assert small_levels("arithworld") == [1, 2]
    with pytest.raises(ValueError, match="too many questions to list"):
        split_space("arithworld", 3, "test")


def test_the_partition_is_disjoint_deterministic_and_about_ten_ten_eighty() -> None:
    questions = list(WORLDS["arithworld"].questions(2))
    first = [split_of(q) for q in questions]
    assert first == [split_of(q) for q in questions] and set(first) == set(SPLITS)
    shares = {s: first.count(s) / len(first) for s in SPLITS}
    assert 0.08 < shares["test"] < 0.12 and 0.08 < shares["dev"] < 0.12 and shares["train"] > 0.76
    for level in (1, 2):
        sizes = {s: split_space("arithworld", level, s) for s in SPLITS}
        assert sum(sizes.values()) == split_space("arithworld", level, "all") == question_space(level)
    assert {s: split_space("arithworld", 1, s) for s in SPLITS} == {"train": 107, "dev": 10, "test": 9}


@pytest.mark.parametrize("seed", [0, 1, 3, 17])
def test_generate_split_keeps_only_its_split_deterministically(seed: int) -> None:
    drawn = {split: generate_split("arithworld", split, 30, seed) for split in SPLITS}
    for split, problems in drawn.items():
        assert len(problems) == 30 * len(LEVELS) and {split_of(p.question) for p in problems} == {split}
        assert problems == generate_split("arithworld", split, 30, seed)
        assert generate_split("arithworld", split, 10, seed) == problems[: 10 * len(LEVELS)]
        assert len({p.id for p in problems}) == len(problems)
    questions = {split: {p.question for p in problems} for split, problems in drawn.items()}
    assert not questions["train"] & questions["test"] and not questions["dev"] & questions["test"]
    assert generate_split("arithworld", "all", 30, seed) == generate_problems(30, seed=seed)


def counting_arithworld(calls: list[int]) -> World:
    """ArithWorld whose every draw appends its level to `calls`: how a test sees what was drawn."""
    arithworld = WORLDS["arithworld"]

    def draw(level, rng, index):
        calls.append(level)
        return arithworld.draw(level, rng, index)

    return dataclasses.replace(arithworld, draw=draw)


def test_a_repeated_draw_is_reused_and_a_table_registered_anew_draws_anew() -> None:
    """A ladder's rungs share their training problems: the second request for the same split, size
    and seed draws nothing (a fresh list of the same problems); another table under the same name
    draws its own."""
    drawn: list[int] = []
    WORLDS.add("counting", counting_arithworld(drawn))
    try:
        first = generate_split("counting", "train", 40, 9)
        draws = len(drawn)
        first.clear()  # a caller's list is its own
        again = generate_split("counting", "train", 40, 9)
        assert len(drawn) == draws and again == generate_split("arithworld", "train", 40, 9)
        generate_split("counting", "train", 40, 10)
        assert len(drawn) > draws  # another seed draws
    finally:
        del WORLDS["counting"]
    # Registered anew under the same name, as level_probe.py registers a candidate table as
    # 'arithworld': the same split, size and seed now come from the new table.
    wide = dict(LEVELS) | {5: dataclasses.replace(LEVELS[5], n_ops=9)}
    WORLDS.add("counting", arithworld_of(wide))
    try:
        longer = generate_split("counting", "train", 40, 9)
    finally:
        del WORLDS["counting"]
    assert {len(p.solution.split(STEP_SEPARATOR)) for p in longer if p.level == 5} == {9}


def test_a_larger_draw_extends_the_last_one_and_a_smaller_is_its_prefix() -> None:
    """A ladder's next stage doubles its samples: it draws only the problems beyond the last stage's,
    and they are the problems one draw of the larger size gives."""
    calls: dict[str, list[int]] = {"extended": [], "fresh": []}
    WORLDS.add("extended", counting_arithworld(calls["extended"]))
    WORLDS.add("fresh", counting_arithworld(calls["fresh"]))
    try:
        half = generate_split("extended", "train", 20, 4)
        before = len(calls["extended"])
        whole = generate_split("extended", "train", 40, 4)
        drawn = len(calls["extended"])
        assert whole[: len(half)] == half and drawn > before
        assert generate_split("extended", "train", 10, 4) == whole[: 10 * len(LEVELS)]
        assert len(calls["extended"]) == drawn  # a prefix draws nothing
        assert generate_split("fresh", "train", 40, 4) == whole  # one draw of the larger size
        assert len(calls["fresh"]) == drawn  # extending drew no problem twice
        assert whole == generate_split("arithworld", "train", 40, 4)
    finally:
        del WORLDS["extended"], WORLDS["fresh"]


def test_a_drawn_stream_is_kept_on_disk_for_the_next_process(tmp_path, monkeypatch) -> None:
    """A ladder's next stage runs in another process: it reads the last stage's problems from the
    draw cache and draws only those beyond them; the result is what one draw gives. A file cut short
    is drawn again, never read; an empty `PONDER_DRAW_CACHE` keeps nothing."""
    monkeypatch.setattr(splits, "CACHED_DRAW", 1)
    monkeypatch.setenv("PONDER_DRAW_CACHE", str(tmp_path))
    calls: list[int] = []
    WORLDS.add("counting", counting_arithworld(calls))
    try:
        half = generate_split("counting", "train", 20, 4)
        (kept,) = tmp_path.glob("counting-train-4-*.jsonl")
        splits._streams.clear()  # a new process: nothing drawn in memory
        whole = generate_split("counting", "train", 40, 4)
        extended = len(calls)  # the half, then only the problems beyond it
        assert whole[: len(half)] == half
        splits._streams.clear()
        assert generate_split("counting", "train", 30, 4) == whole[: 30 * len(LEVELS)]
        assert len(calls) == extended  # a prefix of what is kept draws nothing

        lines = kept.read_text().splitlines()
        kept.write_text("\n".join(lines[:-1]) + "\n")  # a file cut short
        splits._streams.clear()
        assert generate_split("counting", "train", 40, 4) == whole
        assert len(calls) == 2 * extended  # drawn again from the start
        assert len(kept.read_text().splitlines()) == len(lines)  # and kept whole again

        monkeypatch.setenv("PONDER_DRAW_CACHE", "")
        splits._streams.clear()
        calls.clear()
        assert generate_split("counting", "train", 40, 4) == whole
        assert len(calls) == extended  # one draw of the whole: extending drew nothing twice
    finally:
        del WORLDS["counting"]
    assert [path.name.split("-")[0] for path in tmp_path.glob("*.jsonl")] == ["counting"]
    assert whole == generate_split("arithworld", "train", 40, 4)


def test_a_draw_killed_midway_keeps_its_checkpoints_and_the_next_run_goes_on(tmp_path, monkeypatch) -> None:
    """A two-hour draw can be cut off by the end of a session: it is written to disk at every
    checkpoint, so the next process draws only what was not kept, and the problems are the ones one
    uncut draw gives."""
    monkeypatch.setattr(splits, "CACHED_DRAW", 1)
    monkeypatch.setattr(splits, "DRAW_CHECKPOINT", 3 * len(LEVELS))  # three rounds of levels
    monkeypatch.setenv("PONDER_DRAW_CACHE", str(tmp_path))
    write, writes = splits._DiskStream.write, []

    def killed_at_second_checkpoint(self, stream):
        if len(writes) == 1:
            raise KeyboardInterrupt
        writes.append(len(stream.problems))
        write(self, stream)

    calls: list[int] = []
    three, ten = [], []  # the draws of the first three rounds, and of all ten, without a kill
    WORLDS.add("killed", counting_arithworld(calls))
    WORLDS.add("three", counting_arithworld(three))
    WORLDS.add("ten", counting_arithworld(ten))
    try:
        monkeypatch.setenv("PONDER_DRAW_CACHE", "")
        generate_split("three", "train", 3, 4)
        generate_split("ten", "train", 10, 4)
        monkeypatch.setenv("PONDER_DRAW_CACHE", str(tmp_path))
        with monkeypatch.context() as patch:
            patch.setattr(splits._DiskStream, "write", killed_at_second_checkpoint)
            with pytest.raises(KeyboardInterrupt):
                generate_split("killed", "train", 10, 4)
        assert writes == [3 * len(LEVELS)]
        splits._streams.clear()  # a new process
        drawn_before = len(calls)
        resumed = generate_split("killed", "train", 10, 4)
        assert len(calls) - drawn_before == len(ten) - len(three)  # the first three rounds were kept
    finally:
        del WORLDS["killed"], WORLDS["three"], WORLDS["ten"]
    assert resumed == generate_split("arithworld", "train", 10, 4)


def test_small_levels_repeat_their_few_test_questions_visibly() -> None:
    test = generate_split("arithworld", "test", 100, 1)
    distinct = distinct_by_level(test)
    assert distinct[1] == split_space("arithworld", 1, "test") == 9
    assert distinct[2] < 100 and all(distinct[level] == 100 for level in (3, 4, 5))


def test_every_training_source_the_commands_build_holds_no_test_question() -> None:
    from ponder.data.cli import WorldArguments
    from ponder.train.policy import PolicyArguments, PolicyConfig
    from ponder.train.prm_labels import LabelArguments

    policy, _ = from_yaml((PolicyArguments, PolicyConfig), recipe("train", "policy.yaml"), train_size=5000)
    (labels,) = from_yaml((LabelArguments,), recipe("data", "prm_labels.yaml"))
    test = SourceArguments(per_level=300).load()  # what search and evaluation commands read by default
    assert {split_of(p.question) for p in test} == {"test"}
    test_questions = [p.question for p in test]
    for source in (policy.training_source(), labels):
        training = source.load()
        assert source.split == "train" and {split_of(p.question) for p in training} == {"train"}
        assert train_test_overlap(test_questions, (p.question for p in training)) == 0
    assert policy.evaluation_source().split == "test"
    # the routing pipeline's validation problems come from dev (the router and predictor tune on them)
    assert WorldArguments(split="dev").split == "dev"
    with pytest.raises(ConfigError, match="dataset_split: a generated world's split is one of"):
        PolicyArguments(dataset_split="validation")
    with pytest.raises(ConfigError, match="split: a generated world's split is one of"):
        WorldArguments(split="validation")


def test_train_test_overlap_counts_test_problems_whose_question_was_trained_on() -> None:
    assert train_test_overlap(["1 +2", "1 +2", "3 -1"], ["1 +2", "9 +9"]) == 2
    assert train_test_overlap(["3 -1"], []) == 0


def pre_split_checkpoints(folder: Path) -> tuple[Path, Path]:
    """The recipes of the ArithWorld policy and verifier shipped until 2026-12-06, trained before
    splits existed (no `splits: true`): the policy, and the verifier continued from it three times."""
    policy, verifier = folder / "pre-split-policy", folder / "pre-split-verifier"
    policy.mkdir(parents=True)
    verifier.mkdir()
    trained = "ponder train policy --config configs/train/policy.yaml --train_size 64000"
    (policy / "recipe.yaml").write_text(f"command: {trained}\n")
    run = f"{trained} --learning_rate 0.001"
    (verifier / "recipe.yaml").write_text(
        "commands:\n"
        f"  - {run} --model_name_or_path {policy} --problem_seed 4 --output_dir /tmp/verifier1\n"
        f"  - {run} --model_name_or_path /tmp/verifier1 --problem_seed 5 --output_dir /tmp/verifier2\n"
        f"  - {run} --model_name_or_path /tmp/verifier2 --problem_seed 6 --output_dir /tmp/verifier3\n"
    )
    return policy, verifier


def test_checkpoints_trained_before_splits_saw_most_small_level_test_questions(tmp_path: Path) -> None:
    """Rebuilt from their recipes: the honest overlap of a pre-split checkpoint, not zero; the
    shipped ArithWorld policy and verifier, trained on the train split, hold no test question."""
    from benchmarks.overlap import held_out_splits

    from ponder.train.policy import recipe_training_questions

    test = generate_split("arithworld", "test", 100, 1)

    def overlap(questions: set[str]) -> dict[int, int]:
        return {
            level: train_test_overlap([p.question for p in test if p.level == level], questions)
            for level in sorted(LEVELS)
        }

    old_policy, old_verifier = pre_split_checkpoints(tmp_path)
    policy = recipe_training_questions(old_policy)
    assert len(policy) == 43_186  # distinct questions among its 64,000 training problems
    assert overlap(policy) == {1: 100, 2: 89, 3: 1, 4: 0, 5: 0}
    verifier = recipe_training_questions(old_verifier)  # its three runs and the policy's own
    assert policy < verifier and overlap(verifier) == {1: 100, 2: 100, 3: 9, 4: 0, 5: 0}
    assert held_out_splits(SHIPPED_POLICY, test) == held_out_splits(SHIPPED_VERIFIER, test) == ["train"]
    # a recipe run with splits rebuilds from the train split: nothing of the test split
    (tmp_path / "recipe.yaml").write_text(
        "splits: true\ncommand: ponder train policy --config configs/train/policy.yaml --train_size 2000\n"
    )
    fresh = recipe_training_questions(tmp_path)
    assert fresh and {split_of(q) for q in fresh} == {"train"} and not any(overlap(fresh).values())


def test_a_recipe_drawn_from_splits_that_hold_no_test_question_is_not_drawn_again(tmp_path: Path) -> None:
    """overlap.py: a checkpoint trained on the train split overlaps no test-split problem, whatever
    it drew, so the report names its split instead of rebuilding its questions; problems of that
    very split as the "test" set are counted by rebuilding them."""
    from benchmarks.overlap import held_out_splits, overlap_report

    from ponder.train.policy import recipe_training_questions

    (tmp_path / "recipe.yaml").write_text(
        "splits: true\ncommand: ponder train policy --config configs/train/policy.yaml --train_size 2000\n"
    )
    test = generate_split("arithworld", "test", 20, 1)
    trained = generate_split("arithworld", "train", 400, 100)
    old_policy, _ = pre_split_checkpoints(tmp_path / "old")
    assert held_out_splits(tmp_path, test) == ["train"] and held_out_splits(old_policy, test) is None
    report = overlap_report(test, {"policy": tmp_path})
    assert report["train_test_overlap"] == 0
    assert report["train_test_overlap_detail"]["by_source"] == {"policy": {"splits": ["train"], "overlap": 0}}
    # train-split problems as the test set: its questions rebuilt, and the ones it trained on counted
    assert held_out_splits(tmp_path, trained) is None
    counted = overlap_report(trained, {"policy": tmp_path})
    questions = recipe_training_questions(tmp_path)
    assert 0 < counted["train_test_overlap"] == sum(p.question in questions for p in trained)
    assert counted["train_test_overlap_detail"]["by_source"]["policy"]["questions"] == len(questions)


def test_benchmark_overlap_counts_each_source_and_sets_small_levels_apart(tmp_path: Path) -> None:
    """tests/benchmarks/overlap.py on a pre-split policy's recipe and hand-made training files of each
    kind a benchmark writes: the true overlap, per source and per level, small levels apart."""
    import json

    from benchmarks.overlap import distinct_problems, overlap_report

    from ponder.data.loaders import save_problems

    test = generate_split("arithworld", "test", 100, 1)
    level4, level5 = [p for p in test if p.level == 4], [p for p in test if p.level == 5]
    labels = tmp_path / "labels.jsonl"  # PRM step labels: the question is the prompt
    labels.write_text(
        json.dumps({"prompt": level4[0].question, "completions": ["x"], "labels": [True]}) + "\n"
    )
    (tmp_path / "distill").mkdir()  # `ponder data distill` rows: the question is the user's message
    chat = [{"role": "system", "content": "Solve it."}, {"role": "user", "content": level5[0].question}]
    row = {
        "prompt": chat,
        "completion": [{"role": "assistant", "content": "x"}],
        "problem_id": "a",
        "level": 5,
    }
    (tmp_path / "distill" / "sft.jsonl").write_text(json.dumps(row) + "\n")
    save_problems([level4[1]], tmp_path / "val_problems.jsonl")  # router validation problems
    sources = {
        "policy": pre_split_checkpoints(tmp_path)[0],
        "prm_labels": labels,
        "distill_rows": tmp_path / "distill",
        "router_validation": tmp_path / "val_problems.jsonl",
        "gone": tmp_path / "no_such_folder",
    }
    report = overlap_report(test, sources)
    assert report["train_test_overlap"] == 100 + 89 + 1 + 3  # the policy's (docs/results.md) and 3 planted
    assert report["train_test_overlap_held_out_levels"] == 1 + 3
    detail = report["train_test_overlap_detail"]
    assert detail["test_problems"] == 500 and detail["small_levels"] == [1, 2]
    assert {name: s["overlap"] for name, s in detail["by_source"].items()} == {
        "policy": 190,
        "prm_labels": 1,
        "distill_rows": 1,
        "router_validation": 1,
    }
    assert detail["by_source"]["policy"]["questions"] == 43_186
    assert {level: s["overlap"] for level, s in detail["by_level"].items()} == {
        "L1": 100, "L2": 89, "L3": 1, "L4": 2, "L5": 1
    }  # fmt: skip
    assert detail["by_level"]["L1"] == {"problems": 100, "distinct": 9, "overlap": 100, "small": True}
    assert "small" not in detail["by_level"]["L3"]
    assert list(detail["unchecked"]) == ["gone"]  # reported, not guessed at
    # a fixed dataset has no small levels; nested draws of one split count each problem once
    fixed = overlap_report(level4[:5], {"prm_labels": labels}, world=None)
    assert fixed["train_test_overlap"] == fixed["train_test_overlap_held_out_levels"] == 1
    assert distinct_problems(test[:50], test) == test
