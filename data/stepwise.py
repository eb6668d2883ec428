"""Step-level PRM training data from published layouts, as TRL's stepwise-supervision rows.

`ponder train prm` trains on rows of `prompt` (the question), `completions` (the solution's
steps, in order) and `labels` (one bool per step: is the solution still on a correct path after
it?), optionally with `soft_labels` (one float in [0, 1] per step: the fraction of Monte-Carlo
rollouts from that step that reach the answer). `load_stepwise` turns the layouts below into such
rows, recognising each row's layout by its field names (`FORMATS`), so one call reads any of them:

- `trl`: `prompt`, `completions`, `labels` (bools or 0/1), optionally `soft_labels`; ponder's own
  `ponder data prm-labels` output. Other fields are dropped.
- `math-shepherd`: `input` is the question, then steps "Step k: ... ки" joined by "\\n"; `label`
  is the same text with "+" (good) or "-" (bad) in place of each tag "ки".
- `prm800k`: a raw PRM800K row: `question.problem` and `label.steps`, each step a list of rated
  alternatives; the path the labeller took through them becomes the row.
- `math-aps`: `question` and `reasoning_steps`, the states of an OmegaPRM search tree, each a
  `solution_prefix` (question + solution so far) with its Monte-Carlo value `mc_value`. One tree
  becomes one row per leaf.
- `processbench`: `problem`, `steps` and `label`, the index of the earliest wrong step (-1 if
  none); that step and every later one are labelled bad. ProcessBench is for evaluation
  (`ponder eval prm`), but its rows are step labels like any other.

Steps carry no "Step k:" numbering: ponder's policy writes steps as blank-line-separated paragraphs
and its PRMs score them as they are (search-and-learn's convention), so a PRM trained on numbered
steps would be scored on text unlike its training data. PRM800K and MATH-APS steps are unnumbered
anyway, so the formats mix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loaders import DatasetError, read_rows

_SHEPHERD_TAG = "ки"
_SHEPHERD_FIRST_STEP = "Step 1:"
_STEP_NUMBER = re.compile(r"\AStep\s*\d+\s*:")
_PRM800K_RATINGS = {1: True, 0: True, -1: False}  # neutral (0): acceptable, not an error


class _RowError(ValueError):
    """A row's content is malformed; `load_stepwise` adds the file and line."""


@dataclass(frozen=True)
class StepwiseFormat:
    """A source layout: the fields that identify its rows, and how one row becomes stepwise rows."""

    fields: tuple[str, ...]
    convert: Callable[[dict[str, Any]], list[dict[str, Any]]]

    def matches(self, row: dict[str, Any]) -> bool:
        # A null counts as absent: hub datasets fill columns a row lacks with None.
        return all(row.get(name) is not None for name in self.fields)


def load_stepwise(source: str | Path, split: str = "train", limit: int | None = None) -> list[dict[str, Any]]:
    """TRL stepwise rows (`prompt`, `completions`, `labels`[, `soft_labels`]) from `source`.

    `source` is a .jsonl or .json file (a list of rows) or a hub dataset name; `split` picks the hub
    split. A source row may give several rows (a MATH-APS tree gives one per leaf); `limit` keeps
    the first that many. Raises DatasetError naming the file and 1-based line (or row) of a
    malformed row.
    """
    stepwise: list[dict[str, Any]] = []
    for location, row in read_rows(str(source), split):
        if limit is not None and len(stepwise) >= limit:
            break
        if not isinstance(row, dict):
            raise DatasetError(f"{location}: expected a JSON object, got {type(row).__name__}")
        name = detect_format(row)
        if name is None:
            expected = "; ".join(f"{known} ({', '.join(fmt.fields)})" for known, fmt in FORMATS.items())
            raise DatasetError(
                f"{location}: row matches no known stepwise format (fields: {', '.join(row)}); "
                f"expected one of: {expected}"
            )
        try:
            stepwise.extend(FORMATS[name].convert(row))
        except _RowError as err:
            raise DatasetError(f"{location}: {name} row: {err}") from None
    return stepwise[:limit]


def detect_format(row: dict[str, Any]) -> str | None:
    """The name of the first format in `FORMATS` whose fields `row` has, or None."""
    return next((name for name, fmt in FORMATS.items() if fmt.matches(row)), None)


def _from_trl(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Already the layout; checked, with 0/1 labels (some writers' ints) made bools."""
    steps, labels = row["completions"], row["labels"]
    if not isinstance(steps, list) or not isinstance(labels, list):
        raise _RowError("`completions` and `labels` must be lists")
    if not all(isinstance(label, bool) or (isinstance(label, int) and label in (0, 1)) for label in labels):
        raise _RowError(f"`labels` must be bools or 0/1, got {labels}")
    soft = row.get("soft_labels")
    if soft is not None and not (
        isinstance(soft, list)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in soft)
    ):
        raise _RowError(f"`soft_labels` must be numbers in [0, 1], got {soft}")
    return [_stepwise(row["prompt"], steps, [bool(label) for label in labels], soft)]


def _from_math_shepherd(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps are the texts between tags; step k's label is the "+"/"-" at the k-th tag's place in `label`.

    The label is read by position, not by searching for "+", because step texts contain "+" too.
    """
    text, marked = row["input"], row["label"]
    if not isinstance(text, str) or not isinstance(marked, str):
        raise _RowError("`input` and `label` must be strings")
    *pieces, tail = text.split(_SHEPHERD_TAG)
    # `label` is `input` with each tag replaced by one character, so its length gives the mark count.
    marks = len(marked) - (len(text) - len(_SHEPHERD_TAG) * len(pieces))
    if marks != len(pieces):
        raise _RowError(f"{len(pieces)} step tags but {marks} labels")
    if not pieces:
        raise _RowError(f"no step tags ({_SHEPHERD_TAG!r}) in `input`")
    if tail.strip():
        raise _RowError(f"text after the last step tag has no label: {tail.strip()[:40]!r}")
    labels, offset = [], 0
    for k, piece in enumerate(pieces, start=1):
        offset += len(piece)
        if marked[offset] not in "+-":
            raise _RowError(
                f"step {k}: expected '+' or '-' in `label` where `input` has its tag, "
                f"found {marked[offset]!r}"
            )
        labels.append(marked[offset] == "+")
        offset += 1
    if _SHEPHERD_FIRST_STEP not in pieces[0]:
        raise _RowError(f"no {_SHEPHERD_FIRST_STEP!r} in `input` to end the question")
    question, first_step = pieces[0].split(_SHEPHERD_FIRST_STEP, 1)
    steps = [_STEP_NUMBER.sub("", step.strip()).strip() for step in [first_step, *pieces[1:]]]
    return [_stepwise(question.strip(), steps, labels)]


def _from_prm800k(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The labeller's path through the rated alternatives, up to where they stopped.

    At each step the path continues with the chosen completion, labelled by its rating (1 good,
    0 neutral, -1 bad; PRM800K's convention treats a neutral step as acceptable, not an error, so it
    counts as good, as in OpenR's converter), else with the labeller's own `human_completion` (good:
    they wrote it as a correct step). A step with neither is where the labeller stopped: if it holds
    a completion rated -1 they stopped at an error (a phase-2 solution's first wrong step), which is
    kept as the last, bad step; otherwise (gave up, or the step is empty) the path ends before it.
    """
    question, label = row["question"], row["label"]
    if not isinstance(question, dict) or not isinstance(question.get("problem"), str):
        raise _RowError("`question.problem` must be a string")
    if not isinstance(label, dict) or not isinstance(label.get("steps"), list):
        raise _RowError("`label.steps` must be a list")
    steps, labels = [], []
    for k, step in enumerate(label["steps"], start=1):
        if not isinstance(step, dict):
            raise _RowError(f"step {k} is not an object")
        completions, chosen, human = (
            step.get("completions") or [],
            step.get("chosen_completion"),
            step.get("human_completion"),
        )
        if chosen is not None:
            if not isinstance(chosen, int) or not 0 <= chosen < len(completions):
                raise _RowError(
                    f"step {k}: chosen_completion {chosen!r} is not an index into its "
                    f"{len(completions)} completions"
                )
            steps.append(completions[chosen].get("text"))
            labels.append(_prm800k_rating(completions[chosen].get("rating"), k))
        elif human is not None:
            steps.append(human.get("text"))
            labels.append(True)
        else:
            error = next((c for c in completions if c.get("rating") == -1), None)
            if error is not None:
                steps.append(error.get("text"))
                labels.append(False)
            break
    return [_stepwise(question["problem"], steps, labels)]


def _prm800k_rating(rating: Any, k: int) -> bool:
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in _PRM800K_RATINGS:
        raise _RowError(f"step {k}: the chosen completion's rating is {rating!r}, expected 1, 0 or -1")
    return _PRM800K_RATINGS[rating]


def _from_math_aps(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per leaf of the search tree: the steps on the way from the question to the leaf.

    `reasoning_steps` is not one solution but the states of an OmegaPRM tree, flattened: each
    prefix extends the longest other prefix it starts with (its parent), not the entry before it.
    A state's step is its text past its parent's (stripped), labelled with its `mc_value` (soft)
    and `mc_value > 0` (hard: some rollout from it reached the answer, Math-Shepherd's hard
    estimate). A leaf may be a whole rollout, which stays one step: the tree has no value for its
    parts. A state whose step is empty (the question alone) has nothing to label and is skipped.
    A prefix listed twice (the same state valued twice) is one state with the mean value.
    """
    question, states = row["question"], row["reasoning_steps"]
    if not isinstance(question, str) or not isinstance(states, list):
        raise _RowError("`question` must be a string and `reasoning_steps` a list")
    values: dict[str, list[float]] = {}  # prefix -> its mc_values, in order of first appearance
    for k, state in enumerate(states, start=1):
        if not isinstance(state, dict):
            raise _RowError(f"reasoning step {k} is not an object")
        prefix, value = state.get("solution_prefix"), state.get("mc_value")
        if not isinstance(prefix, str) or not prefix.startswith(question):
            raise _RowError(f"reasoning step {k}: `solution_prefix` does not start with the question")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise _RowError(f"reasoning step {k}: `mc_value` {value!r} is not a number in [0, 1]")
        values.setdefault(prefix, []).append(float(value))
    prefixes = list(values)
    parent = {
        p: max((q for q in prefixes if len(q) < len(p) and p.startswith(q)), key=len, default=None)
        for p in prefixes
    }
    leaves = [p for p in prefixes if not any(len(q) > len(p) and q.startswith(p) for q in prefixes)]
    rows = []
    for leaf in leaves:
        path = [leaf]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])
        path.reverse()
        steps = [(p[len(parent[p] or question) :].strip(), sum(values[p]) / len(values[p])) for p in path]
        steps = [(text, value) for text, value in steps if text]
        soft = [value for _, value in steps]
        rows.append(_stepwise(question, [text for text, _ in steps], [value > 0 for value in soft], soft))
    if not rows:
        raise _RowError("no steps")
    return rows


def _from_processbench(row: dict[str, Any]) -> list[dict[str, Any]]:
    """ProcessBench's `label` is the 0-based index of the earliest wrong step (-1: none is wrong);
    from that step on the solution is off a correct path, so it and every later step are bad."""
    steps, first_error = row["steps"], row["label"]
    if not isinstance(steps, list):
        raise _RowError("`steps` must be a list")
    if (
        not isinstance(first_error, int)
        or isinstance(first_error, bool)
        or not -1 <= first_error < len(steps)
    ):
        raise _RowError(f"`label` must be -1 or a step index below {len(steps)}, got {first_error!r}")
    good = len(steps) if first_error == -1 else first_error
    return [_stepwise(row["problem"], steps, [k < good for k in range(len(steps))])]


def _stepwise(
    prompt: Any, steps: list[Any], labels: list[bool], soft_labels: list[float] | None = None
) -> dict[str, Any]:
    """A checked stepwise row; the checks every format shares."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise _RowError("empty or missing question")
    if not steps:
        raise _RowError("no steps")
    if len(labels) != len(steps):
        raise _RowError(f"{len(steps)} steps but {len(labels)} labels")
    if soft_labels is not None and len(soft_labels) != len(steps):
        raise _RowError(f"{len(steps)} steps but {len(soft_labels)} soft labels")
    for k, step in enumerate(steps, start=1):
        if not isinstance(step, str) or not step.strip():
            raise _RowError(f"step {k} is empty")
    row: dict[str, Any] = {"prompt": prompt, "completions": steps, "labels": labels}
    if soft_labels is not None:
        row["soft_labels"] = [float(value) for value in soft_labels]
    return row


# Tried in order; the first whose fields a row has converts it.
FORMATS: dict[str, StepwiseFormat] = {
    "trl": StepwiseFormat(("prompt", "completions", "labels"), _from_trl),
    "math-shepherd": StepwiseFormat(("input", "label"), _from_math_shepherd),
    "prm800k": StepwiseFormat(("question", "label"), _from_prm800k),
    "math-aps": StepwiseFormat(("question", "reasoning_steps"), _from_math_aps),
    "processbench": StepwiseFormat(("problem", "steps", "label"), _from_processbench),
}
