"""The interface every process reward model (PRM) implements, and the registry that names them.

A PRM scores each step of a partial or complete solution: `score(question, step_lists)` takes
one question and several candidate solutions (each a list of steps in ponder's format: steps
separated by a blank line, final answer in \\boxed{}) and returns, for each candidate, one score
in [0, 1] per step: the probability that the solution is still on a correct path after that step.
Adapters convert from ponder's step format to whatever layout a published PRM was trained on.

Scorers are chosen by name from `PRMS`; adding one is adding a module that calls `register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from ponder.data.problem import Problem
from ponder.data.worlds import WORLDS
from ponder.registry import Registry


class PRM(Protocol):
    num_parameters: int  # for FLOPs accounting; 0 for a PRM that is not a model

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        """Per-step scores in [0, 1] for each candidate solution of `question`."""
        ...


PRMS: Registry[Callable[..., PRM]] = Registry("prm")
# Class decorator: `@register("name")` makes a PRM constructible as `load_prm("name", model, ...)`.
register = PRMS.register


def load_prm(name: str, model=None, trust_remote_code: bool = False, **options) -> PRM:
    """The PRM registered as `name`. Every constructor takes the same first arguments: `model` (a
    folder, hub name or loaded model; for the oracle, the world whose step checker it reports) and
    the keyword `trust_remote_code`; `options` are a scorer's own keywords (a token-cls PRM's step
    separator, a model object's `tokenizer`, ...)."""
    return PRMS.get(name)(model, trust_remote_code=trust_remote_code, **options)


def prm_model_of(args, problems: Iterable[Problem] = ()) -> str | None:
    """`--prm_model`; for the oracle PRM left without one, the world whose step checker it reports:
    the command's `--world`, else the generated world its `--dataset` names, else the one world the
    `problems` come from (a file of generated problems keeps its world in each problem's source).
    None when none of these names one world: the oracle then fails, naming the worlds."""
    if args.prm_model or args.prm != "oracle":
        return args.prm_model
    if getattr(args, "world", None) or args.generated_world:
        return getattr(args, "world", None) or args.dataset
    worlds = {p.meta.get("source") for p in problems} & set(WORLDS)
    return worlds.pop() if len(worlds) == 1 else None
