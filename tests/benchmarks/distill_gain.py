"""Benchmark: one round of distilling search back into the policy, against a control at equal cost.

Three arms start from the world's shipped policy (`--world`: ArithWorld or Countdown), search (or
sample) the same fresh training problems, keep SFT rows with `ponder data distill` (`verified`:
right final answer) and train them with the same recipe and steps (configs/train/distill_sft.yaml,
with `--distill_max_steps` and `--distill_learning_rate` when given):

- searched: `ponder evolve --rounds 1` with the learned PRM: beam search at N=16 scored by the PRM,
  rows kept by the final-answer check and the PRM's `min_score`, as a user without an exact step
  checker would keep them;
- control (rejection sampling): the policy's own samples (`ponder infer --strategies majority`, no
  PRM) from one pool, cut with `ponder data distill --first_n K` to the K samples per problem whose
  policy tokens come closest to the searched arm's, every distinct right answer kept up to the same
  `max_per_problem` (4) as the searched arm, shortest first;
- oracle (a reference): the searched arm with the world's exact step checker as the PRM.

The recipe is the one thing a distillation gain is most sensitive to (too many steps on a few
hundred rows memorise them and lose to the start). `--recipes LR:STEPS,...` chooses it on the dev
split: both the searched arm and the control are trained with each recipe on their rows (the same
rows the test run then uses), their greedy accuracy is measured on `--dev_per_level` dev problems
per level, and the recipe with the best mean of the two arms is the one every arm is trained with
for the test numbers (`recipe`, `recipe_grid_dev` in the JSON line). No test problem is looked at
before the recipe is fixed.

Each distilled policy is evaluated on held-out problems (seed 1, never searched for training):
greedy accuracy and weighted best-of-N at N=16 with that arm's PRM (the control's with the learned
PRM). `gain_over_control_points` is the searched arm's greedy accuracy minus the control's (target:
3 points or more); `greedy_gain_points` its gain over the starting policy. `train_test_overlap`
counts the held-out problems whose question the starting policy, the learned PRM (its base LM and
step labels, `--prm_base`, `--prm_labels`) or any arm's distillation rows trained on
(tests/benchmarks/overlap.py; `train_test_overlap_held_out_levels` without ArithWorld's small
levels 1-2).
Last line: one JSON object with those keys, `bon_gain_over_control_points`, and each arm's details.

    python tests/benchmarks/distill_gain.py --prm_model DIR [--world arithworld] [--work_dir DIR]
        [--train_per_level 800] [--search_strategy beam_search] [--budget 16] [--eval_per_level 100]
        [--distill_max_steps N] [--distill_learning_rate LR] [--recipes LR:STEPS,...]
        [--dev_per_level 100] [--prm_base DIR] [--prm_labels FILE]

The learned PRM is one that `tests/benchmarks/prm_quality.py` trains (its work_dir's `prm`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from overlap import beside_prm, distinct_problems, overlap_report

from ponder.data.distill import DistillDataArguments
from ponder.data.distill import run as distill_data
from ponder.data.results import read_results, results_config, results_problems
from ponder.data.sources import source_from_config
from ponder.errors import ConfigError
from ponder.infer.accuracy import paired_by_key
from ponder.infer.run import InferArguments
from ponder.infer.run import run as infer
from ponder.pipelines.evolve import EVAL_SEED, EvolveArguments, distil, evaluate_round, search_round
from ponder.pipelines.evolve import run as evolve
from ponder.pipelines.quickstart import WORLD_STARTS


def policy_tokens(folder: Path, first_n: int | None = None) -> int:
    """Policy tokens of a results folder's rows; with `first_n`, of each row's first samples only
    (a pool's tokens at a smaller budget)."""
    rows = read_results(folder / "results.jsonl")
    if first_n is None:
        return sum(r.compute.policy_tokens for r in rows)
    return sum(t.tokens for r in rows for t in r.trajectories[:first_n])


def sample_pool(policy: str, search: Path, tokens: int, pool: int, work: Path) -> tuple[Path, int]:
    """A pool of the policy's own samples on the searched problems (same source, split and seed),
    doubled until it holds `tokens` policy tokens; the pool's folder and the K whose first K
    samples per problem come closest to `tokens`."""
    source = source_from_config(results_config(search))
    while True:
        folder = work / f"pool-{pool}"
        infer(
            InferArguments(
                **asdict(source),
                model_name_or_path=policy,
                strategies=["majority"],
                budgets=[pool],
                output_dir=str(folder),
            )
        )
        if policy_tokens(folder, pool) >= tokens:
            return folder, min(range(1, pool + 1), key=lambda n: abs(policy_tokens(folder, n) - tokens))
        pool *= 2


@dataclass
class ControlRows:
    """The rejection-sampling control's rows and where they came from."""

    data: Path  # the rows' folder (`ponder data distill`)
    pool: Path  # the policy's samples they were kept from
    k: int  # samples per problem used, matching the searched arm's policy tokens
    searched_tokens: int  # the searched arm's policy tokens, which the control matches


def control_rows(evolved: EvolveArguments, work: Path) -> ControlRows:
    """The rejection-sampling control's rows for the searched round in `evolved.output_dir`: the
    policy's own samples at the searched arm's policy tokens, cut to the first K per problem and
    kept when right."""
    search = Path(evolved.output_dir) / "round-1" / "search"
    tokens = policy_tokens(search)
    pool, first_n = sample_pool(evolved.policy, search, tokens, 2 * evolved.budget, work)
    distill_data(DistillDataArguments(results=[str(pool)], output_dir=str(work / "data"), first_n=first_n))
    return ControlRows(work / "data", pool, first_n, tokens)


def control_arm(evolved: EvolveArguments, work: Path) -> dict:
    """The rejection-sampling control of the searched round in `evolved.output_dir`: its policy
    tokens, rows, SFT recipe and steps, and evaluation, with the policy's own samples in place of
    the PRM's search."""
    rows = control_rows(evolved, work)
    distil(evolved.policy, rows.data, work / "policy", evolved)  # the searched arm's method, recipe and steps
    return {
        **evaluate_round(str(work / "policy"), evolved.prm_model, evolved, work / "eval"),
        "pool_k": rows.k,
        "policy_tokens": policy_tokens(rows.pool, rows.k),
        "searched_policy_tokens": rows.searched_tokens,
        "sft_rows": sft_rows(rows.data.parent),
    }


def greedy_hits(policy: str, evolved: EvolveArguments, per_level: int, folder: Path) -> dict[str, bool]:
    """Per problem, whether the policy's greedy answer is right on `per_level` dev problems per level
    of the evaluation set (the recipe is chosen on these, never on the test problems)."""
    infer(
        InferArguments(
            model_name_or_path=policy,
            strategies=["greedy"],
            budgets=[1],
            dataset=evolved.eval_dataset,
            split="dev",
            per_level=per_level,
            seed=EVAL_SEED,
            output_dir=str(folder),
        )
    )
    return greedy_rows(folder)


def parse_recipes(text: str) -> list[tuple[float, int]]:
    """`LR:STEPS,...` as (learning rate, steps) pairs; a malformed entry fails naming itself."""
    recipes = []
    for entry in text.split(","):
        try:
            lr, steps = entry.split(":")
            recipes.append((float(lr), int(steps)))
        except ValueError:
            raise ConfigError(
                f"--recipes: expected LR:STEPS entries such as 3e-4:200, got '{entry}'"
            ) from None
        if recipes[-1][0] <= 0 or recipes[-1][1] < 1:
            raise ConfigError(f"--recipes: '{entry}' needs a learning rate > 0 and steps >= 1")
    return recipes


def choose_recipe(
    evolved: EvolveArguments, recipes: list[tuple[float, int]], per_level: int, work: Path
) -> tuple[tuple[float, int], list[dict]]:
    """The recipe whose searched and control arms have the best mean greedy accuracy on the dev
    split, and every recipe's dev numbers (the starting policy's beside them). Both arms' rows are
    the ones the test run trains on: the search and the sample pool are resumed there, not redone."""
    searched = search_round(1, evolved.policy, evolved.prm_model, evolved)
    if searched is None:
        raise ConfigError(
            f"the search found nothing to distil in {evolved.train_per_level} problems per level"
        )
    control = control_rows(evolved, work.parent / "control").data
    start = greedy_hits(evolved.policy, evolved, per_level, work / "start")
    grid = []
    for lr, steps in recipes:
        trial = replace(evolved, distill_learning_rate=lr, distill_max_steps=steps)
        hits = {}
        for arm, data in (("searched", searched), ("control", control)):
            folder = work / f"lr{lr:g}-steps{steps}" / arm
            distil(trial.policy, data, folder / "policy", trial)
            hits[arm] = greedy_hits(str(folder / "policy"), trial, per_level, folder / "eval")
        accuracy = {arm: round(100 * sum(h.values()) / len(h), 1) for arm, h in hits.items()}
        grid.append(
            {
                "learning_rate": lr,
                "max_steps": steps,
                "greedy_dev": accuracy,
                "mean": round((accuracy["searched"] + accuracy["control"]) / 2, 1),
                "searched_minus_control": paired_by_key(hits["searched"], hits["control"]),
                "start_dev": round(100 * sum(start.values()) / len(start), 1),
            }
        )
        print(f"distill_gain: dev recipe {grid[-1]}", flush=True)
    best = max(grid, key=lambda row: row["mean"])  # the first of equals: the grid's order breaks ties
    return (best["learning_rate"], best["max_steps"]), grid


def greedy_rows(folder: Path) -> dict[str, bool]:
    """Per problem, whether a results folder's greedy answer is right."""
    return {r.problem_id: r.correct for r in read_results(folder / "results.jsonl") if r.strategy == "greedy"}


def sft_rows(round_dir: Path) -> int:
    return json.loads((round_dir / "data" / "summary.json").read_text())["sft_rows"]


def points(a: float, b: float) -> float:
    return round(100 * (a - b), 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--world",
        default="arithworld",
        choices=sorted(WORLD_STARTS),
        help="generated world searched and evaluated",
    )
    parser.add_argument("--policy", default=None, help="starting policy (default: the world's shipped one)")
    parser.add_argument(
        "--prm_model", required=True, help="learned token-cls PRM folder (prm_quality.py's work_dir/prm)"
    )
    parser.add_argument(
        "--work_dir", default=None, help="folder for every arm's output (default: a temporary one)"
    )
    parser.add_argument(
        "--train_per_level",
        type=int,
        default=800,
        help="training problems per level searched for distillation",
    )
    parser.add_argument(
        "--search_strategy",
        default="beam_search",
        help="strategy that searches the training problems (evaluation is weighted best-of-N)",
    )
    parser.add_argument("--budget", type=int, default=16, help="N of the searches and of the evaluation")
    parser.add_argument("--eval_per_level", type=int, default=100, help="held-out problems per level")
    parser.add_argument(
        "--distill_max_steps", type=int, default=None, help="SFT steps of every arm (default: the recipe's)"
    )
    parser.add_argument(
        "--distill_learning_rate",
        type=float,
        default=None,
        help="SFT learning rate of every arm (default: the recipe's)",
    )
    parser.add_argument(
        "--recipes",
        default=None,
        help="LR:STEPS,... to choose the SFT recipe from on the dev split (best mean greedy of the searched "
        "and control arms); overrides --distill_max_steps and --distill_learning_rate",
    )
    parser.add_argument(
        "--dev_per_level", type=int, default=100, help="dev problems per level that --recipes is chosen on"
    )
    parser.add_argument(
        "--prm_base",
        default=None,
        help="causal-LM folder the learned PRM started from, for train_test_overlap (default: the world's "
        "PRM base as the quickstart uses it: ArithWorld's shipped verifier LM, Countdown's policy)",
    )
    parser.add_argument(
        "--prm_labels",
        default=None,
        help="step labels the learned PRM was trained on (default: prm_quality.py's layout, "
        "labels/labels.jsonl beside the PRM folder; for train_test_overlap)",
    )
    args = parser.parse_args()
    world = WORLD_STARTS[args.world]
    args.policy = args.policy or str(world.policy)
    args.prm_base = args.prm_base or str(world.prm_base or args.policy)
    recipes = parse_recipes(args.recipes) if args.recipes else None
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="distill_gain_"))

    start = time.perf_counter()
    arms = {
        name: EvolveArguments(
            world=args.world,
            policy=args.policy,
            prm=prm,
            prm_model=prm_model,
            rounds=1,
            train_per_level=args.train_per_level,
            search_strategy=args.search_strategy,
            budget=args.budget,
            eval_per_level=args.eval_per_level,
            distill_max_steps=args.distill_max_steps,
            distill_learning_rate=args.distill_learning_rate,
            output_dir=str(work / name),
            wandb=False,
        )
        for name, prm, prm_model in (("searched", "token-cls", args.prm_model), ("oracle", "oracle", None))
    }
    grid = None
    if recipes:
        (lr, steps), grid = choose_recipe(arms["searched"], recipes, args.dev_per_level, work / "dev")
        arms = {
            name: replace(arm, distill_learning_rate=lr, distill_max_steps=steps)
            for name, arm in arms.items()
        }
    before, searched = evolve(arms["searched"])
    oracle_before, oracle = evolve(arms["oracle"])
    control = control_arm(arms["searched"], work / "control")
    evals = [work / arm / f"round-{r}" / "eval" for arm in ("searched", "oracle") for r in (0, 1)]
    test = distinct_problems(
        *(list(results_problems(f).values()) for f in [*evals, work / "control" / "eval"])
    )
    overlap = overlap_report(
        test,
        {
            "policy": args.policy,
            "prm_base": args.prm_base,
            "prm_labels": args.prm_labels or beside_prm(args.prm_model),
            "distill_searched": str(work / "searched" / "round-1" / "data"),
            "distill_oracle": str(work / "oracle" / "round-1" / "data"),
            "distill_control": str(work / "control" / "data"),
        },
        world=args.world,
    )
    greedy = {
        arm: greedy_rows(folder)
        for arm, folder in (("searched", evals[1]), ("control", work / "control" / "eval"))
    }
    print(
        json.dumps(
            {
                "gain_over_control_points": points(searched["greedy"], control["greedy"]),
                "gain_over_control": paired_by_key(greedy["searched"], greedy["control"]),
                "bon_gain_over_control_points": points(searched["search"], control["search"]),
                "greedy_gain_points": points(searched["greedy"], before["greedy"]),
                "bon_change_points": points(searched["search"], before["search"]),
                "greedy": {
                    "start": before["greedy"],
                    "searched": searched["greedy"],
                    "control": control["greedy"],
                    "oracle": oracle["greedy"],
                },
                "bon": {
                    "start": before["search"],
                    "searched": searched["search"],
                    "control": control["search"],
                    "start_oracle_prm": oracle_before["search"],
                    "oracle": oracle["search"],
                },
                "sft_rows": {
                    "searched": sft_rows(work / "searched" / "round-1"),
                    "control": control["sft_rows"],
                    "oracle": sft_rows(work / "oracle" / "round-1"),
                },
                "policy_tokens": {
                    "searched": control["searched_policy_tokens"],
                    "control": control["policy_tokens"],
                },
                **overlap,
                "control_pool_k": control["pool_k"],
                "train_s": {"searched": round(searched["train_s"], 1), "oracle": round(oracle["train_s"], 1)},
                "wall_s": round(time.perf_counter() - start, 1),
                "world": args.world,
                "recipe": {
                    "learning_rate": arms["searched"].distill_learning_rate,
                    "max_steps": arms["searched"].distill_max_steps,
                },
                "recipe_grid_dev": grid,
                "prm": args.prm_model,
                "eval_per_level": args.eval_per_level,
                "work_dir": str(work),
            }
        )
    )


if __name__ == "__main__":
    main()
