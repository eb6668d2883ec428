"""`ponder infer`: sample solutions for every problem of a dataset and grade them.

Results are JSON lines in `output_dir/results.jsonl`, one problem per line, flushed as each
chunk of problems finishes; a killed run started again skips the problems already written, so
no finished work is redone or lost.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ponder.config import parse_config
from ponder.data import extract_boxed, grade_many
from ponder.data.sources import load_source
from ponder.models import check_model_name

from .backends.base import Sampling
from .backends.hf import HFBackend
from .prompts import build_prompt


@dataclass
class InferArguments:
    model: str = field(default="outputs/policy", metadata={"help": "Policy folder (or hub name) that generates."})
    dataset: str = field(default="arithworld", metadata={"help": "'arithworld', a jsonl/json file, or a hub dataset name."})
    split: str = field(default="test", metadata={"help": "Split to load when `dataset` is a hub name."})
    limit: int | None = field(default=None, metadata={"help": "Only the first this many problems."})
    per_level: int = field(default=100, metadata={"help": "ArithWorld: problems per level."})
    output_dir: str = field(default="outputs/infer", metadata={"help": "Folder for results.jsonl; an existing one is resumed."})
    n: int = field(default=8, metadata={"help": "Samples per problem."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (0 for greedy)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling threshold."})
    max_tokens: int = field(default=256, metadata={"help": "Most tokens generated per sample."})
    seed: int = field(default=1, metadata={"help": "ArithWorld problem seed and sampling seed."})
    batch_size: int = field(default=256, metadata={"help": "Sequences per generate call."})
    chunk_size: int = field(default=32, metadata={"help": "Problems generated together before their results are flushed."})
    system_prompt: str | None = field(default=None, metadata={"help": "System message put before every question."})

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        check_model_name("model", self.model)


def done_ids(path: Path) -> set[str]:
    """Ids already written; a line cut short by a kill is dropped and its problem redone."""
    if not path.exists():
        return set()
    ids, lines = set(), path.read_text().splitlines(keepends=True)
    complete = [line for line in lines if line.endswith("\n")]
    for line in complete:
        ids.add(json.loads(line)["id"])
    if len(complete) != len(lines):
        path.write_text("".join(complete))
    return ids


def majority_answer(answers: list[str | None]) -> str | None:
    votes = Counter(a for a in answers if a is not None)
    return votes.most_common(1)[0][0] if votes else None


def run(args: InferArguments) -> Path:
    problems = load_source(args.dataset, args.split, args.limit, args.seed, args.per_level)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(asdict(args), indent=2))
    results = out_dir / "results.jsonl"
    finished = done_ids(results)
    backend = HFBackend(args.model, batch_size=args.batch_size)
    sampling = Sampling(args.temperature, args.top_p, args.max_tokens)
    with results.open("a") as sink, tqdm(total=len(problems), initial=len(finished), desc="infer") as bar:
        # Chunks have fixed boundaries and seeds, so a resumed run regenerates a half-written
        # chunk exactly as the uninterrupted run did and writes only its missing rows.
        for start in range(0, len(problems), args.chunk_size):
            chunk = problems[start : start + args.chunk_size]
            if all(p.id in finished for p in chunk):
                continue
            sampling.seed = args.seed + start
            prompts = [build_prompt(backend.tokenizer, p.question, args.system_prompt) for p in chunk]
            generations = backend.generate(prompts, args.n, sampling)
            verdicts = grade_many([(g.text, p.answer) for gs, p in zip(generations, chunk) for g in gs])
            for i, (problem, gens) in enumerate(zip(chunk, generations)):
                if problem.id in finished:
                    continue
                ok = verdicts[i * args.n : (i + 1) * args.n]
                answers = [extract_boxed(g.text) for g in gens]
                majority = majority_answer(answers)
                row = {
                    "id": problem.id,
                    "level": problem.level,
                    "answer": problem.answer,
                    "majority": majority,
                    "majority_correct": majority is not None and ok[answers.index(majority)],
                    "pass": any(ok),
                    "completions": [
                        {**asdict(g), "extracted": a, "correct": c} for g, a, c in zip(gens, answers, ok)
                    ],
                }
                sink.write(json.dumps(row) + "\n")
                bar.update(1)
            sink.flush()
    return results


def main(argv: list[str] | None = None) -> None:
    (args,) = parse_config((InferArguments,), argv, prog="ponder infer", description=__doc__)
    print(f"results: {run(args)}")


if __name__ == "__main__":
    main(sys.argv[1:])
