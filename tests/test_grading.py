"""Grading on real MATH-500 answers, hand-picked equivalences, and bounded time from threads."""

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ponder.data import Problem, grade, grade_many, grading, load_problems


@pytest.fixture(scope="module")
def math500(shared_data: Path) -> list[Problem]:
    return load_problems(shared_data / "math500" / "test.jsonl")


def _squash(text: str) -> str:
    return "".join(text.split())


def _answer_derangement(answers: list[str], seed: int = 0) -> list[int]:
    """A permutation giving every problem another problem's answer that differs as text.

    Many MATH-500 problems share an answer (several are `3`); handing one of them another's `3`
    is a correct answer, not a false positive, so those pairings are swapped away.
    """
    rng = random.Random(seed)
    order = list(range(len(answers)))
    rng.shuffle(order)

    def clashes(i: int, j: int) -> bool:
        return _squash(answers[i]) == _squash(answers[order[j]])

    for i in range(len(order)):
        while clashes(i, i):
            j = rng.randrange(len(order))
            order[i], order[j] = order[j], order[i]
            if clashes(i, i) or clashes(j, j):
                order[i], order[j] = order[j], order[i]
    return order


def test_math500_reference_solutions_agree_with_their_answers(
    math500: list[Problem], record_property
) -> None:
    start = time.perf_counter()
    verdicts = grade_many([(p.solution, p.answer) for p in math500])
    seconds = time.perf_counter() - start
    agree = sum(verdicts) / len(verdicts)
    record_property("math500_correct_agreement", agree)
    print(f"MATH-500 solutions vs their answers: {sum(verdicts)}/{len(verdicts)} agree in {seconds:.1f} s")
    assert agree >= 0.99, [p.id for p, ok in zip(math500, verdicts) if not ok]


def test_math500_answers_verify_without_the_text_shortcut(math500: list[Problem]) -> None:
    # Every boxed MATH-500 answer equals its reference as text, so `grade` never reaches
    # math-verify here; the worker pool is asked directly to show it parses real answers too.
    verdicts = [grading._POOL.grade(p.solution, p.answer, grading.DEFAULT_TIMEOUT) for p in math500]
    print(f"MATH-500 solutions vs their answers, math-verify alone: {sum(verdicts)}/{len(verdicts)} agree")
    assert sum(verdicts) / len(verdicts) >= 0.99


def test_math500_shuffled_answers_disagree(math500: list[Problem], record_property) -> None:
    order = _answer_derangement([p.answer for p in math500])
    pairs = [(p.solution, math500[j].answer) for p, j in zip(math500, order)]
    start = time.perf_counter()
    verdicts = grade_many(pairs)
    seconds = time.perf_counter() - start
    agree = sum(verdicts) / len(verdicts)
    record_property("math500_shuffled_agreement", agree)
    print(
        f"MATH-500 solutions vs other problems' answers: {sum(verdicts)}/{len(verdicts)} agree "
        f"in {seconds:.1f} s"
    )
    assert agree <= 0.01, [(p.answer, r) for (s, r), p, ok in zip(pairs, math500, verdicts) if ok]


@pytest.mark.parametrize(
    ("completion", "reference", "expected"),
    [
        (r"$\boxed{0.5}$", r"\frac{1}{2}", True),
        (r"\fbox{0.5}", r"\frac12", True),
        (r"\boxed{\dfrac{3}{4}}", r"\frac34", True),
        (r"\boxed{\frac{3}{4}}", "0.7", False),
        (r"\boxed{10\%}", "10", True),
        (r"\boxed{90^\circ}", "90", True),
        (r"\boxed{\$18.00}", "18", True),
        (r"\boxed{1,000}", "1000", True),
        (r"\boxed{025}", "25", True),
        (r"\boxed{(-\infty, 3]}", r"\left(-\infty, 3\right]", True),
        (r"\boxed{(-\infty, 3)}", r"(-\infty, 3]", False),
        (r"\boxed{(3, \pi/2)}", r"\left( 3, \frac{\pi}{2} \right)", True),
        (r"\boxed{(2, 1)}", "(1, 2)", False),
        (r"\boxed{2, 1}", "1, 2", True),
        (r"\boxed{\begin{pmatrix} 2 \\ 1 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", False),
        (r"\boxed{3 \sqrt{2}}", r"\sqrt{18}", True),
        (r"\boxed{1.414}", r"\sqrt{2}", False),
        (r"\boxed{2(x+1)}", "2x+2", True),
        (r"\boxed{x=3}", "3", True),
        (r"\boxed{\text{(C)}}", "C", True),
        (r"\boxed{\text{Monday}}", r"\text{Tuesday}", False),
        (r"\boxed{-2}", "2", False),
        ("The final answer is $18$.", "18", True),
        ("I counted 18 apples.", "18", False),  # a stray number is not an answer
        ("At first \\boxed{3}.\n\nNo: the answer is \\boxed{5}.", "3", False),
    ],
)
def test_equivalences(completion: str, reference: str, expected: bool) -> None:
    assert grade(completion, reference) is expected


def test_a_pathological_answer_is_wrong_within_the_timeout() -> None:
    grade(r"\boxed{1}", "2")  # start a worker, so the bound below is the check's alone
    start = time.perf_counter()
    # sympy would try to compute this integer exactly, in C, forever.
    assert grade(r"\boxed{9^{9^{9^{9^{9}}}}}", "1", timeout=2.0) is False
    assert time.perf_counter() - start < 4.0
    assert grade(r"\boxed{\frac{1}{2}}", "0.5") is True  # the killed worker was replaced


def test_grade_from_threads() -> None:
    cases = [(r"\boxed{0.5}", r"\frac{1}{2}", True), (r"\boxed{0.4}", r"\frac{1}{2}", False)] * 6
    cases.append((r"\boxed{9^{9^{9^{9^{9}}}}}", "1", False))
    with ThreadPoolExecutor(max_workers=4) as executor:
        verdicts = list(executor.map(lambda case: grade(case[0], case[1], timeout=2.0), cases))
    assert verdicts == [expected for _, _, expected in cases]
