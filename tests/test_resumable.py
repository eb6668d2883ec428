"""Resumable output folders: what a second run on the same folder keeps, cuts and refuses."""

import json
import shutil

import pytest

from ponder.errors import ConfigError
from ponder.resumable import complete_lines, differing_keys, open_output


def start(out_dir, problems, temperature=0.8, budgets=(1, 4)):
    """One run's open_output, with a problems file and a budget tuple among its settings."""
    config = {"dataset": str(problems), "temperature": temperature, "budgets": budgets}
    return open_output(out_dir, "results.jsonl", {**config, "batch_size": 8}, config)


def test_a_killed_run_keeps_its_complete_lines_and_cuts_the_half_written_one(tmp_path):
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"id": "a"}\n')
    path, _ = start(tmp_path / "out", problems)
    path.write_text('{"row": 1}\n{"row": 2}\n{"ro')
    path, _ = start(tmp_path / "out", problems)
    assert complete_lines(path) == [{"row": 1}, {"row": 2}]
    assert path.read_text().endswith("\n")
    with pytest.raises(ConfigError, match="different configuration"):
        start(tmp_path / "out", problems, temperature=0.5)


def test_a_work_dir_copied_with_its_inputs_resumes_and_a_changed_input_is_refused(tmp_path):
    first = tmp_path / "first"
    (first / "problems").mkdir(parents=True)
    problems = first / "problems" / "test.jsonl"
    problems.write_text('{"id": "a"}\n{"id": "b"}\n')
    path, digest = start(first / "out", problems)
    path.write_text('{"row": 1}\n')

    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    copied_problems = copy / "problems" / "test.jsonl"
    path, new_digest = start(copy / "out", copied_problems)
    assert new_digest != digest  # the paths differ, so the hash does ...
    assert complete_lines(path) == [{"row": 1}]  # ... but the rows stay
    recorded = json.loads((copy / "out" / "config.json").read_text())
    assert recorded["dataset"] == str(copied_problems) and recorded["config_hash"] == new_digest

    other = tmp_path / "other"
    shutil.copytree(first, other)
    (other / "problems" / "test.jsonl").write_text('{"id": "a"}\n{"id": "c"}\n')
    with pytest.raises(ConfigError, match="different configuration"):
        start(other / "out", other / "problems" / "test.jsonl")
    # a moved folder whose recorded inputs are gone cannot be compared, so it is refused too
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    with pytest.raises(ConfigError, match="different configuration"):
        start(moved / "out", moved / "problems" / "test.jsonl")


def test_differing_keys_reads_only_paths_and_compares_folders_by_name_and_bytes(tmp_path):
    for name, weights in [("m1", b"w"), ("m2", b"w"), ("m3", b"x")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(weights)
    recorded = {"model": str(tmp_path / "m1"), "budgets": [1, 4], "strategy": "beam"}
    assert differing_keys(recorded, {**recorded, "model": str(tmp_path / "m2"), "budgets": (1, 4)}) == []
    assert differing_keys(recorded, {**recorded, "model": str(tmp_path / "m3")}) == ["model"]
    changed = {**recorded, "strategy": "dvts", "budgets": (1, 8)}
    assert differing_keys(recorded, changed) == ["budgets", "strategy"]
    (tmp_path / "m2" / "model.safetensors").rename(tmp_path / "m2" / "other.safetensors")
    assert differing_keys(recorded, {**recorded, "model": str(tmp_path / "m2")}) == ["model"]


def test_a_copied_results_folder_is_the_same_though_its_run_record_names_the_new_place(tmp_path):
    """`--reuse_results` names result folders: a copy's rows are what count, not its config.json,
    which `open_output` rewrites with the copy's own paths when the copy is resumed."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"id": "a"}\n')
    for name in ("pool", "tree"):
        path, _ = start(tmp_path / "first" / name, problems)
        path.write_text(f'{{"strategy": "{name}"}}\n')
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    copied_problems = tmp_path / "copy" / "problems.jsonl"
    shutil.copy(problems, copied_problems)
    for name in ("pool", "tree"):
        start(tmp_path / "copy" / name, copied_problems)  # resumed there: the record now differs
    recorded = {"reuse_results": [str(tmp_path / "first" / n) for n in ("pool", "tree")]}
    copied = {"reuse_results": [str(tmp_path / "copy" / n) for n in ("pool", "tree")]}
    assert differing_keys(recorded, copied) == []
    assert differing_keys(recorded, {"reuse_results": copied["reuse_results"][::-1]}) == ["reuse_results"]
    (tmp_path / "copy" / "tree" / "results.jsonl").write_text('{"strategy": "other"}\n')
    assert differing_keys(recorded, copied) == ["reuse_results"]
