"""Training that survives a kill: every ponder trainer resumes from the last checkpoint in its output
folder, and counts its training time across resumes.

A run killed mid-training (a session that ends, a ladder stage that spans several) is started again
with the same command; `train_resuming` finds the last checkpoint and continues from it. Its time
would otherwise be only the last process's: each checkpoint also keeps the seconds trained up to it
(`CLOCK`), and the resumed run counts on from there.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

CLOCK = "train_seconds.json"  # in each checkpoint: the seconds trained up to it


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
