"""Problems from a jsonl/json file or a hub dataset, whatever layout the source uses.

Known layouts are recognised by their field names, so MATH, MATH-500, GSM8K, AIME, AMC and
ponder's own files load with no options:

- MATH / MATH-500: `problem`, `solution`, `answer` (else the solution's last `\\boxed{}`),
  `level` (an int or "Level 3"), `unique_id`.
- GSM8K: `question`, `answer` holding the worked solution that ends `#### <number>`.
- plain (ponder's own files, AIME, AMC): `question` or `problem`, `answer`, and optionally
  `id`, `solution`, `level`, `meta`.

Fields a source names differently are given as keyword arguments: `question="prompt"`.
Every other field of a row is kept in `Problem.meta`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError

from .answers import extract_boxed
from .problem import Problem

# Candidate field names per Problem field, in order of preference.
_ALIASES = {
    "id": ("unique_id", "id"),
    "question": ("problem", "question"),
    "answer": ("answer",),
    "solution": ("solution",),
    "level": ("level",),
}
_GSM8K_MARK = "####"
_LEVEL = re.compile(r"(?:level\s*)?(\d+)", re.IGNORECASE)


class DatasetError(ConfigError):
    """A row of a dataset cannot become a Problem; the message names the file and row."""


def load_problems(
    source: str | Path, split: str = "test", limit: int | None = None, **field_map: str
) -> list[Problem]:
    """Problems from `source`: a .jsonl or .json file (a list of rows), or a hub dataset name.

    `split` picks the hub split (a file is a single split). `limit` keeps the first rows.
    `field_map` maps Problem fields to a source's own names, e.g. `answer="target"`.
    Raises DatasetError naming the file and 1-based line (or row) of a malformed row.
    """
    unknown = set(field_map) - set(_ALIASES)
    if unknown:
        raise ValueError(
            f"unknown field(s) {sorted(unknown)} in field map; expected some of {sorted(_ALIASES)}"
        )
    aliases = {name: (field_map[name],) if name in field_map else names for name, names in _ALIASES.items()}
    problems = []
    for location, row in read_rows(str(source), split):
        if limit is not None and len(problems) >= limit:
            break
        if not isinstance(row, dict):
            raise DatasetError(f"{location}: expected a JSON object, got {type(row).__name__}")
        problems.append(
            _to_problem(row, aliases, default_id=f"{Path(source).stem}-{len(problems)}", location=location)
        )
    return problems


def save_problems(problems: list[Problem], path: str | Path) -> None:
    """Write `problems` as JSON lines that `load_problems` reads back unchanged."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        for problem in problems:
            file.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")


def read_rows(source: str, split: str = "train") -> Iterator[tuple[str, Any]]:
    """(location for error messages, row) for each raw row of a jsonl/json file or hub dataset split."""
    path = Path(source)
    if path.suffix in (".jsonl", ".json") and not path.exists():
        raise DatasetError(f"{source}: no such file")
    if path.suffix == ".jsonl":
        yield from _jsonl_rows(path)
    elif path.suffix == ".json":
        yield from _json_rows(path)
    else:
        yield from _hub_rows(source, split)


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(f"{path}:{number}: invalid JSON ({err})") from None
            yield f"{path}:{number}", row


def _json_rows(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: invalid JSON ({err})") from None
    if not isinstance(rows, list):
        raise DatasetError(f"{path}: expected a JSON list of rows, got {type(rows).__name__}")
    for number, row in enumerate(rows, start=1):
        yield f"{path}: row {number}", row


def _hub_rows(name: str, split: str) -> Iterator[tuple[str, Any]]:
    import datasets  # slow to import; only hub sources need it

    try:
        dataset = datasets.load_dataset(name, split=split)
    except (OSError, ValueError) as err:  # not found, offline, unknown split
        raise DatasetError(
            f"{name!r} is not a file here and could not be loaded from the hub: {err}"
        ) from None
    for number, row in enumerate(dataset, start=1):
        yield f"{name}[{split}]: row {number}", row


def _to_problem(
    row: dict[str, Any], aliases: dict[str, tuple[str, ...]], default_id: str, location: str
) -> Problem:
    # A null counts as absent: hub datasets fill columns a row lacks with None.
    found = {
        name: next((key for key in keys if row.get(key) is not None), None) for name, keys in aliases.items()
    }
    if found["question"] is None:
        raise DatasetError(f"{location}: {_missing('question', aliases)}")
    if not isinstance(row[found["question"]], str):
        raise DatasetError(f"{location}: field {found['question']!r} is not a string")
    solution = row[found["solution"]] if found["solution"] else None
    if found["answer"] is not None:
        answer, solution = _answer_and_solution(row[found["answer"]], solution)
    elif isinstance(solution, str) and (boxed := extract_boxed(solution)) is not None:
        answer = boxed
    else:
        raise DatasetError(
            f"{location}: {_missing('answer', aliases)} and no \\boxed{{}} answer in a solution"
        )
    used = {key for keys in aliases.values() for key in keys} | {"meta"}
    return Problem(
        id=str(row[found["id"]]) if found["id"] else default_id,
        question=row[found["question"]],
        answer=answer,
        solution=solution,
        level=_level(row[found["level"]]) if found["level"] else None,
        meta={**(row.get("meta") or {}), **{key: value for key, value in row.items() if key not in used}},
    )


def _missing(name: str, aliases: dict[str, tuple[str, ...]]) -> str:
    return f"missing field {aliases[name][-1]!r} (expected one of: {', '.join(aliases[name])})"


def _answer_and_solution(answer: Any, solution: str | None) -> tuple[str, str | None]:
    """The reference answer as a string, splitting a GSM8K answer into solution and number."""
    if isinstance(answer, str) and _GSM8K_MARK in answer:
        worked, final = answer.rsplit(_GSM8K_MARK, 1)
        return final.strip().replace(",", ""), solution or worked.strip()
    if isinstance(answer, float) and answer.is_integer():
        return str(int(answer)), solution  # AMC stores 27 as 27.0
    return str(answer).strip(), solution


def _level(value: Any) -> int | None:
    """An int level from 3 or "Level 3"; None for values such as MATH's "Level ?"."""
    if isinstance(value, int):
        return value
    match = _LEVEL.fullmatch(str(value).strip())
    return int(match[1]) if match else None
