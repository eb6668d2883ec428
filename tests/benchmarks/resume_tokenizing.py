"""Benchmark: what a resumed policy run spends before its first step, with and without its kept rows.

A ladder stage of 1,024,000 Countdown problems is killed and resumed several times (sessions end).
Every restart used to tokenize all its rows again (TRL's chat template and tokenizer, one core);
`rows_kept_for_resume` keeps the rows in the run's folder as Arrow, so datasets caches TRL's maps
beside them and a resumed run reads their results. This draws `--rows` train-split problems of the
recipe's world (the drawing is not timed: a run keeps its drawn problems too), then times building
the trainer (rows to Arrow, TRL's preparation) three ways, each in a fresh process so nothing is
shared in memory: in memory (as before), the first run that keeps its rows, and a resumed run.

Last line: one JSON object with the three times in seconds, `rows` and `resume_speedup` (in
memory over resumed).

    python tests/benchmarks/resume_tokenizing.py [--recipe configs/train/policy_countdown.yaml]
        [--rows 100000] [--work_dir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def prepare(recipe: str, rows: int, work_dir: Path, keep: bool) -> float:
    """In this process: seconds to build the recipe's trainer on its first `rows` problems."""
    from trl import SFTTrainer

    from ponder.config import from_yaml
    from ponder.data.chartok import build_char_tokenizer
    from ponder.train.policy import PolicyArguments, PolicyConfig, build_model, draw_once, to_sft_dataset
    from ponder.train.resume import rows_kept_for_resume

    args, config = from_yaml((PolicyArguments, PolicyConfig), recipe)
    args.train_size = rows
    config.output_dir, config.report_to, config.use_cpu, config.bf16 = str(work_dir), "none", True, False
    problems = draw_once(args.training_source(), work_dir)
    tokenizer = build_char_tokenizer()
    model = build_model(args, tokenizer)
    start = time.perf_counter()
    dataset = to_sft_dataset(problems, args.system_prompt)
    if keep:
        dataset = rows_kept_for_resume(dataset, config)
    SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--recipe", default="configs/train/policy_countdown.yaml", help="policy recipe (YAML)"
    )
    parser.add_argument("--rows", type=int, default=100_000, help="training problems to prepare")
    parser.add_argument(
        "--work_dir", default=None, help="folder for the kept rows (default: a temporary one)"
    )
    parser.add_argument("--_time", choices=["memory", "kept"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="resume_tokenizing_"))
    if args._time:
        print(json.dumps({"s": prepare(args.recipe, args.rows, work_dir, args._time == "kept")}))
        return

    def timed(how: str) -> float:
        command = [sys.executable, __file__, "--recipe", args.recipe, "--rows", str(args.rows)]
        out = subprocess.run(
            [*command, "--work_dir", str(work_dir), "--_time", how],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return round(json.loads(out.strip().splitlines()[-1])["s"], 1)

    in_memory, first, resumed = timed("memory"), timed("kept"), timed("kept")
    if not args.work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(
        json.dumps(
            {
                "recipe": args.recipe,
                "rows": args.rows,
                "in_memory_s": in_memory,
                "first_kept_s": first,
                "resumed_s": resumed,
                "resume_speedup": round(in_memory / resumed, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
