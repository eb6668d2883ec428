"""Votes count equivalent answers together: MATH writes one answer many ways, and a vote split
between `\\frac{1}{2}` and `0.5` would hand the win to a wrong answer written one way."""

from __future__ import annotations

from ponder.data.grading import equivalent, group_answers
from ponder.data.results import Trajectory
from ponder.infer.strategies.selection import best_of_n, majority_vote, weighted_best_of_n


def trajectories(answers_and_scores: list[tuple[str | None, float]]) -> list[Trajectory]:
    return [Trajectory(steps=["..."], answer=a, scores=[s]) for a, s in answers_and_scores]


def test_math_equivalents_form_one_group():
    answers = [
        "\\frac{1}{2}",
        "3",
        "\\dfrac{1}{2}",
        "0.5",
        "3.0",
        "\\left( 3, \\frac{\\pi}{2} \\right)",
        "(3,\\frac{\\pi}{2})",
        "\\frac{\\sqrt{3}}{2}",
        "\\dfrac{\\sqrt3}{2}",
        "2",
    ]
    assert group_answers(answers) == [0, 1, 0, 0, 1, 2, 2, 3, 3, 4]
    assert not equivalent("12", "21") and not equivalent("\\frac{1}{2}", "\\frac{1}{3}")


def test_majority_counts_equivalent_answers_together():
    # "3" is the most frequent string, but one half written three ways has more votes
    pool = trajectories([("3", 0.9), ("\\frac{1}{2}", 0.5), ("3", 0.9), ("0.5", 0.5), ("\\dfrac{1}{2}", 0.5)])
    assert majority_vote(pool).answer == "\\frac{1}{2}"  # the first way the winning answer was written


def test_weighted_best_of_n_sums_scores_over_equivalent_answers():
    pool = trajectories([("3", 0.9), ("\\frac{1}{2}", 0.7), ("3", 0.9), ("0.5", 0.7), ("\\dfrac{1}{2}", 0.7)])
    assert weighted_best_of_n(pool, "last").answer == "\\frac{1}{2}"  # 2.1 against 1.8
    assert best_of_n(pool, "last").answer == "3"  # one trajectory decides: grouping does not enter


def test_ties_go_to_the_answer_seen_first_and_no_answer_is_no_vote():
    assert majority_vote(trajectories([("7", 0.1), (None, 0.9), ("5", 0.9)])).answer == "7"
    assert majority_vote(trajectories([(None, 0.5)])) is None
    assert weighted_best_of_n([], "last") is None


def test_a_vote_returns_the_best_scored_trajectory_of_the_winning_answer():
    """A world that grades whole trajectories (Countdown) grades the trajectory a vote chose: of the
    winning answer's, the one the PRM scores highest (majority: the first seen)."""
    pool = trajectories([("7", 0.2), ("0.5", 0.6), ("7", 0.5), ("\\frac{1}{2}", 0.3), ("7", 0.4)])
    assert weighted_best_of_n(pool, "last") is pool[2]  # "7": 1.1 against 0.9; 0.5 is its best score
    assert majority_vote(pool) is pool[0]
    assert best_of_n(pool, "last") is pool[1]
