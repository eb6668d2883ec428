"""Train a difficulty predictor: sequence classification of the question alone into bins 1..5.

    ponder train difficulty --config configs/train/difficulty.yaml [--key value ...]
    accelerate launch -m ponder.train.difficulty --config configs/train/difficulty.yaml

The router needs a problem's difficulty before any compute is spent on it, so the predictor
reads only the question. Rows come from `ponder data difficulty` (`--label bin`: pass-rate
quantiles of the policy, 1 = easiest) or from any problems dataset with a level (`--label level`:
MATH's levels 1-5; rows without an integer level are skipped and counted). Any causal LM becomes
an `AutoModelForSequenceClassification` with a new head read at the question's last token; the
plain `transformers.Trainer` trains it (cross-entropy over bins), since nothing about the loss
or the rows needs overriding. For a 135M model on a CPU, `backbone_layers` (keep the first
layers only), `freeze_backbone` (train the head, plus the last `unfreeze_last_layers` layers),
`use_peft` (LoRA), `max_length` and `max_train_samples` bring the cost down
(tests/benchmarks/difficulty_math.py measures one such setting on MATH). At the end it reports
accuracy, within-one accuracy and Spearman's rank correlation on held-out problems
(`eval_results.json`, a table, W&B), and writes a folder that
`ponder.infer.difficulty.load_difficulty_predictor` loads.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    Trainer,
    TrainingArguments,
)

from ponder.config import ConfigError, parse_config
from ponder.data import DatasetError, load_problems
from ponder.infer.difficulty import (
    DifficultyPredictor,
    PredictorConfig,
    difficulty_metrics,
    encode_question,
    pad_batch,
)
from ponder.models import ModelArguments
from ponder.tracking import finish_wandb
from ponder.train.defaults import SmallModelDefaults, on_device
from ponder.train.resume import train_resuming

LABELS = ("bin", "level")


@dataclass
class DifficultyArguments(ModelArguments):
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Causal-LM folder or hub name to start from (its LM head is replaced by a num_bins-way "
            "classification head).",
            "aliases": ["--model"],
        },
    )
    dataset: str = field(
        default="outputs/difficulty.jsonl",
        metadata={
            "help": "Training rows: a `ponder data difficulty` jsonl, or a jsonl/json file or hub dataset "
            "of problems with a level (then --label level)."
        },
    )
    dataset_split: str = field(
        default="train", metadata={"help": "Split to load when `dataset` is a hub name."}
    )
    eval_dataset: str | None = field(
        default=None,
        metadata={
            "help": "Held-out rows, same kinds as `dataset`; empty to hold out `eval_fraction` of `dataset`."
        },
    )
    eval_dataset_split: str = field(
        default="test", metadata={"help": "Split to load when `eval_dataset` is a hub name."}
    )
    eval_fraction: float = field(
        default=0.2,
        metadata={
            "help": "Share of `dataset` held out for the final evaluation when no `eval_dataset` is given."
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on a random subset of this many rows (seeded by `seed`)."}
    )
    backbone_layers: int | None = field(
        default=None,
        metadata={
            "help": "Keep only the first this many decoder layers (all when empty): cost falls in "
            "proportion, and a middle layer often tells difficulty as well as the last."
        },
    )
    freeze_backbone: bool = field(
        default=False,
        metadata={
            "help": "Train only the new head (and the last `unfreeze_last_layers` layers): the frozen "
            "layers run forward only."
        },
    )
    unfreeze_last_layers: int = field(
        default=0,
        metadata={
            "help": "With freeze_backbone: also train this many last decoder layers and the final norm."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.eval_fraction < 1:
            raise ValueError(f"eval_fraction: must be in [0, 1), got {self.eval_fraction}")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ValueError(f"max_train_samples: must be >= 1, got {self.max_train_samples}")
        if self.backbone_layers is not None and self.backbone_layers < 1:
            raise ValueError(f"backbone_layers: must be >= 1, got {self.backbone_layers}")
        if self.unfreeze_last_layers < 0 or (self.unfreeze_last_layers and not self.freeze_backbone):
            raise ValueError("unfreeze_last_layers: a count >= 0, used with --freeze_backbone true")
        if self.freeze_backbone and self.use_peft:
            raise ValueError(
                "freeze_backbone: choose one of freeze_backbone and use_peft (LoRA freezes the backbone "
                "itself)"
            )


@dataclass
class DifficultyConfig(SmallModelDefaults, TrainingArguments):
    """TrainingArguments plus what a difficulty predictor needs, with ponder's small-model defaults."""

    output_dir: str = field(
        default="outputs/difficulty-predictor", metadata={"help": "Where the predictor is saved."}
    )
    label: str = field(
        default="bin",
        metadata={
            "help": "'bin': the `bin` of `ponder data difficulty` rows; 'level': the dataset's level field."
        },
    )
    num_bins: int = field(
        default=5, metadata={"help": "Number of classes; labels must lie in 1..num_bins (1 = easiest)."}
    )
    max_length: int = field(
        default=256,
        metadata={"help": "Questions are cut to this many tokens (the cost of a step grows with it)."},
    )
    chat_template: bool = field(
        default=False,
        metadata={
            "help": "Put the question in the tokenizer's chat template (user turn, assistant turn opened) "
            "instead of [bos] + question."
        },
    )
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device."})
    per_device_eval_batch_size: int = field(
        default=64, metadata={"help": "Batch size of the final evaluation."}
    )
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate (AdamW)."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Passes over the training rows."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep the tokenized columns (the collator needs them)."}
    )

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"label: expected one of {', '.join(LABELS)}, got '{self.label}'")
        if self.num_bins < 2:
            raise ValueError(f"num_bins: must be >= 2, got {self.num_bins}")
        super().__post_init__()


def _difficulty_file_rows(path: str) -> list[tuple[str, dict]] | None:
    """(location, row) of every row when `path` is a `ponder data difficulty` jsonl, else None."""
    file = Path(path)
    if file.suffix != ".jsonl" or not file.is_file():
        return None
    rows = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    rows.append((f"{path}:{number}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise DatasetError(f"{path}:{number}: invalid JSON ({err})") from None
    return rows if rows and isinstance(rows[0][1], dict) and "problem_id" in rows[0][1] else None


def load_labelled(path: str, split: str, label: str, num_bins: int) -> list[dict]:
    """Rows {question, bin (1..num_bins), pass_rate (or None)} from a `ponder data difficulty`
    jsonl or a problems dataset. A row without the label field is an error naming it; a label
    that is null or not an integer (MATH's level "?") is skipped and counted."""
    entries = []  # (location, question, label value, pass rate)
    if (rows := _difficulty_file_rows(path)) is not None:
        for location, row in rows:
            missing = [key for key in ("question", label) if not isinstance(row, dict) or key not in row]
            if missing:
                raise DatasetError(f"{location}: missing field '{missing[0]}'")
            entries.append((location, row["question"], row[label], row.get("pass_rate")))
    else:
        problems = load_problems(path, split=split)
        if label == "bin":
            raise DatasetError(
                f"{path}: row 1 has no 'bin' field (not a `ponder data difficulty` file; for the dataset's "
                "own levels use --label level)"
            )
        entries = [
            (f"{path}: problem {i + 1} ({p.id})", p.question, p.level, None) for i, p in enumerate(problems)
        ]
    out = []
    for location, question, value, pass_rate in entries:
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if not 1 <= value <= num_bins:
            raise DatasetError(f"{location}: {label} {value} is outside 1..{num_bins} (set --num_bins)")
        out.append({"question": question, "bin": value, "pass_rate": pass_rate})
    if not out:
        raise DatasetError(f"{path}: no row has an integer '{label}'")
    if len(out) < len(entries):
        print(f"{path}: skipped {len(entries) - len(out)} of {len(entries)} rows with no integer '{label}'")
    return out


def split_rows(args: DifficultyArguments, config: DifficultyConfig) -> tuple[list[dict], list[dict]]:
    """Training and held-out rows, subsampled and split with `config.seed`."""
    train = load_labelled(args.dataset, args.dataset_split, config.label, config.num_bins)
    rng = random.Random(config.seed)
    if args.eval_dataset:
        held_out = load_labelled(args.eval_dataset, args.eval_dataset_split, config.label, config.num_bins)
    else:
        rng.shuffle(train)
        cut = round(len(train) * args.eval_fraction)
        held_out, train = train[:cut], train[cut:]
    if args.max_train_samples is not None and args.max_train_samples < len(train):
        train = rng.sample(train, args.max_train_samples)
    return train, held_out


def build_model(args: DifficultyArguments, num_bins: int):
    name = args.require_model()
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=args.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = AutoConfig.from_pretrained(
        name,
        num_labels=num_bins,
        trust_remote_code=args.trust_remote_code,
        id2label={k: f"bin {k + 1}" for k in range(num_bins)},
        label2id={f"bin {k + 1}": k for k in range(num_bins)},
    )
    config.pad_token_id = tokenizer.pad_token_id  # the head pools the last token that is not this id
    config.use_cache = False  # else evaluation returns the cache beside the logits
    if args.backbone_layers is not None:
        if args.backbone_layers > config.num_hidden_layers:
            raise ConfigError(f"backbone_layers: {name} has only {config.num_hidden_layers} layers")
        config.num_hidden_layers = args.backbone_layers
        if getattr(config, "layer_types", None):
            config.layer_types = config.layer_types[: args.backbone_layers]
    model = AutoModelForSequenceClassification.from_pretrained(
        name,
        config=config,
        dtype=args.torch_dtype(for_training=True),
        trust_remote_code=args.trust_remote_code,
    )
    if args.freeze_backbone:
        backbone = model.base_model
        backbone.requires_grad_(False)
        if args.unfreeze_last_layers:
            backbone.layers[-args.unfreeze_last_layers :].requires_grad_(True)
            backbone.norm.requires_grad_(True)
    if args.use_peft:
        from peft import get_peft_model

        # SEQ_CLS keeps the new head ("score") fully trainable (PEFT's modules_to_save); LoRA is merged
        # into the saved folder.
        model = get_peft_model(model, args.peft_config("SEQ_CLS", exclude_modules=["score", "classifier"]))
    return model, tokenizer


def to_dataset(rows: list[dict], tokenizer, config: DifficultyConfig) -> Dataset:
    return Dataset.from_dict(
        {
            "input_ids": [
                encode_question(tokenizer, r["question"], config.chat_template, config.max_length)
                for r in rows
            ],
            "labels": [r["bin"] - 1 for r in rows],  # 0-based class ids
        }
    )


def collate(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    return {
        **pad_batch([r["input_ids"] for r in rows], pad_id),
        "labels": torch.tensor([r["labels"] for r in rows]),
    }


def run(args: DifficultyArguments, config: DifficultyConfig) -> dict:
    """Train, save to `config.output_dir`, evaluate on held-out rows; returns the evaluation record."""
    config = on_device(config, args.resolved_device())
    config.start_run()
    train_rows, held_out = split_rows(args, config)
    model, tokenizer = build_model(args, config.num_bins)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(
        f"difficulty: {len(train_rows)} training and {len(held_out)} held-out questions; {trainable:,} of "
        f"{model.num_parameters():,} parameters trained"
    )
    trainer = Trainer(
        model=model,
        args=config,
        train_dataset=to_dataset(train_rows, tokenizer, config),
        data_collator=lambda batch: collate(batch, tokenizer.pad_token_id),
    )
    train_s = train_resuming(trainer)
    record = {"train_s": round(train_s, 1), "n_train": len(train_rows), "n_eval": len(held_out)}
    if not trainer.is_world_process_zero():
        return record
    if args.use_peft:
        model = model.merge_and_unload()  # the loader reads a plain model folder
    predictor_config = PredictorConfig(config.num_bins, config.label, config.max_length, config.chat_template)
    model.save_pretrained(config.output_dir)
    tokenizer.save_pretrained(config.output_dir)
    predictor_config.save(config.output_dir)
    if held_out:
        # Scored by the predictor class that loads the folder, so the report is what users get.
        # (The Trainer's own evaluation would reorder rows under group_by_length, losing their pass rates.)
        predictor = DifficultyPredictor(
            model, tokenizer, predictor_config, batch_size=config.per_device_eval_batch_size
        )
        probabilities = predictor.probabilities([r["question"] for r in held_out])
        metrics = difficulty_metrics(
            probabilities, [r["bin"] for r in held_out], [r["pass_rate"] for r in held_out]
        )
        trainer.log({f"eval_{name}": value for name, value in metrics.items()})  # W&B: eval/accuracy, ...
        against = "-pass_rate" if all(r["pass_rate"] is not None for r in held_out) else config.label
        record = metrics | {"spearman_against": against} | record
        print(f"difficulty predictor on {len(held_out)} held-out questions (spearman against {against}):")
        print("\n".join(f"  {name:<11}{value:.3f}" for name, value in metrics.items()))
    Path(config.output_dir, "eval_results.json").write_text(json.dumps(record, indent=2))
    finish_wandb(config.report_to)
    return record


def main(argv: list[str] | None = None) -> dict:
    return run(
        *parse_config(
            (DifficultyArguments, DifficultyConfig), argv, prog="ponder train difficulty", description=__doc__
        )
    )


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder train difficulty", main)
