"""Every YAML recipe under configs/ parses with its own command's parser, and every accelerate file
is read by `accelerate launch --config_file` the way its comments say. Nothing is loaded or run: no
model, no dataset, no GPU.

A recipe names its command in its header comment (`ponder train prm --config <it>` or
`accelerate launch ... -m ponder.train.prm --config <it>`); the test parses the file with that
command's dataclasses through `ponder.config.parse_config`, so every `__post_init__` check runs.
Nothing is overridden: `bf16: true` parses on a CPU-only machine because PolicyConfig and PRMConfig
switch to `use_cpu` there themselves, and hub names pass `check_model_name` by their `org/model`
shape without being looked up.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest
import yaml

from ponder.cli import COMMANDS
from ponder.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(p for folder in ("gpu", "train", "data") for p in (ROOT / "configs" / folder).glob("*.yaml"))
GPU_RECIPES = [p for p in RECIPES if p.parent.name == "gpu"]
ACCELERATE = sorted((ROOT / "configs" / "accelerate").glob("*.yaml"))

# The dataclasses each command's `main` passes to `parse_config`. A recipe for another command
# needs its line here.
PARSERS = {
    "infer": ("ponder.infer.run", ("InferArguments",)),
    "train prm": ("ponder.train.prm", ("PRMArguments", "PRMConfig")),
    "train policy": ("ponder.train.policy", ("PolicyArguments", "PolicyConfig")),
    "data prm-labels": ("ponder.train.prm_labels", ("LabelArguments",)),
    "train difficulty": ("ponder.train.difficulty", ("DifficultyArguments", "DifficultyConfig")),
    "train distill": ("ponder.train.distill", "config_types"),  # the config class follows `method`
    "train revision": ("ponder.train.revision", ("RevisionArguments", "RevisionSFTConfig")),
}
# `-m ponder.train.prm` -> "train prm", from the CLI's own table.
MODULE_COMMANDS = {
    entry[0]: f"{name} {sub}" if sub else name
    for name, value in COMMANDS.items()
    for sub, entry in (value.items() if isinstance(value, dict) else [(None, value)])
}
COMMAND_LINE = re.compile(r"(?:\bponder ([a-z][a-z -]*?)|-m (ponder\.[\w.]+)) --config (\S+)")
SEARCH_BUDGETS = [1, 4, 16, 64, 256]
SEARCH_STRATEGIES = {"majority", "best_of_n", "weighted_best_of_n", "beam_search", "dvts"}
ZERO_STAGES = {"deepspeed_zero2.yaml": 2, "deepspeed_zero3.yaml": 3}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def header(path: Path) -> str:
    """The comment block a recipe starts with."""
    lines = path.read_text().splitlines()
    return "\n".join(
        line
        for line in lines[: next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))]
    )


def commands_of(path: Path) -> set[str]:
    """The commands the header runs this file with."""
    found = set()
    for match in COMMAND_LINE.finditer(header(path)):
        if match[3] == rel(path):
            found.add(match[1] or MODULE_COMMANDS.get(match[2], match[2]))
    return found


def parse(command: str, path: Path, capsys) -> tuple:
    module, names = PARSERS[command]
    if isinstance(names, str):  # a function that picks the dataclasses from the arguments
        types = getattr(importlib.import_module(module), names)(["--config", str(path)])
    else:
        types = tuple(getattr(importlib.import_module(module), name) for name in names)
    try:
        return parse_config(types, ["--config", str(path)])
    except ConfigError as err:  # one line naming the key
        pytest.fail(f"{rel(path)} does not parse as `ponder {command}`: {err}")


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    # Recipes name local folders relative to the repository (ponder/checkpoints/...).
    monkeypatch.chdir(ROOT)


def test_recipes_found():
    assert {p.name for p in GPU_RECIPES} >= {
        "llama-3.2-1b-instruct_rlhflow.yaml",
        "llama-3.2-3b-instruct_rlhflow.yaml",
        "qwen2.5-math-1.5b-instruct_qwen-prm.yaml",
        "prm_qwen2.5-math-1.5b.yaml",
        "policy_sft_llama-3.2-1b.yaml",
    }
    assert {p.name for p in ACCELERATE} >= {"multi_gpu.yaml", *ZERO_STAGES}


@pytest.mark.parametrize("path", RECIPES, ids=rel)
def test_recipe_parses_with_its_command(path, capsys):
    commands = commands_of(path)
    assert commands, f"{rel(path)}: the header comment shows no command line with `--config {rel(path)}`"
    for command in commands:
        assert command in PARSERS, (
            f"{rel(path)}: add the dataclasses of `ponder {command}` to PARSERS in {rel(Path(__file__))}"
        )
        parse(command, path, capsys)


@pytest.mark.parametrize("path", [p for p in GPU_RECIPES if "infer" in commands_of(p)], ids=rel)
def test_gpu_search_recipe(path, capsys):
    from ponder.data.results import AGGREGATIONS
    from ponder.infer.backends import BACKENDS
    from ponder.infer.prm import PRMS

    (args,) = parse("infer", path, capsys)
    assert args.backend == "vllm" and args.backend in BACKENDS
    assert args.prm in PRMS and args.prm_model
    # Qwen2.5-Math-PRM refuses to load without the opt-in; nothing else needs it.
    assert args.trust_remote_code == (args.prm == "qwen2.5-math-prm")
    assert (args.dataset, args.split) == ("HuggingFaceH4/MATH-500", "test")
    assert set(args.strategies) == SEARCH_STRATEGIES and args.budgets == SEARCH_BUDGETS
    assert all(n % min(args.beam_width, n) == 0 for n in args.budgets), (
        "beam_width must divide every budget it is used at"
    )
    assert args.aggregation in AGGREGATIONS
    assert (args.temperature, args.top_p, args.max_tokens, args.beam_width, args.aggregation) == (
        0.8,
        1.0,
        2048,
        4,
        "last",
    )
    assert "\\boxed{" in args.system_prompt
    # The header's evaluation command reads the folder this run writes.
    assert f"ponder eval search --results {args.output_dir}" in header(path)


@pytest.mark.parametrize(
    "path", [p for p in GPU_RECIPES if commands_of(p) & {"train prm", "train policy"}], ids=rel
)
def test_gpu_training_recipe(path, capsys):
    (command,) = commands_of(path)
    script, config = parse(command, path, capsys)
    assert config.bf16 and config.gradient_checkpointing
    assert script.model_name_or_path.count("/") == 1  # a hub model
    # Shown with a DeepSpeed launch (fp32 master weights for the bf16 checkpoint transformers loads).
    assert re.search(
        r"accelerate launch --config_file configs/accelerate/deepspeed_zero[23]\.yaml -m ", header(path)
    )


@pytest.mark.parametrize("path", RECIPES + ACCELERATE, ids=rel)
def test_accelerate_files_named_in_headers_exist(path):
    for name in re.findall(r"--config_file (\S+)", header(path)):
        assert (ROOT / name).is_file(), f"{rel(path)}: its header launches with {name}, which does not exist"


@pytest.mark.parametrize("path", ACCELERATE, ids=rel)
def test_accelerate_config(path, monkeypatch):
    """The file as `accelerate launch --config_file` reads it, and the DeepSpeed config that the
    training processes build from the environment launch gives them."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import DeepSpeedPlugin, DistributedType, PrecisionType
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    config = load_config_from_file(str(path))  # accelerate's own class: unknown keys raise
    raw = yaml.safe_load(path.read_text())
    assert raw["num_processes"] >= 1 and raw["distributed_type"] == config.distributed_type.value
    assert PrecisionType(config.mixed_precision) == PrecisionType.BF16

    parser = launch_command_parser()
    launch_options = {action.dest for action in parser._actions}
    unknown = set(config.deepspeed_config) - launch_options
    assert not unknown, f"`accelerate launch` silently ignores deepspeed_config keys {sorted(unknown)}"
    args, defaults, _ = _validate_launch_command(
        parser.parse_args(["--config_file", str(path), "-m", "ponder.train.prm", "--config", "x.yaml"])
    )
    assert (
        args.num_processes == raw["num_processes"]
        and args.module
        and args.training_script == "ponder.train.prm"
    )

    if path.name not in ZERO_STAGES:
        assert (
            config.distributed_type == DistributedType.MULTI_GPU
            and not config.deepspeed_config
            and args.multi_gpu
        )
        return
    stage = ZERO_STAGES[path.name]
    assert config.distributed_type == DistributedType.DEEPSPEED and args.use_deepspeed
    assert raw["deepspeed_config"]["zero_stage"] == stage
    # What the launched training processes see, and the DeepSpeed config they build from it.
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    for key in [k for k in os.environ if k.startswith("ACCELERATE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("ACCELERATE_"):
            monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()
    assert plugin.zero_stage == stage
    # Left to the trainer: a number here that differs from TrainingArguments stops training.
    assert plugin.deepspeed_config["gradient_accumulation_steps"] == "auto"
    if stage == 3:
        assert (
            plugin.zero3_init_flag
            and plugin.deepspeed_config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"]
        )
