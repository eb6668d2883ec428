"""Train/test overlap of a benchmark: how many of its test problems ask a question its training data holds.

Every benchmark's JSON line carries `train_test_overlap` (test problems, counted with repeats, whose
question is in any of its training sources; it must be 0) and `train_test_overlap_held_out_levels`
(the same on the levels that are not too small to hold questions out, `ponder.data.splits.small_levels`),
with `train_test_overlap_detail`: per source and per level, and the small levels listed apart. The
shipped checkpoints were trained before splits existed, so on ArithWorld's levels 1-2 their overlap
is not 0 and is printed as it is (docs/results.md, "Held-out splits and what the shipped checkpoints
saw"); the held-out-levels number is the one a fix can bring to 0 on today's checkpoints.

A training source is a path:
- a checkpoint folder with a `recipe.yaml` (the policy, the PRM's base LM, a model trained on
  generated data): every question its recipe trained on, rebuilt by
  `ponder.train.policy.recipe_training_questions` (seconds for the shipped policy, many minutes for
  a ladder stage's Countdown problems: docs/results.md). Where every problem the recipe drew came
  from splits of a generated world (`recipe_training_sources`) and no test question falls in those
  splits (`split_of`, a hash of its text), its overlap is 0 exactly, whatever was drawn: splits
  partition the question space.
  Then nothing is drawn, and `by_source` names the splits instead of counting questions;
- a `ponder data distill` folder: the questions of its `sft.jsonl` and `pairs.jsonl` rows;
- a jsonl file: PRM step labels (`prompt` is the question), chat rows (`prompt` messages: the
  user's), or problems (`question` / `problem`, read as `ponder.data.load_problems` reads them).
A source that cannot be read this way (a checkpoint without a recipe) is not guessed at: it is
listed under `unchecked` with the reason, beside what the benchmark itself cannot check (a
pretrained LM's corpus), and the totals count the sources that were checked.

Benchmarks run as `python tests/benchmarks/X.py`, so they import this module as `overlap`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ponder.data import Problem, load_problems
from ponder.data.splits import SPLITS, small_levels, split_of
from ponder.errors import ConfigError

DISTILL_FILES = ("sft.jsonl", "pairs.jsonl")


def held_out_splits(source: str | Path, test: list[Problem]) -> list[str] | None:
    """The splits a checkpoint's recipe drew every training problem from, when none of them holds a
    test question (so its overlap is 0 without drawing them); None otherwise, or for another source."""
    if not (Path(source) / "recipe.yaml").is_file():
        return None
    from ponder.train.policy import recipe_training_sources  # imports torch and transformers

    drawn = recipe_training_sources(source)
    splits = {s.split for s in drawn}
    if not all(s.generated_world for s in drawn) or not splits <= set(SPLITS):
        return None  # a file or hub dataset, or a world's whole question space ("all")
    return None if any(split_of(p.question) in splits for p in test) else sorted(splits)


def training_questions(source: str | Path) -> set[str]:
    """Every question `source` (a checkpoint with a recipe, a distill folder or a jsonl file) trains on."""
    path = Path(source)
    if (path / "recipe.yaml").is_file():
        from ponder.train.policy import recipe_training_questions  # imports torch and transformers

        return recipe_training_questions(path)
    files = [path / name for name in DISTILL_FILES if (path / name).is_file()] if path.is_dir() else [path]
    if not files or any(f.suffix != ".jsonl" or not f.is_file() for f in files):
        raise ConfigError(
            f"{path}: not a checkpoint with a recipe.yaml, a `ponder data distill` folder or a jsonl file"
        )
    return {question for f in files for question in file_questions(f)}


def file_questions(path: Path) -> list[str]:
    """The questions of a jsonl file's rows: a `prompt` question or chat, else a problem's question."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows or "prompt" not in rows[0]:
        return [p.question for p in load_problems(path)]
    questions = []
    for number, row in enumerate(rows, 1):
        prompt = row.get("prompt")
        if isinstance(prompt, list):  # chat messages: the question is the first user turn (a revision
            # row's later user turns ask for another attempt)
            prompt = next((m["content"] for m in prompt if m.get("role") == "user"), None)
        if not isinstance(prompt, str):
            raise ConfigError(f"{path}:{number}: no question in `prompt` (a string or chat messages)")
        questions.append(prompt)
    return questions


def overlap_report(
    test: list[Problem],
    sources: dict[str, str | Path],
    world: str | None = "arithworld",
    unchecked: dict[str, str] | None = None,
) -> dict:
    """`train_test_overlap`, `train_test_overlap_held_out_levels` and their detail (see the module).

    `test` is every problem the benchmark's numbers come from; `sources` names each training source
    (name -> path); `world` is the generated world whose small levels are reported apart (None for
    a fixed dataset such as MATH or GSM8K); `unchecked` names what trained on data nobody can list.
    """
    small = set(small_levels(world)) if world else set()
    unchecked = dict(unchecked or {})
    seen: dict[str, set[str]] = {}
    by_split: dict[str, list[str]] = {}
    for name, path in sources.items():
        try:
            splits = held_out_splits(path, test)
            if splits:
                by_split[name] = splits
            else:
                seen[name] = training_questions(path)
        except ConfigError as error:
            unchecked[name] = f"not read: {error}"
    trained = set().union(*seen.values())
    hits = [p for p in test if p.question in trained]
    by_level = {}
    for level in sorted({p.level for p in test}, key=lambda lv: (lv is None, lv)):
        problems = [p for p in test if p.level == level]
        by_level[f"L{level}" if level is not None else "no level"] = {
            "problems": len(problems),
            "distinct": len({p.question for p in problems}),
            "overlap": sum(p.level == level for p in hits),
            **({"small": True} if level in small else {}),
        }
    detail = {
        "test_problems": len(test),
        "small_levels": sorted(small),
        "by_source": {
            **{
                name: {"questions": len(questions), "overlap": sum(p.question in questions for p in test)}
                for name, questions in seen.items()
            },
            **{name: {"splits": splits, "overlap": 0} for name, splits in by_split.items()},
        },
        "by_level": by_level,
    }
    if unchecked:
        detail["unchecked"] = unchecked
    return {
        "train_test_overlap": len(hits),
        "train_test_overlap_held_out_levels": sum(p.level not in small for p in hits),
        "train_test_overlap_detail": detail,
    }


def beside_prm(prm_model: str | Path) -> str:
    """The step labels a PRM that tests/benchmarks/prm_quality.py trained was trained on: its work
    folder holds `prm/` and `labels/labels.jsonl` side by side (a PRM folder does not record them)."""
    return str(Path(prm_model).parent / "labels" / "labels.jsonl")


def distinct_problems(*sets: list[Problem]) -> list[Problem]:
    """The problems of several test sets, each (id, question) once: a benchmark that reports numbers
    on nested draws of one split (a smaller `per_level` is a prefix of a larger one) counts each once."""
    first: dict[tuple[str, str], Problem] = {}
    for problems in sets:
        for p in problems:
            first.setdefault((p.id, p.question), p)
    return list(first.values())
