import random

import pytest
from transformers import AutoTokenizer

from ponder.data import extract_boxed, grade, split_steps
from ponder.data.answers import STEP_SEPARATOR
from ponder.data.arithworld import (
    LEVELS,
    Level,
    check_steps,
    generate_problem,
    generate_problems,
    is_correct,
    parse_question,
    question_space,
)
from ponder.data.chartok import build_char_tokenizer
from ponder.data.splits import small_levels
from ponder.data.worlds import WORLDS, arithworld_of


def test_generation_is_deterministic_by_seed():
    a = generate_problems(20, seed=3)
    assert a == generate_problems(20, seed=3)
    assert [p.question for p in a] != [p.question for p in generate_problems(20, seed=4)]


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_levels_follow_their_spec_and_solutions_check(level):
    spec = LEVELS[level]
    for problem in generate_problems(200, levels=[level], seed=level):
        start, operations = parse_question(problem.question)
        assert len(operations) == spec.n_ops and 1 <= start <= spec.start_max
        steps = split_steps(problem.solution)
        assert len(steps) == spec.n_ops
        assert all(check_steps(problem.question, steps))
        assert is_correct(problem.question, problem.solution)
        assert extract_boxed(problem.solution) == problem.answer
        values = [int(step.split("\n")[0].split("=")[1]) for step in steps]
        assert all(0 <= v <= spec.value_max for v in values)
        if spec.mul_max == 0:
            assert all(op != "*" for op, _ in operations)


def test_levels_get_harder():
    problems = generate_problems(300, seed=0)
    mean_len = {lv: sum(len(p.solution) for p in problems if p.level == lv) / 300 for lv in LEVELS}
    assert all(mean_len[lv] < mean_len[lv + 1] for lv in range(1, 5))


def test_checker_verifies_operator_operands_and_chaining_not_only_arithmetic():
    q = "47 +38 *3 -19"
    good = ["47+38=85", "85*3=255", "255-19=236\n\\boxed{236}"]
    assert check_steps(q, good) == [True, True, True]
    # right arithmetic, wrong operand copied from the question: wrong, and so is all that follows
    assert check_steps(q, ["47+37=84", "84*3=252", "252-19=233\n\\boxed{233}"]) == [False, False, False]
    # right arithmetic, wrong operator
    assert check_steps(q, ["47+38=85", "85+3=88", "88-19=69\n\\boxed{69}"]) == [True, False, False]
    # broken chaining: step 2 does not start from step 1's result
    assert check_steps(q, ["47+38=85", "86*3=258", "258-19=239\n\\boxed{239}"]) == [True, False, False]
    # arithmetic slip
    assert check_steps(q, ["47+38=85", "85*3=245", "245-19=226\n\\boxed{226}"]) == [True, False, False]
    # box missing, box in the wrong place, box disagreeing, an extra step
    assert check_steps(q, ["47+38=85", "85*3=255", "255-19=236"]) == [True, True, False]
    assert check_steps(q, ["47+38=85\n\\boxed{85}", "85*3=255"]) == [False, False]
    assert check_steps(q, ["47+38=85", "85*3=255", "255-19=236\n\\boxed{235}"]) == [True, True, False]
    assert check_steps(q, good + ["236+1=237"]) == [True, True, True, False]
    assert not is_correct(q, "\n\n".join(good[:2]))
    assert is_correct(q, "\n\n".join(good))


def test_reference_solutions_grade_with_math_verify():
    problems = generate_problems(10, seed=5)
    assert all(grade(p.solution, p.answer) for p in problems)
    shuffled = [p.answer for p in problems]
    random.Random(0).shuffle(shuffled)
    wrong = [(p.solution, a) for p, a in zip(problems, shuffled) if a != p.answer]
    assert wrong and not any(grade(s, a) for s, a in wrong)


def test_char_tokenizer_round_trips_and_formats_chat(tmp_path):
    tok = build_char_tokenizer()
    problem = generate_problems(1, levels=[5], seed=1)[0]
    messages = [
        {"role": "user", "content": problem.question},
        {"role": "assistant", "content": problem.solution},
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text
    # one token per character of the solution: the tokenizer is character-level
    assert len(tok(problem.solution, add_special_tokens=False).input_ids) == len(problem.solution)
    prompt = tok.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>") and text.startswith(prompt)
    assert tok.convert_ids_to_tokens(tok("é", add_special_tokens=False).input_ids) == ["<unk>"]
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(text, add_special_tokens=False).input_ids == ids
    assert loaded.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True) == prompt


def test_the_arithworld_command_writes_one_split_and_leaves_out_another_files_questions(tmp_path, capsys):
    from ponder.cli import main as ponder
    from ponder.data.cli import WorldArguments, run
    from ponder.data.loaders import load_problems
    from ponder.data.splits import split_of

    test = run(WorldArguments(output=str(tmp_path / "test.jsonl"), n_per_level=20, seed=1))
    dev = run(WorldArguments(output=str(tmp_path / "dev.jsonl"), n_per_level=20, split="dev", seed=1))
    test_problems, dev_problems = load_problems(test), load_problems(dev)
    assert len(test_problems) == len(dev_problems) == 100
    assert {split_of(p.question) for p in test_problems} == {"test"}
    assert not {p.question for p in test_problems} & {p.question for p in dev_problems}
    # level 1 has about a dozen test questions: the command says how few stand behind its 20 problems
    out = capsys.readouterr().out
    assert "level 1: " in out and "distinct questions (a small level, reported apart)" in out
    # --exclude drops another file's questions: another seed's level-1 test problems mostly repeat them
    again = run(
        WorldArguments(
            output=str(tmp_path / "again.jsonl"), n_per_level=20, levels=[1], seed=3, exclude=str(test)
        )
    )
    kept = load_problems(again)
    assert kept and not {p.question for p in kept} & {p.question for p in test_problems}
    assert f"({20 - len(kept)} left out" in capsys.readouterr().out
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        ponder(["data", "world", "--levels", "7", "--output", str(tmp_path / "bad.jsonl")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("ponder data world: error: levels:")


def test_a_world_of_another_level_table_draws_and_counts_from_that_table() -> None:
    table = {1: Level(n_ops=2, start_max=5, operand_max=3, mul_max=0, value_max=20), 2: LEVELS[5]}
    world = arithworld_of(table)
    assert world.levels == (1, 2)
    listed = set(world.questions(1))
    assert world.question_space(1) == len(listed) == question_space(1, table)
    for index in range(20):
        problem = world.draw(1, random.Random(index), index)
        start, operations = parse_question(problem.question)
        assert problem.question in listed and problem.level == 1 and start <= 5 and len(operations) == 2
        assert all(world.check_steps(problem.question, problem.solution.split(STEP_SEPARATOR)))
    hard = world.draw(2, random.Random(7), 0)
    assert hard.question == generate_problem(5, random.Random(7), 0).question and hard.level == 2
    # The default world still draws from LEVELS.
    assert WORLDS["arithworld"].question_space(1) == question_space(1) == 126


def test_a_capped_count_settles_whether_a_level_is_small_without_counting_it_all() -> None:
    for level in LEVELS:
        exact = question_space(level)
        for cap in (1, 126, 127, 5_000, 10_000):
            assert question_space(level, at_most=cap) == min(exact, cap)
    # 5-digit values with 2-digit multipliers: the exact count would take hours, the cap a moment.
    wide = {1: Level(n_ops=6, start_max=9999, operand_max=9999, mul_max=99, value_max=99999)}
    assert question_space(1, wide, at_most=10_000) == 10_000
    assert small_levels("arithworld") == [1, 2]
