"""`ponder data revisions`: sequential-revision training rows from the policy's own attempts.

    ponder data revisions --results outputs/samples [more ...] --output_dir outputs/revision-data
    ponder data revisions --model POLICY_DIR --split train --per_level 200

The rows and their chat format are `ponder.data.revisions`'s; this command reads the attempts from
`ponder infer` folders or, with `--model`, samples them first with `ponder infer` (so it lives in
`ponder.train`, as `ponder data prm-labels` does: the data layer never imports inference).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, fields
from pathlib import Path

from ponder.config import parse_config
from ponder.data.distill import write_jsonl
from ponder.data.loaders import load_problems
from ponder.data.revisions import RevisionDataArguments, build, load_pools, refuse_test_question
from ponder.models import ModelArguments


def sample(args: RevisionDataArguments) -> str:
    """`ponder infer` with `strategy` at budget `samples_per_problem` on the source's problems, into
    output_dir/samples (resumed when it exists); the folder. Test questions are refused before any
    sampling."""
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer

    for problem in args.load():
        refuse_test_question(problem, f"dataset: {args.dataset} (split {args.split})")
    model = {f.name: getattr(args, f.name) for f in fields(ModelArguments)}
    infer_args = InferArguments(
        **model,
        **asdict(args.source()),
        backend=args.backend,
        strategies=[args.strategy],
        budgets=[args.samples_per_problem],
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        system_prompt=args.system_prompt,
        output_dir=str(Path(args.output_dir) / "samples"),
        wandb=False,
    )
    return str(infer(infer_args).parent)


def run(args: RevisionDataArguments) -> dict:
    """Sample if asked, write revisions.jsonl and summary.json; returns the summary's counts."""
    folders = args.results + ([sample(args)] if args.model_name_or_path else [])
    exclude = {p.question for p in load_problems(args.exclude)} if args.exclude else set()
    pools, dropped = load_pools(folders, args.strategy, exclude)
    rows, with_correct = build(pools, args)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(rows, out / "revisions.jsonl")
    by_attempts = Counter(row["n_attempts"] for row in rows)
    counts = {
        "problems": len(pools),
        "problems_with_correct": with_correct,
        "skipped_without_correct": len(pools) - with_correct,
        "rows": len(rows),
        "rows_by_n_attempts": {str(k): by_attempts[k] for k in range(args.max_attempts + 1)},
        "dropped_by_exclude": dropped,
    }
    (out / "summary.json").write_text(
        json.dumps({**counts, "folders": folders, "args": asdict(args)}, indent=2)
    )
    print(
        f"{len(rows)} revision rows from {with_correct} of {len(pools)} problems "
        f"({len(pools) - with_correct} without a correct attempt skipped"
        + (f", {dropped} dropped: their questions are in {args.exclude}" if args.exclude else "")
        + f") -> {out / 'revisions.jsonl'}"
    )
    return counts


def main(argv: list[str] | None = None) -> dict:
    return run(
        *parse_config((RevisionDataArguments,), argv, prog="ponder data revisions", description=__doc__)
    )


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder data revisions", main)
