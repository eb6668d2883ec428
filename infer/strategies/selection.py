"""Choosing one answer from scored trajectories: pure functions, shared by every strategy."""

from __future__ import annotations

from collections import defaultdict

from ponder.data.results import Trajectory, aggregate


def majority_vote(trajectories: list[Trajectory]) -> str | None:
    """The most frequent extracted answer; ties go to the answer seen first."""
    counts: dict[str, int] = {}
    for t in trajectories:
        if t.answer is not None:
            counts[t.answer] = counts.get(t.answer, 0) + 1
    return max(counts, key=counts.get) if counts else None


def best_of_n(trajectories: list[Trajectory], aggregation: str) -> str | None:
    """The answer of the trajectory with the highest aggregated PRM score."""
    answered = [t for t in trajectories if t.answer is not None]
    if not answered:
        return None
    return max(answered, key=lambda t: aggregate(t.scores, aggregation)).answer


def weighted_best_of_n(trajectories: list[Trajectory], aggregation: str) -> str | None:
    """The answer whose trajectories' aggregated scores sum highest (Li et al. 2023; search-and-learn)."""
    weights: dict[str, float] = defaultdict(float)
    for t in trajectories:
        if t.answer is not None:
            weights[t.answer] += aggregate(t.scores, aggregation)
    return max(weights, key=weights.get) if weights else None


SELECTORS = {
    "majority": lambda trajectories, aggregation: majority_vote(trajectories),
    "best_of_n": best_of_n,
    "weighted_best_of_n": weighted_best_of_n,
}
