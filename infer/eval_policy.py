"""`ponder eval policy`: accuracy of a policy per difficulty level — greedy, and pass@k from k samples.

Prints a table and writes it as JSON; pass@k well above greedy on a level is the room that
test-time search can win back there.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import parse_config
from ponder.data.sources import load_source
from ponder.models import check_model_name

from .accuracy import format_table, score_by_level
from .backends.hf import HFBackend


@dataclass
class EvalArguments:
    model: str = field(
        default="outputs/policy", metadata={"help": "Policy folder (or hub name) to evaluate."}
    )
    dataset: str = field(
        default="arithworld", metadata={"help": "'arithworld', a jsonl/json file, or a hub dataset name."}
    )
    split: str = field(default="test", metadata={"help": "Split to load when `dataset` is a hub name."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first this many problems."})
    per_level: int = field(default=200, metadata={"help": "ArithWorld: problems per level."})
    seed: int = field(
        default=1, metadata={"help": "ArithWorld problem seed (training uses 0) and sampling seed."}
    )
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

    def __post_init__(self):
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        check_model_name("model", self.model)


def evaluate(args: EvalArguments) -> list[dict]:
    problems = load_source(args.dataset, args.split, args.limit, args.seed, args.per_level)
    backend = HFBackend(args.model, batch_size=args.batch_size, progress=True)
    scores = score_by_level(
        backend,
        backend.tokenizer,
        problems,
        args.max_tokens,
        args.k,
        args.temperature,
        args.system_prompt,
        args.seed,
    )
    print(format_table(scores))
    rows = [asdict(s) for s in scores]
    output = Path(args.output or Path(args.model) / "eval_levels.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rows, indent=2))
    return rows


def main(argv: list[str] | None = None) -> None:
    (args,) = parse_config((EvalArguments,), argv, prog="ponder eval policy", description=__doc__)
    evaluate(args)


if __name__ == "__main__":
    main(sys.argv[1:])
