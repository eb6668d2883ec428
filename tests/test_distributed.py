"""Training's distributed path for real: `accelerate launch` with two processes on the CPU (PyTorch
DDP over gloo) trains the policy, then a PRM from it, and each saved folder loads and works.

`--cpu` alone starts one process (accelerate's multi-CPU mode means mpirun); `--multi_gpu` is
accelerate's torchrun launcher, and the training processes, finding no GPU, join over gloo. The
runs train whole epochs, not `max_steps`, so the number of optimizer steps shows how many
processes shared the data: 60 rows at 8 per process make 4 steps on two processes and 8 on one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from ponder.data.answers import split_steps
from ponder.data.arithworld import check_steps, generate_problems
from ponder.infer.backends.base import Sampling
from ponder.infer.backends.hf import HFBackend
from ponder.infer.prm import load_prm
from ponder.infer.prompts import build_prompt

pytestmark = pytest.mark.slow

PROCESSES = 2
PER_DEVICE = 8
ROWS = 60  # 8 batches of 8: 4 per process
STEPS = 4
LAUNCH = [
    sys.executable,
    "-m",
    "accelerate.commands.launch",
    "--multi_gpu",
    "--num_processes",
    str(PROCESSES),
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
    "--main_process_port",
    "0",  # a free port: other test runs may be launching too
]
COMMON = [
    "--per_device_train_batch_size",
    str(PER_DEVICE),
    "--num_train_epochs",
    "1",
    "--logging_steps",
    "1",
    "--save_steps",
    str(STEPS),
    "--report_to",
    "none",
]


def launch(module: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = LAUNCH + ["-m", module, *args, *COMMON]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def assert_trained_on_both_processes(out: Path) -> None:
    """One checkpoint, at the end of the epoch: both processes' data loaders took their half, and
    each saved its own RNG state beside the state the main process wrote."""
    assert sorted(p.name for p in out.glob("checkpoint-*")) == [f"checkpoint-{STEPS}"]
    checkpoint = out / f"checkpoint-{STEPS}"
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS and state["epoch"] == 1.0
    assert [h["step"] for h in state["log_history"] if "loss" in h] == list(range(1, STEPS + 1))
    assert sorted(p.name for p in checkpoint.glob("rng_state*.pth")) == [
        f"rng_state_{rank}.pth" for rank in range(PROCESSES)
    ]


@pytest.fixture(scope="module")
def ddp_policy(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("ddp")
    out = tmp / "policy"
    result = launch(
        "ponder.train.policy",
        [
            "--output_dir",
            str(out),
            "--train_size",
            str(ROWS + 4),  # 12 per level of 5
            "--hidden_size",
            "32",
            "--num_hidden_layers",
            "1",
            "--num_attention_heads",
            "2",
            "--intermediate_size",
            "64",
            "--eval_per_level",
            "2",
            "--eval_k",
            "0",
        ],
        tmp,
    )
    return out, result


def stepwise_rows(n: int) -> list[dict]:
    """Each reference solution, and a copy whose last result is off by one, labelled by the checker."""
    rows = []
    for problem in generate_problems(n, levels=[2], seed=4):
        steps = split_steps(problem.solution)
        wrong = steps[:-1] + [steps[-1].replace("=", "=1", 1)]
        for candidate in (steps, wrong):
            rows.append(
                {
                    "prompt": problem.question,
                    "completions": candidate,
                    "labels": check_steps(problem.question, candidate),
                }
            )
    return rows


def test_policy_trains_on_two_processes_and_loads(ddp_policy):
    out, result = ddp_policy
    assert_trained_on_both_processes(out)
    # only the main process evaluates and writes: one table, one record with every level in it
    assert result.stdout.count("greedy") == 1, result.stdout
    record = json.loads((out / "eval_results.json").read_text())
    assert [row["level"] for row in record["levels"]] == [1, 2, 3, 4, 5]
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "llama" and model.num_parameters() == record["parameters"]
    problem = generate_problems(1, levels=[1], seed=9)[0]
    generated = HFBackend(model, tokenizer).generate(
        [build_prompt(tokenizer, problem.question)], 1, Sampling(max_tokens=20)
    )[0][0]
    assert generated.num_tokens > 0


def test_prm_trains_on_two_processes_and_scores_steps(ddp_policy, tmp_path):
    policy, _ = ddp_policy
    data = tmp_path / "labels.jsonl"
    rows = stepwise_rows(ROWS // 2)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "prm"
    launch(
        "ponder.train.prm",
        ["--model_name_or_path", str(policy), "--dataset", str(data), "--output_dir", str(out)],
        tmp_path,
    )
    assert_trained_on_both_processes(out)
    assert json.loads((out / "prm_config.json").read_text())["head"] == "token-cls"
    prm = load_prm("token-cls", model=str(out))
    scores = prm.score(rows[0]["prompt"], [rows[0]["completions"], rows[1]["completions"]])
    assert [len(s) for s in scores] == [len(rows[0]["completions"]), len(rows[1]["completions"])]
    assert all(0 <= x <= 1 for s in scores for x in s)
