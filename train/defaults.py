"""The TrainingArguments defaults every ponder trainer shares: small models, often on a CPU.

A mixin, listed before a TrainingArguments class in a config's bases (TRL's SFTConfig and
DPOConfig are such classes): its fields replace the defaults of the same names, and its
`__post_init__` runs before TrainingArguments' own. Each trainer's config then sets only what is
its own (batch size, learning rate, epochs, where to save).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from transformers import set_seed

from ponder.tracking import configure_wandb


@dataclass
class SmallModelDefaults:
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule."})
    warmup_steps: float = field(
        default=0.05, metadata={"help": "Warm-up, in steps or as a fraction of training."}
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    logging_steps: float = field(default=25, metadata={"help": "Log every this many steps."})
    save_strategy: str = field(
        default="steps",
        metadata={"help": "When to checkpoint; a killed run resumes from the last checkpoint."},
    )
    save_steps: float = field(default=500, metadata={"help": "Checkpoint every this many steps."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints kept."})
    # float32 by default: on CPU, bf16 autocast made the PRM and distillation steps slower (see
    # docs/results.md). Only the policy's pre-training was faster under it, and it turns it on.
    bf16: bool = field(
        default=False,
        metadata={"help": "bf16 autocast (for GPUs; float32 is faster for ponder's small models on CPU)."},
    )
    # A list with a default_factory: HfArgumentParser turns `str | list[str]` with a default into [None].
    report_to: list[str] = field(
        default_factory=lambda: ["wandb"], metadata={"help": "Where to log ('wandb', 'none', ...)."}
    )

    def __post_init__(self):
        if not (torch.cuda.is_available() or torch.backends.mps.is_available()):
            # transformers allows bf16 autocast without a GPU only when told to use the CPU, and the
            # processes `accelerate launch` (torchrun) starts join one gloo group only when told so:
            # otherwise each trains alone on all the data and they race to write one folder.
            self.use_cpu = True
        super().__post_init__()

    def start_run(self) -> None:
        """Seed, then set up W&B: called before a trainer draws any weight (a fresh model, a new
        head, a LoRA adapter). TRL's and transformers' trainers seed only in their `__init__`, after
        the model exists, so without this no two runs of one recipe start from the same weights."""
        set_seed(self.seed)
        configure_wandb()


def on_device(config, device: str):
    """`config` training where `--device` says. TrainingArguments places itself on a GPU whenever
    it sees one (its device is settled in `__post_init__`), so `--device cpu` on a GPU machine
    rebuilds the config with `use_cpu`; auto and cuda leave that choice to it, and `accelerate
    launch` assigns each process its own GPU."""
    if device != "cpu" or config.use_cpu:
        return config
    return dataclasses.replace(config, use_cpu=True)


def trained_model(trainer):
    """The model a trainer trained, as a loaded checkpoint computes: without the bf16 autocast and
    torch.compile wrappers that accelerate put on it for training. Left on, they make an evaluation
    right after training disagree with `ponder eval policy` on the saved folder (a 69k Countdown
    policy's dev greedy: 16.9% under autocast, 16.4% as saved, on the same 1,000 problems)."""
    return trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False, keep_torch_compile=False)
