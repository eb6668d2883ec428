"""The hf backend and `ponder eval policy` on a tiny real policy."""

import json

import pytest

from ponder.data.arithworld import generate_problems
from ponder.data.grading import grade_solutions
from ponder.errors import ConfigError
from ponder.infer.accuracy import ProblemScore, paired_by_key, paired_by_level, read_problem_scores
from ponder.infer.backends.base import Sampling
from ponder.infer.backends.hf import HFBackend
from ponder.infer.eval_policy import EvalArguments, run
from ponder.infer.eval_search import wilson
from ponder.infer.prompts import build_prompt
from ponder.models import SHIPPED_POLICY

pytestmark = pytest.mark.slow


def test_same_seed_same_samples_and_stop_strings(tiny_policy):
    backend = HFBackend(str(tiny_policy), batch_size=8)
    prompts = [build_prompt(backend.tokenizer, p.question) for p in generate_problems(3, seed=2)]
    sampling = Sampling(temperature=1.0, max_tokens=40, seed=7)
    first = backend.generate(prompts, 4, sampling)
    assert len(first) == len(prompts) and all(len(group) == 4 for group in first)
    assert first == backend.generate(prompts, 4, sampling)
    stopped = backend.generate(prompts, 2, Sampling(temperature=1.0, max_tokens=40, seed=7, stop=["="]))
    for group in stopped:
        for g in group:
            assert g.finish_reason in ("stop", "eos", "length")
            if g.finish_reason == "stop":
                assert g.text.endswith("=") and g.text.count("=") == 1
    greedy = backend.generate(prompts[:1], 1, Sampling(max_tokens=5))[0][0]
    assert greedy.num_tokens <= 5


def test_eval_reports_every_level(tiny_policy, tmp_path, capsys):
    rows = run(
        EvalArguments(
            model_name_or_path=str(tiny_policy),
            per_level=3,
            k=2,
            max_tokens=60,
            output=str(tmp_path / "e.json"),
            log_samples=str(tmp_path / "samples.jsonl"),
        )
    )
    assert [r["level"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(
        r["n"] == 3 and r["k"] == 2 and 0 <= r["greedy"] <= 1 and 0 <= r["pass_at_k"] <= 1 for r in rows
    )
    assert json.loads((tmp_path / "e.json").read_text()) == rows
    # each share with the Wilson interval of its 3 problems
    for r in rows:
        assert (r["greedy_low"], r["greedy_high"]) == pytest.approx(wilson(3 * r["greedy"], 3))
        assert (r["pass_low"], r["pass_high"]) == pytest.approx(wilson(3 * r["pass_at_k"], 3))
    (header,) = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("level")]
    assert header == ["level", "n", "greedy", "95%", "CI", "pass@2", "95%", "CI"]
    # one line per problem, which the per-level shares are made of and a regrade confirms
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    problems = EvalArguments(per_level=3).load()
    assert [row["id"] for row in samples] == [p.id for p in problems]
    assert [row["greedy"] for row in samples] == grade_solutions(
        [(p, row["greedy_text"]) for p, row in zip(problems, samples)]
    )
    for r in rows:
        level = [row for row in samples if row["level"] == r["level"]]
        assert all(0 <= row["samples_correct"] <= 2 for row in level)
        assert r["greedy"] == sum(row["greedy"] for row in level) / 3
        assert r["pass_at_k"] == sum(row["samples_correct"] > 0 for row in level) / 3


def test_two_policies_are_compared_on_the_same_problems_paired(tiny_policy, tmp_path, capsys):
    """The tiny policy's logged outcomes against the shipped policy's: the paired difference per
    level and over all is the mean of the per-problem differences, with the problems each got right
    alone; a log of other problems, or no log, is refused before anything runs."""
    tiny_log, shipped_log = tmp_path / "tiny.jsonl", tmp_path / "shipped.jsonl"
    common = dict(per_level=4, k=0, max_tokens=60)
    run(
        EvalArguments(
            model_name_or_path=str(tiny_policy),
            output=str(tmp_path / "t.json"),
            log_samples=str(tiny_log),
            **common,
        )
    )
    rows = run(
        EvalArguments(
            model_name_or_path=str(SHIPPED_POLICY),
            output=str(tmp_path / "s.json"),
            log_samples=str(shipped_log),
            paired_with=str(tiny_log),
            **common,
        )
    )
    shipped, tiny = ({r.id: r for r in read_problem_scores(log)} for log in (shipped_log, tiny_log))
    for row in rows:
        ids = [i for i in shipped if shipped[i].level == row["level"]]
        differences = [shipped[i].greedy - tiny[i].greedy for i in ids]
        paired = row["paired"]
        assert paired["n"] == 4 and paired["points"] == pytest.approx(100 * sum(differences) / 4, abs=0.05)
        assert (paired["gained"], paired["lost"]) == (differences.count(1), differences.count(-1))
        assert paired["low"] <= paired["points"] <= paired["high"]
    assert (
        sum(row["paired"]["gained"] for row in rows) > 0
    )  # the shipped policy solves what the tiny one misses
    assert "vs " + str(tiny_log) in capsys.readouterr().out

    (tmp_path / "short.jsonl").write_text("".join(tiny_log.read_text().splitlines(keepends=True)[:-1]))
    (tmp_path / "no-model").mkdir()  # nothing to load: the refusal must come first
    with pytest.raises(ConfigError, match="paired_with: no row for problem .*1 of 20 missing"):
        run(
            EvalArguments(
                model_name_or_path=str(tmp_path / "no-model"),
                paired_with=str(tmp_path / "short.jsonl"),
                output=str(tmp_path / "x.json"),
                **common,
            )
        )
    with pytest.raises(ConfigError, match="paired_with: no such file"):
        EvalArguments(model_name_or_path=str(tiny_policy), paired_with=str(tmp_path / "none.jsonl"))


def test_a_paired_difference_counts_only_the_problems_on_which_two_policies_differ():
    mine = [ProblemScore(str(i), 1, ok, "") for i, ok in enumerate([True, True, True, False])]
    theirs = [ProblemScore(str(i), 1, ok, "") for i, ok in enumerate([True, False, False, True])]
    paired = paired_by_level(mine, theirs)
    assert paired["1"] == paired["all"]
    assert {k: paired["all"][k] for k in ("points", "n", "gained", "lost")} == {
        "points": 25.0,
        "n": 4,
        "gained": 2,
        "lost": 1,
    }
    assert paired_by_level(mine, mine)["all"] | {"n": 0} == {
        "points": 0.0,
        "low": 0.0,
        "high": 0.0,
        "n": 0,
        "gained": 0,
        "lost": 0,
    }


def test_a_difference_keyed_by_problem_pairs_only_the_problems_both_runs_answered():
    mine = {"a": True, "b": True, "c": False, "only-mine": True}
    theirs = {"c": True, "b": False, "a": True, "only-theirs": False}
    d = paired_by_key(mine, theirs)
    assert d["problems"] == 3
    assert d["points"] == 0.0  # b gained, c lost, a tied: the unpaired problems count for nothing
    assert paired_by_key(mine, {"b": False})["points"] == 100.0


def test_prefix_cache_continues_steps_exactly_like_a_fresh_encode(tiny_policy):
    cached = HFBackend(str(tiny_policy), prefix_caching=True)
    fresh = HFBackend(str(tiny_policy), prefix_caching=False)
    prompts = [
        build_prompt(cached.tokenizer, p.question) for p in generate_problems(3, levels=[3, 4], seed=4)
    ]
    step = Sampling(temperature=0.0, max_tokens=16, stop=["\n\n"])
    for _ in range(3):
        a, b = cached.generate(prompts, 1, step), fresh.generate(prompts, 1, step)
        assert [g[0].text for g in a] == [g[0].text for g in b]
        assert [g[0].num_tokens for g in a] == [g[0].num_tokens for g in b]
        prompts = [p + g[0].text for p, g in zip(prompts, a)]
    # the last call's stopped rows (distinct prompts) are the prefixes kept for the next round
    assert len(cached._prefixes) == sum(g[0].finish_reason == "stop" for g in a)
    cached.reset_prefix_cache()
    assert not cached._prefixes


def test_a_folder_of_other_problems_under_the_same_ids_is_not_resumed(tmp_path):
    """The config hash cannot see a generator that now draws other questions under the old ids."""
    from ponder.config import ConfigError
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer

    args = InferArguments(
        model_name_or_path=str(SHIPPED_POLICY),
        per_level=1,
        strategies=["greedy"],
        budgets=[1],
        wandb=False,
        output_dir=str(tmp_path),
    )
    results = infer(args)
    rows = results.read_text().splitlines()
    assert len(rows) == 5
    infer(args)  # the same problems: resumed, nothing added
    assert results.read_text().splitlines() == rows
    stale = json.loads(rows[2])
    stale["reference"] = "not " + stale["reference"]
    results.write_text("\n".join([*rows[:2], json.dumps(stale), *rows[3:]]) + "\n")
    with pytest.raises(ConfigError, match=f"output_dir: .* {stale['problem_id']}"):
        infer(args)
