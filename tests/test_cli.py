"""The `ponder` command: help for every subcommand, YAML configs with CLI overrides, one-line errors."""

import shutil
import subprocess
import sys

import pytest

from ponder.config import parse_config
from ponder.train.policy import PolicyArguments, PolicyConfig

SUBCOMMANDS = [
    ["quickstart"],
    ["data", "world"],
    ["data", "convert-gguf"],
    ["train", "policy"],
    ["train", "prm"],
    ["infer"],
    ["merge"],
    ["eval", "search"],
    ["eval", "policy"],
    ["eval", "prm"],
    ["data", "prm-labels"],
]


def ponder(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_console_script_is_installed():
    assert shutil.which("ponder") or shutil.which(
        "ponder", path=str(__import__("pathlib").Path(sys.executable).parent)
    )


def test_top_level_help_lists_every_command():
    result = ponder("--help")
    assert result.returncode == 0
    for name in ("quickstart", "data", "train", "infer", "eval"):
        assert f"  {name}" in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_explains_its_options(command):
    result = ponder(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout
    # every option has a help text: argparse prints a line for each option, none left bare
    options = [line.split()[0] for line in result.stdout.splitlines() if line.strip().startswith("--")]
    assert len(options) >= 2


def test_train_policy_help_has_trl_and_model_options():
    out = ponder("train", "policy", "--help").stdout
    for option in (
        "--hidden_size",
        "--learning_rate",
        "--per_device_train_batch_size",
        "--train_size",
        "--report_to",
    ):
        assert option in out


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_yaml_values_and_cli_overrides(tmp_path):
    config = write(tmp_path, "hidden_size: 64\nlearning_rate: 0.01\ntrain_size: 1000\n")
    args, train = parse_config((PolicyArguments, PolicyConfig), ["--config", config, "--train_size", "500"])
    assert args.hidden_size == 64 and train.learning_rate == 0.01
    assert args.train_size == 500  # the command line wins over the file


@pytest.mark.parametrize(
    "argv_tail, yaml_text, expected",
    [
        ([], "hidden_sise: 64\n", "hidden_sise"),  # unknown key in the file
        (["--hidden_sise", "64"], "", "hidden_sise"),  # unknown flag
        (["--train_size", "many"], "", "train_size"),  # a value of the wrong type
        ([], "learning_rate: fast\n", "learning_rate"),  # the same, from the file
        (["--num_attention_heads", "3"], "", "num_attention_heads"),  # a value the recipe rejects
    ],
)
def test_user_errors_exit_2_with_one_line_naming_the_key(tmp_path, argv_tail, yaml_text, expected):
    argv = ["train", "policy", "--config", write(tmp_path, yaml_text or "train_size: 10\n"), *argv_tail]
    result = ponder(*argv)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_and_unknown_command(tmp_path):
    result = ponder("eval", "policy", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml" in result.stderr and "Traceback" not in result.stderr
    result = ponder("trian")
    assert result.returncode == 2 and "trian" in result.stderr


def test_missing_model_folder_is_one_line(tmp_path):
    result = ponder("eval", "policy", "--model", str(tmp_path / "no-such-model"))
    assert result.returncode == 2 and "no-such-model" in result.stderr and "Traceback" not in result.stderr


def test_group_help_lists_one_sub_command_per_line():
    out = ponder("--help").stdout
    for sub in (
        "world",
        "prm-labels",
        "difficulty",
        "distill",
        "convert-gguf",
        "policy",
        "prm",
        "search",
    ):
        assert any(line.split() and line.split()[0] == sub for line in out.splitlines()), sub
    assert ".; " not in out  # no group runs its sub-commands together on one line


@pytest.mark.parametrize(
    "command", [["infer"], ["eval", "search"], ["eval", "prm"], ["eval", "policy"], ["data", "difficulty"]]
)
def test_help_imports_no_torch_trl_or_vllm(command):
    """`--help` of a search or data command lists options without loading models or trainers."""
    code = (
        "import sys\nfrom ponder.cli import main\n"
        f"try:\n    main({command + ['--help']!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'trl', 'vllm') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_user_error_found_while_running_is_one_line(tmp_path):
    """A ConfigError raised inside a command's run (not by the parser) still ends as exit 2 and one line."""
    result = ponder("eval", "search", "--results", str(tmp_path / "no-results"), "--wandb", "false")
    assert result.returncode == 2 and "no-results" in result.stderr and "Traceback" not in result.stderr
