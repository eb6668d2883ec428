"""Compute-optimal search: predict each problem's difficulty bin, then run what the router says.

One function, four registered names that differ by two parameters:

    compute_optimal               bins from the difficulty predictor, every problem gets budget N
    compute_optimal_uneven        predicted bins, N is the *average* budget spread unevenly over bins
    compute_optimal_oracle        bins from a difficulty file (pass rates: the oracle of Snell et al.)
    compute_optimal_oracle_uneven oracle bins, uneven budgets

The predictor reads the question alone, so routing costs no policy generation. Problems that the
router sends the same way run together in one call of the chosen strategy; each result keeps the
bin and the choice in its `params`, and reports the budget N it was asked for. A choice that was
already searched for a problem (`ponder infer --reuse_results`: the fixed strategies' runs on the
same split) is read from there instead: routing then only decides which search answers.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from dataclasses import dataclass, replace

from ponder.data import Problem
from ponder.data.results import SearchResult, search_key
from ponder.errors import ConfigError

from ..router import RouterTable
from .base import STRATEGIES, SearchContext, register


@dataclass
class Router:
    """A fitted table and where bins come from: a predictor, a difficulty file, or both."""

    table: RouterTable
    predictor: object | None = None  # ponder.infer.difficulty.DifficultyPredictor
    oracle_bins: dict[str, int] | None = None

    def bins(self, problems: list[Problem], oracle: bool) -> list[int]:
        if oracle:
            if self.oracle_bins is None:
                raise ConfigError(
                    "difficulty_labels: the oracle compute-optimal strategies need a difficulty file"
                )
            missing = [p.id for p in problems if p.id not in self.oracle_bins]
            if missing:
                raise ConfigError(f"difficulty_labels: no bin for problem {missing[0]}")
            return [self.oracle_bins[p.id] for p in problems]
        if self.predictor is None:
            raise ConfigError(
                "difficulty_model: the predicted compute-optimal strategies need a difficulty predictor"
            )
        return self.predictor.predict([p.question for p in problems])


def compute_optimal(
    problems: list[Problem], n: int, ctx: SearchContext, oracle: bool, uneven: bool, name: str
) -> list[SearchResult]:
    if ctx.router is None:
        raise ConfigError("router: compute-optimal strategies need a router table (`ponder fit-router`)")
    bins = ctx.router.bins(problems, oracle)
    choices = [ctx.router.table.choose(b, n, uneven) for b in bins]
    out: list[SearchResult | None] = [None] * len(problems)

    def record(i: int, row: SearchResult) -> None:
        choice = choices[i]
        out[i] = replace(
            row,
            strategy=name,
            n=n,
            params={"bin": bins[i], "strategy": choice.strategy, "n": choice.n, **choice.params},
        )

    groups: dict[str, list[int]] = defaultdict(list)
    for i, choice in enumerate(choices):
        searched = ctx.reuse.get(search_key(problems[i].id, choice.strategy, choice.n, choice.params))
        if searched is not None:
            record(i, searched)
        else:
            groups[choice.key()].append(i)
    for indices in groups.values():
        choice = choices[indices[0]]
        run = STRATEGIES[choice.strategy].run
        accepted = inspect.signature(run).parameters
        kwargs = {k: v for k, v in choice.params.items() if k in accepted}
        sub_ctx = replace(ctx, aggregation=choice.params.get("aggregation", ctx.aggregation))
        for i, row in zip(indices, run([problems[i] for i in indices], choice.n, sub_ctx, **kwargs)):
            record(i, row)
    return out


def _register(oracle: bool, uneven: bool) -> None:
    name = "compute_optimal" + ("_oracle" if oracle else "") + ("_uneven" if uneven else "")

    def run(problems: list[Problem], n: int, ctx: SearchContext) -> list[SearchResult]:
        return compute_optimal(problems, n, ctx, oracle, uneven, name)

    run.__name__ = name
    bins, budgets = "oracle" if oracle else "predicted", "uneven" if uneven else "even"
    run.__doc__ = f"Compute-optimal search ({bins} bins, {budgets} budgets)."
    # Oracle bins come from a difficulty file, predicted ones from the predictor.
    requires = ("router", "difficulty_labels" if oracle else "difficulty_model")
    register(name, kind="routed", requires=requires)(run)


for _oracle in (False, True):
    for _uneven in (False, True):
        _register(_oracle, _uneven)
