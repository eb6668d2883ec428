"""Token efficiency: interpolated crossings, lower bounds, bootstrap intervals over problems, the best
fixed strategy chosen on validation, and the doubling search that stops once a curve gets there."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ponder.data.results import Compute, SearchResult, Trajectory
from ponder.infer.eval_search import (
    Point,
    best_fixed,
    curve_budgets,
    efficiency,
    outcomes,
    routing_gain_vs_best_fixed,
    tokens_to_reach,
)
from ponder.pipelines.routing import extend_until_reached


def row(pid: int, strategy: str, n: int, correct: bool, tokens: float, params: dict | None = None):
    return SearchResult(
        f"p{pid}", strategy, n, params or {}, "1" if correct else "2", correct, "1",
        compute=Compute(policy_tokens=tokens),
    )  # fmt: skip


def curve_rows(strategy: str, curve: list[tuple[int, float, float]], problems: int = 20, params=None):
    """Rows whose accuracy at each (n, accuracy, tokens) is exact: the first accuracy × problems right."""
    return [
        row(p, strategy, n, p < round(accuracy * problems), tokens, params)
        for n, accuracy, tokens in curve
        for p in range(problems)
    ]


# weighted best-of-N stand-in: 20% / 50% / 60% at 10 / 40 / 160 tokens
BASE = [(1, 0.2, 10.0), (4, 0.5, 40.0), (16, 0.6, 160.0)]


def test_tokens_are_interpolated_in_log_tokens_and_a_curve_that_stops_short_is_a_bound():
    curve = [Point("w", n, acc, 0, 1, 10, tokens, 0) for n, acc, tokens in BASE]
    tokens, reached = tokens_to_reach(curve, 0.55)
    assert reached and math.isclose(tokens, 80.0)  # halfway between 40 and 160 in log tokens
    assert tokens_to_reach(curve, 0.9) == (160, False)
    assert tokens_to_reach(curve, 0.1) == (10, True)

    rows = curve_rows("w", BASE) + curve_rows("co", [(16, 0.55, 20.0)])
    e = efficiency(outcomes(rows, "co"), 16, outcomes(rows, "w"))
    assert math.isclose(e["ratio"], 4.0) and e["reached"] and not e["ratio_bound"]
    assert e["text"].startswith("4.00 [") and e["problems"] == 20 and e["baseline_max_n"] == 16

    rows = curve_rows("w", BASE) + curve_rows("co", [(16, 0.7, 20.0)])
    bound = efficiency(outcomes(rows, "co"), 16, outcomes(rows, "w"))
    assert not bound["reached"] and bound["ratio_bound"] and bound["reached_share"] < 0.5
    assert math.isclose(bound["ratio"], 8.0) and bound["text"] == ">= 8.00"
    with pytest.raises(ValueError, match="N=4"):
        efficiency(outcomes(rows, "co"), 4, outcomes(rows, "w"))


def test_bootstrap_interval_holds_the_estimate_and_follows_its_seed():
    rows = curve_rows("w", [(1, 0.2, 10.0), (4, 0.5, 40.0), (16, 0.8, 160.0)], problems=40) + [
        row(p, "co", 16, p % 3 != 0, 15.0 + p % 7) for p in range(40)
    ]  # routed: 26 of 40 right, tokens vary by problem
    target, baseline = outcomes(rows, "co"), outcomes(rows, "w")
    e = efficiency(target, 16, baseline, resamples=300, seed=1)
    assert e["reached"] and e["low"] < e["ratio"] < e["high"]
    assert efficiency(target, 16, baseline, resamples=300, seed=1) == e
    other = efficiency(target, 16, baseline, resamples=300, seed=2)
    assert other["ratio"] == e["ratio"] and (other["low"], other["high"]) != (e["low"], e["high"])


def test_pool_curves_are_subsampled_at_every_small_n_and_four_points_per_doubling_above():
    assert curve_budgets(8) == list(range(1, 9))
    assert curve_budgets(64)[16:] == [20, 24, 28, 32, 40, 48, 56, 64]
    assert curve_budgets(40)[-3:] == [28, 32, 40]

    def pool(pid: int, right: int, size: int = 32) -> SearchResult:
        trajectories = [
            Trajectory(["s"], [0.9], "1" if k < right else str(k + 2), tokens=10) for k in range(size)
        ]
        return SearchResult(f"p{pid}", "weighted_best_of_n", size, {"aggregation": "last"}, "1", True, "1",
                            trajectories=trajectories, compute=Compute(policy_tokens=10 * size))  # fmt: skip

    # problem 0: every sample right; problem 1: none
    o = outcomes([pool(0, 32), pool(1, 0)], "weighted_best_of_n")
    assert o.ns == curve_budgets(32) and o.problems == ["p0", "p1"]
    assert all(o.accuracy(n) == 0.5 for n in o.ns)
    assert o.tokens[o.ns.index(20)] == [200.0, 200.0]


def test_routing_gain_is_measured_against_the_best_validation_strategy():
    beam = {"beam_width": 4}
    validation = (
        curve_rows("majority", [(16, 0.5, 100.0)], params={"aggregation": "last"})
        + curve_rows("beam_search", [(16, 0.8, 90.0)], params=beam)
        + curve_rows("beam_search", [(16, 0.8, 80.0)], params={"beam_width": 2})  # tie: fewer tokens
        + curve_rows("greedy", [(1, 0.9, 5.0)])  # not run at N = 16
    )
    choice = best_fixed(validation, 16, ["majority", "beam_search", "greedy"])
    assert (choice["strategy"], choice["params"], choice["accuracy"]) == (
        "beam_search",
        {"beam_width": 2},
        0.8,
    )

    test = (
        curve_rows("beam_search", [(4, 0.3, 20.0), (16, 0.6, 80.0)], params={"beam_width": 2})
        + curve_rows("beam_search", [(4, 0.9, 20.0), (16, 0.9, 80.0)], params=beam)  # not chosen
        + curve_rows("majority", [(16, 0.95, 10.0)], params={"aggregation": "last"})
        + curve_rows("compute_optimal", [(16, 0.6, 40.0)])
    )
    gain = routing_gain_vs_best_fixed(validation, test, ["compute_optimal"], 16, ["majority", "beam_search"])
    assert gain["fixed"]["strategy"] == "beam_search" and gain["fixed"]["params"] == {"beam_width": 2}
    assert math.isclose(gain["compute_optimal"]["ratio"], 2.0) and gain["compute_optimal"]["reached"]


def test_doubling_stops_where_the_curve_reaches_the_accuracy_or_at_the_largest_n(tmp_path):
    """`extend_until_reached` with a stand-in search that writes each budget's rows to a real folder:
    accuracy 0.3 at N = 16, then +0.1 per doubling."""
    searched = []

    def search(strategy: str, n: int) -> str:
        searched.append(n)
        folder = tmp_path / f"{strategy}-{n}"
        folder.mkdir(exist_ok=True)
        accuracy = 0.3 + 0.1 * math.log2(n / 16)
        rows = curve_rows(strategy, [(n, accuracy, 10.0 * n)], params={"beam_width": 4})
        (folder / "results.jsonl").write_text("".join(r.to_json() + "\n" for r in rows))
        return str(folder)

    def reaches(accuracy: float, params: dict | None = None):
        """The stopping rule the doubling had before it took a predicate: the curve's best accuracy."""

        def reached(rows) -> bool:
            curve = outcomes(rows, "beam_search", params)
            return max(curve.accuracy(n) for n in curve.ns) >= accuracy

        return reached

    rows = curve_rows("beam_search", [(16, 0.3, 160.0)], params={"beam_width": 4})
    folders = extend_until_reached(
        search, rows, "beam_search", {"beam_width": 4}, 16, 256, reaches(0.45, {"beam_width": 4})
    )
    assert searched == [32, 64] and [Path(f).name for f in folders] == ["beam_search-32", "beam_search-64"]
    assert sorted({r.n for r in rows}) == [16, 32, 64]
    searched.clear()
    assert (
        extend_until_reached(search, rows, "beam_search", None, 64, 256, reaches(0.45)) == [] and not searched
    )
    extend_until_reached(search, rows, "beam_search", None, 64, 100, reaches(0.99))
    assert searched == [100]  # capped at the largest N, then stops
    searched.clear()  # the chosen beam width is 8, but the search writes width 4: another candidate
    wide = curve_rows("beam_search", [(16, 0.3, 160.0)], params={"beam_width": 8})
    assert (
        len(
            extend_until_reached(
                search, wide, "beam_search", {"beam_width": 8}, 16, 256, reaches(0.99, {"beam_width": 8})
            )
        )
        == 1
    )


def test_the_interval_counts_as_measured_only_when_nearly_every_resample_reaches_the_accuracy():
    """A baseline that reaches the routed accuracy on the full sample but falls short in many
    resamples has a bounded upper end (`high_bound`); the doubling goes on until it does not."""
    from ponder.pipelines.routing import interval_reached

    routed = [row(p, "co", 16, p >= 9, 20.0) for p in range(20)]  # 55%, other problems than the baseline's
    barely = curve_rows("w", [(1, 0.2, 10.0), (4, 0.5, 40.0), (16, 0.55, 160.0)])
    e = efficiency(outcomes(routed, "co"), 16, outcomes(barely, "w"), resamples=300)
    assert e["reached"] and e["high_bound"] and e["reached_share"] < 0.975 and ", >= " in e["text"]
    assert not interval_reached(routed + barely, ["co"], 16, "w", None, 300)
    clear = curve_rows("w", [(1, 0.2, 10.0), (4, 0.5, 40.0), (16, 0.9, 160.0)])
    e = efficiency(outcomes(routed, "co"), 16, outcomes(clear, "w"), resamples=300)
    assert e["reached"] and not e["high_bound"] and e["reached_share"] >= 0.975 and ">=" not in e["text"]
    assert interval_reached(routed + clear, ["co"], 16, "w", None, 300)
