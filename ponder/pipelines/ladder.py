"""`ponder ladder`: a ladder of policy sizes, each trained on ever more samples until it plateaus.

"Small model + search beats a larger model" means nothing against an under-trained larger model:
a user would ask why it was not simply trained longer. So every rung (a `ponder train policy`
recipe; the rungs differ only in their size options) is trained on doubling samples of the train
split, `start_samples * 2**k` at stage k. With `schedule` 'scratch' (the default) each stage is
one run from scratch, so a point of the curve is exactly "this recipe on that many samples". With
'continue' stage k continues from stage k-1 on as many fresh problems as it has seen so far, a
cosine cycle warmed up again to `continue_lr_ratio` times the recipe's peak (SGDR's warm restarts,
Loshchilov & Hutter 2017, T_mult = 2): half the cost, but on ArithWorld it learned far less than
one run on the same samples (docs/results.md, "Policy size ladder").

After each stage its greedy accuracy is measured on the dev split (the same problems every stage);
a rung stops when doubling its samples gained less than `min_gain_points` (the mean over levels;
not before `min_samples`), or at `max_samples`.

Each stage writes `output_dir/<rung>/samples-<n>/`, a checkpoint whose `recipe.yaml` holds the
`ponder train policy` commands that made it (so `recipe_training_questions` rebuilds its training
questions); a finished stage is never trained again, a killed one resumes from its last checkpoint,
and one recorded with other commands is refused rather than mixed in. `ladder.json` holds each
rung's curve (samples, tokens, train time, dev accuracy per level) and its plateau checkpoint;
`ladder.png` draws the curves. `ship_dir` copies each rung's checkpoint (its files, not the
trainer's intermediate checkpoints) beside a ladder.json that names them relative to it: how
`ponder/checkpoints/ladder` is made, which `read_ladder` reads wherever the package lies.
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import from_yaml, load_yaml, parse_config, recipe
from ponder.errors import ConfigError
from ponder.plots import pyplot, save_figure
from ponder.tracking import log_run, new_group, wandb_scope

RUNGS = ("policy_tiny.yaml", "policy_small.yaml", "policy.yaml")  # about 69k, 265k and 1.06M parameters
# What the trainer leaves beside a checkpoint that a shipped copy does without: TRL's generated model
# card (it names no base model and describes no ArithWorld task) and the pickled training arguments
# (recipe.yaml and eval_results.json record them as text), and each dev problem's outcome
# (eval_samples.jsonl, about 100 KB at ladder sizes; eval_results.json keeps the accuracy per level).
NOT_SHIPPED = ("README.md", "training_args.bin", "eval_samples.jsonl")
SCHEDULES = ("scratch", "continue")


@dataclass
class LadderArguments:
    rungs: list[str] = field(
        default_factory=lambda: [str(recipe("train", name)) for name in RUNGS],
        metadata={"help": "`ponder train policy` recipes, one per size; a rung is named after its file."},
    )
    output_dir: str = field(default="outputs/ladder", metadata={"help": "Where every stage is written."})
    start_samples: int = field(default=32_000, metadata={"help": "Training problems of stage 0."})
    max_samples: int = field(
        default=512_000, metadata={"help": "No rung is trained on more problems than this."}
    )
    min_samples: int = field(
        default=64_000,
        metadata={
            "help": "No plateau is declared before this many samples (a barely trained model gains "
            "little from one doubling too)."
        },
    )
    min_gain_points: float = field(
        default=1.0,
        metadata={"help": "A rung has plateaued when doubling its samples gains less (dev greedy, points)."},
    )
    schedule: str = field(
        default="scratch",
        metadata={
            "help": "'scratch': each stage is one run from scratch on all its samples; 'continue': each "
            "stage continues the last on fresh samples (half the cost, but see docs/results.md)."
        },
    )
    continue_lr_ratio: float = field(
        default=1.0,
        metadata={"help": "schedule 'continue': peak learning rate of later stages, over the recipe's."},
    )
    dev_per_level: int = field(default=200, metadata={"help": "Dev problems per level for each measure."})
    dev_seed: int = field(default=1, metadata={"help": "Seed of the dev problems (the same every stage)."})
    problem_seed: int = field(
        default=100,
        metadata={
            "help": "Seed of the training problems ('continue': stage k draws its fresh ones with "
            "problem_seed + k; 'scratch': every stage draws from this one, so each holds the last)."
        },
    )
    device: str = field(default="auto", metadata={"help": "Where to train: auto, cpu or cuda."})
    wandb: bool = field(default=True, metadata={"help": "Log every stage to W&B, in one group."})
    ship_dir: str | None = field(
        default=None,
        metadata={
            "help": "Also copy every rung's checkpoint and a relocatable ladder.json here (how "
            "ponder/checkpoints/ladder is made)."
        },
    )

    def __post_init__(self):
        if not self.rungs:
            raise ConfigError("rungs: give at least one policy recipe")
        for path in self.rungs:
            if not Path(path).is_file():
                raise ConfigError(f"rungs: recipe {path} does not exist")
        names = [rung_name(path) for path in self.rungs]
        if len(set(names)) < len(names):
            raise ConfigError(f"rungs: two recipes share a file name ({names}); rungs are named after them")
        if not 0 < self.start_samples <= self.max_samples:
            raise ConfigError(
                f"start_samples: must be in 1..max_samples ({self.max_samples}), got {self.start_samples}"
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.continue_lr_ratio <= 0:
            raise ConfigError(f"continue_lr_ratio: must be > 0, got {self.continue_lr_ratio}")


def rung_name(path: str | Path) -> str:
    return Path(path).stem


def stage_samples(args: LadderArguments) -> list[int]:
    """The samples seen after each stage: start_samples doubled up to max_samples."""
    sizes = [args.start_samples]
    while sizes[-1] * 2 <= args.max_samples:
        sizes.append(sizes[-1] * 2)
    return sizes


def stage_overrides(args: LadderArguments, rung: str, k: int, learning_rate: float) -> dict:
    """`ponder train policy` options of stage k of a rung (beyond its recipe)."""
    seen = stage_samples(args)
    folder = Path(args.output_dir) / rung_name(rung)
    scratch = args.schedule == "scratch"
    overrides = {
        "dataset_split": "train",
        "train_size": seen[k] if scratch or k == 0 else seen[k] - seen[k - 1],
        "problem_seed": args.problem_seed + (0 if scratch else k),
        "eval_split": "dev",
        "eval_seed": args.dev_seed,
        "eval_per_level": args.dev_per_level,
        "eval_k": 0,
        "device": args.device,
        "output_dir": str(folder / f"samples-{seen[k]}"),
    }
    if k > 0 and not scratch:
        overrides["model_name_or_path"] = str(folder / f"samples-{seen[k - 1]}")
        overrides["learning_rate"] = learning_rate * args.continue_lr_ratio
    return overrides


def command_line(rung: str, overrides: dict) -> str:
    """The `ponder train policy` command a stage runs, as its recipe.yaml records it (a recipe of
    this checkout by its path from the repository root, as `recipe_training_questions` reads it)."""
    from ponder.train.policy import SOURCE_TREE

    path = Path(rung).resolve()
    if path.is_relative_to(SOURCE_TREE):
        path = path.relative_to(SOURCE_TREE)
    options = [f"--{key} {shlex.quote(str(value))}" for key, value in overrides.items() if key != "device"]
    return " ".join(["ponder train policy --config", shlex.quote(str(path)), *options])


def overall(levels: list[dict]) -> float:
    """Greedy accuracy averaged over levels (each level weighs the same), in percent."""
    return 100 * sum(level["greedy"] for level in levels) / len(levels)


def check_stage(folder: Path, commands: list[str]) -> None:
    """Record the commands behind a stage in its recipe.yaml before it trains; a stage that exists
    with other commands (other options, or a different stage before it) is not mixed in."""
    path = folder / "recipe.yaml"
    if path.is_file():
        if load_yaml(path).get("commands") != commands:
            raise ConfigError(
                f"{folder} was trained with other options than this ladder's ({path}); "
                "remove it or use another output_dir"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Made by `ponder ladder`: the `ponder train policy` commands that made this stage, in order.\n"
        + json.dumps({"splits": True, "commands": commands}, indent=2)
        + "\n"
    )


def train_rung(args: LadderArguments, rung: str) -> dict:
    """Stages of one rung until it plateaus; its curve and plateau checkpoint."""
    from ponder.train.policy import PolicyArguments, PolicyConfig
    from ponder.train.policy import run as train_policy

    base_args, base_config = from_yaml((PolicyArguments, PolicyConfig), rung)
    if base_args.model_name_or_path:
        raise ConfigError(f"rungs: {rung} starts from a model; a ladder rung is trained from scratch")
    curve: list[dict] = []
    commands: list[str] = []
    for k, seen in enumerate(stage_samples(args)):
        overrides = stage_overrides(args, rung, k, base_config.learning_rate)
        command = command_line(rung, overrides)
        commands = commands + [command] if args.schedule == "continue" else [command]
        folder = Path(overrides["output_dir"])
        done = folder / "eval_results.json"
        check_stage(folder, commands)
        if not done.is_file():
            train_policy(*from_yaml((PolicyArguments, PolicyConfig), rung, **overrides))
        record = json.loads(done.read_text())
        before = curve[-1] if curve and args.schedule == "continue" else {"train_tokens": 0, "train_s": 0}
        curve.append(
            {
                "samples": seen,
                "train_tokens": before["train_tokens"] + record["train_tokens"],
                "train_s": before["train_s"] + record["train_s"],
                "parameters": record["parameters"],
                "dev_greedy": round(overall(record["levels"]), 2),
                "levels": {str(level["level"]): level["greedy"] for level in record["levels"]},
                "checkpoint": str(folder),
            }
        )
        gain = curve[-1]["dev_greedy"] - curve[-2]["dev_greedy"] if k else None
        paired = paired_gain(Path(curve[-2]["checkpoint"]), folder) if k else None
        if paired is not None:
            curve[-1]["gain_paired"] = paired
        print(
            f"ladder: {rung_name(rung)} at {seen:,} samples: dev greedy {curve[-1]['dev_greedy']:.1f}%"
            + (f" ({gain:+.1f} points from doubling" if gain is not None else "")
            + (f"; paired, 95%: [{paired['low']:+.1f}, {paired['high']:+.1f}]" if paired else "")
            + (")" if gain is not None else "")
        )
        if gain is not None and gain < args.min_gain_points and seen >= args.min_samples:
            return rung_record(rung, curve, plateaued=True)
    return rung_record(rung, curve, plateaued=False)


def paired_gain(before: Path, after: Path) -> dict | None:
    """What a doubling gained on the dev problems, paired problem by problem (points, a 95%
    bootstrap interval, n): one stage's gain is small beside the noise of two 1,000-problem means,
    and the pairing counts only the problems the two stages disagree on. None when a stage has no
    per-problem record (trained before `ponder train policy` wrote one)."""
    from ponder.infer.accuracy import paired_by_level, read_problem_scores
    from ponder.train.policy import EVAL_SAMPLES

    logs = [folder / EVAL_SAMPLES for folder in (after, before)]
    if not all(log.is_file() for log in logs):
        return None
    paired = paired_by_level(*(read_problem_scores(log) for log in logs))["all"]
    return {key: paired[key] for key in ("points", "low", "high", "n")}


def rung_record(rung: str, curve: list[dict], plateaued: bool) -> dict:
    """A rung's summary. Its checkpoint is the last stage trained: on a plateau the last doubling
    gained less than the threshold, so more samples would change little."""
    return {
        "rung": rung_name(rung),
        "recipe": str(rung),
        "dataset": load_yaml(rung).get("dataset"),  # the world its questions came from
        "parameters": curve[-1]["parameters"],
        "plateaued": plateaued,
        "plateau_samples": curve[-1]["samples"] if plateaued else None,
        "checkpoint": curve[-1]["checkpoint"],
        "curve": curve,
    }


def plot(rungs: list[dict], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for rung in rungs:
        xs = [point["samples"] for point in rung["curve"]]
        ys = [point["dev_greedy"] for point in rung["curve"]]
        ax.plot(xs, ys, marker="o", label=f"{rung['rung']} ({rung['parameters']:,} params)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training problems seen")
    ax.set_ylabel("dev greedy accuracy, mean over levels (%)")
    ax.set_title(f"Policy sizes trained to their plateau (n = {rungs[0]['dev_n']} dev problems)")
    save_figure(fig, ax, path)


def run(args: LadderArguments) -> list[dict]:
    """Every rung to its plateau; one record per rung, also written to `output_dir/ladder.json`."""
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    group = new_group(args.output_dir)
    with wandb_scope(group, enabled=args.wandb):
        rungs = [train_rung(args, rung) for rung in args.rungs]
        for rung in rungs:
            rung["dev_n"] = args.dev_per_level * len(rung["curve"][-1]["levels"])
        (output / "ladder.json").write_text(json.dumps(rungs, indent=2))
        plot(rungs, output / "ladder.png")
        if args.ship_dir:
            ship(rungs, Path(args.ship_dir))
        if args.wandb:
            log_run("ladder", output.name, vars(args), {"rungs": rungs}, images=[output / "ladder.png"])
    print(format_ladder(rungs))
    return rungs


def ship(rungs: list[dict], folder: Path) -> Path:
    """Copy each rung's checkpoint into `folder/<rung>/` (its top-level files: the model, tokenizer,
    recipe and evaluation; not the trainer's checkpoint-N folders with their optimizer states, nor
    `NOT_SHIPPED`) and
    write `folder/ladder.json` naming them by folder name, so the copy can move with the package."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = []
    for rung in rungs:
        target = folder / rung["rung"]
        if target.exists():
            shutil.rmtree(target)
        target.mkdir()
        for path in Path(rung["checkpoint"]).iterdir():
            if path.is_file() and path.name not in NOT_SHIPPED:
                shutil.copy2(path, target / path.name)
        shipped.append({**rung, "checkpoint": rung["rung"]})
    path = folder / "ladder.json"
    path.write_text(json.dumps(shipped, indent=2))
    print(f"ladder: shipped {len(rungs)} rungs to {folder}")
    return path


def read_ladder(path: str | Path) -> list[dict]:
    """The rungs of a ladder.json, smallest first, each `checkpoint` an existing folder: as recorded,
    or relative to the file (a shipped ladder); a rung whose checkpoint is in neither place fails
    here, naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ladder: no ladder file {path} (`ponder ladder` writes one)")
    rungs = json.loads(path.read_text())
    for rung in rungs:
        recorded = Path(rung["checkpoint"])
        checkpoint = recorded if recorded.is_absolute() else path.parent / recorded
        if not (checkpoint / "config.json").is_file():
            beside = path.parent / rung["rung"]
            if not (beside / "config.json").is_file():
                raise ConfigError(
                    f"ladder: rung {rung['rung']} has no checkpoint at {checkpoint} or {beside}"
                )
            checkpoint = beside
        rung["checkpoint"] = str(checkpoint)
        rung["train_tokens"] = rung["curve"][-1]["train_tokens"]
    return sorted(rungs, key=lambda r: r["parameters"])


def format_ladder(rungs: list[dict]) -> str:
    lines = [f"{'rung':<14}{'params':>11}{'samples':>10}{'dev greedy':>12}  plateau"]
    for rung in rungs:
        for point in rung["curve"]:
            lines.append(
                f"{rung['rung']:<14}{rung['parameters']:>11,}{point['samples']:>10,}"
                f"{point['dev_greedy']:>11.1f}%"
            )
        lines.append(f"{'':<35}  {'reached' if rung['plateaued'] else 'not reached'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    return run(*parse_config((LadderArguments,), argv, prog="ponder ladder", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder ladder", main)
