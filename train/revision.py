"""Train a revision model (Snell et al. 2024, sequential revisions): SFT of the policy on revision rows.

    ponder train revision --config configs/train/revision.yaml [--key value ...]
    accelerate launch -m ponder.train.revision --config configs/train/revision.yaml

The rows come from `ponder data revisions` (`revisions.jsonl`): the question, up to k incorrect
attempts each followed by the revision instruction, and a correct attempt as the completion, in
TRL's conversational prompt-completion layout. TRL's SFTTrainer puts them through the policy's chat
template, as the `revisions` strategies build their prompts, and trains on the completion only.

Training is `ponder train distill`'s SFT path (`ponder.train.distill.train_and_evaluate`): full
fine-tuning or LoRA (merged on save with `merge_adapter`), resumed from the last checkpoint of a
killed run, logged to W&B. With `eval_per_level` > 0 the base policy and the revision model are
compared on held-out problems (dev by default) as a first attempt, greedy (and pass@k with
`eval_k`): with no attempt in context a revision model must still be the policy it started from.
The record goes to `eval_results.json`, under `base` and `revision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ponder.config import parse_config
from ponder.train.distill import DistillArguments, DistillSFTConfig, load_rows, train_and_evaluate


@dataclass
class RevisionArguments(DistillArguments):
    """`ponder train distill`'s arguments, for SFT on revision rows."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Causal-LM folder or hub name the revision model starts from (the policy that "
            "sampled the attempts).",
            "aliases": ["--model"],
        },
    )
    # Revision rows are prompt-completion rows: SFT only.
    method: str = field(default="sft", init=False)
    dataset: str = field(
        default="outputs/revision-data",
        metadata={
            "help": "A `ponder data revisions` folder (its revisions.jsonl is read) or one such jsonl file."
        },
    )
    eval_split: str = field(
        default="dev",
        metadata={
            "help": "Split of the held-out problems (a generated world's or a hub dataset's): dev, so "
            "that test stays for the numbers we report."
        },
    )


@dataclass
class RevisionSFTConfig(DistillSFTConfig):
    """TRL's SFTConfig with the small-model defaults of `ponder train distill`."""

    output_dir: str = field(
        default="outputs/revision", metadata={"help": "Where the revision model is saved."}
    )


def run(args: RevisionArguments, config: RevisionSFTConfig) -> dict:
    """Train, save a loadable model folder in `config.output_dir`, evaluate; returns the record."""
    rows = load_rows(args.dataset, "revisions.jsonl", ["prompt", "completion"], "ponder data revisions")
    return train_and_evaluate(args, config, rows, name="revision")


def main(argv: list[str] | None = None) -> dict:
    return run(
        *parse_config(
            (RevisionArguments, RevisionSFTConfig), argv, prog="ponder train revision", description=__doc__
        )
    )


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder train revision", main)
