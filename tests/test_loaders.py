"""Loading the real datasets by path, and the one-line errors a malformed file gets."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.data import DatasetError, Problem, load_problems, save_problems


def test_math500(shared_data: Path) -> None:
    problems = load_problems(shared_data / "math500/test.jsonl")
    assert len(problems) == 500
    first = problems[0]
    assert first.id == "test/precalculus/807.json"
    assert first.answer == r"\left( 3, \frac{\pi}{2} \right)"
    assert first.level == 2 and first.meta == {"subject": "Precalculus"}
    assert r"\boxed" in first.solution
    assert len({p.id for p in problems}) == 500


def test_gsm8k_splits_the_final_number_from_the_solution(shared_data: Path) -> None:
    problems = load_problems(shared_data / "gsm8k/test.jsonl")
    assert len(problems) == 1319
    first = problems[0]
    assert first.answer == "18"
    assert first.question.startswith("Janet")
    assert "####" not in first.solution and first.solution.endswith("every day at the farmer’s market.")
    assert first.id == "test-0" and first.level is None
    assert all("," not in p.answer for p in problems)  # "1,000" is written 1000


def test_aime24_and_amc23(shared_data: Path) -> None:
    aime = load_problems(shared_data / "aime24/test.jsonl")
    assert len(aime) == 30 and aime[0].id == "60" and aime[0].answer == "204"
    assert aime[0].solution and "url" in aime[0].meta
    amc = load_problems(shared_data / "amc23/test.jsonl")
    assert len(amc) == 40 and amc[0].answer == "27"  # stored as the float 27.0
    assert amc[0].solution is None


def test_limit(shared_data: Path) -> None:
    problems = load_problems(shared_data / "math500/train_12k_reconstructed.jsonl", limit=3)
    assert [p.id for p in problems] == [
        "train/algebra/0.json",
        "train/algebra/3.json",
        "train/algebra/4.json",
    ]


def _write_jsonl(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_answer_from_the_boxed_solution_and_level_strings(tmp_path: Path) -> None:
    row = {"problem": "1+1?", "solution": r"It is $\boxed{2}$.", "level": "Level 3", "type": "Algebra"}
    (problem,) = load_problems(_write_jsonl(tmp_path / "math.jsonl", [json.dumps(row)]))
    assert problem == Problem(
        id="math-0", question="1+1?", answer="2", solution=row["solution"], level=3, meta={"type": "Algebra"}
    )


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    good = json.dumps({"question": "1+1?", "answer": "2"})
    path = _write_jsonl(tmp_path / "data.jsonl", [good, good, '{"question": "2+2?", "answer": '])
    with pytest.raises(DatasetError, match=rf"^{re.escape(path)}:3: invalid JSON"):
        load_problems(path)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "data.jsonl",
        [json.dumps({"question": "1+1?", "answer": "2"}), json.dumps({"answer": "4"})],
    )
    with pytest.raises(DatasetError) as error:
        load_problems(path)
    assert str(error.value) == f"{path}:2: missing field 'question' (expected one of: problem, question)"


def test_a_missing_answer_is_named(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "data.jsonl", [json.dumps({"question": "1+1?", "solution": "two"})])
    with pytest.raises(DatasetError, match=rf"^{re.escape(path)}:1: missing field 'answer'"):
        load_problems(path)


def test_field_map_and_a_json_list(tmp_path: Path) -> None:
    path = tmp_path / "custom.json"
    path.write_text(json.dumps([{"prompt": "1+1?", "target": 2, "name": "a"}]), encoding="utf-8")
    (problem,) = load_problems(str(path), question="prompt", answer="target", id="name")
    assert (problem.id, problem.question, problem.answer) == ("a", "1+1?", "2")
    with pytest.raises(ValueError, match="unknown field"):
        load_problems(str(path), prompt="question")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    problems = [
        Problem(
            id="a",
            question="What is 2+2?",
            answer="4",
            solution="2+2=4\n\n\\boxed{4}",
            level=1,
            meta={"source": "hand"},
        ),
        Problem(id="b", question="Solve $x^2=1$.", answer=r"\pm 1"),
    ]
    path = tmp_path / "out" / "problems.jsonl"
    save_problems(problems, path)
    assert load_problems(str(path)) == problems
    assert [Problem.from_dict(json.loads(line)) for line in path.read_text().splitlines()] == problems


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        load_problems(str(tmp_path / "nope.jsonl"))


def test_an_unknown_hub_dataset_is_a_clear_error() -> None:
    # In a fresh process, so that offline mode is read when the hub client is imported;
    # offline, the lookup fails at once instead of retrying the network.
    code = (
        "from ponder.data import DatasetError, load_problems\n"
        "try:\n"
        "    load_problems('ponder-tests/no-such-dataset')\n"
        "except DatasetError as err:\n"
        "    print(err)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.stdout.startswith(
        "'ponder-tests/no-such-dataset' is not a file here and could not be loaded from the hub"
    ), result.stderr


def test_read_rows_gives_each_raw_row_with_its_location(tmp_path: Path) -> None:
    from ponder.data.loaders import read_rows

    path = _write_jsonl(tmp_path / "raw.jsonl", [json.dumps({"a": 1}), "", json.dumps({"b": 2})])
    assert list(read_rows(path)) == [(f"{path}:1", {"a": 1}), (f"{path}:3", {"b": 2})]


def test_a_source_loads_a_file_or_generates_a_world(tmp_path: Path) -> None:
    from ponder.data.arithworld import generate_problems
    from ponder.data.sources import SourceArguments, source_from_config
    from ponder.errors import ConfigError

    problems = generate_problems(3, seed=5)
    path = tmp_path / "problems.jsonl"
    save_problems(problems, path)
    assert SourceArguments(dataset=str(path), limit=2).load() == problems[:2]
    assert SourceArguments(dataset=str(path)).generated_world is None
    world = SourceArguments(per_level=3, seed=5, split="all")  # "all": the unsplit generator
    assert world.generated_world is not None and world.load() == problems
    recorded = {"dataset": "arithworld", "split": "all", "per_level": 3, "seed": 5, "model": "ignored"}
    assert source_from_config(recorded).load() == problems
    with pytest.raises(ConfigError, match="split: a generated world's split is one of train, dev, test, all"):
        SourceArguments(split="validation")
    assert SourceArguments(dataset=str(path), split="validation").split == "validation"  # a hub's own
    with pytest.raises(ConfigError, match="limit: must be >= 1"):
        SourceArguments(limit=0)
