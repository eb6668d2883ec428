"""The device check: train a policy, search with every strategy on the hf backend, one JSON line out.

Run by `scripts/device_check.sh` (which makes ponder importable from the checkout and checks its
dependencies first); see that file for what the machine needs. On a GPU it trains
`configs/train/policy_large.yaml` and searches ArithWorld at N = 16 with the oracle PRM; the
options shrink it (a tiny recipe, a few steps, budget 2) so that a CPU test runs the same code.

Everything a step prints goes to stderr; stdout gets only the JSON line:
device, device_name, torch, cuda_available, train_seconds (the optimizer loop), train_total_seconds
(data, training, saving and the trainer's own greedy evaluation), train_steps, policy_parameters,
policy_greedy (per level, from that evaluation), per_strategy {accuracy, tokens_per_second, tokens,
seconds, n}, output_dir and total_seconds.

Tokens per second are timed here around each strategy's search (the engine `ponder infer` runs,
`ponder.infer.run.search_chunk`, on one loaded policy), not read from the result rows: the rows of
strategies that share one sample pool carry no wall time of their own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from ponder.infer.backends.base import Sampling
from ponder.infer.run import InferArguments, build_context, search_chunk
from ponder.infer.strategies import STRATEGIES
from ponder.models import ModelArguments

# What the check runs unless told otherwise: the large recipe, the whole of it.
DEFAULT_CONFIG = "configs/train/policy_large.yaml"
# Strategies that need nothing but a policy and a PRM (not a router table or difficulty labels).
SEARCHABLE = STRATEGIES.names(lambda s: set(s.requires) <= {"prm"})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train_config", default=DEFAULT_CONFIG, help="Policy recipe to train.")
    parser.add_argument("--max_steps", type=int, default=None, help="Stop training after this many steps.")
    parser.add_argument(
        "--train_size", type=int, default=None, help="Training problems (default: the recipe's)."
    )
    parser.add_argument(
        "--dataset_num_proc",
        type=int,
        default=min(8, (os.cpu_count() or 2) // 2),
        help="Processes that tokenize the training set (TRL's option; 1 on a small machine).",
    )
    parser.add_argument(
        "--eval_per_level", type=int, default=20, help="Held-out problems per level for the greedy check."
    )
    parser.add_argument("--per_level", type=int, default=4, help="ArithWorld problems per level to search.")
    parser.add_argument("--budget", type=int, default=16, help="N, generations per problem.")
    parser.add_argument(
        "--max_tokens", type=int, default=InferArguments.max_tokens, help="Search: most tokens per solution."
    )
    parser.add_argument("--strategies", nargs="+", default=SEARCHABLE, choices=SEARCHABLE)
    parser.add_argument(
        "--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N."
    )
    parser.add_argument(
        "--output_dir", default=None, help="Where the policy and results go (default: a new temp folder)."
    )
    return parser.parse_args(argv)


def train(args: argparse.Namespace, device: str, output_dir: Path) -> dict:
    """`ponder train policy` on the recipe; its timing, steps and greedy accuracy per level.

    Trainers place the model the way transformers' Trainer does, so a CPU run also sets `use_cpu`.
    One checkpoint is written, at the end: its trainer state holds the number of steps taken.
    """
    argv = ["--config", args.train_config, "--output_dir", str(output_dir), "--device", device]
    argv += ["--report_to", "none", "--save_steps", "1000000000", "--save_total_limit", "1"]
    argv += ["--eval_per_level", str(args.eval_per_level), "--eval_k", "0"]
    if args.max_steps:
        argv += ["--max_steps", str(args.max_steps)]
    if args.train_size:
        argv += ["--train_size", str(args.train_size)]
    if args.dataset_num_proc > 1:
        argv += ["--dataset_num_proc", str(args.dataset_num_proc)]
    if device == "cpu":
        argv += ["--use_cpu", "true"]
    # Imported here, once stdout is moved to stderr: importing TRL and the Trainer prints.
    from ponder.train.policy import main as train_policy

    start = time.time()
    record = train_policy(argv)
    total = time.time() - start
    states = sorted(output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: p.stat().st_mtime)
    steps = json.loads(states[-1].read_text())["global_step"] if states else None
    return {
        "train_seconds": record["train_s"],
        "train_total_seconds": round(total, 1),
        "train_steps": steps,
        "policy_parameters": record["parameters"],
        "policy_greedy": {s["level"]: s["greedy"] for s in record.get("levels", [])},
    }


def search(args: argparse.Namespace, device: str, policy: Path, output_dir: Path) -> dict:
    """Every strategy on the same problems and the same loaded policy, each timed on its own."""
    infer = InferArguments(
        model_name_or_path=str(policy),
        backend="hf",
        prm="oracle",
        device=device,
        strategies=list(args.strategies),
        budgets=[args.budget],
        per_level=args.per_level,
        max_tokens=args.max_tokens,
        output_dir=str(output_dir),
    )
    problems = infer.load()
    ctx = build_context(infer)
    # The first generate call pays for CUDA's kernels and allocator: not any strategy's cost.
    ctx.backend.generate([ctx.prompt(problems[0].question)], 1, Sampling(temperature=0.0, max_tokens=8))
    output_dir.mkdir(parents=True, exist_ok=True)
    per_strategy = {}
    with (output_dir / "results.jsonl").open("w") as sink:
        for name in infer.strategies:
            one = replace(infer, strategies=[name])
            ctx.backend.reset_prefix_cache()
            rows, start = [], time.time()
            for first in range(0, len(problems), one.chunk_size):
                chunk = problems[first : first + one.chunk_size]
                rows += search_chunk(chunk, one, ctx, chunk_seed=one.seed + first)
            seconds = time.time() - start
            tokens = sum(r.compute.policy_tokens for r in rows)
            sink.writelines(r.to_json() + "\n" for r in rows)
            per_strategy[name] = {
                "accuracy": round(sum(r.correct for r in rows) / len(rows), 4),
                "tokens_per_second": round(tokens / seconds, 1),
                "tokens": tokens,
                "seconds": round(seconds, 2),
                "n": len(rows),
            }
    return per_strategy


def run(args: argparse.Namespace) -> dict:
    """The whole check; the JSON record."""
    start = time.time()
    device = ModelArguments(device=args.device).resolved_device()
    output_dir = Path(args.output_dir or tempfile.mkdtemp(prefix="ponder-device-check-")).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    # Work from the output folder: in the checkout's root, the processes ponder starts (grading
    # workers) would import the bare `ponder/` folder there instead of the installed layout.
    args.train_config = str(Path(args.train_config).resolve())
    os.chdir(output_dir)
    record = {
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
    }
    record.update(train(args, device, output_dir / "policy"))
    record["per_strategy"] = search(args, device, output_dir / "policy", output_dir / "search")
    record["output_dir"] = str(output_dir)
    record["total_seconds"] = round(time.time() - start, 1)
    return record


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # stdout carries the JSON line only: whatever else writes to it (this process, the libraries'
    # C code, the grading workers it starts) goes to stderr, at the level of file descriptors.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        record = run(args)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    print(json.dumps(record), flush=True)
    return record


if __name__ == "__main__":
    main()
