"""`ponder eval policy`: accuracy of a policy per difficulty level — greedy, and pass@k from k samples.

Prints a table and writes it as JSON: per level its problems (`n`), greedy and pass@k, each with
its 95% Wilson interval (`greedy_low`, `greedy_high`, `pass_low`, `pass_high`). pass@k well above
greedy on a level is the room that test-time search can win back there. `--log_samples` keeps
each problem's outcome; `--paired_with` compares this policy's greedy with another's logged one on
the same problems, per level, paired by problem.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import ConfigError, parse_config
from ponder.data.sources import SourceArguments
from ponder.models import ModelArguments

from .accuracy import (
    format_paired,
    format_table,
    level_scores,
    paired_by_level,
    read_problem_scores,
    rows_by_id,
    score_problems,
    write_problem_scores,
)


@dataclass
class EvalArguments(SourceArguments, ModelArguments):
    """The problems (SourceArguments) and the policy to evaluate (ModelArguments)."""

    per_level: int = field(default=200, metadata={"help": "Generated worlds: problems per level."})
    k: int = field(default=16, metadata={"help": "Samples per problem for pass@k; 0 for greedy only."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature for pass@k."})
    max_tokens: int = field(default=256, metadata={"help": "Most tokens generated per solution."})
    batch_size: int = field(default=256, metadata={"help": "Sequences per generate call."})
    system_prompt: str | None = field(
        default=None, metadata={"help": "System message put before every question."}
    )
    output: str | None = field(
        default=None,
        metadata={"help": "JSON file for the per-level scores (default: MODEL/eval_levels.json)."},
    )
    log_samples: str | None = field(
        default=None,
        metadata={
            "help": "Also write one JSON line per problem to this file: its id, level, greedy "
            "completion and whether it is right, and how many of its k samples are right (what a "
            "paired comparison of two policies on the same problems needs)."
        },
    )
    paired_with: str | None = field(
        default=None,
        metadata={
            "help": "A --log_samples file of another policy on the same problems: also print this "
            "policy's greedy minus that one's per level, paired by problem, with its 95 percent bootstrap "
            "interval (narrower than two accuracies' difference), and add it to the JSON as 'paired'."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.k < 0:
            raise ConfigError(f"k: must be >= 0, got {self.k}")
        if self.paired_with and not Path(self.paired_with).is_file():
            raise ConfigError(f"paired_with: no such file {self.paired_with}")


def run(args: EvalArguments) -> list[dict]:
    """Greedy accuracy and pass@k per level: printed, written to `output`, and returned as rows."""
    from .backends.hf import HFBackend

    model = args.require_model()
    problems = args.load()
    theirs = read_problem_scores(args.paired_with) if args.paired_with else None
    if theirs is not None:
        rows_by_id([p.id for p in problems], theirs)  # a log of other problems fails before generating
    backend = HFBackend(
        model,
        batch_size=args.batch_size,
        dtype=args.resolved_dtype(),
        device=args.resolved_device(),
        trust_remote_code=args.trust_remote_code,
        progress=True,
    )
    per_problem = score_problems(
        backend,
        backend.tokenizer,
        problems,
        args.max_tokens,
        args.k,
        args.temperature,
        args.system_prompt,
        args.seed,
    )
    scores = level_scores(per_problem, args.k)
    print(format_table(scores))
    if args.log_samples:
        write_problem_scores(args.log_samples, per_problem)
    rows = [asdict(s) for s in scores]
    if theirs is not None:
        paired = paired_by_level(per_problem, theirs)
        print(format_paired(paired, args.paired_with))
        for row in rows:
            row["paired"] = paired[str(row["level"])]
    output = Path(args.output or Path(model) / "eval_levels.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rows, indent=2))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(*parse_config((EvalArguments,), argv, prog="ponder eval policy", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder eval policy", main)
