"""Search strategies on a tiny real policy with the oracle PRM, and the pure selection rules.

The tree strategies are pinned exactly on a scripted backend in test_tree_search.py.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ponder.data.arithworld import generate_problems
from ponder.data.results import Trajectory, read_results
from ponder.infer.backends.hf import HFBackend
from ponder.infer.prm import load_prm
from ponder.infer.strategies import STRATEGIES, SearchContext
from ponder.infer.strategies.selection import best_of_n, majority_vote, weighted_best_of_n


def traj(answer, scores):
    return Trajectory(steps=["x"] * len(scores), scores=scores, answer=answer)


def test_selection_rules():
    pool = [traj("7", [0.9, 0.2]), traj("7", [0.9, 0.3]), traj("8", [0.1, 0.45]), traj(None, [1.0])]
    assert majority_vote(pool).answer == "7"
    assert best_of_n(pool, "last").answer == "8"  # 0.45 beats 0.2 and 0.3
    assert best_of_n(pool, "min").answer == "7"  # min 0.3 beats 0.1
    assert weighted_best_of_n(pool, "last").answer == "7"  # 0.2 + 0.3 = 0.5 beats 0.45
    assert majority_vote([traj(None, [0.5])]) is None


class CountingBackend:
    """The real HF backend, counting its calls to check that search batches across problems."""

    def __init__(self, backend):
        self.backend, self.calls = backend, 0
        self.num_parameters, self.tokenizer = backend.num_parameters, backend.tokenizer

    def generate(self, prompts, n, sampling):
        self.calls += 1
        return self.backend.generate(prompts, n, sampling)


@pytest.fixture(scope="module")
def ctx(tiny_policy):
    backend = CountingBackend(HFBackend(str(tiny_policy), batch_size=64))
    return SearchContext(
        backend=backend,
        prm=load_prm("oracle", "arithworld"),
        tokenizer=backend.tokenizer,
        max_tokens=60,
        max_step_tokens=20,
        max_steps=6,
        temperature=1.0,
    )


@pytest.fixture(scope="module")
def problems():
    return generate_problems(2, levels=[2, 4], seed=11)


@pytest.mark.parametrize("strategy", ["beam_search", "dvts", "lookahead"])
def test_tree_strategies_batch_problems_and_count_real_tokens(ctx, problems, strategy):
    ctx.backend.calls = 0
    results = STRATEGIES[strategy].run(problems, 8, ctx, beam_width=4)
    rounds = ctx.max_steps * (2 if strategy == "lookahead" else 1)
    assert ctx.backend.calls <= rounds  # one backend call per round for all problems' beams
    for r in results:
        assert r.compute.wall_s > 0
        assert len(r.trajectories) <= 8  # never more than N completions
        assert r.compute.policy_tokens >= sum(t.tokens for t in r.trajectories) > 0
        assert r.compute.flops >= 2 * ctx.backend.num_parameters * r.compute.policy_tokens
        assert all(len(t.scores) == len(t.steps) for t in r.trajectories)
        assert r.correct == (r.answer == r.reference)


def test_lookahead_spends_more_tokens_than_beam_search(ctx, problems):
    beam = STRATEGIES["beam_search"].run(problems, 4, ctx, beam_width=2)
    ahead = STRATEGIES["lookahead"].run(problems, 4, ctx, beam_width=2, lookahead=2)
    assert sum(r.compute.policy_tokens for r in ahead) > sum(r.compute.policy_tokens for r in beam)


def test_pool_strategies_share_answers_and_budget(ctx, problems):
    for name in ("majority", "best_of_n", "weighted_best_of_n"):
        results = STRATEGIES[name].run(problems, 4, ctx)
        assert all(len(r.trajectories) == 4 and r.n == 4 for r in results)
        assert all(r.compute.policy_tokens == sum(t.tokens for t in r.trajectories) for r in results)
        assert all(r.compute.wall_s > 0 for r in results)  # the pool's call timed, shared by its problems
    greedy = STRATEGIES["greedy"].run(problems, 16, ctx)
    assert all(len(r.trajectories) == 1 for r in greedy)


def infer_cmd(policy, out, extra=()):
    return [
        sys.executable,
        "-m",
        "ponder",
        "infer",
        "--model",
        str(policy),
        "--prm",
        "oracle",
        "--per_level",
        "2",
        "--strategies",
        "greedy",
        "weighted_best_of_n",
        "beam_search",
        "--budgets",
        "1",
        "4",
        "--beam_width",
        "2",
        "--max_tokens",
        "60",
        "--max_step_tokens",
        "20",
        "--max_steps",
        "5",
        "--chunk_size",
        "2",
        "--output_dir",
        str(out),
        *extra,
    ]


def stable(rows):
    """Result rows without wall-clock time, the one thing two identical runs may differ in."""
    out = []
    for r in rows:
        r.compute.wall_s = 0.0
        out.append(r.to_json())
    return sorted(out)


@pytest.mark.slow
def test_infer_killed_with_sigkill_resumes_to_the_same_results(tiny_policy, tmp_path):
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    full = tmp_path / "full"
    subprocess.run(infer_cmd(tiny_policy, full), check=True, capture_output=True, env=env, timeout=600)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        infer_cmd(tiny_policy, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    results = killed / "results.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (results.exists() and results.read_text().count("\n") >= 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = results.read_text().count("\n")
    total = len(read_results(full / "results.jsonl"))
    assert 0 < written < total, "the kill should land mid-run"
    subprocess.run(infer_cmd(tiny_policy, killed), check=True, capture_output=True, env=env, timeout=600)
    assert stable(read_results(results)) == stable(read_results(full / "results.jsonl"))
    # a folder holding another configuration's results is refused in one line
    clash = subprocess.run(
        infer_cmd(tiny_policy, killed, ["--temperature", "0.5"]), capture_output=True, text=True, env=env
    )
    assert clash.returncode == 2 and "different configuration" in clash.stderr


@pytest.mark.slow
def test_shards_merge_and_eval_writes_table_and_plots(tiny_policy, tmp_path):
    for i in range(2):
        subprocess.run(
            infer_cmd(tiny_policy, tmp_path / f"s{i}", ["--shard", f"{i}/2"]),
            check=True,
            capture_output=True,
            timeout=600,
        )
    merged = tmp_path / "merged"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ponder",
            "merge",
            "--inputs",
            str(tmp_path / "s0"),
            str(tmp_path / "s1"),
            "--output_dir",
            str(merged),
        ],
        check=True,
        capture_output=True,
    )
    rows = read_results(merged / "results.jsonl")
    assert len({r.problem_id for r in rows}) == 10 and len(rows) == 10 * (1 + 2 + 2)
    out = subprocess.run(
        [sys.executable, "-m", "ponder", "eval", "search", "--results", str(merged)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "weighted_best_of_n" in out.stdout and "beam_search" in out.stdout
    summary = json.loads((merged / "summary.json").read_text())
    wbon = {p["n"]: p for p in summary if p["strategy"] == "weighted_best_of_n" and p["level"] is None}
    assert sorted(wbon) == [1, 2, 3, 4]  # every N up to the pool, by subsampling
    direct = [r for r in rows if r.strategy == "weighted_best_of_n" and r.n == 4]
    assert wbon[4]["accuracy"] == pytest.approx(sum(r.correct for r in direct) / len(direct))
    # the problems behind every point: all 10, or the 2 of a level; printed beside N
    assert {p["problems"] for p in summary if p["level"] is None} == {10}
    assert {p["problems"] for p in summary if p["level"] is not None} == {2}
    (header,) = [line.split() for line in out.stdout.splitlines() if line.startswith("strategy")]
    assert header[:4] == ["strategy", "level", "N", "problems"]
    for name in (
        "accuracy_vs_n.png",
        "accuracy_vs_tokens.png",
        "accuracy_vs_flops.png",
        "accuracy_vs_n_by_level.png",
    ):
        assert (merged / name).stat().st_size > 5000
