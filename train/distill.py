"""Distil search results into the policy: SFT on the best verified trajectories, or DPO on pairs.

    ponder train distill --config configs/train/distill_sft.yaml [--key value ...]
    ponder train distill --config configs/train/distill_dpo.yaml
    accelerate launch -m ponder.train.distill --config configs/train/distill_sft.yaml

The rows come from `ponder data distill` (`sft.jsonl` for SFT, `pairs.jsonl` for DPO): TRL's
conversational layout, so TRL's SFTTrainer / DPOTrainer put them through the policy's chat
template exactly as `ponder infer` builds its prompts, and train on the completion only. Full
fine-tuning or LoRA (PEFT); with `merge_adapter` the LoRA is merged into the base weights and the
output is a plain model folder that `ponder infer --model` loads. A killed run resumes from its
last checkpoint. `--method` picks the trainer and its config: `--method dpo --help` lists DPO's
options. With `eval_per_level` > 0 the base and the distilled policy are compared on held-out
problems (greedy, and pass@k with `eval_k`); the record goes to `eval_results.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, TrainingArguments
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from ponder.config import ConfigError, load_yaml, parse_config
from ponder.data import DatasetError
from ponder.data.sources import SourceArguments
from ponder.data.worlds import WORLDS
from ponder.infer.accuracy import format_table, level_scores, score_problems
from ponder.infer.backends.hf import HFBackend
from ponder.models import ModelArguments
from ponder.tracking import finish_wandb
from ponder.train.defaults import SmallModelDefaults, on_device, trained_model
from ponder.train.resume import train_resuming

# method -> (rows file in a `ponder data distill` folder, the columns its trainer reads)
METHODS = {
    "sft": ("sft.jsonl", ["prompt", "completion"]),
    "dpo": ("pairs.jsonl", ["prompt", "chosen", "rejected"]),
}


@dataclass
class DistillArguments(ModelArguments):
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Causal-LM folder or hub name to distil into (the policy that searched).",
            "aliases": ["--model"],
        },
    )
    method: str = field(
        default="sft",
        metadata={
            "help": "'sft': fine-tune on the best trajectories (expert iteration); 'dpo': DPO on "
            "correct/incorrect pairs."
        },
    )
    dataset: str = field(
        default="outputs/distill-data",
        metadata={
            "help": "A `ponder data distill` folder (sft.jsonl or pairs.jsonl is read by method) or one "
            "such jsonl file."
        },
    )
    merge_adapter: bool = field(
        default=True,
        metadata={
            "help": "With use_peft: merge the LoRA into the base weights and save a plain model folder "
            "(else save the adapter alone)."
        },
    )
    eval_dataset: str = field(
        default=SourceArguments.dataset,
        metadata={
            "help": f"Held-out problems for the final comparison: a generated world ({', '.join(WORLDS)}), "
            "a jsonl/json file or a hub dataset (every problem of a file or hub set)."
        },
    )
    eval_split: str = field(
        default="test", metadata={"help": "Split to load when `eval_dataset` is a hub name."}
    )
    eval_per_level: int = field(
        default=0,
        metadata={
            "help": "Problems per level of a generated world for the final comparison of base and "
            "distilled policy (0: no evaluation)."
        },
    )
    eval_seed: int = field(
        default=1,
        metadata={
            "help": "Seed of a generated world's evaluation problems; questions that occur in the training "
            "rows are dropped."
        },
    )
    eval_k: int = field(
        default=0,
        metadata={"help": "Samples per problem for pass@k in the final evaluation (0: greedy only)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {', '.join(METHODS)}, got '{self.method}'")

    def evaluation_source(self) -> SourceArguments:
        """The held-out problems of the final comparison (before questions seen in training are dropped)."""
        return SourceArguments(
            dataset=self.eval_dataset,
            split=self.eval_split,
            seed=self.eval_seed,
            per_level=max(1, self.eval_per_level),
        )


@dataclass
class _DistillDefaults(SmallModelDefaults):
    """Defaults both methods share, on top of ponder's small-model defaults.

    SmolTulu (Alrashed, 2024) found that small models learn reasoning better with a high ratio
    of learning rate to batch size, so the batch is small (8), which also gives the most
    optimizer steps per minute (what mattered most when training the policy). The default
    learning rates are not high, though, because on a few hundred rows they hurt: distilling a few
    hundred of its own verified solutions into the shipped policy kept its greedy accuracy at these
    rates and lowered it at higher ones (docs/results.md). Adam moves every weight by about the
    learning rate even where the loss is already near zero, so on a few hundred rows the policy
    already solves, a high ratio mostly drifts it away from what it knew; SmolTulu's setting is a
    pretrained model learning a large new mixture.

    A gain needs many rows, and hard ones: too few, too easy rows are memorised, while a round of
    thousands of rows from a search that reaches the hard levels lifts both greedy accuracy and
    search. So the SFT recipe (configs/train/distill_sft.yaml) is the policy's own kind of training
    for rounds of thousands of rows, while these defaults stay moderate.
    """

    # The model arguments say whether a model's own code may run (one option, not two).
    trust_remote_code: bool = field(default=False, init=False)
    output_dir: str = field(
        default="outputs/distill", metadata={"help": "Where the distilled policy is saved."}
    )
    per_device_train_batch_size: int = field(
        default=8, metadata={"help": "Batch size per device (rows for SFT, pairs for DPO)."}
    )
    num_train_epochs: float = field(default=2.0, metadata={"help": "Passes over the distilled rows."})
    max_length: int | None = field(
        default=512, metadata={"help": "Longer sequences (prompt + completion) are truncated."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every this many steps."})
    save_steps: float = field(default=200, metadata={"help": "Checkpoint every this many steps."})
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations to save memory (slower; off for small models)."},
    )


@dataclass
class DistillSFTConfig(_DistillDefaults, SFTConfig):
    """TRL's SFTConfig with the small-model defaults above."""

    learning_rate: float = field(default=5e-5, metadata={"help": "Peak learning rate (AdamW)."})


@dataclass
class DistillDPOConfig(_DistillDefaults, DPOConfig):
    """TRL's DPOConfig with the small-model defaults above."""

    learning_rate: float = field(default=5e-6, metadata={"help": "Peak learning rate (AdamW)."})
    beta: float = field(
        default=0.1,
        metadata={
            "help": "DPO's beta: higher keeps the policy closer to the reference (the model it starts from)."
        },
    )


CONFIGS = {"sft": DistillSFTConfig, "dpo": DistillDPOConfig}


def lr_batch_ratio(config: TrainingArguments) -> float:
    """Learning rate over the effective batch (per device × accumulation × processes)."""
    return config.learning_rate / (
        config.per_device_train_batch_size * config.gradient_accumulation_steps * config.world_size
    )


class LogLrBatchRatio(TrainerCallback):
    """At the start of training, put `lr_batch_ratio` in the trainer's log history and the W&B run's
    config."""

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        ratio = lr_batch_ratio(args)
        print(f"lr_batch_ratio: {ratio:.3g}")
        if not any("lr_batch_ratio" in entry for entry in state.log_history):  # once, also when resumed
            state.log_history.append({"lr_batch_ratio": ratio, "step": state.global_step})
        if "wandb" in args.report_to:
            import wandb

            if wandb.run is not None:
                wandb.run.config.update({"lr_batch_ratio": ratio}, allow_val_change=True)


def load_rows(
    dataset: str, filename: str, columns: list[str], writer: str = "ponder data distill"
) -> Dataset:
    """The `columns` a trainer reads, of the rows in `filename` of a folder that `writer` wrote, or
    of the jsonl file `dataset` (other columns, such as `problem_id`, are left out)."""
    path = Path(dataset) / filename if Path(dataset).is_dir() else Path(dataset)
    if not path.is_file():
        raise DatasetError(f"dataset: no {path} (write it with `{writer}`)")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise DatasetError(f"dataset: {path} has no rows (no problem had a usable trajectory)")
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise DatasetError(f"dataset: {path} rows lack {missing} (training reads {columns})")
    return Dataset.from_list([{c: row[c] for c in columns} for row in rows])


def build_trainer(
    args: DistillArguments, config: SFTConfig | DPOConfig, rows: Dataset
) -> tuple[SFTTrainer | DPOTrainer, object]:
    """TRL's trainer for `args.method` on the model to distil into, and its tokenizer."""
    name = args.require_model()
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=args.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def load():
        return AutoModelForCausalLM.from_pretrained(
            name, dtype=args.torch_dtype(for_training=True), trust_remote_code=args.trust_remote_code
        )

    kwargs = dict(
        model=load(),
        args=config,
        train_dataset=rows,
        processing_class=tokenizer,
        peft_config=args.peft_config("CAUSAL_LM"),
        callbacks=[LogLrBatchRatio()],
    )
    if args.method == "sft":
        return SFTTrainer(**kwargs), tokenizer
    # With LoRA the reference is the base model with the adapter switched off; a full model
    # needs its frozen reference passed explicitly.
    return DPOTrainer(**kwargs, ref_model=None if args.use_peft else load()), tokenizer


def evaluate(args: DistillArguments, model, tokenizer, rows: Dataset, name: str = "distilled") -> dict:
    """Greedy (and pass@k) accuracy per level of the base and the trained model (recorded as `name`)
    on held-out problems: the evaluation problems minus any question that occurs in the training
    rows (each prompt's first user turn), asked as a first attempt with the rows' system prompt."""
    seen = {next(m["content"] for m in row["prompt"] if m["role"] == "user") for row in rows}
    problems = [p for p in args.evaluation_source().load() if p.question not in seen]
    system = next((m["content"] for m in rows[0]["prompt"] if m["role"] == "system"), None)
    record = {}
    for label, backend in (
        (
            "base",
            HFBackend(args.require_model(), trust_remote_code=args.trust_remote_code),
        ),  # float32, as below
        (name, HFBackend(model.float(), tokenizer)),
    ):
        per_problem = score_problems(backend, tokenizer, problems, k=args.eval_k, system_prompt=system)
        scores = level_scores(per_problem, args.eval_k)
        print(f"{label} policy, {len(problems)} held-out problems:\n{format_table(scores)}")
        record[label] = [asdict(s) for s in scores]
    return record


def run(args: DistillArguments, config: SFTConfig | DPOConfig) -> dict:
    """Train on the rows of `args.method`, save a loadable model folder in `config.output_dir`,
    evaluate; returns the record."""
    return train_and_evaluate(args, config, load_rows(args.dataset, *METHODS[args.method]))


def train_and_evaluate(
    args: DistillArguments, config: SFTConfig | DPOConfig, rows: Dataset, name: str = "distilled"
) -> dict:
    """Train on `rows` (from the last checkpoint in `config.output_dir`, if any), save a loadable
    model folder there, and with `eval_per_level` compare it with the base as `name`; returns the
    record, also written to eval_results.json. `ponder train revision` trains the same way."""
    config = on_device(config, args.resolved_device())
    config.start_run()
    trainer, tokenizer = build_trainer(args, config, rows)
    train_s = train_resuming(trainer)
    model = trained_model(trainer)
    if args.use_peft and args.merge_adapter:
        model = model.merge_and_unload()  # a plain folder that `ponder infer --model` and vLLM load
        if trainer.is_world_process_zero():
            model.save_pretrained(config.output_dir)
    else:
        trainer.save_model(config.output_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(config.output_dir)

    record = {
        "method": args.method,
        "rows": len(rows),
        "steps": trainer.state.global_step,
        "train_s": round(train_s, 1),
        "lr_batch_ratio": lr_batch_ratio(config),
        "args": asdict(args),
    }
    if trainer.is_world_process_zero():
        if args.eval_per_level > 0:
            record["levels"] = evaluate(args, model, tokenizer, rows, name)
        Path(config.output_dir, "eval_results.json").write_text(json.dumps(record, indent=2))
        # lr_batch_ratio goes into the run's summary too, beside the trained model's greedy scores,
        # so that runs compare on it in W&B's table as well as in their config
        finish_wandb(
            config.report_to,
            {
                "lr_batch_ratio": record["lr_batch_ratio"],
                **{f"eval/greedy_L{s['level']}": s["greedy"] for s in record.get("levels", {}).get(name, [])},
            },
        )
    return record


def config_types(argv: list[str]) -> tuple[type, type]:
    """The dataclasses `argv` parses into: the config class follows `--method`, read from the
    command line, else from the `--config` file, else sft. Anything malformed is left for the
    full parse to report."""
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--method")
    peek.add_argument("--config")
    known, _ = peek.parse_known_args(argv)
    if known.method is None and known.config:
        try:
            known.method = load_yaml(known.config).get("method")
        except ConfigError:
            pass
    return DistillArguments, CONFIGS.get(known.method, DistillSFTConfig)


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run(*parse_config(config_types(argv), argv, prog="ponder train distill", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder train distill", main)
