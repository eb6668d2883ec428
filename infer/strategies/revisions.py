"""Sequential revisions (Snell et al. 2024): a budget N spent as C chains of L attempts, N = C × L.

A revision model (`ponder train revision`) writes a whole solution after reading the last k
attempts of its own chain (the chat format of `ponder.data.revisions`); a chain's first attempt
reads none, so L = 1 is plain parallel sampling and C = 1 one sequential chain.

    revisions            one chain of N attempts
    parallel_revisions   C chains of L attempts; `revision_ratio` is L : C (the sequential-to-parallel
                         ratio): 4 at N = 16 is 2 chains of 8, 1/4 is 8 chains of 2

The answer comes from every attempt of every chain, chosen by `revision_select`:
- "verifier" (Snell et al.'s hierarchical choice): weighted best-of-N by the PRM within each chain,
  then across the chains' winners;
- "weighted_best_of_n" or "majority": one vote over all N attempts (majority needs no PRM).

Real token counts: the earlier attempts a revision re-reads are counted as `context_tokens` and in
the FLOPs. As with best-of-N's pool, one search serves every budget: the chains are grown as a
staircase (chain c as long as the largest budget with more than c chains needs) and the result at
each N reads its C × L rectangle, with exactly the tokens of those attempts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ponder.data import Problem
from ponder.data.grading import answers_of, group_answers
from ponder.data.results import Compute, SearchResult, Trajectory
from ponder.errors import ConfigError

from ..backends.base import Sampling
from ..prompts import build_revision_prompt
from .base import SearchContext, register, result, to_trajectory
from .selection import Grouping, hierarchical, majority_vote, weighted_best_of_n

SELECTIONS = ("verifier", "weighted_best_of_n", "majority")


@dataclass
class Attempt:
    trajectory: Trajectory
    context_tokens: int  # tokens of the earlier attempts it was written after
    chars: int  # its text length: its share of the PRM's tokens for the problem


def check_params(select: str, context: int, ratio: float | None, has_prm: bool) -> None:
    """ConfigError naming the option when the revision options cannot run: `ponder infer` checks
    them before loading a model, a strategy again when called directly (a router's choice)."""
    if select not in SELECTIONS:
        raise ConfigError(f"revision_select: unknown '{select}' (expected one of: {', '.join(SELECTIONS)})")
    if context < 0:
        raise ConfigError(f"revision_context: must be >= 0, got {context}")
    if ratio is not None and ratio <= 0:
        raise ConfigError(f"revision_ratio: must be > 0, got {ratio}")
    if select != "majority" and not has_prm:
        raise ConfigError(f"prm: revision_select '{select}' needs a PRM (--prm), or use 'majority'")


def chain_shape(n: int, ratio: float | None) -> tuple[int, int]:
    """(chains C, length L) with C × L = n and L / C closest to `ratio` on a log scale; ties go to
    more chains. `ratio` None: one chain of n."""
    if ratio is None:
        return 1, n
    lengths = [length for length in range(1, n + 1) if n % length == 0]
    length = min(lengths, key=lambda L: (round(abs(math.log(L * L / n) - math.log(ratio)), 9), L))
    return n // length, length


def staircase(budgets: list[int], ratio: float | None) -> list[int]:
    """How long each chain must grow so that every budget's C × L rectangle is inside."""
    shapes = [chain_shape(n, ratio) for n in budgets]
    chains = max(c for c, _ in shapes)
    return [max(length for c, length in shapes if c > i) for i in range(chains)]


def grow_chains(
    problems: list[Problem], lengths: list[int], ctx: SearchContext, context: int
) -> tuple[list[list[list[Attempt]]], list[Compute]]:
    """Every problem's chains, attempt by attempt: round t writes attempt t of every chain longer
    than t, for all problems in one backend call. Returns the attempts (problem, chain, position)
    and each problem's PRM compute (its attempts are scored in one call)."""
    chains: list[list[list[Attempt]]] = [[[] for _ in lengths] for _ in problems]
    bare = [
        len(_ids(ctx, build_revision_prompt(ctx.tokenizer, p.question, [], ctx.system_prompt)))
        for p in problems
    ]
    readers = [answers_of(p).read for p in problems]
    for t in range(max(lengths)):
        live = [(i, c) for i in range(len(problems)) for c, length in enumerate(lengths) if length > t]
        prompts = []
        for i, c in live:
            earlier = [a.trajectory.text for a in chains[i][c][-context:]] if context else []
            prompts.append(
                build_revision_prompt(
                    ctx.tokenizer, problems[i].question, earlier, ctx.system_prompt, ctx.revision_instruction
                )
            )
        sampling = Sampling(
            temperature=ctx.temperature, top_p=ctx.top_p, max_tokens=ctx.max_tokens, seed=ctx.seed + t
        )
        for (i, c), prompt, gens in zip(live, prompts, ctx.backend.generate(prompts, 1, sampling)):
            trajectory = to_trajectory(gens[0].text, gens[0], readers[i])
            trajectory.parent = c
            read = len(_ids(ctx, prompt)) - bare[i]
            chains[i][c].append(Attempt(trajectory, read, len(gens[0].text)))
    prm_compute = []
    for problem, problem_chains in zip(problems, chains):
        compute = Compute()
        scored = [a.trajectory for chain in problem_chains for a in chain if a.trajectory.steps]
        for trajectory, scores in zip(
            scored, ctx.score(problem.question, [t.steps for t in scored], compute)
        ):
            trajectory.scores = scores
        prm_compute.append(compute)
    return chains, prm_compute


def _ids(ctx: SearchContext, prompt: str) -> list[int]:
    return ctx.tokenizer(prompt, add_special_tokens=False)["input_ids"]


def choose(
    chains: list[list[Trajectory]], select: str, aggregation: str, group: Grouping = group_answers
) -> Trajectory | None:
    """The chosen attempt: by `select`, with answers grouped by the problem's `group`."""
    if select == "verifier":
        return hierarchical(chains, aggregation, group)
    flat = [t for chain in chains for t in chain]
    if select == "majority":
        return majority_vote(flat, group)
    return weighted_best_of_n(flat, aggregation, group)


def revision_results(
    problems: list[Problem],
    budgets: list[int],
    ctx: SearchContext,
    name: str,
    ratio: float | None,
    context: int,
    select: str,
) -> list[SearchResult]:
    """The result of every problem at every budget, from one staircase of chains per problem."""
    check_params(select, context, ratio, has_prm=ctx.prm is not None)
    start = time.time()
    lengths = staircase(budgets, ratio)
    chains, prm_computes = grow_chains(problems, lengths, ctx, context)
    wall = (time.time() - start) / max(1, len(problems))
    params_base = {"revision_context": context, "revision_select": select, "aggregation": ctx.aggregation}
    if ratio is not None:
        params_base["revision_ratio"] = ratio
    out = []
    for n in budgets:
        c, length = chain_shape(n, ratio)
        for problem, problem_chains, prm_compute in zip(problems, chains, prm_computes):
            used = [chain[:length] for chain in problem_chains[:c]]
            attempts = [a for chain in used for a in chain]
            share = sum(a.chars for a in attempts) / max(
                1, sum(a.chars for chain in problem_chains for a in chain)
            )
            policy = sum(a.trajectory.tokens for a in attempts)
            read = sum(a.context_tokens for a in attempts)
            compute = Compute(
                policy_tokens=policy,
                context_tokens=read,
                prm_tokens=round(prm_compute.prm_tokens * share),
                flops=2 * ctx.backend.num_parameters * (policy + read) + prm_compute.flops * share,
                wall_s=wall * len(attempts) / sum(lengths),
            )
            trajectories = [[a.trajectory for a in chain] for chain in used]
            chosen = choose(trajectories, select, ctx.aggregation, answers_of(problem).group)
            params = {**params_base, "chains": c, "length": length}
            flat = [t for chain in trajectories for t in chain]
            out.append(result(problem, name, n, params, chosen, flat, compute))
    return out


def revisions_many(
    problems: list[Problem],
    budgets: list[int],
    ctx: SearchContext,
    revision_context: int = 4,
    revision_select: str = "verifier",
) -> list[SearchResult]:
    return revision_results(problems, budgets, ctx, "revisions", None, revision_context, revision_select)


def parallel_revisions_many(
    problems: list[Problem],
    budgets: list[int],
    ctx: SearchContext,
    revision_ratio: float = 1.0,
    revision_context: int = 4,
    revision_select: str = "verifier",
) -> list[SearchResult]:
    return revision_results(
        problems, budgets, ctx, "parallel_revisions", revision_ratio, revision_context, revision_select
    )


PARAMS = ("revision_context", "revision_select")


@register("revisions", kind="revision", params=PARAMS, run_many=revisions_many)
def revisions(
    problems: list[Problem],
    n: int,
    ctx: SearchContext,
    revision_context: int = 4,
    revision_select: str = "verifier",
) -> list[SearchResult]:
    """One chain of N attempts, each written after the last k (`revision_context`)."""
    return revisions_many(problems, [n], ctx, revision_context, revision_select)


@register(
    "parallel_revisions",
    kind="revision",
    params=("revision_ratio", *PARAMS),
    run_many=parallel_revisions_many,
)
def parallel_revisions(
    problems: list[Problem],
    n: int,
    ctx: SearchContext,
    revision_ratio: float = 1.0,
    revision_context: int = 4,
    revision_select: str = "verifier",
) -> list[SearchResult]:
    """C chains of L attempts with L : C closest to `revision_ratio`, N = C × L."""
    return parallel_revisions_many(problems, [n], ctx, revision_ratio, revision_context, revision_select)
