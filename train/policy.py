"""Train a policy with TRL's SFTTrainer: from scratch on ArithWorld, or fine-tune any causal LM.

    ponder train policy --config configs/train/policy.yaml [--key value ...]
    accelerate launch -m ponder.train.policy --config configs/train/policy.yaml

With no `model_name_or_path`, a small `LlamaForCausalLM` is built from the size options and a
character-level tokenizer, so the checkpoint is a real Llama that transformers, vLLM, TRL and
PEFT load like any other. After training it reports greedy accuracy (and pass@k) per level on
held-out problems and writes them to `eval_results.json` in the output folder.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from ponder.config import parse_config
from ponder.data import Problem, load_problems
from ponder.data.arithworld import generate_problems
from ponder.data.chartok import build_char_tokenizer
from ponder.infer.accuracy import format_table, score_by_level
from ponder.infer.backends.hf import HFBackend
from ponder.tracking import configure_wandb, finish_wandb
from ponder.train.defaults import SmallModelDefaults


@dataclass
class PolicyArguments:
    dataset: str = field(
        default="arithworld",
        metadata={
            "help": "'arithworld' to generate problems, or a jsonl/json file or hub dataset whose rows have solutions."
        },
    )
    dataset_split: str = field(
        default="train", metadata={"help": "Split to load when `dataset` is a hub name."}
    )
    train_size: int = field(
        default=200_000, metadata={"help": "ArithWorld training problems (spread evenly over levels)."}
    )
    eval_per_level: int = field(
        default=200, metadata={"help": "Held-out ArithWorld problems per level for the final evaluation."}
    )
    eval_k: int = field(
        default=16, metadata={"help": "Samples per problem for pass@k in the final evaluation (0 to skip)."}
    )
    problem_seed: int = field(
        default=0,
        metadata={"help": "Seed of the generated training problems (evaluation uses problem_seed + 1)."},
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Model folder or hub name to fine-tune; empty to build a Llama from scratch."},
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "System message put before every question."}
    )
    hidden_size: int = field(default=128, metadata={"help": "From scratch: width of the Llama."})
    num_hidden_layers: int = field(default=4, metadata={"help": "From scratch: number of decoder layers."})
    num_attention_heads: int = field(default=4, metadata={"help": "From scratch: attention heads per layer."})
    intermediate_size: int = field(default=512, metadata={"help": "From scratch: width of the MLP."})

    def __post_init__(self):
        for name in (
            "train_size",
            "eval_per_level",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads ({self.num_attention_heads})"
            )


@dataclass
class PolicyConfig(SmallModelDefaults, SFTConfig):
    """SFTConfig with defaults that train a tiny Llama quickly on 2 CPU cores.

    Small batches at a high learning rate give many optimizer steps per minute, which mattered
    more than anything else for learning arithmetic; bf16 autocast is ~1.4x faster on CPU.
    """

    output_dir: str = field(default="outputs/policy", metadata={"help": "Where the trained model is saved."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device."})
    learning_rate: float = field(default=3e-3, metadata={"help": "Peak learning rate (AdamW)."})
    warmup_steps: float = field(
        default=0.02, metadata={"help": "Warm-up, in steps or as a fraction of training."}
    )
    num_train_epochs: float = field(default=1.0, metadata={"help": "Passes over the training problems."})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast (faster on CPU and GPU)."})
    max_length: int | None = field(default=256, metadata={"help": "Longer sequences are truncated."})
    logging_steps: float = field(default=50, metadata={"help": "Log every this many steps."})
    save_strategy: str = field(
        default="steps", metadata={"help": "When to checkpoint ('steps', 'epoch', 'no')."}
    )
    save_steps: float = field(
        default=500,
        metadata={"help": "Checkpoint every this many steps; a killed run resumes from the last one."},
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations to save memory (slower; off for tiny models)."},
    )
    dataloader_num_workers: int = field(default=0, metadata={"help": "Data loading workers."})


def build_model(args: PolicyArguments, tokenizer) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size,
        num_hidden_layers=args.num_hidden_layers,
        num_attention_heads=args.num_attention_heads,
        num_key_value_heads=args.num_attention_heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def load_training_problems(args: PolicyArguments) -> list[Problem]:
    if args.dataset == "arithworld":
        return generate_problems(n_per_level=args.train_size // 5, seed=args.problem_seed)
    problems = load_problems(args.dataset, split=args.dataset_split)
    missing = [p.id for p in problems if not p.solution]
    if missing:
        raise ValueError(
            f"{args.dataset}: {len(missing)} rows have no solution to train on (first: {missing[0]})"
        )
    return problems


def to_sft_dataset(problems: list[Problem], system_prompt: str | None) -> Dataset:
    """Conversational prompt/completion rows: TRL applies the chat template and trains on the completion only."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return Dataset.from_dict(
        {
            "prompt": [system + [{"role": "user", "content": p.question}] for p in problems],
            "completion": [[{"role": "assistant", "content": p.solution}] for p in problems],
        }
    )


def train_policy(args: PolicyArguments, config: PolicyConfig) -> dict:
    """Train, save to `config.output_dir`, evaluate per level; returns the evaluation record."""
    configure_wandb()
    if args.model_name_or_path:
        tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
        model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path)
    else:
        tokenizer = build_char_tokenizer()
        model = build_model(args, tokenizer)
    print(f"policy: {model.num_parameters():,} parameters")
    dataset = to_sft_dataset(load_training_problems(args), args.system_prompt)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    last = get_last_checkpoint(config.output_dir) if Path(config.output_dir).is_dir() else None
    start = time.time()
    trainer.train(resume_from_checkpoint=last)
    train_s = time.time() - start
    trainer.save_model(config.output_dir)
    tokenizer.save_pretrained(config.output_dir)

    record = {"parameters": model.num_parameters(), "train_s": round(train_s, 1), "args": asdict(args)}
    if args.dataset == "arithworld" and trainer.accelerator.is_main_process:
        eval_problems = generate_problems(n_per_level=args.eval_per_level, seed=args.problem_seed + 1)
        backend = HFBackend(model.float(), tokenizer)
        scores = score_by_level(
            backend, tokenizer, eval_problems, k=args.eval_k, system_prompt=args.system_prompt
        )
        print(format_table(scores))
        record["levels"] = [asdict(s) for s in scores]
    Path(config.output_dir, "eval_results.json").write_text(json.dumps(record, indent=2))
    if trainer.is_world_process_zero():
        finish_wandb(
            config.report_to, {f"eval/greedy_L{s['level']}": s["greedy"] for s in record.get("levels", [])}
        )
    return record


def main(argv: list[str] | None = None) -> None:
    args, config = parse_config(
        (PolicyArguments, PolicyConfig), argv, prog="ponder train policy", description=__doc__
    )
    train_policy(args, config)


if __name__ == "__main__":
    main(sys.argv[1:])
