"""`ponder data prm-labels` for real: the shipped policy samples ArithWorld solutions and rolls out
every prefix."""

import json
import subprocess
import sys

import pytest

from ponder.data import extract_boxed
from ponder.data.sources import SourceArguments
from ponder.data.stepwise import load_stepwise
from ponder.models import SHIPPED_POLICY, SHIPPED_VERIFIER


def label_cmd(out, extra=()):
    # the shipped policy: right on easy levels, often wrong on hard ones, so both labels occur
    return [
        sys.executable,
        "-m",
        "ponder",
        "data",
        "prm-labels",
        "--model",
        str(SHIPPED_POLICY),
        "--per_level",
        "3",
        "--samples_per_problem",
        "3",
        "--rollouts",
        "3",
        "--max_tokens",
        "80",
        "--chunk_size",
        "4",
        "--output_dir",
        str(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    out = tmp_path_factory.mktemp("labels")
    subprocess.run(label_cmd(out), check=True, capture_output=True, timeout=600)
    return out


def test_rows_are_trl_stepwise_with_monte_carlo_labels(labelled):
    rows = [json.loads(line) for line in (labelled / "labels.jsonl").read_text().splitlines()]
    assert rows and {r["problem_id"] for r in rows} <= {
        f"arithworld-L{lv}-{i}" for lv in range(1, 6) for i in range(3)
    }
    answers = {p.id: p.answer for p in SourceArguments(per_level=3, seed=2, split="train").load()}
    values = {}
    for row in rows:
        assert len(row["completions"]) == len(row["labels"]) == len(row["soft_labels"]) >= 1
        assert row["labels"] == [v > 0 for v in row["soft_labels"]]
        # soft labels of the prefixes are fractions of 3 rollouts; the last step is 0 or 1
        assert all(round(v * 3) == v * 3 for v in row["soft_labels"]) and row["soft_labels"][-1] in (0.0, 1.0)
        # the last step's label is whether the solution's own answer is the reference
        assert row["labels"][-1] == (extract_boxed(row["completions"][-1]) == answers[row["problem_id"]])
        # a prefix shared by several solutions of a problem is rolled out once: one value
        for k in range(1, len(row["completions"])):
            key = (row["problem_id"], tuple(row["completions"][:k]))
            assert values.setdefault(key, row["soft_labels"][k - 1]) == row["soft_labels"][k - 1]
    # distinct solutions per problem
    solutions = [(r["problem_id"], tuple(r["completions"])) for r in rows]
    assert len(solutions) == len(set(solutions))
    # both kinds of step occur, and the rows load as TRL stepwise data
    assert {True, False} <= {label for r in rows for label in r["labels"]}
    assert [r["labels"] for r in load_stepwise(labelled / "labels.jsonl")] == [r["labels"] for r in rows]


def test_an_interrupted_run_resumes_to_the_same_labels(labelled, tmp_path):
    full = (labelled / "labels.jsonl").read_text()
    chunks = (labelled / "chunks_done.txt").read_text().split()
    assert len(chunks) == 4  # 15 problems in chunks of 4
    # the state a kill leaves mid-chunk: two chunks recorded, the third's rows half written
    lines = full.splitlines(keepends=True)
    first_eight = {p.id for p in SourceArguments(per_level=3, seed=2, split="train").load()[:8]}
    first_two = sum(1 for line in lines if json.loads(line)["problem_id"] in first_eight)
    (tmp_path / "labels.jsonl").write_text("".join(lines[: first_two + 1]) + lines[first_two + 1][:20])
    (tmp_path / "chunks_done.txt").write_text("0\n4\n")
    (tmp_path / "config.json").write_text((labelled / "config.json").read_text())
    subprocess.run(label_cmd(tmp_path), check=True, capture_output=True, timeout=600)
    assert (tmp_path / "labels.jsonl").read_text() == full
    clash = subprocess.run(
        label_cmd(tmp_path, ["--rollouts", "5"]), capture_output=True, text=True, timeout=300
    )
    assert (
        clash.returncode == 2
        and "different configuration" in clash.stderr
        and "Traceback" not in clash.stderr
    )


def test_bad_arguments_fail_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ponder",
            "data",
            "prm-labels",
            "--rollouts",
            "0",
            "--output_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "rollouts" in result.stderr and "Traceback" not in result.stderr


def test_rollouts_come_from_the_completer_model(labelled, tmp_path):
    """With `--rollout_model`, the policy still writes the solutions (same seed, same rows) but the
    shipped verifier rolls out their prefixes: the last steps keep their grades, the prefixes'
    values change."""
    subprocess.run(
        label_cmd(tmp_path, ["--rollout_model", str(SHIPPED_VERIFIER)]),
        check=True,
        capture_output=True,
        timeout=600,
    )
    policy_rows = [json.loads(line) for line in (labelled / "labels.jsonl").read_text().splitlines()]
    completer_rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [r["completions"] for r in completer_rows] == [r["completions"] for r in policy_rows]
    assert [r["labels"][-1] for r in completer_rows] == [r["labels"][-1] for r in policy_rows]
    assert [r["soft_labels"][:-1] for r in completer_rows] != [r["soft_labels"][:-1] for r in policy_rows]
    assert json.loads((tmp_path / "config.json").read_text())["rollout_model"] == str(SHIPPED_VERIFIER)
