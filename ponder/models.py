"""Which model a command loads, and how: one arguments type for every command, in TRL's manner.

`ModelArguments` is ponder's `trl.ModelConfig`: the model folder or hub name, its dtype, whether
its repository's code may run, and the LoRA settings a trainer uses when `use_peft` is set. Every
command that loads a model takes it, so `--model_name_or_path`, `--use_peft` and `--lora_r` mean
the same thing everywhere. It is defined here rather than taken from TRL so that a command's
`--help` does not import TRL (and torch) only to list these options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ponder.errors import ConfigError

# Checkpoints shipped as package data (ponder/checkpoints/): the pipelines' defaults.
CHECKPOINTS = Path(__file__).parent / "checkpoints"
SHIPPED_POLICY = CHECKPOINTS / "arithworld-policy"
# The LM the ArithWorld PRM recipe starts from: the ladder's 1.06M rung, the policy's architecture
# trained on 4x its samples (256,000, train split). Published PRMs, too, start from a stronger model.
SHIPPED_VERIFIER = CHECKPOINTS / "ladder" / "policy"
# The Countdown policy: configs/train/policy_countdown.yaml, 4,096,000 samples in 3 stages (recipe.yaml).
SHIPPED_COUNTDOWN_POLICY = CHECKPOINTS / "countdown-policy"
# The policy size ladder (`ponder ladder --ship_dir`): one recipe at several widths, the same samples.
SHIPPED_LADDER = CHECKPOINTS / "ladder" / "ladder.json"
# Its Countdown counterpart's two small rungs (69k, 270k); the 1.06M rung is SHIPPED_COUNTDOWN_POLICY,
# the same recipe at the default width, given to tests/benchmarks/size_ladder.py as an extra rung.
SHIPPED_COUNTDOWN_LADDER = CHECKPOINTS / "ladder-countdown" / "ladder.json"


def check_model_name(key: str, name: str) -> None:
    """Accept an existing folder or something shaped like a hub name (`org/model`); a typo fails
    here in one line instead of deep inside transformers."""
    if Path(name).exists():
        return
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ConfigError(f"{key}: no model folder '{name}' (and it is not a hub name like org/model)")


@dataclass
class ModelArguments:
    """The model a command loads (the policy for search and evaluation, the start for training)."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Model folder or hub name.", "aliases": ["--model"]},
    )
    dtype: str | None = field(
        default=None,
        metadata={
            "help": "Weights' dtype when loading (float32, bfloat16, float16, auto: the checkpoint's); "
            "default: bfloat16 on a GPU, float32 on the CPU."
        },
    )
    device: str = field(
        default="auto",
        metadata={
            "help": "Where search, evaluation and labelling run the model: auto (a GPU when there is one), "
            "cpu, cuda or cuda:N. Trainers place models the way transformers' Trainer does (--use_cpu)."
        },
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "Allow model code from the model's repository (e.g. Qwen2.5-Math-PRM)."},
    )
    use_peft: bool = field(
        default=False, metadata={"help": "Training: train a LoRA adapter (PEFT) instead of every weight."}
    )
    lora_r: int = field(default=16, metadata={"help": "Training with use_peft: LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "Training with use_peft: LoRA alpha."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Training with use_peft: LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Training with use_peft: module names LoRA adapts (default: every linear layer)."},
    )

    def __post_init__(self):  # cooperative: a command's arguments may also inherit SourceArguments
        getattr(super(), "__post_init__", lambda: None)()
        if self.model_name_or_path is not None:
            check_model_name("model_name_or_path", self.model_name_or_path)
        if self.dtype not in (None, "float32", "bfloat16", "float16", "auto"):
            raise ValueError(f"dtype: expected float32, bfloat16, float16 or auto, got '{self.dtype}'")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got '{self.device}'")
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(f"device: {self.device} asked for, but torch sees no GPU here")
        if self.lora_r < 1:
            raise ValueError(f"lora_r: must be >= 1, got {self.lora_r}")

    def require_model(self) -> str:
        """The model name, for commands that cannot run without one."""
        if not self.model_name_or_path:
            raise ConfigError("model_name_or_path: this command needs a model folder or hub name")
        return self.model_name_or_path

    def resolved_device(self) -> str:
        """`device` with auto resolved: cuda when torch sees a GPU, else cpu."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def resolved_dtype(self) -> str:
        """`dtype` with its default resolved: bfloat16 on a GPU, float32 on the CPU."""
        if self.dtype:
            return self.dtype
        return "float32" if self.resolved_device() == "cpu" else "bfloat16"

    def torch_dtype(self, for_training: bool = False):
        """The torch dtype to load weights in. Trainers load float32 unless told otherwise: bf16
        autocast keeps float32 master weights, which bf16 weights would lose."""
        import torch

        dtype = (self.dtype or "float32") if for_training else self.resolved_dtype()
        return "auto" if dtype == "auto" else getattr(torch, dtype)

    def peft_config(self, task_type: str, exclude_modules: list[str] | None = None):
        """PEFT's LoraConfig from these settings (None without use_peft): the one place ponder builds it.

        `exclude_modules` keeps LoRA off layers the trainer trains in full (a new classification head).
        """
        if not self.use_peft:
            return None
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type,
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=self.lora_target_modules or "all-linear",
            exclude_modules=exclude_modules,
        )
