"""Difficulty bins, the router table, and compute-optimal search run for real on ArithWorld."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ponder.cli import main as ponder_main
from ponder.data.difficulty import main as difficulty_main
from ponder.data.difficulty import quantile_bins, read
from ponder.data.results import read_results
from ponder.infer.eval_search import best_fixed, efficiency, outcomes
from ponder.infer.router import Choice, RouterTable, allocate, fit_router
from ponder.infer.router import main as fit_router_main
from ponder.infer.run import main as infer_main
from ponder.models import SHIPPED_POLICY


def test_quantile_bins_keep_equal_pass_rates_together():
    rates = [1, 1, 1, 1, 0.5, 0.5, 0.25, 0, 0, 0]
    assert quantile_bins(rates, 5) == [1, 1, 1, 1, 3, 3, 4, 4, 4, 4]
    assert quantile_bins([0.9, 0.1, 0.5, 0.7, 0.3], 5) == [1, 5, 3, 2, 4]


def _choice(n: int, accuracy: float) -> Choice:
    return Choice("majority", n, {}, accuracy, 10.0 * n)


def test_allocate_spends_the_average_budget_where_it_helps():
    share = {1: 0.5, 2: 0.5}
    menus = {
        1: [_choice(1, 1.0), _choice(4, 1.0), _choice(16, 1.0)],  # easy: saturated at N=1
        2: [_choice(1, 0.2), _choice(4, 0.4), _choice(16, 0.7)],
    }
    pooled = _choice(4, 0.7)
    row = allocate(4, share, menus, pooled)
    assert (row[1].n, row[2].n) == (1, 4)  # 16 for bin 2 would average 8.5 > 4
    row = allocate(9, share, menus, pooled)
    assert (row[1].n, row[2].n) == (1, 16)  # mean 8.5 <= 9: the easy bin pays for the hard one
    assert row[0] is pooled


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    """Every strategy on 15 ArithWorld problems with the oracle PRM, and their pass-rate bins."""
    out = tmp_path_factory.mktemp("routing")
    infer_main(
        [
            "--model",
            str(SHIPPED_POLICY),
            "--prm",
            "oracle",
            "--per_level",
            "3",
            "--seed",
            "5",
            "--strategies",
            "greedy",
            "majority",
            "weighted_best_of_n",
            "beam_search",
            "--budgets",
            "1",
            "4",
            "--output_dir",
            str(out / "val"),
        ]
    )
    difficulty_main(["--results", str(out / "val"), "--output", str(out / "bins.jsonl")])
    return out


def test_difficulty_from_pass_rates(validation):
    rows = read(validation / "bins.jsonl")
    assert len(rows) == 15
    results = {
        r.problem_id: r
        for r in read_results(validation / "val" / "results.jsonl")
        if r.strategy == "majority" and r.n == 4
    }
    for pid, d in rows.items():
        assert d.samples == 4 and 1 <= d.bin <= 5
        right = sum(t.answer == results[pid].reference for t in results[pid].trajectories)
        assert d.pass_rate == right / 4
    easiest = min(rows.values(), key=lambda d: d.bin)
    assert all(d.pass_rate <= easiest.pass_rate for d in rows.values())


def test_difficulty_from_levels(tmp_path):
    difficulty_main(["--source", "level", "--per_level", "2", "--output", str(tmp_path / "levels.jsonl")])
    rows = read(tmp_path / "levels.jsonl")
    assert sorted(d.bin for d in rows.values()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_efficiency_on_real_searches(validation):
    """Beam search at N=4 against weighted best-of-N's pool subsampled at every N to 4, both on the
    same 15 problems; the best fixed strategy at N=4 is the one with the highest accuracy there."""
    rows = read_results(validation / "val" / "results.jsonl")
    pool = outcomes(rows, "weighted_best_of_n")
    direct = [r for r in rows if r.strategy == "weighted_best_of_n" and r.n == 4]
    assert pool.ns == [1, 2, 3, 4] and len(pool.problems) == 15
    assert pool.accuracy(4) == sum(r.correct for r in direct) / 15  # the whole pool: no subsets
    e = efficiency(outcomes(rows, "beam_search"), 4, pool, resamples=200)
    assert e["problems"] == 15 and e["low"] <= e["ratio"] <= e["high"] and e["baseline_max_n"] == 4
    assert e["text"].startswith(">=") != e["reached"]
    choice = best_fixed(rows, 4, ["majority", "weighted_best_of_n", "beam_search"])
    accuracy = {
        s: sum(r.correct for r in rows if r.strategy == s and r.n == 4) / 15
        for s in ("majority", "weighted_best_of_n", "beam_search")
    }
    assert choice["accuracy"] == max(accuracy.values()) == accuracy[choice["strategy"]]


def test_router_picks_the_best_validation_candidate_per_bin(validation):
    table = fit_router_main(
        [
            "--results",
            str(validation / "val"),
            "--difficulty",
            str(validation / "bins.jsonl"),
            "--output",
            str(validation / "router.json"),
        ]
    )
    rows = read_results(validation / "val" / "results.jsonl")
    bins = {pid: d.bin for pid, d in read(validation / "bins.jsonl").items()}
    for b, choice in table.even[4].items():
        if b == 0:
            continue
        assert choice.n == 4
        accuracies = {}
        for r in rows:
            if bins[r.problem_id] == b and r.n == 4:
                accuracies.setdefault(r.strategy, []).append(r.correct)
        assert choice.accuracy == max(sum(v) / len(v) for v in accuracies.values())
    assert RouterTable.load(validation / "router.json") == table
    assert math.isclose(sum(table.bin_share.values()), 1.0)
    for budget, row in table.uneven.items():
        assert sum(table.bin_share[b] * c.n for b, c in row.items() if b) <= budget + 1e-9


def routed_argv(validation) -> list[str]:
    """`ponder infer` options of both oracle-bin compute-optimal strategies at N=4 on the test problems."""
    return [
        *["--model", str(SHIPPED_POLICY), "--prm", "oracle", "--per_level", "3", "--seed", "5"],
        *["--strategies", "compute_optimal_oracle", "compute_optimal_oracle_uneven", "--budgets", "4"],
        *["--router", str(validation / "router.json"), "--difficulty_labels", str(validation / "bins.jsonl")],
    ]


def test_compute_optimal_runs_what_the_table_says(validation):
    out = validation / "routed"
    infer_main([*routed_argv(validation), "--output_dir", str(out)])
    table = RouterTable.load(validation / "router.json")
    bins = {pid: d.bin for pid, d in read(validation / "bins.jsonl").items()}
    rows = read_results(out / "results.jsonl")
    assert len(rows) == 30
    for r in rows:
        choice = table.choose(bins[r.problem_id], 4, uneven=r.strategy.endswith("uneven"))
        assert r.n == 4 and r.params["bin"] == bins[r.problem_id]
        assert (r.params["strategy"], r.params["n"]) == (choice.strategy, choice.n)
        assert len(r.trajectories) <= choice.n and r.compute.policy_tokens > 0


def test_compute_optimal_reads_the_searches_it_chooses_from_earlier_runs(validation, capsys):
    routed = routed_argv(validation)
    infer_main(
        [*routed, "--reuse_results", str(validation / "val"), "--output_dir", str(validation / "reused")]
    )
    searched = {
        (r.problem_id, r.strategy, r.n): r for r in read_results(validation / "val" / "results.jsonl")
    }
    rows = read_results(validation / "reused" / "results.jsonl")
    assert len(rows) == 30
    for r in rows:
        same = searched[(r.problem_id, r.params["strategy"], r.params["n"])]
        assert (r.answer, r.correct, r.compute, r.trajectories) == (
            same.answer,
            same.correct,
            same.compute,
            same.trajectories,
        )
        assert r.strategy.startswith("compute_optimal_oracle") and r.n == 4
    with pytest.raises(SystemExit) as err:  # another temperature's searches are not this run's
        ponder_main(
            [
                "infer",
                *routed,
                "--temperature",
                "0.5",
                "--reuse_results",
                str(validation / "val"),
                "--output_dir",
                str(validation / "hot"),
            ]
        )
    assert err.value.code == 2 and "temperature" in capsys.readouterr().err


def test_cross_fitted_bins_come_from_predictors_that_never_saw_the_problem(validation):
    from ponder.pipelines.routing import RoutingPlan, cross_fitted_bins

    plan = RoutingPlan(
        policy=str(SHIPPED_POLICY), prm="oracle", output_dir=str(validation), predictor_folds=3
    )
    folder = validation / "folds"
    predicted = read(cross_fitted_bins(validation / "bins.jsonl", plan, folder))
    oracle = read(validation / "bins.jsonl")
    assert predicted.keys() == oracle.keys() and all(1 <= d.bin <= 5 for d in predicted.values())
    assert all(replace(predicted[pid], bin=d.bin) == d for pid, d in oracle.items())  # only the bin changes
    held = [set(read(folder / f"fold-{i}-held.jsonl")) for i in range(3)]
    assert sorted(pid for ids in held for pid in ids) == sorted(oracle)
    for i in range(3):
        assert not held[i] & set(read(folder / f"fold-{i}-train.jsonl"))


def test_compute_optimal_needs_its_inputs(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        ponder_main(
            [
                "infer",
                "--model",
                str(SHIPPED_POLICY),
                "--strategies",
                "compute_optimal",
                "--output_dir",
                str(tmp_path),
            ]
        )
    assert err.value.code == 2 and "router" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        ponder_main(["fit-router", "--results", str(tmp_path), "--difficulty", str(tmp_path / "none.jsonl")])
    assert err.value.code == 2


def test_fit_router_refuses_results_of_other_problems(validation):
    with pytest.raises(ValueError, match="no result row"):
        fit_router(read_results(validation / "val" / "results.jsonl"), {"x": 1}, 5)


def test_search_evaluation_reads_back_from_the_offline_wandb_run(validation, offline_wandb):
    from helpers.wandb_offline import finished_runs, history_keys, run_project

    from ponder.infer.eval_search import main as eval_search_main

    before = set(finished_runs())
    eval_search_main(
        ["--results", str(validation / "val"), "--output_dir", str(validation / "eval"), "--levels", "false"]
    )
    (run,) = set(finished_runs()) - before
    keys = history_keys(run)
    for strategy in ("greedy", "majority", "weighted_best_of_n", "beam_search"):
        assert {f"search/{strategy}/accuracy", f"search/{strategy}/n", f"search/{strategy}/tokens"} <= keys
    assert "search/table/_type" in keys and "plots/accuracy_vs_n/_type" in keys
    assert run_project(run) == "ponder"  # one project for every stage of the loop


def test_every_compute_optimal_strategy_needs_a_router_and_no_other_does():
    from ponder.infer.run import InferArguments
    from ponder.infer.strategies import STRATEGIES

    routed = STRATEGIES.names(lambda s: s.kind == "routed")
    assert (
        sorted(routed) == sorted(s for s in STRATEGIES if s.startswith("compute_optimal"))
        and len(routed) == 4
    )
    assert [name for name, s in STRATEGIES.items() if "router" in s.requires] == routed
    for strategy in routed:
        with pytest.raises(ValueError, match=f"router: strategies \\['{strategy}'\\] need --router"):
            InferArguments(model_name_or_path=str(SHIPPED_POLICY), strategies=[strategy])
    assert InferArguments(
        model_name_or_path=str(SHIPPED_POLICY), strategies=["greedy", "majority"]
    ).strategies == [
        "greedy",
        "majority",
    ]
