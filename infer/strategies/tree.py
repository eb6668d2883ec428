"""Step-wise tree search: beam search, DVTS and lookahead are one engine with different parameters.

Every round, each live beam of every problem proposes its next step (one batched backend call,
generation stopped at the step separator); the PRM scores the candidates; each *group* keeps its
best candidates, and the kept candidates that have not finished become the next round's live
beams, repeated until the group is full again.

- beam search (N beams, width M): one group of N per problem that keeps the N/M best candidates.
  Each kept beam is expanded M ways; when some kept candidates finish, the unfinished ones are
  repeated until N beams are live again (the best-ranked get the extra copies), as
  search-and-learn's beam search duplicates its active beams up to N, so every round spends the
  whole budget.
- DVTS (Beeching et al. 2024): N/M groups of M per problem, independent subtrees that each keep
  their single best candidate, expanded M ways; a subtree whose kept candidate finishes is done
  (refilling it from another subtree would break their independence).
- lookahead (k): a candidate is ranked by the PRM score of the step reached after k more greedy
  steps (the rollout is discarded; its tokens are counted).

A candidate that ends (end of sequence, a final answer, or the step limit) is finished: if its
group keeps it, it becomes a completed trajectory. Search ends when a problem has N completed
trajectories or no live beams; at most N are returned, best first. A trajectory's `parent` is
the first-round beam (0..N-1) it descends from: trajectories with the same parent share their
first step, and in DVTS `parent // M` is its subtree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tqdm.auto import tqdm

from ponder.data import STEP_SEPARATOR, Problem
from ponder.data.grading import answers_of
from ponder.data.results import Compute, SearchResult, Trajectory, aggregate

from ..backends.base import Sampling
from .base import STEP_STOP, SearchContext, register, result
from .selection import SELECTORS


@dataclass
class Beam:
    steps: list[str]
    group: int
    root: int  # the first-round beam it descends from (its trajectory's `parent`)
    tokens: int = 0
    scores: list[float] | None = None
    finished: bool = False
    finish_reason: str = "length"
    rank_score: float = 0.0


@dataclass
class TreeParams:
    beam_width: int = 4  # M: how many ways each kept beam is expanded
    independent_subtrees: bool = False  # DVTS: N/M groups that each keep one beam
    lookahead: int = 0  # k greedy steps before scoring a candidate
    select: str = "weighted_best_of_n"  # how the final answer is chosen among completed trajectories

    def check(self, n: int) -> None:
        if self.beam_width < 1 or n % self.beam_width:
            raise ValueError(f"beam_width: {self.beam_width} must divide the budget n={n}")
        if self.lookahead < 0:
            raise ValueError(f"lookahead: must be >= 0, got {self.lookahead}")


def _extend(
    ctx: SearchContext,
    problems: list[Problem],
    beams: list[tuple[int, Beam]],
    temperature: float,
    compute: list[Compute],
    round_: int,
) -> list:
    """One next step for each (problem index, beam): a single batched backend call."""
    sampling = Sampling(
        temperature=temperature,
        top_p=ctx.top_p,
        max_tokens=ctx.max_step_tokens,
        stop=[STEP_STOP],
        seed=ctx.seed + round_,
    )
    prompts = [ctx.prompt(problems[i].question, beam.steps) for i, beam in beams]
    generations = [g[0] for g in ctx.backend.generate(prompts, 1, sampling)]
    for (i, _), g in zip(beams, generations):
        ctx.count_policy([g], compute[i])
    return generations


def _step_result(beam: Beam, generation, max_steps: int) -> Beam:
    text = generation.text[: -len(STEP_STOP)] if generation.text.endswith(STEP_STOP) else generation.text
    steps = beam.steps + ([text] if text.strip() else [])
    ended = generation.finish_reason != "stop" or "\\boxed{" in text or len(steps) >= max_steps
    return Beam(
        steps,
        beam.group,
        beam.root,
        beam.tokens + generation.num_tokens,
        finished=ended,
        finish_reason=generation.finish_reason,
    )


def tree_search(
    problems: list[Problem], n: int, ctx: SearchContext, params: TreeParams, name: str
) -> list[SearchResult]:
    params.check(n)
    m = params.beam_width
    groups = n // m if params.independent_subtrees else 1
    keep = 1 if params.independent_subtrees else n // m
    compute = [Compute() for _ in problems]
    # A backend that caches prefixes starts each search empty, so results never depend on what ran before.
    getattr(ctx.backend, "reset_prefix_cache", lambda: None)()
    start = time.time()
    # Round 0 samples N first steps from the empty solution: N live beams, as in beam search.
    live = {
        i: [Beam([], group=j // m if params.independent_subtrees else 0, root=j) for j in range(n)]
        for i in range(len(problems))
    }
    done: dict[int, list[Beam]] = {i: [] for i in range(len(problems))}
    # Each round is a batch of generation and PRM calls: minutes on a CPU with a real model.
    for round_ in tqdm(range(ctx.max_steps), desc=f"{name} N={n} rounds", leave=False):
        flat = [(i, b) for i, beams in live.items() for b in beams]
        if not flat:
            break
        candidates = [
            _step_result(b, g, ctx.max_steps)
            for (_, b), g in zip(flat, _extend(ctx, problems, flat, ctx.temperature, compute, round_))
        ]
        by_problem: dict[int, list[Beam]] = {}
        for (i, _), c in zip(flat, candidates):
            by_problem.setdefault(i, []).append(c)
        if params.lookahead:
            _rank_with_lookahead(ctx, problems, by_problem, params.lookahead, compute, round_)
        for i, cands in by_problem.items():
            scores = ctx.score(problems[i].question, [c.steps for c in cands], compute[i])
            for c, s in zip(cands, scores):
                c.scores = s
                if not params.lookahead or c.finished:
                    c.rank_score = s[-1] if s else 0.0
        live = {}
        for i, cands in by_problem.items():
            kept, next_beams = [], []
            for g in range(groups):
                members = sorted((c for c in cands if c.group == g), key=lambda c: c.rank_score, reverse=True)
                kept += members[:keep]
                next_beams += _refill([c for c in members[:keep] if not c.finished], n // groups)
            done[i] += [c for c in kept if c.finished]
            if len(done[i]) < n and next_beams:
                live[i] = next_beams
    out = []
    wall = (time.time() - start) / max(1, len(problems))
    for i, problem in enumerate(problems):
        finished = sorted(done[i], key=lambda b: aggregate(b.scores or [], ctx.aggregation), reverse=True)[:n]
        answers = answers_of(problem)
        trajectories = [_to_trajectory(b, answers.read) for b in finished]
        compute[i].wall_s = wall
        chosen = SELECTORS[params.select](trajectories, ctx.aggregation, answers.group)
        out.append(
            result(
                problem,
                name,
                n,
                {
                    "beam_width": m,
                    "lookahead": params.lookahead,
                    "select": params.select,
                    "aggregation": ctx.aggregation,
                },
                chosen,
                trajectories,
                compute[i],
            )
        )
    return out


def _refill(active: list[Beam], size: int) -> list[Beam]:
    """`size` live beams from a group's kept unfinished candidates (best first): each repeated
    size // len(active) times, the best-ranked once more until the group is full."""
    if not active:
        return []
    copies = [size // len(active) + (j < size % len(active)) for j in range(len(active))]
    return [Beam(list(c.steps), c.group, c.root, c.tokens) for c, k in zip(active, copies) for _ in range(k)]


def _rank_with_lookahead(
    ctx, problems, by_problem: dict[int, list[Beam]], k: int, compute: list[Compute], round_: int
) -> None:
    """Rank each unfinished candidate by the PRM's score k greedy steps further on."""
    rollouts = {(i, j): c for i, cands in by_problem.items() for j, c in enumerate(cands) if not c.finished}
    for _ in range(k):
        live = [(key, b) for key, b in rollouts.items() if not b.finished]
        if not live:
            break
        gens = _extend(ctx, problems, [(key[0], b) for key, b in live], 0.0, compute, round_)
        for (key, b), g in zip(live, gens):
            rollouts[key] = _step_result(b, g, ctx.max_steps)
    for (i, j), rolled in rollouts.items():
        scores = ctx.score(problems[i].question, [rolled.steps], compute[i])[0]
        by_problem[i][j].rank_score = scores[-1] if scores else 0.0


def _to_trajectory(beam: Beam, read: Callable[[str], str | None]) -> Trajectory:
    """A finished (or cut) beam as a trajectory; `read` takes its answer from its text."""
    return Trajectory(
        steps=beam.steps,
        scores=beam.scores or [],
        answer=read(STEP_SEPARATOR.join(beam.steps)) if beam.steps else None,
        tokens=beam.tokens,
        finish_reason=beam.finish_reason,
        parent=beam.root,
    )


@register("beam_search", kind="tree", requires=("prm",), params=("beam_width",))
def beam_search(
    problems: list[Problem], n: int, ctx: SearchContext, beam_width: int = 4, select: str = "best_of_n"
) -> list[SearchResult]:
    """Beam search with N beams of width M, scored step by step by the PRM."""
    return tree_search(
        problems, n, ctx, TreeParams(beam_width=min(beam_width, n), select=select), "beam_search"
    )


@register("dvts", kind="tree", requires=("prm",), params=("beam_width",))
def dvts(
    problems: list[Problem],
    n: int,
    ctx: SearchContext,
    beam_width: int = 4,
    select: str = "weighted_best_of_n",
) -> list[SearchResult]:
    """Diverse verifier tree search: N/M independent subtrees, each greedy on the PRM."""
    return tree_search(
        problems,
        n,
        ctx,
        TreeParams(beam_width=min(beam_width, n), independent_subtrees=True, select=select),
        "dvts",
    )


@register("lookahead", kind="tree", requires=("prm",), params=("beam_width", "lookahead"))
def lookahead(
    problems: list[Problem],
    n: int,
    ctx: SearchContext,
    beam_width: int = 4,
    lookahead: int = 1,
    select: str = "best_of_n",
) -> list[SearchResult]:
    """Beam search whose candidates are ranked after k greedy steps of lookahead."""
    return tree_search(
        problems,
        n,
        ctx,
        TreeParams(beam_width=min(beam_width, n), lookahead=lookahead, select=select),
        "lookahead",
    )
