"""A world that grades whole trajectories: Countdown's answer is in its question, so boxing the
target proves nothing, and what is graded is the trajectory a strategy chose, not its answer.

Strategies, evaluation and labelling reach the world only through the problem's source
(`ponder.data.grading.world_grader`); these tests run the real strategies on a scripted backend
and PRM, with ArithWorld and a plain dataset beside Countdown to show that their grading stays
on the final answer.
"""

from __future__ import annotations

import random

from helpers.scripted import ChatTokenizer, ScriptedBackend, ScriptedPRM

from ponder.data import Problem
from ponder.data.grading import answers_of, grade_solutions, grade_trajectories, grade_trajectory
from ponder.data.results import SearchResult, Trajectory
from ponder.infer.eval_search import pool_outcomes
from ponder.infer.strategies import STRATEGIES
from ponder.infer.strategies.base import SearchContext

QUESTION = "3 7 25 50 -> 175"
GOOD = "25*7=175 (3 50 175)\n\\boxed{175}"
# Both box the target; neither is a solution: the numbers left are wrong, and 25*8 uses an 8.
WRONG_STATE = "25*7=175 (3 50 170)\n\\boxed{175}"
NO_EIGHT = "25*8=175 (3 7 50 175)\n\\boxed{175}"


def countdown(question: str = QUESTION) -> Problem:
    return Problem(id=question, question=question, answer="175", meta={"source": "countdown"})


def test_a_world_grades_the_whole_trajectory_and_other_sources_the_answer():
    plain = Problem(id="q", question=QUESTION, answer="175")  # a file's problem: no world
    assert grade_solutions([(countdown(), GOOD), (countdown(), WRONG_STATE), (plain, WRONG_STATE)]) == [
        True,
        False,
        True,
    ]
    assert grade_trajectory(countdown(), GOOD, "175") and not grade_trajectory(countdown(), NO_EIGHT, "175")
    assert not grade_trajectory(countdown(), GOOD, None)  # no answer extracted: wrong, as everywhere
    trajectories = [Trajectory(steps=[t], answer="175") for t in (GOOD, NO_EIGHT)]
    assert grade_trajectories([(countdown(), t) for t in trajectories]) == [True, False]
    assert grade_trajectories([(plain, t) for t in trajectories]) == [True, True]


def scripted_search(problem: Problem, strategy: str) -> SearchResult:
    backend = ScriptedBackend({(problem.question, ()): [WRONG_STATE, GOOD, NO_EIGHT]})
    prm = ScriptedPRM({WRONG_STATE: 0.3, GOOD: 0.9, NO_EIGHT: 0.2})
    ctx = SearchContext(backend=backend, prm=prm, tokenizer=ChatTokenizer(), temperature=0.8)
    [row] = STRATEGIES[strategy].run([problem], 3, ctx)
    return row


def test_a_countdown_answer_is_its_solution_and_votes_count_equal_solutions():
    answers = answers_of(countdown())
    # every attempt boxes the target: the answer a vote counts is the operations, in any order
    assert answers.read(GOOD) == answers.read(WRONG_STATE) == "25*7=175"
    assert answers.read("50-25=25 (3 7 25)\n\n7*25=175 (3 175)\n\\boxed{175}") == "25*7=175; 50-25=25"
    assert answers.read("25*7=175 (3 50 175)") is None  # unfinished: no answer, no vote
    assert answers.group(["25*7=175", "25*8=175", "25*7=175"]) == [0, 1, 0]
    # a problem with no world reads the boxed answer and groups equivalent ones
    plain = answers_of(Problem(id="q", question="x", answer="0.5"))
    assert plain.read(GOOD) == "175" and plain.group(["\\frac{1}{2}", "0.5", "2"]) == [0, 0, 1]


def test_a_vote_grades_the_trajectory_it_chose():
    # Two samples write the solution 25*7 (one restates the numbers left wrongly), one 25*8: both
    # votes pick 25*7, majority its first sample, weighted best-of-N its best-scored one. Graded as
    # a whole, only the second is right.
    majority, weighted = (scripted_search(countdown(), s) for s in ("majority", "weighted_best_of_n"))
    assert majority.answer == weighted.answer == "25*7=175"
    assert not majority.correct and weighted.correct
    assert weighted.question == QUESTION and weighted.source == "countdown"
    # the same samples of a problem with no world: the answer decides, so both are right
    plain = Problem(id="q", question=QUESTION, answer="175")
    assert scripted_search(plain, "majority").correct and scripted_search(plain, "weighted_best_of_n").correct


def test_evaluation_grades_each_subset_choice_as_a_whole():
    rows = [scripted_search(countdown(), s) for s in ("majority", "weighted_best_of_n")]
    majority, weighted = (pool_outcomes([row], 30, random.Random(0)) for row in rows)
    assert majority.accuracy(3) == 0.0 and weighted.accuracy(3) == 1.0
    # N = 1: each subset is one sample, right one time in three
    assert 0.0 < weighted.accuracy(1) < 1.0


def test_distillation_keeps_a_right_countdown_trajectory_that_the_prm_scores_low() -> None:
    """A PRM's low score vetoes a right answer only where the grade looked at the answer alone (an
    ArithWorld chain whose slips cancel out); a Countdown grade has checked every step."""
    from ponder.data.arithworld import generate_problems
    from ponder.data.distill import DistillDataArguments, PromptGroup, distill

    arith = generate_problems(1, levels=[3], seed=2)[0]
    groups = [
        PromptGroup([], problem, [Trajectory(text.split("\n\n"), [0.1], answer, finish_reason="stop")])
        for problem, text, answer in ((countdown(), GOOD, "175"), (arith, arith.solution, arith.answer))
    ]
    args = DistillDataArguments(results=["unused"], min_score=0.5)
    sft, _, with_good = distill(groups, args)
    assert with_good == 1 and [row["problem_id"] for row in sft] == [groups[0].problem.id]
    sft, _, with_good = distill(groups, DistillDataArguments(results=["unused"], min_score=0.0))
    assert with_good == 2
