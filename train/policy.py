"""Train a policy with TRL's SFTTrainer: from scratch on a generated world, or fine-tune any causal LM.

    ponder train policy --config configs/train/policy.yaml [--key value ...]
    accelerate launch -m ponder.train.policy --config configs/train/policy.yaml

With no `model_name_or_path`, a small `LlamaForCausalLM` is built from the size options and a
character-level tokenizer, so the checkpoint is a real Llama that transformers, vLLM, TRL and
PEFT load like any other. With `use_peft`, a LoRA adapter is trained and merged into the saved
folder. When the problems come from a generated world, it reports greedy accuracy (and pass@k)
per level on held-out problems of the same world after training (its test split, seed
`problem_seed + 1`) and writes them, with the training time, to `eval_results.json` in the output
folder, and each problem's outcome to `eval_samples.jsonl` (the rows `ponder eval policy
--log_samples` writes, so two checkpoints compare on the same problems). A world's training
problems come from its train split (`ponder.data.splits`), so no test question is trained on;
`recipe_training_questions` rebuilds what a shipped checkpoint trained on.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from trl import SFTConfig, SFTTrainer

from ponder.config import ConfigError, load_yaml, parse_config
from ponder.data import Problem
from ponder.data.chartok import build_char_tokenizer
from ponder.data.problem import read_problem_file, write_problem_file
from ponder.data.sources import SourceArguments
from ponder.data.splits import ALL, SPLITS, check_split
from ponder.data.worlds import WORLDS
from ponder.infer.accuracy import format_table, level_scores, score_problems, write_problem_scores
from ponder.infer.backends.hf import HFBackend
from ponder.models import ModelArguments
from ponder.tracking import finish_wandb
from ponder.train.defaults import SmallModelDefaults, on_device, trained_model
from ponder.train.resume import drop_kept_rows, rows_kept_for_resume, train_resuming


@dataclass
class PolicyArguments(ModelArguments):
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Model folder or hub name to fine-tune; empty to build a Llama from scratch.",
            "aliases": ["--model"],
        },
    )
    dataset: str = field(
        default=SourceArguments.dataset,
        metadata={
            "help": f"A generated world ({', '.join(WORLDS)}), or a jsonl/json file or hub dataset whose "
            "rows have solutions."
        },
    )
    dataset_split: str = field(
        default="train",
        metadata={"help": f"A hub dataset's split, or a generated world's ({', '.join((*SPLITS, ALL))})."},
    )
    train_size: int = field(
        default=200_000,
        metadata={"help": "Generated worlds: training problems (spread evenly over the levels)."},
    )
    eval_per_level: int = field(
        default=200,
        metadata={"help": "Generated worlds: held-out problems per level for the final evaluation."},
    )
    eval_k: int = field(
        default=16, metadata={"help": "Samples per problem for pass@k in the final evaluation (0 to skip)."}
    )
    problem_seed: int = field(
        default=0,
        metadata={"help": "Seed of the generated training problems (evaluation uses problem_seed + 1)."},
    )
    eval_split: str = field(
        default="test",
        metadata={"help": "Generated worlds: the split of the final evaluation ('dev' while tuning)."},
    )
    eval_seed: int | None = field(
        default=None,
        metadata={
            "help": "Seed of the evaluation problems (default problem_seed + 1; fix it to compare runs)."
        },
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "System message put before every question."}
    )
    hidden_size: int = field(default=128, metadata={"help": "From scratch: width of the Llama."})
    num_hidden_layers: int = field(default=4, metadata={"help": "From scratch: number of decoder layers."})
    num_attention_heads: int = field(default=4, metadata={"help": "From scratch: attention heads per layer."})
    intermediate_size: int = field(default=512, metadata={"help": "From scratch: width of the MLP."})
    attn_implementation: str | None = field(
        default=None,
        metadata={
            "help": "Attention kernel the model trains with: eager, sdpa, flash_attention_2, ... or a "
            "hub kernel (default: transformers' choice, sdpa); the same function at different speeds. "
            "On the CPU, eager trains the small character-level policies faster: sdpa's flash-attention "
            "backward dominates their steps (docs/results.md)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        kernels = ("eager", *ALL_ATTENTION_FUNCTIONS.valid_keys())  # what this transformers registers
        kernel = self.attn_implementation
        if kernel is not None and kernel not in kernels and "/" not in kernel:  # "org/name": a hub kernel
            raise ValueError(f"attn_implementation: expected one of {', '.join(kernels)}, got '{kernel}'")
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
        if self.dataset in WORLDS:
            check_split(self.dataset_split, "dataset_split")
            check_split(self.eval_split, "eval_split")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )

    def training_source(self) -> SourceArguments:
        """Where the training problems come from: a world generates `train_size` of them, spread
        evenly over its levels, from `problem_seed`."""
        source = SourceArguments(dataset=self.dataset, split=self.dataset_split, seed=self.problem_seed)
        if source.generated_world:
            source.per_level = max(1, self.train_size // len(source.generated_world.levels))
        return source

    def evaluation_source(self) -> SourceArguments | None:
        """Held-out problems of the same world (`eval_split`, seed `eval_seed` or `problem_seed + 1`);
        None for a file or hub dataset."""
        source = self.training_source()
        if not source.generated_world:
            return None
        source.split, source.per_level = self.eval_split, self.eval_per_level
        source.seed = self.problem_seed + 1 if self.eval_seed is None else self.eval_seed
        return source


@dataclass
class PolicyConfig(SmallModelDefaults, SFTConfig):
    """SFTConfig with defaults that train a tiny Llama quickly on 2 CPU cores.

    Small batches at a high learning rate give many optimizer steps per minute, which mattered
    more than anything else for learning arithmetic; bf16 autocast is faster here, on CPU too.
    """

    # The model arguments say whether a model's own code may run (one option, not two).
    trust_remote_code: bool = field(default=False, init=False)

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
        attn_implementation=args.attn_implementation,  # not saved: a loaded checkpoint picks its own
    )
    return LlamaForCausalLM(config)


# A generated world's training problems, kept in the output folder while its run trains.
DRAWN = "drawn_problems.jsonl"
# Each held-out problem's outcome after training: `ponder eval policy --log_samples` rows.
EVAL_SAMPLES = "eval_samples.jsonl"


def load_training_problems(args: PolicyArguments, output_dir: str | Path) -> list[Problem]:
    problems = draw_once(args.training_source(), Path(output_dir))
    if not problems:
        raise ConfigError(f"dataset: {args.dataset} has no problems")
    missing = [p.id for p in problems if not p.solution]
    if missing:
        raise ConfigError(
            f"{args.dataset}: {len(missing)} rows have no solution to train on (first: {missing[0]})"
        )
    return problems


def draw_once(source: SourceArguments, folder: Path) -> list[Problem]:
    """The source's problems; a generated world's are drawn once per run and kept in `folder/DRAWN`
    (its first line the source they came from) until training ends. Drawing a ladder stage's
    Countdown problems takes tens of minutes on one core (docs/results.md), so a run killed while
    training resumes from its last checkpoint without drawing them again. A file from another source
    is drawn over."""
    if not source.generated_world:
        return source.load()  # a file or hub dataset is read, not drawn
    path = folder / DRAWN
    header = json.loads(json.dumps(asdict(source.source())))  # as the file holds it (tuples as lists)
    kept = read_problem_file(path, lambda found: found == header)
    if kept is not None:
        return kept[1]
    problems = source.load()
    write_problem_file(path, header, problems)  # each process of a launch writes its own, then renames
    return problems


# Recipes name their files (configs, a checkpoint to start from) from the repository root.
SOURCE_TREE = Path(__file__).resolve().parents[1]
PATH_OPTIONS = ("--config", "--model_name_or_path", "--model")


def recipe_training_sources(checkpoint: str | Path) -> list[SourceArguments]:
    """Where every problem a checkpoint was trained on came from, rebuilt from its `recipe.yaml`.

    The recipe holds the `ponder train policy` command that made the checkpoint (`command`), or the
    commands run one after another (`commands`); each is parsed as it was run. A command that starts
    from a checkpoint with a recipe adds that checkpoint's sources (one that starts from an earlier
    command's output adds nothing more). A recipe without `splits: true` was run before splits
    existed, when a world's training problems came from its whole question space, so its commands
    are rebuilt with `--dataset_split all` unless they name a split. Paths are read from the working
    directory, else from the repository root.
    """
    path = Path(checkpoint) / "recipe.yaml"
    spec = load_yaml(path)
    commands = spec.get("commands") or ([spec["command"]] if "command" in spec else [])
    if not commands:
        raise ConfigError(f"{path}: no `command` or `commands` to rebuild the training data from")
    sources: list[SourceArguments] = []
    outputs = set()  # what the earlier commands wrote (gone now; their sources are listed)
    for command in commands:
        argv = shlex.split(command)
        if argv[:3] != ["ponder", "train", "policy"]:
            raise ConfigError(f"{path}: not a `ponder train policy` command: {command}")
        argv = [_from_tree(a) if i and argv[i - 1] in PATH_OPTIONS else a for i, a in enumerate(argv)][3:]
        argv = _without_values(argv, outputs)
        if not spec.get("splits") and "--dataset_split" not in argv:
            argv += ["--dataset_split", ALL]
        args, config = parse_config((PolicyArguments, PolicyConfig), argv, prog=f"{path} command")
        start = args.model_name_or_path
        if start and (Path(start) / "recipe.yaml").is_file():
            sources += recipe_training_sources(start)
        sources.append(args.training_source())
        outputs.add(config.output_dir)
    return sources


def recipe_training_questions(checkpoint: str | Path) -> set[str]:
    """Every question a checkpoint was trained on: its `recipe_training_sources` drawn again."""
    return {p.question for source in recipe_training_sources(checkpoint) for p in source.load()}


def _without_values(argv: list[str], values: set[str]) -> list[str]:
    """`argv` less every `--option value` pair whose value is in `values`."""
    kept: list[str] = []
    for arg in argv:
        if arg in values and kept and kept[-1].startswith("--"):
            kept.pop()
        else:
            kept.append(arg)
    return kept


def _from_tree(name: str) -> str:
    """`name`, or the same relative path under the repository root when only that exists."""
    tree = SOURCE_TREE / name
    return str(tree) if not Path(name).is_absolute() and not Path(name).exists() and tree.exists() else name


def training_totals(checkpoint: str | Path) -> tuple[int, int] | None:
    """Samples and tokens a `ponder train policy` checkpoint's weights were trained on in all, the
    checkpoint it continued from included (pre-training FLOPs, 6 x parameters x tokens, count every
    token); None where that is unknown (no record, or a start without one). A record written since
    2026-12-06 carries its totals, so a shipped or copied folder answers without the folder it
    started from; an older one is followed down its chain of starts."""
    path = Path(checkpoint) / "eval_results.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if "total_train_tokens" in record:
        return record["total_train_samples"], record["total_train_tokens"]
    if "train_tokens" not in record:
        return None
    samples, tokens = record["args"]["train_size"], record["train_tokens"]
    start = record["args"].get("model_name_or_path")
    before = training_totals(start) if start else (0, 0)
    return None if before is None else (before[0] + samples, before[1] + tokens)


def to_sft_dataset(problems: list[Problem], system_prompt: str | None) -> Dataset:
    """Conversational prompt/completion rows: TRL applies the chat template and trains on the
    completion only."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return Dataset.from_dict(
        {
            "prompt": [system + [{"role": "user", "content": p.question}] for p in problems],
            "completion": [[{"role": "assistant", "content": p.solution}] for p in problems],
        }
    )


def run(args: PolicyArguments, config: PolicyConfig) -> dict:
    """Train, save to `config.output_dir`, evaluate per level; returns the evaluation record (without
    levels on the processes other than the main one, which neither evaluate nor write)."""
    config = on_device(config, args.resolved_device())
    config.start_run()
    problems = load_training_problems(args, config.output_dir)
    if args.model_name_or_path:
        tokenizer = AutoTokenizer.from_pretrained(
            args.model_name_or_path, trust_remote_code=args.trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            args.model_name_or_path,
            dtype=args.torch_dtype(for_training=True),
            trust_remote_code=args.trust_remote_code,
            attn_implementation=args.attn_implementation,
        )
    else:
        tokenizer = build_char_tokenizer()
        model = build_model(args, tokenizer)
    print(f"policy: {model.num_parameters():,} parameters")
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=rows_kept_for_resume(to_sft_dataset(problems, args.system_prompt), config),
        processing_class=tokenizer,
        peft_config=args.peft_config("CAUSAL_LM"),
    )
    train_s = train_resuming(trainer)
    # what pre-training FLOPs (6 x parameters x tokens) are counted from
    train_tokens = round(sum(map(len, trainer.train_dataset["input_ids"])) * config.num_train_epochs)
    (Path(config.output_dir) / DRAWN).unlink(missing_ok=True)  # trained: nothing left to resume
    drop_kept_rows(config.output_dir)
    model = trained_model(trainer)
    if args.use_peft:
        model = model.merge_and_unload()  # a plain folder that every command loads
    else:
        trainer.save_model(config.output_dir)  # every process calls it (ZeRO-3 gathers); the main one writes

    record = {
        "parameters": model.num_parameters(),
        "train_s": round(train_s, 1),
        "train_tokens": train_tokens,
        "args": asdict(args),
    }
    before = training_totals(args.model_name_or_path) if args.model_name_or_path else (0, 0)
    if before is not None:  # unknown for a start without a record (a hub model's pre-training)
        # a world's samples as the run asked for them (`train_size`, what a ladder names its stages
        # by; a split that leaves out test questions may hold a few fewer), a file's rows; tokens as trained
        samples = args.train_size if args.training_source().generated_world else len(problems)
        record["total_train_samples"] = before[0] + samples
        record["total_train_tokens"] = before[1] + train_tokens
    # Under `accelerate launch` the other processes stop here: the folder, the evaluation and its
    # record are written once, by the main process.
    if not trainer.is_world_process_zero():
        return record
    if args.use_peft:
        model.save_pretrained(config.output_dir)
    tokenizer.save_pretrained(config.output_dir)
    held_out = args.evaluation_source()
    if held_out is not None:
        backend = HFBackend(model.float(), tokenizer)
        per_problem = score_problems(
            backend, tokenizer, held_out.load(), k=args.eval_k, system_prompt=args.system_prompt
        )
        scores = level_scores(per_problem, args.eval_k)
        print(format_table(scores))
        record["levels"] = [asdict(s) for s in scores]
        write_problem_scores(Path(config.output_dir, EVAL_SAMPLES), per_problem)
    Path(config.output_dir, "eval_results.json").write_text(json.dumps(record, indent=2))
    finish_wandb(
        config.report_to, {f"eval/greedy_L{s['level']}": s["greedy"] for s in record.get("levels", [])}
    )
    return record


def main(argv: list[str] | None = None) -> dict:
    return run(
        *parse_config((PolicyArguments, PolicyConfig), argv, prog="ponder train policy", description=__doc__)
    )


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder train policy", main)
