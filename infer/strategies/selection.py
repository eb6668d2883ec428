"""Choosing one answer from scored trajectories: pure functions, shared by every strategy.

Votes count equivalent answers together (`ponder.data.grading.group_answers`: `\\frac{1}{2}` and
`0.5` are one answer), or, for a world that says what its answers are, equal ones (`group`, from
`ponder.data.grading.answers_of`). Each returns the chosen trajectory, not only its answer: a world
that grades whole trajectories (Countdown) grades the one chosen.
"""

from __future__ import annotations

from collections.abc import Callable

from ponder.data.grading import group_answers
from ponder.data.results import Trajectory, aggregate

Grouping = Callable[[list[str]], list[int]]  # answers -> a group number each


def _vote(trajectories: list[Trajectory], weight, group: Grouping) -> Trajectory | None:
    """The winning trajectory: of the answer whose equivalent answers' weights sum highest (ties go
    to the answer seen first), the highest-weighted trajectory (the first seen among equals)."""
    answered = [t for t in trajectories if t.answer is not None]
    if not answered:
        return None
    totals: dict[int, float] = {}
    best: dict[int, Trajectory] = {}
    for t, g in zip(answered, group([t.answer for t in answered])):
        totals[g] = totals.get(g, 0.0) + weight(t)
        if g not in best or weight(t) > weight(best[g]):
            best[g] = t
    return best[max(totals, key=totals.get)]


def majority_vote(trajectories: list[Trajectory], group: Grouping = group_answers) -> Trajectory | None:
    """The first trajectory of the most frequent answer, equivalent answers counted together."""
    return _vote(trajectories, lambda t: 1.0, group)


def best_of_n(
    trajectories: list[Trajectory], aggregation: str, group: Grouping = group_answers
) -> Trajectory | None:
    """The trajectory with the highest aggregated PRM score (answers are not compared: `group` is
    taken only so that every selector is called alike)."""
    answered = [t for t in trajectories if t.answer is not None]
    if not answered:
        return None
    return max(answered, key=lambda t: aggregate(t.scores, aggregation))


def weighted_best_of_n(
    trajectories: list[Trajectory], aggregation: str, group: Grouping = group_answers
) -> Trajectory | None:
    """The best-scored trajectory of the answer whose trajectories' aggregated scores sum highest,
    equivalent answers together (Li et al. 2023; search-and-learn)."""
    return _vote(trajectories, lambda t: aggregate(t.scores, aggregation), group)


def hierarchical(
    chains: list[list[Trajectory]], aggregation: str, group: Grouping = group_answers
) -> Trajectory | None:
    """Snell et al.'s choice across revision chains: weighted best-of-N within each chain, then
    weighted best-of-N across chains over each chain's best-scored trajectory of its winning answer
    (so a long chain that repeats one answer counts once, not once per attempt)."""
    winners = [w for w in (weighted_best_of_n(chain, aggregation, group) for chain in chains) if w]
    return weighted_best_of_n(winners, aggregation, group)


# (trajectories, aggregation, group) -> the chosen trajectory; `group` is the problem's
# (`ponder.data.grading.answers_of`).
SELECTORS = {
    "majority": lambda trajectories, aggregation, group=group_answers: majority_vote(trajectories, group),
    "best_of_n": best_of_n,
    "weighted_best_of_n": weighted_best_of_n,
}
