"""Training that survives a kill: every ponder trainer resumes from the last checkpoint in its output
folder, and counts its training time across resumes.

A run killed mid-training (a session that ends, a ladder stage that spans several) is started again
with the same command; `train_resuming` finds the last checkpoint and continues from it. Its time
would otherwise be only the last process's: each checkpoint also keeps the seconds trained up to it
(`CLOCK`), and the resumed run counts on from there. A trainer whose rows take minutes to tokenize
(a policy's, at ladder sizes) keeps them in the folder too (`rows_kept_for_resume`), with the
tokenized copies made of them, so a resumed run does not tokenize them again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from accelerate import PartialState
from datasets import Dataset, load_from_disk
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

CLOCK = "train_seconds.json"  # in each checkpoint: the seconds trained up to it
ROWS = "train_rows"  # in the output folder while a run trains: its rows, and their tokenized copies


class TrainingClock(TrainerCallback):
    """Seconds of training across resumes, so that `train_s` is what the steps took however often
    the run was killed; the steps after the last checkpoint, trained again, count once. A checkpoint
    without the file (saved before it existed) counts as 0 s."""

    def __init__(self, resume_from: str | None):
        path = Path(resume_from) / CLOCK if resume_from else None
        self.before = json.loads(path.read_text())["train_s"] if path and path.is_file() else 0.0
        self.start = time.time()

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.time()

    def seconds(self) -> float:
        return self.before + time.time() - self.start

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            (folder / CLOCK).write_text(json.dumps({"train_s": round(self.seconds(), 1)}))


def train_resuming(trainer: Trainer) -> float:
    """`trainer.train()`, from the last checkpoint in its output folder if there is one; returns the
    seconds trained, those before a resume included."""
    output_dir = trainer.args.output_dir
    last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
    clock = TrainingClock(last)
    trainer.add_callback(clock)
    trainer.train(resume_from_checkpoint=last)
    return clock.seconds()


def rows_kept_for_resume(rows: Dataset, config: TrainingArguments) -> Dataset:
    """`rows`, stored in the output folder (`ROWS`, Arrow) and read back from there until training
    ends (`drop_kept_rows`).

    datasets caches a `map` over a dataset read from files in files beside them, keyed by the
    transform and its arguments, so the maps a trainer runs on its rows (TRL's chat template and
    tokenizer) are computed once per run and a resumed run reads their results, where a ladder stage
    spent minutes of one core tokenizing at every restart (docs/results.md). Rows kept for another
    dataset are written over, their tokenized copies with them. Under `accelerate launch` the
    global main process writes them first, then each node's local main where its disk is not shared
    (as TRL orders its own dataset preparation), and the others read them.
    """
    path = Path(config.output_dir) / ROWS
    state = PartialState()
    with state.main_process_first(), state.local_main_process_first():
        kept = _kept(path, rows)
        if kept is None:
            partial = path.with_name(f"{ROWS}.{os.getpid()}")
            rows.save_to_disk(str(partial))
            shutil.rmtree(path, ignore_errors=True)
            partial.rename(path)
            kept = load_from_disk(str(path))
        return kept


def _kept(path: Path, rows: Dataset) -> Dataset | None:
    """The dataset saved at `path` if it holds exactly `rows`, else None (also where `path` is not a
    saved dataset)."""
    try:
        kept = load_from_disk(str(path))
    except FileNotFoundError:
        return None
    same = (
        isinstance(kept, Dataset)
        and kept.features == rows.features
        and kept.data.table.equals(rows.data.table)
    )
    return kept if same else None


def drop_kept_rows(output_dir: str | Path) -> None:
    """Trained: the rows and their tokenized copies (gigabytes at ladder sizes) have nothing left to
    resume."""
    for path in Path(output_dir).glob(f"{ROWS}*"):  # with any a killed run left half written
        shutil.rmtree(path, ignore_errors=True)
