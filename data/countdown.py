"""Countdown: reach a target from a multiset of numbers with + - * /, a world where steps are choices.

ArithWorld fixes every step's operation in the question, so a wrong step is only a slip. Here a
step is a choice of two numbers and an operator, many choices are valid arithmetic that leaves the
target out of reach (a dead end), and whether it is still reachable is an exact value that the
solver decides: the small world for search with language models (Stream of Search, TinyZero).

Rules. Each number is used at most once (a subset may be left unused) and every value stays a
positive integer of at most three digits (VALUE_MAX): `a-b` only when a > b, `a/b` only when b
divides a, no result over 999. A question lists its numbers in ascending order (so that one
multiset is one question, and a split holds out all its orders) and its target, which is never
one of the numbers and always reachable::

    3 7 25 50 -> 175

A solution has one step per combination, in the blank-line-separated step format of MATH: the
operation with its result, then the numbers left afterwards (the new one among them, in ascending
order) so that the state is in the text. The step whose result is the target ends the solution
with `\\boxed{target}`::

    50-25=25 (3 7 25)

    25*7=175 (3 175)
    \\boxed{175}

A step writes its larger operand first; the checker also accepts `b+a` and `b*a`, and the numbers
left in any order. Training solutions are drawn from the solver (`solutions`): a random usable
subset of the numbers, a random expression over it that makes the target, and a random order of
its operations, so one problem has many valid paths rather than one canonical one.

`check_steps` is the oracle PRM: a step is good when it is valid (its numbers are available, its
arithmetic is right, it restates the numbers left) and the target is still reachable afterwards.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import combinations_with_replacement
from math import comb
from typing import NamedTuple

import numpy as np

from .answers import STEP_SEPARATOR, extract_boxed, split_steps
from .problem import Problem

OPERATORS = ("+", "-", "*", "/")
# Every value stays within three digits: a character-level model does not learn 4-digit products
# (the solver, unbounded, drew paths through 144*68=9792), and the solver's value sets stay small.
VALUE_MAX = 999


@dataclass(frozen=True)
class Level:
    """How one difficulty level draws its problems."""

    n_numbers: int
    number_max: int  # each number is drawn from 1..number_max
    target_min: int  # the target is drawn from target_min..target_max (and must be reachable)
    target_max: int


LEVELS: dict[int, Level] = {
    1: Level(n_numbers=3, number_max=20, target_min=1, target_max=50),
    2: Level(n_numbers=4, number_max=20, target_min=1, target_max=100),
    3: Level(n_numbers=4, number_max=50, target_min=50, target_max=500),
    4: Level(n_numbers=5, number_max=50, target_min=100, target_max=999),
    5: Level(n_numbers=6, number_max=100, target_min=100, target_max=999),
}


class Step(NamedTuple):
    """One combination: `left op right = result`."""

    left: int
    op: str
    right: int
    result: int


def apply(left: int, op: str, right: int) -> int | None:
    """`left op right` under the rules, or None where they forbid it (a non-positive difference,
    an inexact division, a value over VALUE_MAX)."""
    if op == "+":
        result = left + right
    elif op == "*":
        result = left * right
    elif op == "-":
        result = left - right if left > right else None
    elif op == "/":
        result = left // right if left % right == 0 else None
    else:
        raise ValueError(f"unknown operator {op!r}")
    return result if result is not None and result <= VALUE_MAX else None


def _combinations(a: int, b: int) -> Iterator[Step]:
    """Every step that combines a and b, larger operand first."""
    big, small = max(a, b), min(a, b)
    for op in OPERATORS:
        result = apply(big, op, small)
        if result is not None:
            yield Step(big, op, small, result)


# ---------------------------------------------------------------- solver
# Multisets are sorted tuples, so that every order of the same numbers shares one cache entry.


@cache
def _split_positions(n: int) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Every split of n positions into two non-empty parts, each pair once (the part holding
    position 0 first): what `_splits` maps onto the numbers, listed once per length."""
    return tuple(
        (
            tuple(i for i in range(n) if mask >> i & 1),
            tuple(i for i in range(n) if not mask >> i & 1),
        )
        for mask in range(1, (1 << n) - 1)
        if mask & 1
    )


# Bounded, like every cache below: a training set meets millions of multisets (unbounded, the caches
# of a 1,024,000-problem draw held 3.5 GB at its 14th percent), and one problem's working set is a
# few hundred.
@lru_cache(maxsize=1 << 16)
def _splits(numbers: tuple[int, ...]) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Every way to split `numbers` into two non-empty parts, each unordered pair once, the smaller
    part first (the solver iterates over the smaller part's values and looks up the larger's)."""
    found = set()
    for part_at, rest_at in _split_positions(len(numbers)):
        part = tuple([numbers[i] for i in part_at])
        rest = tuple([numbers[i] for i in rest_at])
        found.add((part, rest) if (len(part), part) <= (len(rest), rest) else (rest, part))
    return tuple(sorted(found))


@lru_cache(maxsize=1 << 12)
def _sub_multisets(numbers: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Every non-empty sub-multiset of `numbers`, each once."""
    n = len(numbers)
    return tuple(sorted({tuple(numbers[i] for i in range(n) if m >> i & 1) for m in range(1, 1 << n)}))


# Below this many pairs a Python loop beats numpy's per-call overhead; most pairs in a training
# set's draws are of a few values each (level 5's largest are about 150).
NUMPY_PAIRS = 48


def _pair_values(left: tuple[int, ...], right: tuple[int, ...]) -> list[int]:
    """Every result of one step that combines a value of `left` with a value of `right` (the rules
    of `apply`, for all pairs at once: the solver's inner loop, millions of pairs per training set)."""
    if len(left) * len(right) < NUMPY_PAIRS:
        results = []
        for a in left:
            for b in right:
                big, small = (a, b) if a > b else (b, a)
                results += (a + b, big - small, a * b, big // small if big % small == 0 else 0)
        return [r for r in results if 0 < r <= VALUE_MAX]
    a, b = np.array(left)[:, None], np.array(right)[None, :]
    big, small = np.maximum(a, b), np.minimum(a, b)
    results = np.concatenate(
        [
            (a + b).ravel(),
            (big - small).ravel(),
            (a * b).ravel(),
            np.where(big % small == 0, big // small, 0).ravel(),
        ]
    )
    return results[(results > 0) & (results <= VALUE_MAX)].tolist()


# Bounded: a value set of five numbers holds hundreds of values, and a training run meets
# millions of multisets. One problem's working set is a few hundred entries.
@lru_cache(maxsize=4096)
def _value_list(numbers: tuple[int, ...]) -> tuple[int, ...]:
    """Every value of an expression that uses each of `numbers` exactly once, ascending."""
    if len(numbers) == 1:
        return numbers
    made: set[int] = set()
    for part, rest in _splits(numbers):
        made.update(_pair_values(_value_list(part), _value_list(rest)))
    return tuple(sorted(made))


@lru_cache(maxsize=4096)
def _values(numbers: tuple[int, ...]) -> frozenset[int]:
    """`_value_list(numbers)` as a set, for membership tests."""
    return frozenset(_value_list(numbers))


def _partners(a: int, target: int) -> set[int]:
    """Every b such that one step combining a and b gives `target`: b = t-a (a+b), a-t (a-b),
    a+t (b-a), t/a (a*b), a/t (a/b), a*t (b/a), and non-positive candidates beside them, which no
    value set holds. The step's result is the target, so only the target itself must be within
    VALUE_MAX (`_derivations` checks it)."""
    candidates = {target - a, a - target, a + target, a * target}
    if target % a == 0:
        candidates.add(target // a)
    if a % target == 0:
        candidates.add(a // target)
    return candidates


def _derivations(
    numbers: tuple[int, ...], target: int
) -> Iterator[tuple[tuple[int, ...], int, tuple[int, ...], int]]:
    """Every (part, a, rest, b): a split of `numbers` whose parts make a and b, which combine to
    `target`, in ascending a and then b. Only the smaller part's values are listed, so the whole
    set's never is."""
    if target > VALUE_MAX:
        return
    for part, rest in _splits(numbers):
        rest_values = _values(rest)
        for a in _value_list(part):
            found = _partners(a, target) & rest_values
            for b in sorted(found):
                yield part, a, rest, b


# Bounded like `_value_list`; `draw_solution` asks again for the sub-multisets `reachable` just tried.
@lru_cache(maxsize=1 << 16)
def _makes(numbers: tuple[int, ...], target: int) -> bool:
    """Whether an expression that uses each of `numbers` exactly once gives `target`."""
    if len(numbers) == 1:
        return numbers[0] == target
    return next(_derivations(numbers, target), None) is not None


@lru_cache(maxsize=1 << 18)
def _reachable(numbers: tuple[int, ...], target: int) -> bool:
    return any(_makes(sub, target) for sub in _sub_multisets(numbers))


def reachable(numbers: list[int] | tuple[int, ...], target: int) -> bool:
    """Whether `target` can be made from `numbers`, each used at most once (one of them counts)."""
    return _reachable(tuple(sorted(numbers)), target)


def _draw_tree(
    numbers: tuple[int, ...], target: int, rng: random.Random, steps: list[tuple[Step, list[int]]]
) -> int | None:
    """Append to `steps` a random expression over all of `numbers` that gives `target` (which it
    must): each step with the indices of the steps that make its operands. Returns the index of
    its last step (None for a single number, which needs none)."""
    if len(numbers) == 1:
        return None
    part, a, rest, b = rng.choice(list(_derivations(numbers, target)))
    children = [_draw_tree(part, a, rng, steps), _draw_tree(rest, b, rng, steps)]
    steps.append(
        (next(s for s in _combinations(a, b) if s.result == target), [c for c in children if c is not None])
    )
    return len(steps) - 1


def _interleave(tree: list[tuple[Step, list[int]]], rng: random.Random) -> list[Step]:
    """The tree's steps in a random order that makes every operand before it is used; stops at
    the first step that gives the target (a subexpression may already)."""
    target, done, order = tree[-1][0].result, set(), []
    while True:
        index = rng.choice(
            [i for i, (_, children) in enumerate(tree) if i not in done and done.issuperset(children)]
        )
        done.add(index)
        order.append(tree[index][0])
        if order[-1].result == target:
            return order


def draw_solution(numbers: list[int], target: int, rng: random.Random) -> list[Step]:
    """One random solution path: a random subset of `numbers` that can make `target`, a random
    expression over it, a random order of its operations. `target` must be reachable."""
    usable = [sub for sub in _sub_multisets(tuple(sorted(numbers))) if len(sub) > 1 and _makes(sub, target)]
    if not usable:
        raise ValueError(f"{target} cannot be made from {numbers}")
    tree: list[tuple[Step, list[int]]] = []
    _draw_tree(rng.choice(usable), target, rng, tree)
    return _interleave(tree, rng)


def solutions(problem: Problem, rng: random.Random, k: int) -> list[str]:
    """Up to `k` distinct solution texts of `problem`, drawn from the solver (fewer where it has
    fewer paths, or where 4k draws find no more)."""
    numbers, target = parse_question(problem.question)
    found: dict[str, None] = {}
    for _ in range(4 * k):
        found.setdefault(format_solution(numbers, draw_solution(numbers, target, rng)))
        if len(found) == k:
            break
    return list(found)


# ---------------------------------------------------------------- text


def format_question(numbers: list[int], target: int) -> str:
    return f"{' '.join(map(str, sorted(numbers)))} -> {target}"


_QUESTION = re.compile(r"^(\d+(?: \d+)*) -> (\d+)$")


def parse_question(question: str) -> tuple[list[int], int]:
    """Inverse of `format_question`; raises ValueError on anything that is not a Countdown question."""
    match = _QUESTION.match(question.strip())
    if not match:
        raise ValueError(f"not a Countdown question: {question!r}")
    numbers, target = [int(n) for n in match[1].split()], int(match[2])
    if 0 in numbers or target == 0:  # every value is positive (and a 0 would divide)
        raise ValueError(f"not a Countdown question (a zero): {question!r}")
    return numbers, target


def format_solution(numbers: list[int], steps: list[Step]) -> str:
    """The text of `steps` applied to `numbers`: each step with the numbers left after it, the last
    (whose result is the target) boxed."""
    pool, texts = Counter(numbers), []
    for step in steps:
        pool -= Counter((step.left, step.right))
        pool[step.result] += 1
        left = " ".join(map(str, sorted(pool.elements())))
        texts.append(f"{step.left}{step.op}{step.right}={step.result} ({left})")
    texts[-1] += f"\n\\boxed{{{steps[-1].result}}}"
    return STEP_SEPARATOR.join(texts)


# ---------------------------------------------------------------- problems


SPACE_SAMPLES = 200  # (multiset, target) pairs that estimate_space draws per level


def question_space(level: int, at_most: int | None = None) -> int:
    """About how many distinct questions `level` can generate (at most `at_most`); see `estimate_space`."""
    space = estimate_space(level)
    return space if at_most is None else min(space, at_most)


@cache
def estimate_space(level: int) -> int:
    """About how many distinct questions `level` can generate: the multisets of its numbers times
    the targets in its range, times the share of SPACE_SAMPLES uniformly drawn (multiset, target) pairs
    that are questions. An estimate (level 5 has 1.6e9 multisets, too many to list), from
    a fixed seed, so the same on every run; `questions` lists a level exactly."""
    spec = LEVELS[level]
    rng = random.Random(level)
    multisets = comb(spec.number_max + spec.n_numbers - 1, spec.n_numbers)
    hits = 0
    for _ in range(SPACE_SAMPLES):
        # a uniform multiset: n sorted distinct draws from a range n-1 longer, less their position
        positions = sorted(rng.sample(range(spec.number_max + spec.n_numbers - 1), spec.n_numbers))
        numbers = [p - i + 1 for i, p in enumerate(positions)]
        target = rng.randint(spec.target_min, spec.target_max)
        hits += target not in numbers and reachable(numbers, target)
    return round(multisets * (spec.target_max - spec.target_min + 1) * hits / SPACE_SAMPLES)


def questions(level: int) -> Iterator[str]:
    """Every question of `level` (only sensible for a few thousand multisets: level 1)."""
    spec = LEVELS[level]
    for numbers in combinations_with_replacement(range(1, spec.number_max + 1), spec.n_numbers):
        made = set().union(*(_values(sub) for sub in _sub_multisets(numbers) if len(sub) > 1))
        for target in sorted(made):
            if spec.target_min <= target <= spec.target_max and target not in numbers:
                yield format_question(list(numbers), target)


def generate_problem(level: int, rng: random.Random, index: int = 0) -> Problem:
    """A problem of `level` with one solution drawn from the solver. Numbers and target are drawn
    together until the target is reachable and not one of the numbers."""
    spec = LEVELS[level]
    while True:
        numbers = sorted(rng.randint(1, spec.number_max) for _ in range(spec.n_numbers))
        target = rng.randint(spec.target_min, spec.target_max)
        if target not in numbers and reachable(numbers, target):
            break
    return Problem(
        id=f"countdown-L{level}-{index}",
        question=format_question(numbers, target),
        answer=str(target),
        solution=format_solution(numbers, draw_solution(numbers, target, rng)),
        level=level,
        meta={"source": "countdown", "numbers": numbers},
    )


# ---------------------------------------------------------------- checking

_STEP = re.compile(r"^(\d+)([-+*/])(\d+)=(\d+) \((\d+(?: \d+)*)\)$")


# Why a step is bad (`step_errors`), in the order they are checked.
UNPARSABLE, ABSENT, ARITHMETIC, NUMBERS_LEFT, BOX = (
    "unparsable",
    "absent number",
    "arithmetic",
    "numbers left",
    "box",
)
DEAD_END = "dead end"  # a valid step after which the target can no longer be made
AFTER_END = "after the end"  # any step after a bad one, or after the target was reached


def _after(step: str, pool: Counter, target: int) -> Counter | str:
    """The numbers left after `step`, or why the step is not valid from `pool`: it does not parse,
    uses a number that is not there, gets the arithmetic wrong, restates the numbers left wrongly,
    or boxes anything but a result that is the target (which it must box)."""
    lines = [line.strip() for line in step.strip().split("\n")]
    match = _STEP.match(lines[0])
    if match is None:
        return UNPARSABLE
    left, op, right, result = int(match[1]), match[2], int(match[3]), int(match[4])
    used = Counter((left, right))
    if used - pool:  # what the step uses that is not there
        return ABSENT
    if apply(left, op, right) != result:
        return ARITHMETIC
    after = pool - used
    after[result] += 1
    if Counter(int(n) for n in match[5].split()) != after:
        return NUMBERS_LEFT
    boxed = [f"\\boxed{{{target}}}"] if result == target else []
    return after if lines[1:] == boxed else BOX


def step_errors(question: str, steps: list[str]) -> list[str | None]:
    """What is wrong with each step (None: nothing): valid from the numbers left by the steps before
    it (see `_after`), and either reaching the target (boxed) or leaving it reachable (else a
    `DEAD_END`). Once a step is bad, or the target has been reached, every later step is
    `AFTER_END`. The reasons tell a policy's slips (arithmetic, restating) from its wrong choices
    (dead ends), which only search and a verifier can fix."""
    numbers, target = parse_question(question)
    pool: Counter | None = Counter(numbers)
    errors: list[str | None] = []
    for step in steps:
        if pool is None or target in pool:
            pool, error = None, AFTER_END
        else:
            after = _after(step, pool, target)
            if isinstance(after, str):
                pool, error = None, after
            elif target not in after and not reachable(list(after.elements()), target):
                pool, error = None, DEAD_END
            else:
                pool, error = after, None
        errors.append(error)
    return errors


def check_steps(question: str, steps: list[str]) -> list[bool]:
    """Exact goodness of each step (the oracle PRM): no `step_errors`."""
    return [error is None for error in step_errors(question, steps)]


def grade_trajectory(question: str, steps_or_text: str | list[str]) -> bool:
    """Whether a whole trajectory (its text, or its steps) solves `question`: every step good and
    the last one reaching the target."""
    steps = split_steps(steps_or_text) if isinstance(steps_or_text, str) else steps_or_text
    _, target = parse_question(question)
    return bool(steps) and all(check_steps(question, steps)) and extract_boxed(steps[-1]) == str(target)


_OPERATION = re.compile(r"^\s*(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(\d+)")


def answer_key(text: str) -> str | None:
    """What a vote counts a completion as: its solution, the operations it wrote, in any order.

    Every attempt boxes the target, so the boxed answer would put all of them in one group and a
    vote would say nothing; two attempts agree when they combine the same numbers the same way.
    `+` and `*` are written larger operand first (`7*25` is `25*7`), and the numbers a step says are
    left do not enter: two attempts with the same operations are one solution, right or wrong
    (grading checks the rest). None for an attempt that boxes nothing (it did not finish), as for
    any world. A step that is no operation enters as its text.
    """
    if extract_boxed(text) is None:
        return None
    operations = []
    for step in split_steps(text):
        match = _OPERATION.match(step)
        if match is None:
            operations.append(" ".join(step.split()))
            continue
        left, op, right, result = int(match[1]), match[2], int(match[3]), match[4]
        if op in "+*" and right > left:
            left, right = right, left
        operations.append(f"{left}{op}{right}={result}")
    return "; ".join(sorted(operations))
