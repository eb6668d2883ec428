"""Step-level PRM data in every known layout becomes TRL stepwise rows; malformed rows fail in one line."""

import json
from pathlib import Path

import pytest

from ponder.data import DatasetError
from ponder.data.stepwise import detect_format, load_stepwise

SAMPLES = "prm_format_samples"


def _sample_rows(shared_data: Path, name: str) -> list[dict]:
    with (shared_data / SAMPLES / f"samples_{name}.jsonl").open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def _write_jsonl(path: Path, rows: list) -> str:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _assert_layout(rows: list[dict]) -> None:
    for row in rows:
        assert set(row) <= {"prompt", "completions", "labels", "soft_labels"}
        assert row["prompt"].strip() and row["completions"]
        assert len(row["labels"]) == len(row["completions"]) and all(
            isinstance(label, bool) for label in row["labels"]
        )
        assert all(step.strip() == step and step for step in row["completions"])
        assert not any(step in row["prompt"] for step in row["completions"])


def test_detects_each_sample_format(shared_data: Path) -> None:
    for name in ("math-shepherd", "prm800k", "math-aps"):
        assert {detect_format(row) for row in _sample_rows(shared_data, name)} == {name}
    assert detect_format({"prompt": "q", "completions": ["a"], "labels": [True]}) == "trl"
    assert detect_format({"input": "q", "label": None}) is None  # a hub null counts as absent


def test_math_shepherd(shared_data: Path) -> None:
    rows = load_stepwise(str(shared_data / SAMPLES / "samples_math-shepherd.jsonl"))
    assert len(rows) == 7
    _assert_layout(rows)
    first = rows[0]
    assert first["prompt"] == (
        "Janet pays $40/hour for 3 hours per week of clarinet lessons and $28/hour for 5 hours a week "
        "of piano lessons. How much more does she spend on piano lessons than clarinet lessons in a year?"
    )
    assert first["labels"] == [True, True, True, True, False]
    assert (
        first["completions"][0]
        == "Janet spends 3 hours + 5 hours = <<3+5=8>>8 hours per week on music lessons."
    )
    assert first["completions"][-1].endswith("The answer is: 13520")
    assert "soft_labels" not in first
    assert [row["labels"] for row in rows[1:]] == [
        [False] * 3,
        [False] * 2,
        [False] * 5,
        [True, False, False, False, False],
        [False] * 2,
        [False] * 3,
    ]
    # Steps lose their "Step k:" numbering and tags; labels are read by position, not by the "+" in "5+8".
    assert rows[4]["completions"][0] == "The total ratio representing the pizza is 5+8 = <<5+8=13>>13."
    assert not any("Step" in step or "ки" in step for row in rows for step in row["completions"])


def test_prm800k_follows_the_labellers_path(shared_data: Path) -> None:
    raw = _sample_rows(shared_data, "prm800k")
    rows = load_stepwise(str(shared_data / SAMPLES / "samples_prm800k.jsonl"))
    assert len(rows) == 6
    _assert_layout(rows)
    assert [row["prompt"] for row in rows] == [r["question"]["problem"] for r in raw]
    assert [len(row["completions"]) for row in rows] == [6, 7, 5, 7, 8, 12]
    # Row 1, step 2: nothing chosen, the labeller's own step (rated None) is taken and is good.
    assert rows[0]["completions"][1] == "We have $3p+e=1.24$ and $5p+e=1.82$."
    assert rows[0]["labels"] == [True] * 6
    # Row 2 (phase 2, found_error): step 2 is rated 0 (neutral, good); step 7 has no chosen or human
    # completion, so its -1 completion (the pre-generated step) is the first error and the last step.
    assert rows[1]["labels"] == [True] * 6 + [False]
    assert rows[1]["completions"] == raw[1]["question"]["pre_generated_steps"][:7]
    # Row 4, step 6: chosen_completion 3 of 7 alternatives.
    assert rows[3]["completions"][5] == "Since there are more girls than boys, g is 26 and b is 9."
    # Row 5 (give_up): ends at the human step 8; step 9 is empty.
    assert rows[4]["completions"][-1].startswith("By symmetry, we have that the intersection")
    assert rows[4]["labels"] == [True] * 8
    assert rows[5]["completions"][-1].endswith("# Answer\n\n8, 3, 1")


def _squash(text: str) -> str:
    return "".join(text.split())


def test_math_aps_one_row_per_leaf_of_the_search_tree(shared_data: Path) -> None:
    raw = _sample_rows(shared_data, "math-aps")
    rows = load_stepwise(str(shared_data / SAMPLES / "samples_math-aps.jsonl"))
    # `reasoning_steps` are the states of a search tree, not one chain: 3 trees with 81, 7 and 36 leaves.
    assert len(rows) == 124
    _assert_layout(rows)
    assert [sum(row["prompt"] == r["question"] for row in rows) for r in raw] == [81, 7, 36]
    values: dict[str, list[float]] = {}
    for r in raw:
        for state in r["reasoning_steps"]:
            values.setdefault(_squash(state["solution_prefix"]), []).append(state["mc_value"])
    for row in rows:
        assert row["labels"] == [value > 0 for value in row["soft_labels"]]
        # Each step ends a state of the tree, and its soft label is that state's mc_value
        # (the mean, for the two states the tree lists twice).
        for k, soft in enumerate(row["soft_labels"], start=1):
            mc_values = values[_squash(row["prompt"] + "".join(row["completions"][:k]))]
            assert soft == pytest.approx(sum(mc_values) / len(mc_values))
    path = [
        row
        for row in rows
        if row["completions"][-1].startswith("From the given intervals, we can deduce that \\(c = 24\\)")
    ]
    assert (
        len(path) == 1
        and path[0]["soft_labels"] == [0.9375, 0.53125, 0.0]
        and path[0]["labels"] == [True, True, False]
    )
    assert rows[0]["soft_labels"] == [1.0] and rows[0]["completions"][0].endswith(
        "\\(\\boxed{64}\\)."
    )  # a whole rollout is one step


def test_limit_counts_stepwise_rows(shared_data: Path) -> None:
    rows = load_stepwise(str(shared_data / SAMPLES / "samples_math-aps.jsonl"), limit=5)
    assert len(rows) == 5
    assert (
        load_stepwise(str(shared_data / SAMPLES / "samples_math-shepherd.jsonl"), limit=2)
        == load_stepwise(str(shared_data / SAMPLES / "samples_math-shepherd.jsonl"))[:2]
    )


def test_trl_layout_round_trips(tmp_path: Path, shared_data: Path) -> None:
    rows = [
        {
            "prompt": "1+1?",
            "completions": ["1+1 = 2.", "The answer is \\boxed{2}."],
            "labels": [True, True],
            "soft_labels": [0.75, 1.0],
        },
        {"prompt": "2+2?", "completions": ["2+2 = 5."], "labels": [False]},
    ]
    assert load_stepwise(_write_jsonl(tmp_path / "rows.jsonl", rows)) == rows
    as_ints = [
        {**row, "labels": [int(label) for label in row["labels"]], "id": n} for n, row in enumerate(rows)
    ]
    (tmp_path / "rows.json").write_text(json.dumps(as_ints), encoding="utf-8")
    assert load_stepwise(str(tmp_path / "rows.json")) == rows
    converted = load_stepwise(str(shared_data / SAMPLES / "samples_prm800k.jsonl"))
    assert load_stepwise(_write_jsonl(tmp_path / "prm800k.jsonl", converted)) == converted


def _shepherd(question: str, steps: list[tuple[str, str]]) -> dict:
    body = "\n".join(f"Step {k}: {text} ки" for k, (text, _) in enumerate(steps, start=1))
    marks = "\n".join(f"Step {k}: {text} {mark}" for k, (text, mark) in enumerate(steps, start=1))
    return {"input": f"{question} {body}", "label": f"{question} {marks}", "task": "test"}


def _prm800k(steps: list[dict]) -> dict:
    return {"question": {"problem": "q"}, "label": {"steps": steps}}


GOOD = {"prompt": "q", "completions": ["a"], "labels": [True]}


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            {"problem": "q", "steps": ["a"]},
            "row matches no known stepwise format (fields: problem, steps); expected one of: trl",
        ),
        (
            {**_shepherd("q", [("a", "+"), ("b", "-")]), "label": "q Step 1: a +\nStep 2: b "},
            "math-shepherd row: 2 step tags but 1 labels",
        ),
        ({**_shepherd("q", [("a", "+")]), "label": "q Step 1: a +-"}, "1 step tags but 2 labels"),
        ({**_shepherd("q", [("a", "+")]), "label": "q Step 1: a ?"}, "step 1: expected '+' or '-'"),
        (_shepherd("q", [("a", "+"), ("", "-")]), "math-shepherd row: step 2 is empty"),
        ({"input": "q Step 1: a", "label": "q Step 1: a"}, "no step tags"),
        ({"prompt": "q", "completions": [], "labels": []}, "trl row: no steps"),
        ({"prompt": "q", "completions": ["a", "b"], "labels": [True]}, "2 steps but 1 labels"),
        ({"prompt": "q", "completions": ["a"], "labels": [2]}, "`labels` must be bools or 0/1"),
        ({**GOOD, "soft_labels": [1.5]}, "`soft_labels` must be numbers in [0, 1]"),
        (
            _prm800k([{"completions": None, "human_completion": None, "chosen_completion": None}]),
            "prm800k row: no steps",
        ),
        (
            _prm800k([{"completions": [{"text": "a", "rating": 1}], "chosen_completion": 3}]),
            "step 1: chosen_completion 3",
        ),
        (
            _prm800k([{"completions": [{"text": "a", "rating": 2}], "chosen_completion": 0}]),
            "rating is 2, expected 1, 0 or -1",
        ),
        (
            {"question": "q", "reasoning_steps": [{"solution_prefix": "q", "mc_value": 0.5}]},
            "math-aps row: no steps",
        ),
        (
            {"question": "q", "reasoning_steps": [{"solution_prefix": "other a", "mc_value": 0.5}]},
            "does not start with the question",
        ),
        ('{"prompt": "q",', "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
    ],
)
def test_malformed_rows_name_the_file_and_line(tmp_path: Path, bad, message: str) -> None:
    path = _write_jsonl(tmp_path / "bad.jsonl", [GOOD, bad])
    with pytest.raises(DatasetError) as err:
        load_stepwise(path)
    assert "bad.jsonl:2: " in str(err.value) and message in str(err.value)


def test_malformed_json_list_row_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text(json.dumps([GOOD, {"prompt": "q"}]), encoding="utf-8")
    with pytest.raises(
        DatasetError, match=r"rows\.json: row 2: row matches no known stepwise format \(fields: prompt\)"
    ):
        load_stepwise(str(tmp_path / "rows.json"))
    with pytest.raises(DatasetError, match="no such file"):
        load_stepwise(str(tmp_path / "missing.jsonl"))
