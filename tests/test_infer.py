"""The hf backend and `ponder eval policy` on a tiny real policy."""

import json

import pytest

from ponder.data.arithworld import generate_problems
from ponder.data.grading import grade_solutions
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
