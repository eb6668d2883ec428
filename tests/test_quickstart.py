"""The whole loop at toy sizes: every stage runs for real and the report folder comes out whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers.wandb_offline import finished_runs, history_keys, run_record

from ponder.data.results import read_results
from ponder.pipelines.quickstart import main


def test_quickstart_runs_every_stage_and_writes_the_report(tmp_path, tiny_policy):
    out = tmp_path / "qs"
    before = set(finished_runs())
    # a ladder of one size (the tiny policy itself), as `ponder ladder --ship_dir` writes one
    ladder = tmp_path / "ladder.json"
    rung = {"rung": "tiny", "checkpoint": str(tiny_policy), "parameters": 123_456, "dataset": "arithworld"}
    rung |= {"plateaued": False, "curve": [{"samples": 2000, "train_tokens": 90_000}]}
    ladder.write_text(json.dumps([rung]))
    # tiny_policy stands in for the larger reference policy (configs/train/policy_large.yaml):
    # the stage is the same
    summary = main(
        [
            "--output_dir",
            str(out),
            "--per_level",
            "4",
            "--k",
            "2",
            "--label_per_level",
            "3",
            "--prm_eval_per_level",
            "2",
            "--search_per_level",
            "3",
            "--val_per_level",
            "4",
            "--budgets",
            "1",
            "2",
            "4",
            "--baseline_max_n",
            "8",
            "--distill_per_level",
            "3",
            "--distill_steps",
            "3",
            "--reference_policy",
            str(tiny_policy),
            "--ladder",
            str(ladder),
        ]
    )
    assert [row["level"] for row in summary["levels"]] == [1, 2, 3, 4, 5]
    assert (out / "prm" / "prm_config.json").is_file() and (out / "routing" / "router.json").is_file()
    routing = summary["routing"]
    for key in (
        "efficiency_oracle",
        "efficiency_predicted",
        "efficiency_oracle_uneven",
        "efficiency_predicted_uneven",
        "efficiency_vs_best_of_n",
    ):
        assert routing[key]["ratio"] > 0
    assert {"accuracy", "within_one", "spearman"} <= set(routing["predictor"])
    strategies = {p["strategy"] for p in summary["search"]["learned"]}
    assert {
        "greedy",
        "majority",
        "weighted_best_of_n",
        "beam_search",
        "dvts",
        "compute_optimal",
        "compute_optimal_oracle_uneven",
    } <= strategies
    rounds = summary["distill"]["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    # round 0 is read from the test split's searches instead of being searched again
    rows = [r for folder in routing["fixed_folders"] for r in read_results(Path(folder) / "results.jsonl")]
    for key, strategy, n in (("greedy", "greedy", 1), ("search", "weighted_best_of_n", 4)):
        hits = [r.correct for r in rows if (r.strategy, r.n) == (strategy, n)]
        assert len(hits) == 15 and rounds[0][key] == sum(hits) / len(hits)
    assert not (out / "evolve" / "round-0").exists()
    sft = json.loads((out / "evolve" / "round-1" / "policy" / "eval_results.json").read_text())
    assert (
        sft["steps"] == 3 and sft["lr_batch_ratio"] == 5e-5 / 32
    )  # the quickstart's small round, not the recipe's 2,000 steps at 1e-3
    # the reference policy's greedy and weighted best-of-N, on the same test problems, with the same PRM
    reference = summary["search"]["reference"]
    assert {p["strategy"] for p in reference} == {"greedy", "weighted_best_of_n"}
    assert {1, 2, 4} <= {p["n"] for p in reference if p["strategy"] == "weighted_best_of_n"}
    assert all(p["problems"] == 15 for p in reference if p["level"] is None)
    # the ladder's size alone (greedy, majority@4) on the same test problems; the report opens with it
    [size] = summary["ladder"]
    assert size["rung"] == "tiny" and size["train_tokens"] == 90_000
    assert {("greedy", 1), ("majority", 4)} <= {(p["strategy"], p["n"]) for p in size["points"]}
    assert all(p["problems"] == 15 for p in size["points"] if p["level"] is None)
    assert summary["policy_parameters"] > 0
    report = out / "report"
    for png in (
        "flops_matched",
        "accuracy_vs_n",
        "accuracy_vs_tokens",
        "accuracy_vs_flops",
        "accuracy_by_level",
        "prm_calibration",
        "distill_rounds",
    ):
        assert (report / f"{png}.png").stat().st_size > 10_000, png
    text = (report / "report.md").read_text()
    assert text.index("## The searched policy against every size") < text.index("## Policy alone")
    assert "| tiny | 123,456 | 90,000 | no | majority@4 | 15 |" in text and "majority@1 |" not in text
    for section in (
        "## Policy alone",
        "## Learned PRM",
        "## Search on the test split",
        "## Compute-optimal routing",
        "## Distillation",
    ):
        assert section in text
    assert "larger policy: weighted_best_of_n" in text and "No larger policy was evaluated" not in text
    # every figure with its n: 4 problems per level alone, 2 per level for the PRM, 15 test problems
    assert all(
        row["n"] == 4 and row["greedy_low"] <= row["greedy"] <= row["greedy_high"]
        for row in summary["levels"]
    )
    assert all(0 < s["questions"] <= 2 for s in summary["prm"] if s["group"] != "all")
    assert all(p["problems"] == 15 for p in summary["search"]["learned"] if p["level"] is None)
    assert [(r["greedy_problems"], r["search_problems"]) for r in summary["distill"]["rounds"]] == [
        (15, 15)
    ] * 2
    for header in (
        "| level | n | greedy |",
        "| group | n | solutions |",
        "| strategy | N | n |",
        "| round | n |",
    ):
        assert header in text, header
    assert json.loads((out / "summary.json").read_text())["distill"]["rounds"][1]["policy"].endswith(
        "round-1/policy"
    )
    # every stage's W&B run, trainers' included, in the run's own group; the environment restored after
    runs = sorted(set(finished_runs()) - before)
    assert summary["wandb_group"].startswith("qs-") and f"`{summary['wandb_group']}`" in text
    assert {run_record(run).run_group for run in runs} == {summary["wandb_group"]}
    job_types = [run_record(run).job_type for run in runs]
    assert {"infer", "eval-prm", "evolve", "quickstart"} <= set(job_types)
    assert job_types.count("") >= 3  # the trainers' (PRM, difficulty predictor, SFT): no job type
    (quickstart,) = [run for run in runs if run_record(run).job_type == "quickstart"]
    keys = history_keys(quickstart)
    assert {"levels/_type", "search/learned/_type", "routing/efficiency_oracle/ratio"} <= keys
    assert {f"plots/{png.stem}/_type" for png in report.glob("*.png")} <= keys
    assert "WANDB_RUN_GROUP" not in os.environ


def test_quickstart_runs_on_countdown_with_the_policy_as_the_prm_base(
    tmp_path, tiny_countdown_policy, capsys
):
    """The loop on the second world: every stage reads Countdown by name (its problems, its oracle,
    its trajectory grading), and the PRM starts from the policy itself, not from a stronger LM."""
    out = tmp_path / "qs-countdown"
    summary = main(
        [
            *("--world", "countdown", "--policy", str(tiny_countdown_policy), "--output_dir", str(out)),
            *("--per_level", "2", "--k", "2", "--label_per_level", "2", "--prm_eval_per_level", "2"),
            *("--search_per_level", "2", "--val_per_level", "3", "--budgets", "1", "2"),
            *(
                "--baseline_max_n",
                "4",
                "--distill_per_level",
                "2",
                "--distill_steps",
                "2",
                "--wandb",
                "false",
            ),
        ]
    )
    assert [row["level"] for row in summary["levels"]] == [1, 2, 3, 4, 5]
    printed = capsys.readouterr().out
    assert f"training a PRM on them from {tiny_countdown_policy} " in printed
    test_problems = [
        json.loads(line) for line in Path(summary["routing"]["test_file"]).read_text().splitlines()
    ]
    assert len(test_problems) == 10 and all(" -> " in p["question"] for p in test_problems)
    labels = [json.loads(line) for line in (out / "prm-labels" / "labels.jsonl").read_text().splitlines()]
    assert labels and all(" -> " in row["prompt"] for row in labels)
    rows = [
        r
        for folder in summary["routing"]["fixed_folders"]
        for r in read_results(Path(folder) / "results.jsonl")
    ]
    assert rows and {r.source for r in rows} == {"countdown"}
    # the tiny policy solves no Countdown problem: its round finds nothing to distil, and the loop
    # goes on to the report instead of failing in the trainer
    assert [r["round"] for r in summary["distill"]["rounds"]] == [0]
    assert "stopping after round 0" in printed
    assert (out / "report" / "report.md").is_file()
