"""Choosing one answer from scored trajectories: pure functions, shared by every strategy.

Votes count equivalent answers together (`ponder.data.grading.group_answers`: `\\frac{1}{2}` and
`0.5` are one answer); the answer returned is the first-seen way of writing the winning one.
"""

from __future__ import annotations

from ponder.data.grading import group_answers
from ponder.data.results import Trajectory, aggregate


def _vote(trajectories: list[Trajectory], weight) -> str | None:
    """The answer whose equivalent answers' weights sum highest; ties go to the answer seen first."""
    answered = [t for t in trajectories if t.answer is not None]
    if not answered:
        return None
    totals: dict[int, float] = {}
    first: dict[int, str] = {}
    for t, group in zip(answered, group_answers([t.answer for t in answered])):
        totals[group] = totals.get(group, 0.0) + weight(t)
        first.setdefault(group, t.answer)
    return first[max(totals, key=totals.get)]


def majority_vote(trajectories: list[Trajectory]) -> str | None:
    """The most frequent answer, equivalent answers counted together."""
    return _vote(trajectories, lambda t: 1.0)


def best_of_n(trajectories: list[Trajectory], aggregation: str) -> str | None:
    """The answer of the trajectory with the highest aggregated PRM score."""
    answered = [t for t in trajectories if t.answer is not None]
    if not answered:
        return None
    return max(answered, key=lambda t: aggregate(t.scores, aggregation)).answer


def weighted_best_of_n(trajectories: list[Trajectory], aggregation: str) -> str | None:
    """The answer whose trajectories' aggregated scores sum highest, equivalent answers together
    (Li et al. 2023; search-and-learn)."""
    return _vote(trajectories, lambda t: aggregate(t.scores, aggregation))


def hierarchical(chains: list[list[Trajectory]], aggregation: str) -> str | None:
    """Snell et al.'s choice across revision chains: weighted best-of-N within each chain, then
    weighted best-of-N across chains over each chain's best-scored trajectory of its winning answer
    (so a long chain that repeats one answer counts once, not once per attempt)."""
    winners = []
    for chain in chains:
        answer = weighted_best_of_n(chain, aggregation)
        if answer is None:
            continue
        answered = [t for t in chain if t.answer is not None]
        groups = group_answers([t.answer for t in answered] + [answer])
        mates = [t for t, g in zip(answered, groups) if g == groups[-1]]
        winners.append(max(mates, key=lambda t: aggregate(t.scores, aggregation)))
    return weighted_best_of_n(winners, aggregation)


SELECTORS = {
    "majority": lambda trajectories, aggregation: majority_vote(trajectories),
    "best_of_n": best_of_n,
    "weighted_best_of_n": weighted_best_of_n,
}
