"""W&B logging of the commands that are not trainers, read back from the offline run files."""

from __future__ import annotations

import os

from helpers.wandb_offline import config_keys, finished_runs, history_keys, run_record

from ponder.infer.run import main as infer_main
from ponder.models import SHIPPED_POLICY
from ponder.tracking import log_run, new_group, wandb_scope


def new_runs(before: set) -> list:
    return sorted(set(finished_runs()) - before)


def test_infer_logs_accuracy_tokens_and_flops_per_strategy_and_budget(tmp_path):
    argv = [
        "--model",
        str(SHIPPED_POLICY),
        "--dataset",
        "arithworld",
        "--per_level",
        "1",
        "--prm",
        "oracle",
        "--strategies",
        "majority",
        "beam_search",
        "--budgets",
        "1",
        "2",
        "--max_tokens",
        "40",
        "--max_step_tokens",
        "16",
        "--max_steps",
        "3",
        "--output_dir",
        str(tmp_path / "infer"),
    ]
    before = set(finished_runs())
    infer_main(argv)
    (run,) = new_runs(before)
    record = run_record(run)
    assert (record.job_type, record.display_name) == ("infer", f"infer {tmp_path.name}/infer")
    keys = history_keys(run)
    for strategy in ("majority", "beam_search"):
        assert {f"infer/{strategy}/{k}" for k in ("accuracy", "n", "tokens", "flops")} <= keys
    assert "infer/table/_type" in keys
    assert {"model_name_or_path", "strategies", "budgets", "prm", "wandb"} <= config_keys(run)

    # `--wandb false` writes no run, and leaves the search the same: the finished folder resumes
    before = set(finished_runs())
    infer_main([*argv, "--wandb", "false"])
    assert new_runs(before) == []


def test_a_scope_puts_every_run_in_its_group_and_restores_wandb_after():
    import wandb

    group = new_group("outputs/some-run")
    assert group.startswith("some-run-") and group != new_group("outputs/some-run")
    assert "WANDB_RUN_GROUP" not in os.environ
    before = set(finished_runs())
    with wandb_scope(group):
        assert new_group("outputs/stage") == group  # a stage inside keeps the group in force
        log_run("stage", "a stage", {"x": 1}, {"metric": 0.5, "rows": [{"a": 1, "b": [1, 2]}, {"a": 2}]})
        with wandb.init(name="a trainer's run"):  # as transformers' WandbCallback starts one: no group
            wandb.log({"loss": 1.0})
    log_run("after", "after the scope", {}, {"metric": 1.0})
    runs = {run_record(run).display_name: run for run in new_runs(before)}
    groups = {name: run_record(run).run_group for name, run in runs.items()}
    assert groups == {"a stage": group, "a trainer's run": group, "after the scope": ""}
    assert "WANDB_RUN_GROUP" not in os.environ
    assert {"metric", "rows/_type"} <= history_keys(runs["a stage"])

    before = set(finished_runs())
    with wandb_scope(new_group("outputs/off"), enabled=False):
        log_run("stage", "not written", {}, {"metric": 0.5})
    assert new_runs(before) == [] and os.environ["WANDB_MODE"] == "offline"
