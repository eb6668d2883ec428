"""Train a step-level PRM: token classification read at each step separator.

    ponder train prm --config configs/train/prm.yaml [--key value ...]
    accelerate launch -m ponder.train.prm --config configs/train/prm.yaml

TRL 1.14+ removed its PRMTrainer, so this trainer is ponder's own: a `transformers.Trainer`
subclass that overrides only how a row becomes tensors and the loss. Rows are TRL's stepwise
supervision layout (`prompt`, `completions`, `labels`), optionally with `soft_labels` (the
fraction of Monte-Carlo rollouts that reached the answer). A row is tokenized as the `token-cls`
scorer reads it: [bos] + prompt (+ `step_separator` unless `separate_prompt` is off, TRL's way), then
each step followed by `step_separator`; the step's label
sits on the separator's last token, every other position is ignored. The loss is cross-entropy
against the target P(good) (1/0 for hard labels, the rollout fraction for soft ones), so one code
path trains both. The output folder loads in `ponder.infer.prm` as `token-cls`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoModelForTokenClassification, AutoTokenizer, Trainer, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from ponder.config import fail, parse_config
from ponder.data import DatasetError
from ponder.data.stepwise import load_stepwise
from ponder.infer.prm.token_cls import prompt_ids
from ponder.models import check_model_name
from ponder.tracking import configure_wandb

IGNORE = -100.0


@dataclass
class PRMArguments:
    model_name_or_path: str = field(default="ponder/checkpoints/arithworld-policy", metadata={"help": "Causal-LM folder or hub name to start from (its LM head is replaced by a 2-label head)."})
    dataset: str = field(default="outputs/prm-labels/labels.jsonl", metadata={"help": "jsonl/json file or hub dataset of step labels: TRL's stepwise layout (prompt, completions, labels[, soft_labels]), Math-Shepherd, PRM800K or MATH-APS."})
    dataset_split: str = field(default="train", metadata={"help": "Split to load when `dataset` is a hub name."})
    use_peft: bool = field(default=False, metadata={"help": "Train a LoRA adapter (PEFT) instead of every weight."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the model's repository."})

    def __post_init__(self):
        check_model_name("model_name_or_path", self.model_name_or_path)


@dataclass
class PRMConfig(TrainingArguments):
    """TrainingArguments plus what a step-level PRM needs; CPU-friendly defaults for tiny models."""

    output_dir: str = field(default="outputs/prm", metadata={"help": "Where the PRM is saved."})
    step_separator: str = field(default="\n", metadata={"help": "Appended to every step; the step's label sits on its last token (TRL's convention)."})
    separate_prompt: bool = field(default=True, metadata={"help": "Put the separator after the prompt too, so the question and the first step do not run together (TRL's PRMTrainer did not; the scorer reads this choice from prm_config.json)."})
    chat_template: bool = field(default=False, metadata={"help": "Put the question in the tokenizer's chat template (user turn, assistant turn opened), as the policy reads it."})
    max_length: int = field(default=512, metadata={"help": "Rows longer than this are cut; steps past the cut lose their labels."})
    train_on_last_step_only: bool = field(default=False, metadata={"help": "Label only the last step of each row (an outcome reward model)."})
    soft_labels: bool = field(default=False, metadata={"help": "Train on `soft_labels` (rollout success fractions) instead of hard labels."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate (AdamW)."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Passes over the labelled rows."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule."})
    warmup_steps: float = field(default=0.05, metadata={"help": "Warm-up, in steps or as a fraction of training."})
    logging_steps: float = field(default=25, metadata={"help": "Log every this many steps."})
    save_strategy: str = field(default="steps", metadata={"help": "When to checkpoint; a killed run resumes from the last checkpoint."})
    save_steps: float = field(default=500, metadata={"help": "Checkpoint every this many steps."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints kept."})
    # Measured on 2 CPU cores (torch 2.13): bf16 autocast made a token-classification step of the
    # ArithWorld PRM ~18x slower than float32 (4.6 s against 0.25 s), so it is off by default.
    bf16: bool = field(default=False, metadata={"help": "bf16 autocast (for GPUs; slow on CPU for this model)."})
    report_to: list[str] = field(default_factory=lambda: ["wandb"], metadata={"help": "Where to log ('wandb', 'none', ...)."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep the tokenized columns (the collator needs them)."})

    def __post_init__(self):
        if self.bf16 and not (torch.cuda.is_available() or torch.backends.mps.is_available()):
            self.use_cpu = True  # bf16 autocast on a CPU-only machine
        super().__post_init__()


def tokenize_row(row: dict, tokenizer, config: PRMConfig) -> dict:
    """input_ids and per-token targets (P(good) at each step's separator, IGNORE elsewhere)."""
    targets_per_step = row["soft_labels"] if config.soft_labels else row["labels"]
    if len(targets_per_step) != len(row["completions"]):
        raise ValueError(f"row with prompt {row['prompt'][:40]!r}: {len(row['completions'])} completions but {len(targets_per_step)} labels")
    separator = tokenizer.encode(config.step_separator, add_special_tokens=False)
    ids = prompt_ids(tokenizer, row["prompt"], separator, config.separate_prompt, config.chat_template)
    targets = [IGNORE] * len(ids)
    last = len(row["completions"]) - 1
    for i, (step, target) in enumerate(zip(row["completions"], targets_per_step)):
        step_ids = tokenizer(step, add_special_tokens=False)["input_ids"] + separator
        labelled = not config.train_on_last_step_only or i == last
        ids += step_ids
        targets += [IGNORE] * (len(step_ids) - 1) + [float(target) if labelled else IGNORE]
    return {"input_ids": ids[: config.max_length], "targets": targets[: config.max_length]}


def collate(rows: list[dict], pad_id: int) -> dict:
    width = max(len(r["input_ids"]) for r in rows)
    return {
        "input_ids": torch.tensor([r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]),
        "targets": torch.tensor([r["targets"] + [IGNORE] * (width - len(r["targets"])) for r in rows]),
    }


class PRMTrainer(Trainer):
    """Trainer whose loss is cross-entropy against the target P(good) at labelled positions."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets = inputs.pop("targets")
        outputs = model(**inputs)
        log_probs = outputs.logits.float().log_softmax(-1)
        mask = targets != IGNORE
        p = targets[mask]
        loss = -(p * log_probs[..., 1][mask] + (1 - p) * log_probs[..., 0][mask]).mean()
        return (loss, outputs) if return_outputs else loss


def load_rows(args: PRMArguments, soft_labels: bool) -> Dataset:
    """The training rows, from any layout `ponder.data.stepwise` reads (TRL, Math-Shepherd, PRM800K, MATH-APS)."""
    rows = load_stepwise(args.dataset, split=args.dataset_split)
    if not rows:
        raise DatasetError(f"dataset: {args.dataset} has no rows")
    columns = ["prompt", "completions", "labels"]
    if soft_labels:
        unlabelled = next((i for i, row in enumerate(rows) if "soft_labels" not in row), None)
        if unlabelled is not None:
            raise DatasetError(f"soft_labels: row {unlabelled + 1} of {args.dataset} has no soft labels (only Monte-Carlo layouts have them)")
        columns.append("soft_labels")
    return Dataset.from_list([{key: row[key] for key in columns} for row in rows])


def build_model(args: PRMArguments):
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForTokenClassification.from_pretrained(
        args.model_name_or_path, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1},
        trust_remote_code=args.trust_remote_code,
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    if args.use_peft:
        from peft import LoraConfig, TaskType, get_peft_model

        # The new 2-label head is trained in full (PEFT's modules_to_save for TOKEN_CLS), not adapted.
        lora = LoraConfig(task_type=TaskType.TOKEN_CLS, r=args.lora_r, lora_alpha=args.lora_alpha,
                          target_modules="all-linear", exclude_modules=["score", "classifier"])
        model = get_peft_model(model, lora)
    return model, tokenizer


def train_prm(args: PRMArguments, config: PRMConfig) -> Path:
    configure_wandb()
    model, tokenizer = build_model(args)
    rows = load_rows(args, config.soft_labels)
    train = rows.map(lambda row: tokenize_row(row, tokenizer, config), remove_columns=rows.column_names, desc="tokenize")
    trainer = PRMTrainer(model=model, args=config, train_dataset=train, data_collator=lambda b: collate(b, tokenizer.pad_token_id))
    last = get_last_checkpoint(config.output_dir) if Path(config.output_dir).is_dir() else None
    trainer.train(resume_from_checkpoint=last)
    if args.use_peft:
        trainer.model = trainer.model.merge_and_unload()  # the token-cls scorer loads a plain model folder
    trainer.save_model(config.output_dir)  # gathers ZeRO-3 shards; writes on the main process only
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(config.output_dir)
        Path(config.output_dir, "prm_config.json").write_text(json.dumps({"step_separator": config.step_separator, "separate_prompt": config.separate_prompt, "chat_template": config.chat_template}))
    return Path(config.output_dir)


def main(argv: list[str] | None = None) -> None:
    args, config = parse_config((PRMArguments, PRMConfig), argv, prog="ponder train prm", description=__doc__)
    try:
        train_prm(args, config)
    except DatasetError as err:
        fail(f"ponder train prm: error: {err}")


if __name__ == "__main__":
    main(sys.argv[1:])
