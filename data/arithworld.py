"""ArithWorld: a generated multi-step arithmetic world small enough to learn on a laptop CPU.

A question is a start value followed by operations applied left to right, written compactly
(`47 +38 *3 -19`) because a character-level model learns short inputs far faster than worded
ones. The solution has one step per operation, in the same blank-line-separated step format as
MATH, and the last step ends with `\\boxed{answer}`::

    47+38=85

    85*3=255

    255-19=236
    \\boxed{236}

Five levels raise the number of operations, the operand sizes and the operator mix together, so
that a tiny policy is reliable on level 1 and mostly wrong on level 5, while sampling still finds
correct chains there: the room that test-time search needs. Levels 1 and 2 hold only 126 and 5,343
distinct questions (`question_space`), too few to hold questions out: `ponder.data.splits` reports
them apart and says why they are not widened yet.

`check_steps` verifies each step exactly against the question (operator, operands, chaining,
arithmetic), which is the oracle PRM that learned PRMs are measured against.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from .answers import STEP_SEPARATOR, extract_boxed
from .problem import Problem

OPERATORS = ("+", "-", "*")


@dataclass(frozen=True)
class Level:
    """How one difficulty level draws its problems."""

    n_ops: int
    start_max: int  # the start value is drawn from 1..start_max
    operand_max: int  # + and - operands from 1..operand_max
    mul_max: int  # * operands from 2..mul_max; 0 disables multiplication
    value_max: int  # every intermediate value stays within 0..value_max


LEVELS: dict[int, Level] = {
    1: Level(n_ops=1, start_max=9, operand_max=9, mul_max=0, value_max=99),
    2: Level(n_ops=2, start_max=20, operand_max=9, mul_max=0, value_max=99),
    3: Level(n_ops=3, start_max=50, operand_max=20, mul_max=5, value_max=299),
    4: Level(n_ops=4, start_max=99, operand_max=50, mul_max=9, value_max=699),
    5: Level(n_ops=6, start_max=99, operand_max=99, mul_max=9, value_max=999),
}


def apply(value: int, op: str, operand: int) -> int:
    if op == "+":
        return value + operand
    if op == "-":
        return value - operand
    if op == "*":
        return value * operand
    raise ValueError(f"unknown operator {op!r}")


def _operations(level: Level) -> list[tuple[str, int]]:
    """Every (operator, operand) a level may draw, before the value range is checked."""
    additive = [(op, n) for op in "+-" for n in range(1, level.operand_max + 1)]
    return additive + [("*", n) for n in range(2, level.mul_max + 1)]


def question_space(level: int, table: Mapping[int, Level] = LEVELS, at_most: int | None = None) -> int:
    """How many distinct questions `level` of `table` can generate, counted exactly (with
    `at_most`: the count, or `at_most` once the count is known to reach it)."""
    return count_questions(table[level], at_most)


@cache
def count_questions(spec: Level, at_most: int | None = None) -> int:
    """How many distinct questions one level's spec can generate.

    A question is its start value and operations, and distinct sequences are distinct texts, so
    this counts the sequences whose every intermediate value stays within 0..value_max: a count of
    ways to reach each value after each operation, not a listing (level 5 has about 3e15).

    The exact count costs values x operations per step: minutes to hours for 5-digit values. Deciding
    whether a level is small (`ponder.data.splits.small_levels`) only needs to know that it reaches
    `at_most`, and once the sequences counted so far within a step reach it the answer is settled:
    every value in 0..value_max can take +1 or -1, so each sequence of one step extends to at least
    one of the next, and the final count is at least any step's.
    """
    extends = spec.operand_max >= 1 and spec.value_max >= 1 and spec.start_max <= spec.value_max
    ways = dict.fromkeys(range(1, spec.start_max + 1), 1)
    for _ in range(spec.n_ops):
        after: dict[int, int] = {}
        reached = 0
        for value, count in ways.items():
            for op, operand in _operations(spec):
                result = apply(value, op, operand)
                if 0 <= result <= spec.value_max:
                    after[result] = after.get(result, 0) + count
                    reached += count
            if at_most is not None and extends and reached >= at_most:
                return at_most
        ways = after
    total = sum(ways.values())
    return total if at_most is None else min(total, at_most)


def questions(level: int, table: Mapping[int, Level] = LEVELS) -> Iterator[str]:
    """Every question of `level` (only sensible where `question_space(level)` is small)."""
    spec = table[level]

    def extend(value: int, operations: list[tuple[str, int]]) -> Iterator[list[tuple[str, int]]]:
        if len(operations) == spec.n_ops:
            yield operations
            return
        for op, operand in _operations(spec):
            result = apply(value, op, operand)
            if 0 <= result <= spec.value_max:
                yield from extend(result, operations + [(op, operand)])

    for start in range(1, spec.start_max + 1):
        for operations in extend(start, []):
            yield format_question(start, operations)


def _draw_operation(rng: random.Random, level: Level, value: int) -> tuple[str, int]:
    """Draw an operation whose result stays within 0..value_max (redraw until it does)."""
    ops = [op for op in OPERATORS if op != "*" or level.mul_max >= 2]
    while True:
        op = rng.choice(ops)
        operand = rng.randint(2, level.mul_max) if op == "*" else rng.randint(1, level.operand_max)
        if 0 <= apply(value, op, operand) <= level.value_max:
            return op, operand


def format_question(start: int, operations: list[tuple[str, int]]) -> str:
    return " ".join([str(start)] + [f"{op}{operand}" for op, operand in operations])


def parse_question(question: str) -> tuple[int, list[tuple[str, int]]]:
    """Inverse of `format_question`; raises ValueError on anything that is not an ArithWorld question."""
    tokens = question.split()
    if not tokens or not tokens[0].isdigit():
        raise ValueError(f"not an ArithWorld question: {question!r}")
    operations = []
    for token in tokens[1:]:
        if len(token) < 2 or token[0] not in OPERATORS or not token[1:].isdigit():
            raise ValueError(f"not an ArithWorld question: {question!r}")
        operations.append((token[0], int(token[1:])))
    return int(tokens[0]), operations


def solve(start: int, operations: list[tuple[str, int]]) -> tuple[list[str], int]:
    """The reference solution as a list of steps, and the final value."""
    steps, value = [], start
    for op, operand in operations:
        result = apply(value, op, operand)
        steps.append(f"{value}{op}{operand}={result}")
        value = result
    steps[-1] += f"\n\\boxed{{{value}}}"
    return steps, value


def generate_problem(
    level: int, rng: random.Random, index: int = 0, table: Mapping[int, Level] = LEVELS
) -> Problem:
    spec = table[level]
    start = rng.randint(1, spec.start_max)
    operations, value = [], start
    for _ in range(spec.n_ops):
        op, operand = _draw_operation(rng, spec, value)
        operations.append((op, operand))
        value = apply(value, op, operand)
    steps, answer = solve(start, operations)
    return Problem(
        id=f"arithworld-L{level}-{index}",
        question=format_question(start, operations),
        answer=str(answer),
        solution=STEP_SEPARATOR.join(steps),
        level=level,
        meta={"source": "arithworld"},
    )


def generate_problems(
    n_per_level: int, levels: list[int] | None = None, seed: int = 0, table: Mapping[int, Level] = LEVELS
) -> list[Problem]:
    """`n_per_level` problems for each level, deterministic in `seed` (levels interleaved)."""
    levels = levels or sorted(table)
    unknown = [level for level in levels if level not in table]
    if unknown:
        raise ValueError(f"unknown ArithWorld level(s) {unknown}; expected values in {sorted(table)}")
    rng = random.Random(seed)
    return [generate_problem(level, rng, index, table) for index in range(n_per_level) for level in levels]


_STEP = re.compile(r"^(\d+)([+\-*])(\d+)=(\d+)$")


def check_steps(question: str, steps: list[str]) -> list[bool]:
    """Exact correctness of each step against the question.

    Step i is correct when it applies the question's i-th operator and operand to the previous
    step's result (the start value for i = 0) and gets the arithmetic right; once a step is wrong
    every later step is wrong too, since the chain no longer computes the question. A step past
    the last operation is wrong. The final step must box the final value; an earlier box is wrong.
    """
    start, operations = parse_question(question)
    verdicts, value, chain_ok = [], start, True
    for i, step in enumerate(steps):
        lines = step.strip().split("\n")
        boxed = extract_boxed(step)
        is_last_op = i == len(operations) - 1
        expected_lines = 2 if is_last_op else 1
        match = _STEP.match(lines[0].strip()) if lines else None
        ok = chain_ok and i < len(operations) and match is not None and len(lines) == expected_lines
        if ok:
            a, op, b, c = int(match[1]), match[2], int(match[3]), int(match[4])
            ok = (a, op, b) == (value, *operations[i]) and c == apply(a, op, b)
            value = c
            if is_last_op:
                ok = ok and boxed == str(c) and lines[1].strip() == f"\\boxed{{{c}}}"
        chain_ok = ok
        verdicts.append(ok)
    return verdicts


def is_correct(question: str, completion: str) -> bool:
    """A whole solution is correct when it has one correct step per operation and nothing more."""
    steps = [s for s in completion.split(STEP_SEPARATOR) if s.strip()]
    _, operations = parse_question(question)
    return len(steps) == len(operations) and all(check_steps(question, steps))
