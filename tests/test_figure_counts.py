"""Every figure with its n: search points, distillation rounds and the quickstart report say how many
problems stand behind each number, with its 95% interval, and a report still reads older files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from ponder.data.results import Compute, SearchResult
from ponder.infer.eval_search import direct_points, format_table, wilson
from ponder.pipelines.evolve import EvolveArguments, format_rounds, round_accuracy
from ponder.pipelines.report import ReportArguments
from ponder.pipelines.report import run as report


def row(pid: int, strategy: str, n: int, correct: bool, params: dict | None = None) -> SearchResult:
    return SearchResult(
        f"p{pid}", strategy, n, params or {}, "1", correct, "1", level=1 + pid % 5,
        compute=Compute(policy_tokens=10 * n, flops=1e6 * n),
    )  # fmt: skip


def percent(low: float, high: float) -> str:
    return f"[{100 * low:.0f}, {100 * high:.0f}]"


def write_results(folder: Path, rows: list[SearchResult]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.jsonl").write_text("".join(r.to_json() + "\n" for r in rows))
    return folder


def test_a_point_counts_distinct_problems_and_the_table_prints_them():
    # beam search run twice on the same 10 problems (two widths at N=4): 20 rows, 10 problems
    rows = [row(p, "beam_search", 4, p < 6, {"beam_width": w}) for w in (2, 4) for p in range(10)]
    rows += [row(p, "greedy", 1, p < 3) for p in range(10)]
    beam, greedy = (
        next(p for p in direct_points(rows) if p.strategy == s) for s in ("beam_search", "greedy")
    )
    assert (beam.problems, beam.accuracy) == (10, 0.6) and (greedy.problems, greedy.accuracy) == (10, 0.3)
    assert (greedy.low, greedy.high) == pytest.approx(wilson(3, 10))
    assert (beam.low, beam.high) == pytest.approx(wilson(6, 10))  # 10 problems, not 20 rows
    header, *lines = format_table([greedy, beam]).splitlines()
    assert header.split()[:4] == ["strategy", "level", "N", "problems"]
    assert lines[0].split()[:4] == ["greedy", "all", "1", "10"] and percent(*wilson(3, 10)) in lines[0]


def test_a_round_records_its_problems_and_intervals(tmp_path):
    folder = write_results(
        tmp_path / "eval",
        [row(p, "greedy", 1, p < 14) for p in range(20)]
        + [row(p, "weighted_best_of_n", 16, p < 13) for p in range(20)],
    )
    record = round_accuracy([folder], EvolveArguments(prm="oracle"))
    assert record["greedy"] == 0.7 and record["search"] == 0.65
    assert record["greedy_problems"] == record["search_problems"] == 20
    assert (record["search_low"], record["search_high"]) == pytest.approx(wilson(13, 20))
    header, line = format_rounds([{"round": 0, **record}]).splitlines()
    assert header.split() == ["round", "n", "greedy", "95%", "CI", "n", "search", "95%", "CI", "train", "s"]
    assert line.split()[:3] == ["0", "20", "70.0%"] and percent(*wilson(14, 20)) in line


def summary(tmp_path: Path, old: bool) -> dict:
    """A quickstart summary.json whose figures rest on 10 test problems (2 per level); `old` drops
    every count and interval, as files written before they were reported."""
    from ponder.infer.eval_prm import PRMScores

    rows = [row(p, "greedy", 1, p < 7) for p in range(10)] + [
        row(p, "weighted_best_of_n", 4, p < 8) for p in range(10)
    ]
    folder = write_results(tmp_path / "test", rows)
    points = [asdict(p) for p in direct_points(rows)]
    level = {"level": 1, "n": 10, "greedy": 0.7, "pass_at_k": 0.9, "k": 2}
    prm = PRMScores(
        "level 1", 40, 160, 0.7, 0.9, 0.8, 0.9, 0.8, 0.9, 0.85,
        questions=10, within_questions=6, auroc_low=0.85, auroc_high=0.95,
        within_low=0.6, within_high=0.95, f1_low=0.7, f1_high=0.95,
    )  # fmt: skip
    prm = asdict(prm)
    efficiency = {
        "ratio": 2.0, "low": 1.5, "high": 2.5, "reached": True, "accuracy": 0.8, "tokens": 40.0,
        "baseline_tokens": 80.0, "problems": 10,
    }  # fmt: skip
    rounds = [
        {
            "round": r,
            "greedy": 0.7,
            "search": 0.8,
            "train_s": 3.0,
            "greedy_problems": 10,
            "search_problems": 10,
        }
        | {"greedy_low": 0.4, "greedy_high": 0.9, "search_low": 0.5, "search_high": 0.95}
        for r in (0, 1)
    ]
    if old:
        level.pop("n")
        prm = {
            k: v
            for k, v in prm.items()
            if k != "questions" and not k.endswith(("_questions", "_low", "_high"))
        }
        efficiency = {k: v for k, v in efficiency.items() if k not in ("low", "high", "problems")}
        rounds = [
            {k: v for k, v in r.items() if k in ("round", "greedy", "search", "train_s")} for r in rounds
        ]
    return {
        "policy": "tiny",
        "levels": [level],
        "prm": [prm],
        "search": {"learned": points, "oracle": []},
        "routing": {
            "plan": {"budgets": [1, 4], "baseline_max_n": 4, "output_dir": str(tmp_path)},
            "test_folders": [str(folder)],
            "predictor": {"accuracy": 0.5, "within_one": 0.9, "spearman": 0.6, "n_eval": 10},
            **{
                key: efficiency
                for key in (
                    "efficiency_oracle",
                    "efficiency_predicted",
                    "efficiency_oracle_uneven",
                    "efficiency_predicted_uneven",
                )
            },
        },
        "distill": {"rounds": rounds},
    }


def test_every_table_of_the_report_has_its_n(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(summary(tmp_path, old=False)))
    text = report(ReportArguments(run_dir=str(tmp_path))).read_text()
    assert "| level | n | greedy | 95% CI | pass@k | 95% CI |" in text
    assert f"| 1 | 10 | 70.0% | {percent(*wilson(7, 10))} | 90.0% (k=2) | {percent(*wilson(9, 10))} |" in text
    assert (
        "| level 1 | 10 | 40 | 160 | 0.900 [0.85, 0.95] | 6 | 0.800 [0.60, 0.95] | 85.0% [70, 95] |" in text
    )
    assert "| weighted_best_of_n | 4 | 10 | 80.0% |" in text and "| greedy | 1 | 10 | 70.0% |" in text
    assert "| oracle | even | 10 | 80.0% |" in text and "| 2.00× | [1.50, 2.50] |" in text
    assert "(n = 10 questions): accuracy 0.500" in text
    assert "| 1 | 10 | 70.0% | [40, 90] | 10 | 80.0% | [50, 95] | 3 |" in text


def test_a_report_still_reads_a_summary_written_before_the_counts(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(summary(tmp_path, old=True)))
    text = report(ReportArguments(run_dir=str(tmp_path))).read_text()
    assert "| 1 | - | 70.0% | - | 90.0% (k=2) | - |" in text
    assert "| level 1 | - | 40 | 160 | 0.900 | - | 0.800 | 85.0% |" in text
    assert "| 1 | - | 70.0% | - | - | 80.0% | - | 3 |" in text
