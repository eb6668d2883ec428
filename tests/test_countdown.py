"""Countdown: the solver, the generator, drawn solutions, the oracle step checker and trajectory grading."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from statistics import mean

import pytest

from ponder.data import extract_boxed, split_steps
from ponder.data.countdown import (
    ABSENT,
    AFTER_END,
    ARITHMETIC,
    BOX,
    DEAD_END,
    LEVELS,
    NUMBERS_LEFT,
    UNPARSABLE,
    VALUE_MAX,
    check_steps,
    generate_problem,
    grade_trajectory,
    parse_question,
    question_space,
    questions,
    reachable,
    solutions,
    step_errors,
)
from ponder.data.splits import SPLITS, generate_split, small_levels, split_of, train_test_overlap
from ponder.data.worlds import WORLDS

Q = "3 7 25 50 -> 175"


def test_solver_on_hand_checked_cases():
    assert reachable([3, 7, 25, 50], 175)  # 25*7
    assert reachable([3, 7, 25, 50], 28) and not reachable([3, 7, 25, 50], 16)  # 25+3; see brute force
    assert not reachable([1, 2], 5)
    assert not reachable([2, 3, 7], 175)  # at most (2+3)*7... 42 is the largest value
    assert not reachable([7, 3], 2)  # 7-3=4, 7/3 is not exact
    assert reachable([8, 2], 4) and reachable([2, 2], 4) and not reachable([2], 4)
    assert reachable([4, 9], 4)  # one of the numbers counts
    assert not reachable([50, 25], 1250)  # over VALUE_MAX
    assert reachable([6, 5, 4], 26)  # 6*5=30, 30-4: needs the order of operations


def brute_force_reachable(numbers: list[int], target: int) -> bool:
    """Every sequence of combinations, tried one by one: the rules written out without the solver."""
    if target in numbers:
        return True
    for i, j in itertools.combinations(range(len(numbers)), 2):
        a, b = max(numbers[i], numbers[j]), min(numbers[i], numbers[j])
        rest = [n for k, n in enumerate(numbers) if k not in (i, j)]
        made = [a + b, a * b] + ([a - b] if a > b else []) + ([a // b] if a % b == 0 else [])
        if any(brute_force_reachable(rest + [m], target) for m in made if m <= VALUE_MAX):
            return True
    return False


def test_solver_agrees_with_brute_force():
    rng = random.Random(0)
    for _ in range(300):
        numbers = [rng.randint(1, 30) for _ in range(rng.randint(1, 4))]
        target = rng.randint(1, 300)
        assert reachable(numbers, target) == brute_force_reachable(numbers, target), (numbers, target)
    assert brute_force_reachable([3, 7, 25, 50], 28) and not brute_force_reachable([3, 7, 25, 50], 16)


def test_generation_is_deterministic_by_seed_and_questions_are_reachable():
    def draw(seed: int) -> list:
        return generate_split("countdown", "all", 3, seed)

    assert draw(3) == draw(3)
    assert [p.question for p in draw(3)] != [p.question for p in draw(4)]
    for problem in draw(5):
        numbers, target = parse_question(problem.question)
        spec = LEVELS[problem.level]
        assert numbers == sorted(numbers) == problem.meta["numbers"] and len(numbers) == spec.n_numbers
        assert all(1 <= n <= spec.number_max for n in numbers) and target not in numbers
        assert spec.target_min <= target <= spec.target_max and problem.answer == str(target)
        assert reachable(numbers, target)


# sha256 of the draws below, as the solver drew them when the shipped Countdown checkpoints were trained.
PINNED_DRAWS = "2e50e5c1d347d8b0f620d061901b24200a4a11beb830671156cef7b308ca015c"


def test_the_solver_may_get_faster_but_never_draw_differently():
    """A checkpoint's recipe rebuilds its training questions by drawing them again from its seed
    (`train_test_overlap`, a ladder's later stages), so any change to the solver or the generator
    must keep every draw byte-for-byte: problems of each level, and `solutions`' sampled paths."""
    digest = hashlib.sha256()
    for problem in generate_split("countdown", "train", 40, 0):
        digest.update(json.dumps(problem.to_dict(), sort_keys=True).encode())
    rng = random.Random(3)
    for problem in generate_split("countdown", "dev", 4, 5):
        digest.update("\n".join(solutions(problem, rng, 8)).encode())
    assert digest.hexdigest() == PINNED_DRAWS


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_drawn_solutions_are_distinct_and_all_good(level):
    rng = random.Random(level)
    problems = [generate_problem(level, rng, i) for i in range(8)]
    for problem in problems:
        drawn = solutions(problem, random.Random(0), 6)
        assert drawn == solutions(problem, random.Random(0), 6)
        assert 1 <= len(drawn) == len(set(drawn)) <= 6
        for text in [problem.solution, *drawn]:
            steps = split_steps(text)
            assert all(check_steps(problem.question, steps))
            assert grade_trajectory(problem.question, text) and WORLDS["countdown"].grade(
                problem.question, text
            )
            assert extract_boxed(text) == problem.answer
    # several paths per problem, not one canonical path
    assert mean(len(solutions(p, random.Random(1), 6)) for p in problems) > 1


def test_checker_marks_each_kind_of_bad_step_and_everything_after_it():
    finish = "150+25=175 (7 175)\n\\boxed{175}"
    assert check_steps(Q, ["50*3=150 (7 25 150)", finish]) == [True, True]
    assert check_steps(Q, ["25*7=175 (3 50 175)\n\\boxed{175}"]) == [True]
    assert check_steps(Q, ["7*25=175 (175 50 3)\n\\boxed{175}"]) == [True]  # b*a, numbers in any order
    bad_first_steps = {  # each with the reason step_errors gives
        "wrong arithmetic": ("50*3=160 (7 25 160)", ARITHMETIC),
        "a number not in the state": ("50*4=200 (3 7 25 200)", ABSENT),
        "inexact division": ("50/3=16 (7 16 25)", ARITHMETIC),
        "smaller minus larger": ("7-50=43 (3 25 43)", ARITHMETIC),
        "over VALUE_MAX": ("50*25=1250 (3 7 1250)", ARITHMETIC),
        "wrong numbers left": ("50*3=150 (7 25 151)", NUMBERS_LEFT),
        "a dead end (valid arithmetic)": ("50/25=2 (2 3 7)", DEAD_END),
        "not a step": ("I think 25*7 works", UNPARSABLE),
        "target reached but not boxed": ("25*7=175 (3 50 175)", BOX),
        "a box that is not the target": ("50*3=150 (7 25 150)\n\\boxed{150}", BOX),
    }
    for kind, (step, reason) in bad_first_steps.items():
        assert check_steps(Q, [step, finish]) == [False, False], kind
        assert step_errors(Q, [step, finish]) == [reason, AFTER_END], kind
    assert step_errors(Q, ["50*3=150 (7 25 150)", finish]) == [None, None]
    # a number used twice: 3 is gone after the first step
    assert check_steps(Q, ["50*3=150 (7 25 150)", "150+3=153 (7 25 153)", finish]) == [True, False, False]
    # a step after the target is reached
    assert check_steps(Q, ["25*7=175 (3 50 175)\n\\boxed{175}", "50-3=47 (47 175)"]) == [True, False]
    # a repeated number may be used as often as it appears
    assert check_steps("5 5 9 -> 90", ["5+5=10 (9 10)", "10*9=90 (90)\n\\boxed{90}"]) == [True, True]
    assert check_steps("5 9 -> 90", ["5+5=10 (9 10)"]) == [False]


def test_trajectory_grading():
    good = "50*3=150 (7 25 150)\n\n150+25=175 (7 175)\n\\boxed{175}"
    assert grade_trajectory(Q, good) and grade_trajectory(Q, split_steps(good))
    assert not grade_trajectory(Q, "50*3=150 (7 25 150)")  # good so far, but the target is not reached
    assert not grade_trajectory(Q, "")
    assert not grade_trajectory(Q, "50*3=160 (7 25 160)\n\n160+15=175 (7 175)\n\\boxed{175}")
    world, arithworld = WORLDS["countdown"], WORLDS["arithworld"]
    assert world.grade(Q, good) and not world.grade(Q, "\\boxed{175}")
    assert arithworld.grade is None  # math-verify on the final answer


def test_question_space_estimate_and_listing():
    listed = list(questions(1))
    assert len(listed) == len(set(listed)) and abs(question_space(1) / len(listed) - 1) < 0.15
    spec, rng, listed = LEVELS[1], random.Random(0), set(listed)
    for _ in range(300):  # the listing (value sets) agrees with the targeted solver
        numbers = sorted(rng.randint(1, spec.number_max) for _ in range(spec.n_numbers))
        target = rng.randint(spec.target_min, spec.target_max)
        expected = target not in numbers and reachable(numbers, target)
        assert (f"{' '.join(map(str, numbers))} -> {target}" in listed) == expected
    assert all(question_space(level) >= 10_000 for level in LEVELS) and small_levels("countdown") == []


def test_splits_hold_questions_out():
    by_split = {split: generate_split("countdown", split, 6, seed=0) for split in SPLITS}
    for split, problems in by_split.items():
        assert len(problems) == 6 * len(LEVELS) and all(split_of(p.question) == split for p in problems)
    test = [p.question for p in by_split["test"]]
    assert train_test_overlap(test, [p.question for p in by_split["train"] + by_split["dev"]]) == 0
    assert generate_split("countdown", "test", 6, seed=0) == by_split["test"]


def test_levels_get_harder():
    problems = generate_split("countdown", "all", 60, seed=0)
    by_level = {level: [p for p in problems if p.level == level] for level in LEVELS}
    numbers = [LEVELS[level].n_numbers for level in sorted(LEVELS)]
    steps = [mean(len(split_steps(p.solution)) for p in by_level[level]) for level in sorted(LEVELS)]
    length = [mean(len(p.solution) for p in by_level[level]) for level in sorted(LEVELS)]
    assert numbers == sorted(numbers) and steps == sorted(steps) and length == sorted(set(length))
    assert steps[-1] > steps[0] + 2


def test_ponder_data_world_writes_countdown_problems_that_keep_their_world(tmp_path):
    from ponder.data import load_problems
    from ponder.data.cli import WorldArguments, run
    from ponder.data.grading import grade_solutions

    path = run(
        WorldArguments(world="countdown", output=str(tmp_path / "cd.jsonl"), n_per_level=3, split="dev")
    )
    problems = load_problems(path)
    assert [p.level for p in problems] == [1, 2, 3, 4, 5] * 3
    assert {p.meta["source"] for p in problems} == {"countdown"} and {
        split_of(p.question) for p in problems
    } == {"dev"}
    # read back from the file, a problem is still graded as Countdown's: the whole trajectory
    assert all(grade_solutions([(p, p.solution) for p in problems]))
    assert not any(grade_solutions([(p, f"\\boxed{{{p.answer}}}") for p in problems]))
    with pytest.raises(ValueError, match="levels: unknown countdown level"):
        WorldArguments(world="countdown", levels=[6])


def test_the_shipped_countdown_policy_loads_and_solves_level_one_problems():
    """ponder/checkpoints/countdown-policy: the quickstart's Countdown start, trained on the train split."""
    from ponder.config import load_yaml
    from ponder.infer.backends.base import Sampling
    from ponder.infer.backends.hf import HFBackend
    from ponder.infer.prompts import build_prompt
    from ponder.models import SHIPPED_COUNTDOWN_POLICY

    recipe = load_yaml(SHIPPED_COUNTDOWN_POLICY / "recipe.yaml")
    commands = recipe.get("commands") or [recipe["command"]]  # a continued rung lists every stage
    assert recipe["splits"] and all("--dataset_split train" in command for command in commands)
    problems = generate_split("countdown", "test", 20, seed=1, levels=[1])
    backend = HFBackend(str(SHIPPED_COUNTDOWN_POLICY), device="cpu")
    prompts = [build_prompt(backend.tokenizer, p.question) for p in problems]
    completions = backend.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=160))
    solved = sum(grade_trajectory(p.question, c[0].text) for p, c in zip(problems, completions))
    assert 8 <= solved <= 19  # 78% greedy on level 1 of 200 test problems (docs/results.md); not all
