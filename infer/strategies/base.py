"""What every strategy is given, and the registry that names strategies.

A strategy takes a batch of problems and a budget N and returns one `SearchResult` per problem.
Strategies never know which backend or PRM runs them: both come in the `SearchContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ponder.data import Problem, extract_boxed
from ponder.data.grading import grade_trajectory
from ponder.data.results import Compute, SearchResult, Trajectory
from ponder.registry import Registry

from ..backends.base import Backend, Generation
from ..prm.base import PRM
from ..prompts import build_prompt

STEP_STOP = "\n\n"


@dataclass
class SearchContext:
    backend: Backend
    prm: PRM | None
    tokenizer: object  # the policy's tokenizer: prompts go through its chat template
    system_prompt: str | None = None
    revision_instruction: str | None = None  # revision strategies: the user turn after each attempt
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 512  # per whole solution
    max_step_tokens: int = 128  # per step, in step-wise search
    max_steps: int = 20  # rounds of step-wise search
    aggregation: str = "last"
    seed: int = 0
    router: object | None = None  # compute_optimal.Router, for the compute-optimal strategies
    reuse: dict = field(
        default_factory=dict
    )  # search_key -> SearchResult already searched (`--reuse_results`)

    def prompt(self, question: str, steps: list[str] = ()) -> str:
        """The chat prompt, continued by the steps so far (inside the same assistant turn)."""
        partial = "".join(step + STEP_STOP for step in steps)
        return build_prompt(self.tokenizer, question, self.system_prompt, partial)

    def score(self, question: str, step_lists: list[list[str]], compute: Compute) -> list[list[float]]:
        """PRM scores per step (empty lists when no PRM is set), with the PRM's tokens counted."""
        if self.prm is None:
            return [[] for _ in step_lists]
        before = getattr(self.prm, "tokens_scored", 0)
        scores = self.prm.score(question, step_lists)
        tokens = getattr(self.prm, "tokens_scored", 0) - before
        compute.prm_tokens += tokens
        compute.flops += 2 * self.prm.num_parameters * tokens
        return scores

    def count_policy(self, generations: list[Generation], compute: Compute) -> None:
        tokens = sum(g.num_tokens for g in generations)
        compute.policy_tokens += tokens
        compute.flops += 2 * self.backend.num_parameters * tokens


def to_trajectory(
    text: str, generation: Generation, read: Callable[[str], str | None] = extract_boxed
) -> Trajectory:
    """A sampled solution as a trajectory; `read` takes its answer (`answers_of(problem).read`)."""
    steps = [s for s in text.split(STEP_STOP) if s.strip()]
    return Trajectory(
        steps=steps,
        answer=read(text),
        tokens=generation.num_tokens,
        finish_reason=generation.finish_reason,
    )


def result(
    problem: Problem,
    strategy: str,
    n: int,
    params: dict,
    chosen: Trajectory | None,
    trajectories: list[Trajectory],
    compute: Compute,
) -> SearchResult:
    """The row of one search: its answer is the `chosen` trajectory's, graded as a whole where the
    problem's world grades whole trajectories (`grade_trajectory`)."""
    answer = chosen.answer if chosen else None
    return SearchResult(
        problem_id=problem.id,
        strategy=strategy,
        n=n,
        params=params,
        answer=answer,
        correct=chosen is not None and grade_trajectory(problem, chosen.text, answer),
        reference=problem.answer,
        level=problem.level,
        trajectories=trajectories,
        compute=compute,
        question=problem.question,
        source=problem.meta.get("source"),
    )


@dataclass(frozen=True)
class Strategy:
    """A registered strategy and the facts callers need about it, so that no caller keeps its own list.

    kind: "pool" (an answer chosen from independent whole samples; one pool of N_max samples serves
    every N), "tree" (step-wise search scored by the PRM), "revision" (chains of attempts by a
    revision model), "routed" (compute-optimal: a router table picks another strategy per
    problem), or "single" (one generation whatever the budget).
    requires: the `ponder infer` options it cannot run without ("prm", "router", ...).
    params: the `ponder infer` options it takes as hyper-parameters (recorded in each result).
    """

    run: Callable[..., list[SearchResult]]  # (problems, n, ctx, **params) -> one result per problem
    kind: str
    requires: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    # (problems, budgets, ctx, **params) -> results at every budget from one shared search, for a
    # strategy whose smaller budgets are part of its larger one (revision chains); None: run per budget.
    run_many: Callable[..., list[SearchResult]] | None = None

    @property
    def needs_prm(self) -> bool:
        return "prm" in self.requires

    def budgets(self, budgets: list[int]) -> list[int]:
        """The budgets it runs at: a single generation runs once, at N = 1."""
        return [1] if self.kind == "single" else budgets


STRATEGIES: Registry[Strategy] = Registry("strategies")


def register(
    name: str,
    kind: str,
    requires: tuple[str, ...] = (),
    params: tuple[str, ...] = (),
    run_many: Callable[..., list[SearchResult]] | None = None,
):
    """Decorator: register a strategy function under `name` with its facts."""

    def add(fn):
        STRATEGIES.add(name, Strategy(fn, kind, requires, params, run_many))
        return fn

    return add
