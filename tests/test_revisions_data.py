"""`ponder data revisions` and `ponder train revision`: the row builder on hand-made search results
(edit-distance choice and order, the 0..k draw, problems without a correct attempt, test questions,
seeds), then the commands for real: the shipped policy samples a few train-split problems, rows are
built from its attempts, and a revision model trains on them for a few steps."""

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ponder.config import ConfigError
from ponder.data import DatasetError, Problem, save_problems
from ponder.data.results import SearchResult, Trajectory, read_results
from ponder.data.revisions import (
    REVISION_INSTRUCTION,
    Pool,
    RevisionDataArguments,
    build,
    edit_distance,
    nearest_attempts,
    revision_messages,
)
from ponder.data.splits import generate_split, split_of
from ponder.models import SHIPPED_POLICY
from ponder.train.revision_data import run


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def table_distance(a: str, b: str) -> int:
    """The textbook dynamic programme, one cell at a time."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_edit_distance_is_levenshtein():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3 and edit_distance("same", "same") == 0
    rng = random.Random(0)
    for length in [12] * 200 + [90] * 20:  # short ones for every corner, long ones past 64 bits
        a, b = ("".join(rng.choices("ab1=\n√", k=rng.randint(0, length))) for _ in range(2))
        assert edit_distance(a, b) == edit_distance(b, a) == table_distance(a, b)


def test_nearest_incorrect_attempts_come_farthest_first():
    correct = "20+3=23\n\n23*4=92\n\n92-18=74\n\\boxed{74}"
    far = "20+3=24\n\n24*4=96\n\n96-18=78\n\\boxed{78}"  # 6 edits
    near = "20+3=23\n\n23*4=92\n\n92-18=75\n\\boxed{75}"  # 2 edits
    mid = "20+3=23\n\n23*4=82\n\n82-18=64\n\\boxed{64}"  # 4 edits
    assert [edit_distance(correct, t) for t in (far, near, mid)] == [6, 2, 4]
    assert nearest_attempts(correct, [far, near, mid], 0) == []
    assert nearest_attempts(correct, [far, near, mid], 1) == [near]
    assert nearest_attempts(correct, [far, near, mid], 2) == [mid, near]
    assert nearest_attempts(correct, [far, near, mid], 3) == [far, mid, near]


def traj(text: str, answer: str | None, finish: str = "stop") -> Trajectory:
    return Trajectory(steps=text.split("\n\n"), answer=answer, finish_reason=finish, tokens=len(text))


def pools(n: int, n_wrong: int = 5) -> list[Pool]:
    """`n` problems with answer 1, each with two right attempts and `n_wrong` wrong ones."""
    return [
        Pool(
            Problem(f"p{i}", f"question {i}", "1", level=1),
            None,
            [traj(f"{i}\n\\boxed{{1}}", "1"), traj(f"{i}:\n\\boxed{{1}}", "1")]
            + [traj(f"{i}{'x' * w}\n\\boxed{{2}}", "2") for w in range(n_wrong)],
        )
        for i in range(n)
    ]


def arguments(**overrides) -> RevisionDataArguments:
    return RevisionDataArguments(**{"results": ["unused"], **overrides})


def test_each_row_draws_0_to_k_of_the_nearest_attempts_and_is_fixed_by_its_seed():
    many = pools(60)
    rows, with_correct = build(many, arguments(max_attempts=2, rows_per_problem=2))
    assert with_correct == 60 and len(rows) == 120
    assert Counter(r["n_attempts"] for r in rows).keys() == {0, 1, 2}  # uniform over 0..k: all occur
    by_id = {p.problem.id: p for p in many}
    for row in rows:
        pool, completion = by_id[row["problem_id"]], row["completion"][0]["content"]
        # the wrong attempt with w x's is w + 1 edits from the first right one, max(2, w + 1) from the
        # second (a tie goes to the earlier): the nearest n are those with the fewest x's
        wrong = [t.text for t in pool.trajectories if t.answer == "2"]
        attempts = [wrong[w] for w in reversed(range(row["n_attempts"]))]
        assert row["prompt"] == revision_messages(pool.problem.question, attempts, REVISION_INSTRUCTION, None)
        assert row["completion"] == [{"role": "assistant", "content": completion}] and completion.endswith(
            "{1}"
        )
    # the two rows of a problem complete with its two distinct right attempts
    assert all(
        len({r["completion"][0]["content"] for r in rows if r["problem_id"] == p.problem.id}) == 2
        for p in many
    )
    # the same seed gives the same rows, also for a problem built alone; another seed, others
    assert build(many, arguments(max_attempts=2, rows_per_problem=2))[0] == rows
    assert build(many[7:8], arguments(max_attempts=2, rows_per_problem=2))[0] == [
        r for r in rows if r["problem_id"] == "p7"
    ]
    assert build(many, arguments(max_attempts=2, rows_per_problem=2, seed=2))[0] != rows
    # k is capped by the wrong attempts a problem has
    few, _ = build(pools(30, n_wrong=1), arguments(max_attempts=4))
    assert {r["n_attempts"] for r in few} == {0, 1}


def write_folder(folder: Path, problems: list[Problem], rows: list[SearchResult], system: str | None = None):
    """A `ponder infer` folder by hand: its problems in a jsonl file, config.json, results.jsonl."""
    folder.mkdir(parents=True)
    save_problems(problems, folder / "problems.jsonl")
    config = {"dataset": str(folder / "problems.jsonl"), "system_prompt": system}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "results.jsonl").write_text("".join(row.to_json() + "\n" for row in rows))
    return folder


def result(problem: Problem, trajectories: list[Trajectory], strategy: str = "majority") -> SearchResult:
    return SearchResult(
        problem.id, strategy, len(trajectories), {}, None, False, problem.answer, problem.level, trajectories
    )


def test_rows_from_a_folder_use_the_pools_largest_budget_and_skip_unsolved_problems(tmp_path, capsys):
    solved, unsolved = generate_split("arithworld", "train", 1, 0)[2:4]
    assert solved.question == "20 +3 *4 -18" and solved.answer == "74"
    right = ["20+3=23\n\n23*4=92\n\n92-18=74\n\\boxed{74}", "20+3=23\n\n23*4=92\n\n92-18=74\nso \\boxed{74}"]
    wrong = [
        "20+3=24\n\n24*4=96\n\n96-18=78\n\\boxed{78}",
        "20+3=23\n\n23*4=92\n\n92-18=75\n\\boxed{75}",
        "20+3=23\n\n23*4=92\n\n92-1",  # cut at max_tokens with no answer: wrong too
    ]
    pool = [
        traj(right[0], "74"),
        traj(wrong[0], "78"),
        traj(right[0], "74"),  # a repeat counts once
        traj(wrong[1], "75"),
        traj(right[1], "74"),
        traj(wrong[2], None, "length"),
        traj("20+3=23\n\n23*4=92\n\n92-18=74\n\\boxed{74}\n\n74", "74", "length"),  # right but cut: unused
    ]
    rows = [
        result(solved, pool[:4]),  # a smaller budget of the same pool
        result(solved, pool),
        result(solved, [traj("20+3=23\n\n23*4=92\n\n92-18=74\n\\boxed{74.0}", "74")], "beam_search"),
        result(unsolved, [traj(w, "1") for w in ("1", "2")]),
    ]
    folder = write_folder(tmp_path / "search", [solved, unsolved], rows, system="Be brief.")
    counts = run(RevisionDataArguments(results=[str(folder)], output_dir=str(tmp_path / "out")))

    written = read_jsonl(tmp_path / "out" / "revisions.jsonl")
    assert sorted(r["completion"][0]["content"] for r in written) == sorted(right)
    for row in written:
        assert (row["problem_id"], row["level"]) == (solved.id, 3)
        attempts = nearest_attempts(row["completion"][0]["content"], wrong, row["n_attempts"])
        assert row["prompt"] == revision_messages(
            solved.question, attempts, REVISION_INSTRUCTION, "Be brief."
        )
    assert counts == {
        "problems": 2,
        "problems_with_correct": 1,
        "skipped_without_correct": 1,
        "rows": 2,
        "rows_by_n_attempts": {str(k): sum(r["n_attempts"] == k for r in written) for k in range(5)},
        "dropped_by_exclude": 0,
    }
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["rows"] == 2
    assert (
        "2 revision rows from 1 of 2 problems (1 without a correct attempt skipped)"
        in capsys.readouterr().out
    )

    with pytest.raises(DatasetError, match=f"strategy: {folder} has no 'best_of_n' rows"):
        run(
            RevisionDataArguments(results=[str(folder)], strategy="best_of_n", output_dir=str(tmp_path / "x"))
        )


def test_a_worlds_test_question_is_refused_naming_it(tmp_path, capsys):
    from ponder.cli import main

    test_problem = generate_split("arithworld", "test", 1, 0, levels=[3])[0]
    folder = write_folder(tmp_path / "search", [test_problem], [result(test_problem, [traj("1", "1")])])
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "revisions", "--results", str(folder), "--output_dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert f"problem {test_problem.id}" in err and "in arithworld's test split" in err and str(folder) in err
    # sampling on the test split is refused before any model is loaded
    with pytest.raises(ConfigError, match="arithworld-L1-0 .* is in arithworld's test split"):
        run(
            RevisionDataArguments(
                model_name_or_path=str(SHIPPED_POLICY), split="test", output_dir=str(tmp_path / "s")
            )
        )
    assert not (tmp_path / "s").exists()


def test_exclude_drops_a_files_test_questions_and_counts_them(tmp_path, capsys):
    # Not a world's problems: split_of says nothing about them, even for a question it puts in "test".
    asked = next(f"What is {i} + 1?" for i in range(100) if split_of(f"What is {i} + 1?") == "test")
    problems = [Problem("a", asked, "2"), Problem("b", "What is 5 + 1?", "6"), Problem("c", "Name 6.", "6")]
    rows = [result(p, [traj(f"\\boxed{{{p.answer}}}", p.answer), traj("\\boxed{0}", "0")]) for p in problems]
    folder = write_folder(tmp_path / "search", problems, rows)
    save_problems(
        [Problem("t1", "What is 5 + 1?", "6"), Problem("t2", "Unrelated", "0")], tmp_path / "test.jsonl"
    )
    counts = run(
        RevisionDataArguments(
            results=[str(folder)], exclude=str(tmp_path / "test.jsonl"), output_dir=str(tmp_path / "out")
        )
    )
    assert counts["dropped_by_exclude"] == 1 and counts["problems"] == 2
    assert {r["problem_id"] for r in read_jsonl(tmp_path / "out" / "revisions.jsonl")} == {"a", "c"}
    assert f"1 dropped: their questions are in {tmp_path / 'test.jsonl'}" in capsys.readouterr().out


def test_arguments_are_checked():
    with pytest.raises(ConfigError, match="results: give `ponder infer` output folders"):
        RevisionDataArguments()
    with pytest.raises(ConfigError, match="max_attempts: must be >= 0"):
        arguments(max_attempts=-1)
    with pytest.raises(ConfigError, match="rows_per_problem: must be >= 1"):
        arguments(rows_per_problem=0)


@pytest.mark.parametrize(
    "command,option",
    [(["data", "revisions"], "--max_attempts"), (["train", "revision"], "--merge_adapter")],
    ids=["data revisions", "train revision"],
)
def test_help_exits_0(command, option, capsys):
    from ponder.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0 and option in capsys.readouterr().out


@pytest.fixture(scope="module")
def revision_data(tmp_path_factory) -> Path:
    """The commands as a user runs them: train-split ArithWorld problems to a file, then the shipped
    policy samples 8 attempts of each and revision rows are built from them."""
    from ponder.cli import main

    out = tmp_path_factory.mktemp("revisions")
    main(["data", "world", "--split", "train", "--n_per_level", "2", "--output", str(out / "train.jsonl")])
    main(
        ["data", "revisions", "--model", str(SHIPPED_POLICY), "--dataset", str(out / "train.jsonl")]
        + ["--samples_per_problem", "8", "--output_dir", str(out / "data")]
    )
    return out


@pytest.mark.slow
def test_rows_from_a_sampling_run_and_its_resumption(revision_data):
    from ponder.cli import main
    from ponder.data import grade

    data = revision_data / "data"
    rows = read_jsonl(data / "revisions.jsonl")
    samples = {r.problem_id: r for r in read_results(data / "samples" / "results.jsonl")}
    assert len(samples) == 10 and {(r.strategy, r.n) for r in samples.values()} == {("majority", 8)}
    assert rows and any(r["n_attempts"] for r in rows)
    for row in rows:
        sampled = {t.text for t in samples[row["problem_id"]].trajectories}
        attempts = [m["content"] for m in row["prompt"][1::2]]
        assert row["completion"][0]["content"] in sampled and set(attempts) <= sampled
        assert grade(row["completion"][0]["content"], samples[row["problem_id"]].reference)
        assert not any(grade(a, samples[row["problem_id"]].reference) for a in attempts)
    # a run killed while sampling resumes and ends with the same rows
    lines = (data / "samples" / "results.jsonl").read_text().splitlines(keepends=True)
    (data / "samples" / "results.jsonl").write_text("".join(lines[:4]) + lines[4][:20])
    main(
        ["data", "revisions", "--model", str(SHIPPED_POLICY), "--dataset", str(revision_data / "train.jsonl")]
        + ["--samples_per_problem", "8", "--output_dir", str(data)]
    )
    assert len(read_results(data / "samples" / "results.jsonl")) == 10
    assert read_jsonl(data / "revisions.jsonl") == rows


@pytest.mark.slow
def test_train_revision_saves_a_model_whose_template_renders_the_rows(revision_data, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.cli import main

    out = tmp_path / "model"
    main(
        ["train", "revision", "--model", str(SHIPPED_POLICY), "--dataset", str(revision_data / "data")]
        + ["--max_steps", "2", "--report_to", "none", "--eval_per_level", "1", "--output_dir", str(out)]
    )
    assert AutoModelForCausalLM.from_pretrained(out).config.model_type == "llama"
    tokenizer = AutoTokenizer.from_pretrained(out)
    row = max(read_jsonl(revision_data / "data" / "revisions.jsonl"), key=lambda r: r["n_attempts"])
    text = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    assert text.endswith(f"<|user|>{REVISION_INSTRUCTION}<|end|><|assistant|>")
    assert all(f"<|assistant|>{m['content']}<|end|>" in text for m in row["prompt"][1::2])
    record = json.loads((out / "eval_results.json").read_text())
    assert (
        record["rows"] == len(read_jsonl(revision_data / "data" / "revisions.jsonl")) and record["steps"] == 2
    )
    assert set(record["levels"]) == {"base", "revision"} and record["args"]["eval_split"] == "dev"


@pytest.mark.slow
def test_train_revision_runs_under_accelerate_launch_with_lora(revision_data, tmp_path):
    out = tmp_path / "model"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu"]
    cmd += [
        "-m",
        "ponder.train.revision",
        "--model",
        str(SHIPPED_POLICY),
        "--dataset",
        str(revision_data / "data"),
    ]
    cmd += ["--use_peft", "true", "--max_steps", "2", "--report_to", "none", "--output_dir", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.safetensors").exists() and not list(out.glob("adapter_*"))
