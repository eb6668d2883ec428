"""Benchmark: a training step of a policy recipe under each attention kernel, on real batches.

`ponder train policy --attn_implementation` picks the kernel transformers trains with. On the CPU,
sdpa runs PyTorch's flash-attention kernel, whose backward dominated the steps of the small
character-level policies (a py-spy profile of the 69k Countdown rung: 49% of its time); eager
attention computes the same function with plain matmuls. For each recipe this builds the policy
(`build_model`, seeded), tokenizes `--batches` random batches of its world's train problems as
SFT sees them (chat template, padded to the batch's longest), and times forward, backward and an
AdamW step under bf16 autocast, the kernels alternated `--rounds` times in one process. Threads:
torch's default unless `--threads`. `--compile` also times each kernel under `torch.compile` (as a
recipe's `torch_compile: true` asks the Trainer to, except that the Trainer's shapes turn dynamic at
their first recompile and these are dynamic from the start): it fuses the many small element-wise ops of
these narrow layers, whose per-op costs dominate on the CPU; its compile time is left out (it is
paid once per run) and printed apart.

Last line: one JSON object, per recipe: `ms_per_step` per variant (the best round's mean), the first
batch's loss per variant (the same function: equal to bf16's precision), `eager_speedup` (sdpa's
time over eager's) and, with `--compile`, `compile_speedup` (eager's over compiled eager's).

    python tests/benchmarks/attention_kernels.py [--recipes configs/train/policy_countdown_tiny.yaml ...]
        [--batches 8] [--rounds 2] [--threads N] [--compile]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from ponder.config import from_yaml
from ponder.data.chartok import build_char_tokenizer
from ponder.train.policy import PolicyArguments, PolicyConfig, build_model

KERNELS = ("sdpa", "eager")


def batches(args: PolicyArguments, config: PolicyConfig, tokenizer, count: int) -> list[dict]:
    """`count` batches of the recipe's size, drawn from its world's train split like SFT's rows."""
    size = config.per_device_train_batch_size
    args.train_size = size * count
    problems = args.training_source().load()  # the recipe's world, split and seed, as training reads them
    random.Random(0).shuffle(problems)
    out = []
    for k in range(count):
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p.question}, {"role": "assistant", "content": p.solution}],
                tokenize=False,
            )
            for p in problems[k * size : (k + 1) * size]
        ]
        batch = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        out.append(dict(batch))
    return out


def time_variant(
    args: PolicyArguments, config: PolicyConfig, tokenizer, data: list[dict], kernel: str, compiled: bool
) -> tuple[float, float, float]:
    """Mean seconds per training step, the first batch's loss (before any update) and the seconds
    the warm-up steps took (compiling, when `compiled`)."""
    torch.manual_seed(0)
    args.attn_implementation = kernel
    model = build_model(args, tokenizer)
    forward = torch.compile(model, dynamic=True) if compiled else model  # lengths vary batch to batch
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    losses = []

    def step(batch: dict) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            loss = forward(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())

    # A compiled model recompiles once when it sees the lengths vary; every variant times the same batches.
    warm = 3
    start = time.perf_counter()
    for batch in data[:warm]:
        step(batch)
    warm_s = time.perf_counter() - start
    start = time.perf_counter()
    for batch in data[warm:]:
        step(batch)
    return (time.perf_counter() - start) / (len(data) - warm), losses[0], warm_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=[f"configs/train/policy_countdown{size}.yaml" for size in ("_tiny", "_small", "")],
        help="policy recipes (their sizes, batch size, bf16 and world)",
    )
    parser.add_argument(
        "--batches", type=int, default=8, help="timed steps per variant and round, after 3 warm-up steps"
    )
    parser.add_argument("--rounds", type=int, default=2, help="times each variant is timed, alternated")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--compile", action="store_true", help="also time each kernel under torch.compile")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    tokenizer = build_char_tokenizer()
    report = {}
    for recipe in options.recipes:
        args, config = from_yaml((PolicyArguments, PolicyConfig), recipe)
        data = batches(args, config, tokenizer, options.batches + 3)
        variants = [(kernel, False) for kernel in KERNELS]
        if options.compile:
            variants += [(kernel, True) for kernel in KERNELS]
        times: dict[str, list[float]] = {}
        loss, compile_s = {}, {}
        for _ in range(options.rounds):
            for kernel, compiled in variants:
                name = kernel + ("+compile" if compiled else "")
                seconds, loss[name], warm_s = time_variant(args, config, tokenizer, data, kernel, compiled)
                times.setdefault(name, []).append(seconds)
                if compiled:  # the first round compiles; later ones reuse its cache
                    compile_s.setdefault(name, round(warm_s, 1))
        best = {name: 1000 * min(values) for name, values in times.items()}
        report[recipe] = {
            "ms_per_step": {name: round(ms, 1) for name, ms in best.items()},
            "first_loss": {name: round(value, 5) for name, value in loss.items()},
            "eager_speedup": round(best["sdpa"] / best["eager"], 2),
            "tokens_per_batch": int(data[0]["input_ids"].numel()),
        }
        if options.compile:
            report[recipe]["compile_speedup"] = round(best["eager"] / best["eager+compile"], 2)
            report[recipe]["compile_warmup_s"] = compile_s
        print(f"{recipe}: {report[recipe]}", flush=True)
    print(json.dumps({"threads": torch.get_num_threads(), "recipes": report}))


if __name__ == "__main__":
    main()
