"""`ponder evolve`: rounds of search → distil → relabel and retrain the PRM, each round evaluated.

Expert iteration with a process reward model. Round r starts from policy r-1 and PRM r-1:

  1. `ponder infer`: the policy searches fresh training problems (a new ArithWorld seed each round)
     with `search_strategy` (weighted best-of-N by default) scored by the PRM;
  2. `ponder data distill`: the best verified trajectories (and correct/incorrect pairs for DPO);
  3. `ponder train distill`: SFT (or DPO) of policy r-1 on them gives policy r;
  4. with `relabel_prm`, `ponder data prm-labels` on policy r's own samples and `ponder train prm`
     give PRM r, so the PRM keeps up with the policy whose steps it judges (trained from
     `prm_base` when given, a stronger LM than the policy, as the PRM recipe is);
  5. greedy and weighted best-of-N accuracy of policy r on held-out problems (seed 1, never
     searched for training).

Round 0 is the starting policy's evaluation, or what `round0_results` already hold of it (the
quickstart passes its test-split searches, so round 0 is not searched twice). Every step writes
into `output_dir/round-r/` and is skipped when its output exists, so a killed run goes on where it
stopped. The end is a table and `rounds.png` of greedy and search accuracy per round, logged to
W&B beside every stage's own run, all in one group (`wandb_group` in rounds.json).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import from_yaml, parse_config, recipe
from ponder.errors import ConfigError
from ponder.models import SHIPPED_POLICY, check_model_name
from ponder.tracking import log_run, new_group, wandb_scope

EVAL_SEED = 1  # the held-out problems: never searched for training


@dataclass
class EvolveArguments:
    policy: str = field(default=str(SHIPPED_POLICY), metadata={"help": "Policy folder of round 0."})
    prm: str = field(
        default="token-cls", metadata={"help": "PRM scorer name for search (token-cls, oracle, ...)."}
    )
    prm_model: str | None = field(
        default=None, metadata={"help": "PRM folder of round 0 (scorers that are models)."}
    )
    rounds: int = field(default=1, metadata={"help": "Rounds of search → distil → relabel."})
    method: str = field(default="sft", metadata={"help": "Distillation: 'sft' (expert iteration) or 'dpo'."})
    distill_config: str | None = field(
        default=None,
        metadata={"help": "YAML for `ponder train distill` (default: the shipped distill_sft/dpo recipe)."},
    )
    distill_max_steps: int | None = field(
        default=None,
        metadata={
            "help": "Cap on each round's distillation optimizer steps (default: the recipe's own length)."
        },
    )
    distill_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Each round's distillation learning rate (default: the recipe's). A round of a few "
            "hundred rows wants a lower one than the recipe's, which is set for thousands of rows."
        },
    )
    world: str = field(
        default="arithworld",
        metadata={
            "help": "The generated world whose train split each round searches (and relabels with "
            "relabel_prm): arithworld or countdown."
        },
    )
    train_per_level: int = field(
        default=300, metadata={"help": "Training problems per level searched each round."}
    )
    train_seed: int = field(
        default=100,
        metadata={"help": "Seed of round 1's training problems (round r uses train_seed + r - 1)."},
    )
    budget: int = field(
        default=16, metadata={"help": "N of the searches, for distillation and for evaluation."}
    )
    search_strategy: str = field(
        default="weighted_best_of_n",
        metadata={
            "help": "`ponder infer` strategy that searches the training problems for distillation: a "
            "tree search (beam_search) may solve hard problems that weighted best-of-N misses, so its "
            "rows would cover the hard levels better. Evaluation stays weighted best-of-N."
        },
    )
    relabel_prm: bool = field(
        default=False,
        metadata={
            "help": "Relabel steps with the new policy's rollouts and retrain the PRM each round "
            "(token-cls only)."
        },
    )
    label_per_level: int = field(
        default=300, metadata={"help": "With relabel_prm: problems per level labelled each round."}
    )
    prm_base: str | None = field(
        default=None,
        metadata={
            "help": "With relabel_prm: the causal-LM folder each round's PRM is trained from (default: "
            "that round's distilled policy). A PRM, like published ones, can start from a stronger LM "
            "than the policy (ArithWorld: ponder/checkpoints/ladder/policy, the prm.yaml "
            "recipe's base)."
        },
    )
    eval_per_level: int = field(
        default=100, metadata={"help": "Held-out problems per level (seed 1) for greedy and search accuracy."}
    )
    eval_dataset: str | None = field(
        default=None,
        metadata={
            "help": "Held-out problems: a generated world (eval_per_level per level of its test split, "
            "seed 1) or a problems file (default: `world`)."
        },
    )
    eval_split: str = field(
        default="test",
        metadata={
            "help": "Split of a generated eval_dataset: test for the numbers we report, dev to choose "
            "settings (a distillation recipe) on questions the reported numbers never see."
        },
    )
    round0_results: list[str] = field(
        default_factory=list,
        metadata={
            "help": "`ponder infer` folders that already hold the starting policy's greedy and weighted "
            "best-of-N at `budget` on eval_dataset with this PRM: round 0 is read from them, not "
            "searched again."
        },
    )
    output_dir: str = field(
        default="outputs/evolve",
        metadata={"help": "Folder for every round's search, data, policy, PRM and evaluation."},
    )
    wandb: bool = field(
        default=True,
        metadata={
            "help": "Log every stage and the rounds to W&B, in one group (offline without an API key); "
            "false logs none."
        },
    )

    def __post_init__(self):
        from ponder.data.worlds import WORLDS

        WORLDS.get(self.world)  # an unknown world fails here, naming the known ones
        self.eval_dataset = self.eval_dataset or self.world
        if self.eval_split not in ("test", "dev"):
            raise ConfigError(
                f"eval_split: expected 'test' or 'dev' (held-out questions), got '{self.eval_split}'"
            )
        if self.method not in ("sft", "dpo"):
            raise ConfigError(f"method: expected 'sft' or 'dpo', got '{self.method}'")
        if self.distill_max_steps is not None and self.distill_max_steps < 1:
            raise ConfigError(f"distill_max_steps: must be >= 1, got {self.distill_max_steps}")
        if self.distill_learning_rate is not None and self.distill_learning_rate <= 0:
            raise ConfigError(f"distill_learning_rate: must be > 0, got {self.distill_learning_rate}")
        if self.rounds < 1:
            raise ConfigError(f"rounds: must be >= 1, got {self.rounds}")
        if self.prm != "oracle" and not self.prm_model:
            raise ConfigError(f"prm_model: the '{self.prm}' scorer needs a model folder")
        if self.relabel_prm and self.prm != "token-cls":
            raise ConfigError("relabel_prm: only a token-cls PRM is retrained by ponder")
        if self.prm_base:
            if not self.relabel_prm:
                raise ConfigError(
                    "prm_base: only used with relabel_prm true (the PRM is retrained from it each round)"
                )
            check_model_name("prm_base", self.prm_base)  # here, not after a round of search and distillation
        from ponder.infer.strategies import STRATEGIES

        searchable = sorted(STRATEGIES.names(lambda s: s.kind != "routed"))  # routed ones need a router
        if self.search_strategy not in searchable:
            raise ConfigError(
                f"search_strategy: unknown '{self.search_strategy}' "
                f"(expected one of: {', '.join(searchable)})"
            )


def evaluate_round(policy: str, prm_model: str | None, args: EvolveArguments, folder: Path) -> dict:
    """Greedy and weighted best-of-N accuracy on the held-out problems."""
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer

    infer(
        InferArguments(
            model_name_or_path=policy,
            prm=args.prm,
            prm_model=prm_model,
            strategies=["greedy", "weighted_best_of_n"],
            budgets=[args.budget],
            dataset=args.eval_dataset,
            split=args.eval_split,
            per_level=args.eval_per_level,
            seed=EVAL_SEED,
            output_dir=str(folder),
        )
    )
    return round_accuracy([folder], args)


def round_accuracy(folders: list[str | Path], args: EvolveArguments) -> dict:
    """Greedy and weighted best-of-N accuracy, each with its 95% Wilson interval (`greedy_low`,
    `greedy_high`, ...) and the problems behind it (`greedy_problems`, `search_problems`)."""
    from ponder.data.results import read_results
    from ponder.infer.eval_search import wilson

    rows = [r for folder in folders for r in read_results(Path(folder) / "results.jsonl")]
    record = {}
    for key, strategy, n in (("greedy", "greedy", 1), ("search", "weighted_best_of_n", args.budget)):
        mine = [r for r in rows if r.strategy == strategy and r.n == n]
        if not mine:
            raise ConfigError(
                f"round0_results: no {strategy} rows at N={n} in {', '.join(map(str, folders))}"
            )
        hits = sum(r.correct for r in mine)
        record[key] = hits / len(mine)
        record[f"{key}_low"], record[f"{key}_high"] = wilson(hits, len(mine))
        record[f"{key}_problems"] = len({r.problem_id for r in mine})
    return record


def searched_round0(args: EvolveArguments) -> dict:
    """Round 0 from `round0_results`, after checking they searched this policy, PRM and problem set."""
    from ponder.data.results import results_config

    ours = {
        "model_name_or_path": args.policy,
        "prm": args.prm,
        "prm_model": args.prm_model,
        "dataset": args.eval_dataset,
        "split": args.eval_split,
    }
    for folder in args.round0_results:
        theirs = results_config(folder)
        differing = [k for k, v in ours.items() if not same_path(v, theirs.get(k))]
        if differing:
            found = ", ".join(f"{k}={theirs.get(k)!r}" for k in differing)
            raise ConfigError(
                f"round0_results: {folder} was searched with another {', '.join(differing)} ({found})"
            )
    return round_accuracy(args.round0_results, args)


def same_path(a: str | None, b: str | None) -> bool:
    """Equal, or the same path written two ways."""
    return a == b or (
        a is not None and b is not None and Path(a).exists() and Path(a).resolve() == Path(b).resolve()
    )


ROWS_RECORD = "trained_on_rows.txt"  # in a distilled policy's folder: the digest of what it learned


def rows_digest(data: Path, recipe: dict | None = None) -> str:
    """A digest of a `ponder data distill` folder's rows (sft.jsonl and pairs.jsonl) and, when
    given, of the training recipe they were learned with."""
    digest = hashlib.sha256()
    for name in ("sft.jsonl", "pairs.jsonl"):
        if (data / name).is_file():
            digest.update(name.encode() + (data / name).read_bytes())
    if recipe is not None:
        digest.update(json.dumps(recipe, sort_keys=True).encode())
    return digest.hexdigest()


def trained_on(policy: Path, data: Path, recipe: dict | None = None) -> bool:
    """Whether `policy` is already a finished distillation of `data`'s rows with `recipe`, so a
    resumed round skips its training. A finished policy recorded with other rows or another recipe
    (the search, the distill settings or the training overrides changed since) is refused rather
    than reused or overwritten. Older folders are taken as far as they can be checked: one without
    a record (written before records were kept) as it is, one whose record holds its rows only
    (written before recipes were recorded) on its rows."""
    if not (policy / "config.json").is_file():
        return False
    record = policy / ROWS_RECORD
    known = {rows_digest(data, recipe), rows_digest(data)}
    if record.is_file() and record.read_text().strip() not in known:
        raise ConfigError(
            f"output_dir: {policy} was distilled from other rows or with another recipe than "
            f"{data} and this run's settings give; delete it to train again, or use another output_dir"
        )
    return True


def record_rows(policy: Path, data: Path, recipe: dict | None = None) -> None:
    (policy / ROWS_RECORD).write_text(rows_digest(data, recipe) + "\n")


def distil(policy: str, data: Path, out: Path, args: EvolveArguments) -> None:
    """`ponder train distill` of `policy` on `data`'s rows into `out`: args' method, recipe file and
    overrides (steps, learning rate). Skipped when `out` already is that distillation (a resumed
    round). The round's own training and distill_gain's rejection-sampling control both come
    through here, so the arms of a comparison share one recipe by construction."""
    from ponder.train.distill import DistillArguments, DistillDPOConfig, DistillSFTConfig
    from ponder.train.distill import run as train_distill

    config = args.distill_config or recipe("train", f"distill_{args.method}.yaml")
    overrides = {"max_steps": args.distill_max_steps, "learning_rate": args.distill_learning_rate}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    # the recipe file by its content, so that a moved install resumes and an edited recipe trains again
    content = hashlib.sha256(Path(config).read_bytes()).hexdigest()
    record = {"method": args.method, "config": content, **overrides}
    if trained_on(out, data, record):
        return
    config_type = DistillSFTConfig if args.method == "sft" else DistillDPOConfig
    train_distill(
        *from_yaml(
            (DistillArguments, config_type),
            config,
            method=args.method,
            model_name_or_path=policy,
            dataset=str(data),
            eval_per_level=0,
            output_dir=str(out),
            **overrides,
        )
    )
    record_rows(out, data, record)


def search_round(r: int, policy: str, prm_model: str | None, args: EvolveArguments) -> Path | None:
    """Round r's rows: `policy` searches fresh train-split problems with the PRM and `ponder data
    distill` keeps the verified trajectories. The folder of rows, or None when the search found
    nothing to distil (no problem with a trajectory the grader accepts), which a policy that solves
    none of the round's problems gives."""
    from ponder.data.distill import DistillDataArguments
    from ponder.data.distill import run as distill_data
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer

    folder = Path(args.output_dir) / f"round-{r}"
    infer(
        InferArguments(
            model_name_or_path=policy,
            prm=args.prm,
            prm_model=prm_model,
            strategies=[args.search_strategy],
            budgets=[args.budget],
            dataset=args.world,
            per_level=args.train_per_level,
            split="train",  # distilled from: never a test or dev question
            seed=args.train_seed + r - 1,
            output_dir=str(folder / "search"),
        )
    )
    counts = distill_data(
        DistillDataArguments(results=[str(folder / "search")], output_dir=str(folder / "data"))
    )
    return folder / "data" if counts["sft_rows"] else None


def run_round(
    r: int, policy: str, prm_model: str | None, args: EvolveArguments
) -> tuple[str, str | None, dict] | None:
    """One round from `policy`: the new policy, the PRM folder to search with next, and timings;
    None when the search found nothing to distil."""
    from ponder.train.prm import PRMArguments, PRMConfig
    from ponder.train.prm import run as train_prm
    from ponder.train.prm_labels import LabelArguments
    from ponder.train.prm_labels import run as label

    folder = Path(args.output_dir) / f"round-{r}"
    times = {}
    start = time.time()
    data = search_round(r, policy, prm_model, args)
    times["search_s"] = time.time() - start
    if data is None:
        return None
    start = time.time()
    new_policy = folder / "policy"
    distil(policy, data, new_policy, args)
    times["train_s"] = time.time() - start
    if args.relabel_prm:
        start = time.time()
        label(
            *from_yaml(
                (LabelArguments,),
                recipe("data", "prm_labels.yaml"),
                model_name_or_path=str(new_policy),
                dataset=args.world,
                per_level=args.label_per_level,
                seed=args.train_seed + 1000 + r,
                output_dir=str(folder / "prm-labels"),
            )
        )
        prm_model = str(folder / "prm")
        if not (folder / "prm" / "prm_config.json").is_file():
            train_prm(
                *from_yaml(
                    (PRMArguments, PRMConfig),
                    recipe("train", "prm.yaml"),
                    model_name_or_path=args.prm_base or str(new_policy),
                    dataset=str(folder / "prm-labels" / "labels.jsonl"),
                    output_dir=prm_model,
                )
            )
        times["relabel_s"] = time.time() - start
    return str(new_policy), prm_model, times


def run(args: EvolveArguments) -> list[dict]:
    """Every round; one record per round (round 0 first): policy, greedy and search accuracy, timings.
    Every stage's W&B run and the rounds' own go in one group (the quickstart's when it runs this)."""
    group = new_group(args.output_dir)
    with wandb_scope(group, enabled=args.wandb):
        return evolve_rounds(args, group if args.wandb else None)


def evolve_rounds(args: EvolveArguments, group: str | None) -> list[dict]:
    from ponder.pipelines.report import plot_rounds

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    policy, prm_model = args.policy, args.prm_model
    round0 = (
        searched_round0(args)
        if args.round0_results
        else evaluate_round(policy, prm_model, args, out / "round-0" / "eval")
    )
    rounds = [{"round": 0, "policy": policy, **round0}]
    for r in range(1, args.rounds + 1):
        print(f"evolve: round {r}/{args.rounds}", flush=True)
        outcome = run_round(r, policy, prm_model, args)
        if outcome is None:
            print(
                f"evolve: round {r} found no trajectory to distil in {args.train_per_level} problems per "
                f"level; stopping after round {r - 1}",
                flush=True,
            )
            break
        policy, prm_model, times = outcome
        rounds.append(
            {
                "round": r,
                "policy": policy,
                **evaluate_round(policy, prm_model, args, out / f"round-{r}" / "eval"),
                **times,
            }
        )
    (out / "rounds.json").write_text(
        json.dumps({"rounds": rounds, "wandb_group": group, "args": asdict(args)}, indent=2)
    )
    plot = plot_rounds(rounds, out / "rounds.png")
    print(format_rounds(rounds))
    print(f"wrote {out / 'rounds.json'} and {plot}")
    if args.wandb:
        log_run(
            "evolve",
            f"evolve {out.name}",
            asdict(args),
            {"evolve/rounds": rounds},
            history=[{f"evolve/{k}": v for k, v in r.items() if isinstance(v, (int, float))} for r in rounds],
            images=[plot],
        )
    return rounds


def format_rounds(rounds: list[dict]) -> str:
    """Per round: greedy and search accuracy, each with the problems behind it (n) and its 95% interval."""
    lines = [
        f"{'round':>5}{'n':>6}{'greedy':>9}{'95% CI':>11}{'n':>6}{'search':>9}{'95% CI':>11}{'train s':>9}"
    ]
    for r in rounds:
        line = f"{r['round']:>5}"
        for key in ("greedy", "search"):
            interval = f"[{100 * r[f'{key}_low']:.0f}, {100 * r[f'{key}_high']:.0f}]"
            line += f"{r[f'{key}_problems']:>6}{100 * r[key]:>8.1f}%{interval:>11}"
        lines.append(line + f"{r.get('train_s', 0):>9.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    return run(*parse_config((EvolveArguments,), argv, prog="ponder evolve", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder evolve", main)
