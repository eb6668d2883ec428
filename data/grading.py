"""Grading a completion against a reference answer with math-verify, from any thread, in bounded time.

math-verify bounds its own time with signal.alarm, which works only in the main thread, and sympy
can spend unbounded time inside C code (`9^{9^{9^{9}}}`) where no Python-level timeout reaches.
So each parse+verify runs in a worker process that the caller kills when it overruns. Workers are
plain subprocesses speaking JSON lines over pipes rather than multiprocessing children: they start
clean (no fork of a threaded parent, no re-import of the caller's `__main__`, which may be a whole
training script) and are reused across calls, so a grade costs one pipe round trip plus the check.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .answers import extract_boxed
from .problem import Problem

if TYPE_CHECKING:  # results import this module's peers; only the type is needed here
    from .results import Trajectory

DEFAULT_TIMEOUT = 5.0
# A worker imports sympy and the LaTeX parser before it is ready; leave ample room for a machine
# that is busy training.
_STARTUP_TIMEOUT = 120.0
# Each worker holds its own copy of sympy in memory; more than this buys little for answer checking.
_MAX_WORKERS = 8

logger = logging.getLogger(__name__)


def grade(completion: str, reference: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether `completion` (a model output or worked solution) reaches the answer `reference`.

    The completion's answer is its last `\\boxed{}`, or one it announces ("the final answer is
    $x$"); a bare last number in the text is not taken as an answer. `reference` is a bare final
    answer such as `18` or `\\left( 3, \\frac{\\pi}{2} \\right)`. Equivalence is math-verify's:
    `0.5` = `\\frac{1}{2}`, `\\dfrac` = `\\frac`, intervals, tuples, sets, percentages.
    A check that takes longer than `timeout` seconds counts as wrong.
    """
    if _same_text(completion, reference):
        return True
    # math-verify's extraction looks for \boxed only; MATH also writes \fbox.
    return _POOL.grade(completion.replace("\\fbox{", "\\boxed{"), reference, timeout)


def grade_many(pairs: Iterable[tuple[str, str]], timeout: float = DEFAULT_TIMEOUT) -> list[bool]:
    """`grade` of every (completion, reference) pair, in order, keeping every worker busy."""
    with ThreadPoolExecutor(max_workers=_POOL.size) as executor:
        return list(executor.map(lambda pair: grade(*pair, timeout=timeout), pairs))


@dataclass(frozen=True)
class Answers:
    """How a problem's completions are read and compared for a vote.

    Where the final answer decides, a completion's answer is its last `\\boxed{}` and equivalent
    answers vote together (`group_answers`). A world whose answer is given in the question
    (Countdown's target) says what a completion's answer is instead (its `answer_key`: there, the
    solution itself), and answers vote together only when they are the same text.
    """

    read: Callable[[str], str | None]  # completion text -> its answer (None: no answer, no vote)
    group: Callable[[list[str]], list[int]]  # answers -> a group number each


def _world(problem: Problem):
    """The generated world `problem` comes from (its source), or None for any other source."""
    from .worlds import WORLDS  # worlds import their generators; grading workers need none of them

    source = problem.meta.get("source")
    return WORLDS.get(source) if source in WORLDS else None


def answers_of(problem: Problem) -> Answers:
    """How `problem`'s completions are read and grouped: by its world when the world says, else by
    the boxed answer."""
    world = _world(problem)
    if world is not None and world.answer_key is not None:
        return Answers(world.answer_key, same_text_groups)
    return Answers(extract_boxed, group_answers)


def same_text_groups(answers: list[str]) -> list[int]:
    """A group number per answer, equal answers sharing one, numbered in order of first appearance."""
    numbers: dict[str, int] = {}
    return [numbers.setdefault(answer, len(numbers)) for answer in answers]


def world_grader(problem: Problem) -> Callable[[str, str], bool] | None:
    """How `problem`'s world grades a whole trajectory ((question, text) -> correct), or None where
    the final answer decides. A Countdown answer is only right when every step is: the boxed target
    says nothing about whether the numbers were used once and the arithmetic was right."""
    world = _world(problem)
    return world.grade if world is not None else None


def grade_solutions(pairs: Iterable[tuple[Problem, str]], timeout: float = DEFAULT_TIMEOUT) -> list[bool]:
    """Whether each completion solves its problem: by the problem's world when the world grades whole
    trajectories (`world_grader`), else `grade` of the completion against `problem.answer`."""

    def solves(pair: tuple[Problem, str]) -> bool:
        problem, completion = pair
        check = world_grader(problem)
        return check(problem.question, completion) if check else grade(completion, problem.answer, timeout)

    with ThreadPoolExecutor(max_workers=_POOL.size) as executor:
        return list(executor.map(solves, pairs))


def grade_trajectory(problem: Problem, text: str, answer: str | None) -> bool:
    """Whether a chosen trajectory (its text and the final answer extracted from it) solves `problem`.

    A trajectory with no final answer is wrong. Where the final answer decides, the answer alone is
    graded, remembered per (answer, reference): the answers a vote chooses repeat across subsets and
    budgets. A world that grades whole trajectories is asked about the text.
    """
    if answer is None:
        return False
    check = world_grader(problem)
    return check(problem.question, text) if check else _grade_answer(answer, problem.answer)


def grade_trajectories(pairs: Iterable[tuple[Problem, Trajectory]]) -> list[bool]:
    """`grade_trajectory` of every (problem, trajectory), in order, keeping every worker busy."""
    with ThreadPoolExecutor(max_workers=_POOL.size) as executor:
        return list(executor.map(lambda pair: grade_trajectory(pair[0], pair[1].text, pair[1].answer), pairs))


@functools.lru_cache(maxsize=1 << 16)
def _grade_answer(answer: str, reference: str) -> bool:
    return grade(f"\\boxed{{{answer}}}", reference)


# A plain decimal number: two of them are compared as numbers, without asking math-verify.
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@functools.lru_cache(maxsize=1 << 16)
def equivalent(answer: str, other: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether two final answers (the contents of their boxes) are the same answer by math-verify:
    `\\frac{1}{2}`, `\\dfrac{1}{2}` and `0.5` are one. Cached, and bounded in time like `grade`."""
    if "".join(answer.split()) == "".join(other.split()):
        return True
    if _NUMBER.fullmatch(answer.strip()) and _NUMBER.fullmatch(other.strip()):
        return float(answer) == float(other)
    return grade(f"\\boxed{{{answer}}}", other, timeout)


def group_answers(answers: list[str]) -> list[int]:
    """A group number per answer: equivalent answers share one, numbered in order of first appearance.

    What votes count by, so that equivalent answers written differently add up instead of splitting
    the vote (search-and-learn groups by a canonical form for the same reason).
    """
    representatives: list[str] = []
    groups = []
    for answer in answers:
        found = next((k for k, rep in enumerate(representatives) if equivalent(rep, answer)), None)
        if found is None:
            representatives.append(answer)
            found = len(representatives) - 1
        groups.append(found)
    return groups


def _same_text(completion: str, reference: str) -> bool:
    """The boxed answer is the reference up to whitespace: no need to ask math-verify."""
    answer = extract_boxed(completion)
    return answer is not None and "".join(answer.split()) == "".join(reference.split())


class _Worker:
    """One grading subprocess: a request is a JSON line, the reply is `1` or `0`."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from ponder.data.grading import _serve; _serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Out of the terminal's process group, so Ctrl-C stops the caller, not its graders;
            # they exit on their own when the caller's pipes close.
            start_new_session=True,
        )
        if self._read_line(_STARTUP_TIMEOUT) != b"ready":
            self.close()
            raise RuntimeError(
                f"a grading worker failed to start (exit code {self.process.returncode}); its error is above"
            )

    def grade(self, completion: str, reference: str, timeout: float) -> bool | None:
        """The verdict, or None when the check overran `timeout` or the worker died."""
        try:
            self.process.stdin.write(json.dumps([completion, reference, timeout]).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return None
        reply = self._read_line(timeout)
        return None if reply is None else reply == b"1"

    def _read_line(self, timeout: float) -> bytes | None:
        """The next reply line, or None after `timeout` seconds or at end of file."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else b""
        return line.strip() if line else None

    def close(self) -> None:
        """Kill the process and release its pipes."""
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):  # a dead reader leaves a broken pipe to close
                pipe.close()


class _WorkerPool:
    """Up to `size` workers, started on first need and reused; a worker that overruns is replaced."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def grade(self, completion: str, reference: str, timeout: float) -> bool:
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            worker = worker or _Worker()
            verdict = worker.grade(completion, reference, timeout)
            if verdict is None:
                worker.close()
                logger.warning(
                    "grading took over %.1f s or crashed its worker; counted as wrong (reference %r)",
                    timeout,
                    reference[:80],
                )
                return False
            with self._lock:
                self._idle.append(worker)
            return verdict


_POOL = _WorkerPool(size=min(_MAX_WORKERS, os.cpu_count() or 1))


def _serve() -> None:
    """A worker's loop: grade one request at a time from stdin until the parent closes it.

    The parent's pipes close when it exits, so an idle worker never outlives it.
    """
    # Replies go on a private copy of stdout, so that anything a library prints (to stdout)
    # lands on stderr instead of corrupting the protocol.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)

    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    # The parent enforces the time limit, so math-verify's notice that its own is off is noise.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    # Boxed answers first (the last box wins), else an announced one; never an arbitrary number.
    answer_config = [
        LatexExtractionConfig(boxed_match_priority=0, try_extract_without_anchor=False),
        ExprExtractionConfig(try_extract_without_anchor=False),
    ]
    reference_config = [LatexExtractionConfig(), ExprExtractionConfig()]

    replies.write(b"ready\n")
    replies.flush()
    for line in sys.stdin.buffer:
        completion, reference, timeout = json.loads(line)
        # A backstop for when the parent is gone and cannot kill an overrunning check:
        # SIGALRM's default action ends the process even inside C code.
        signal.alarm(math.ceil(timeout) + 1)
        gold = parse(f"\\boxed{{{reference}}}", reference_config, parsing_timeout=None)
        answer = parse(completion, answer_config, parsing_timeout=None)
        verdict = verify(gold, answer, timeout_seconds=None)
        signal.alarm(0)
        replies.write(b"1\n" if verdict else b"0\n")
        replies.flush()
