"""Strategies over independent samples: greedy, majority vote, best-of-N, weighted best-of-N.

All but greedy draw N whole solutions, score every step with the PRM, and differ only in how
they choose an answer (`selection.py`). A pool of N_max samples serves every N ≤ N_max: the
result for N uses the pool's first N samples, so one generation pass gives the whole curve.
"""

from __future__ import annotations

import time

from ponder.data import Problem
from ponder.data.grading import answers_of
from ponder.data.results import Compute, SearchResult, Trajectory

from ..backends.base import Sampling
from .base import SearchContext, register, result, to_trajectory
from .selection import SELECTORS


def sample_pool(
    problems: list[Problem], n: int, ctx: SearchContext, temperature: float | None = None
) -> list[tuple[list[Trajectory], Compute]]:
    """`n` scored solutions per problem, all problems in one backend call. The call's wall time
    (generation and scoring) is shared evenly by the problems, as tree search shares its rounds'."""
    start = time.time()
    temperature = ctx.temperature if temperature is None else temperature
    sampling = Sampling(temperature=temperature, top_p=ctx.top_p, max_tokens=ctx.max_tokens, seed=ctx.seed)
    generations = ctx.backend.generate([ctx.prompt(p.question) for p in problems], n, sampling)
    pools = []
    for problem, gens in zip(problems, generations):
        compute = Compute()
        ctx.count_policy(gens, compute)
        read = answers_of(problem).read
        trajectories = [to_trajectory(g.text, g, read) for g in gens]
        scored = [t for t in trajectories if t.steps]
        for t, scores in zip(scored, ctx.score(problem.question, [t.steps for t in scored], compute)):
            t.scores = scores
        pools.append((trajectories, compute))
    wall = (time.time() - start) / max(1, len(problems))
    for _, compute in pools:
        compute.wall_s = wall
    return pools


def select_from_pool(
    problem: Problem, pool: tuple[list[Trajectory], Compute], strategy: str, n: int, ctx: SearchContext
) -> SearchResult:
    """The result of `strategy` at budget `n` from the first `n` samples of a larger pool.

    Policy tokens are those of the `n` samples; PRM tokens and FLOPs are the pool's, shared in
    proportion to each sample's length (the PRM scores a problem's pool in one call).
    """
    trajectories, pool_compute = pool
    used = trajectories[:n]
    share = sum(len(t.text) for t in used) / max(1, sum(len(t.text) for t in trajectories))
    prm_tokens = round(pool_compute.prm_tokens * share)
    prm_flops = pool_compute.flops - 2 * ctx.backend.num_parameters * pool_compute.policy_tokens
    policy_tokens = sum(t.tokens for t in used)
    compute = Compute(
        policy_tokens=policy_tokens,
        prm_tokens=prm_tokens,
        flops=2 * ctx.backend.num_parameters * policy_tokens + prm_flops * share,
        wall_s=pool_compute.wall_s * n / len(trajectories),
    )
    chosen = SELECTORS[strategy](used, ctx.aggregation, answers_of(problem).group)
    return result(problem, strategy, n, {"aggregation": ctx.aggregation}, chosen, used, compute)


def _pool_strategy(name: str):
    def run(problems: list[Problem], n: int, ctx: SearchContext) -> list[SearchResult]:
        return [
            select_from_pool(p, pool, name, n, ctx)
            for p, pool in zip(problems, sample_pool(problems, n, ctx))
        ]

    run.__name__ = name
    run.__doc__ = f"{name.replace('_', ' ')} over N independent samples."
    return register(name, kind="pool", requires=() if name == "majority" else ("prm",))(run)


for _name in SELECTORS:
    _pool_strategy(_name)


@register("greedy", kind="single")
def greedy(problems: list[Problem], n: int, ctx: SearchContext) -> list[SearchResult]:
    """One greedy solution per problem; the budget is ignored (always 1 generation)."""
    out = []
    for problem, (trajectories, compute) in zip(problems, sample_pool(problems, 1, ctx, temperature=0.0)):
        out.append(result(problem, "greedy", 1, {}, trajectories[0], trajectories, compute))
    return out
