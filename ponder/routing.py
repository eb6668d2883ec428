"""Compute-optimal routing end to end on ArithWorld: the stage that the quickstart and the
`compute_optimal` benchmark share.

    validation split ── ponder infer (every strategy × budget) ──────────────────────────┬─ ponder fit-router (oracle bins)
                    └── ponder infer (16 samples, own seed) ── ponder data difficulty ──┼─ ponder train difficulty
                                          cross-fitted predicted bins (k predictors) ──┴─ ponder fit-router (predicted bins)
    test split ──────── ponder infer (every fixed strategy; best-of-N family to a larger N)
               ├─────── ponder infer (16 samples, own seed) ── ponder data difficulty: oracle bins
               └─────── ponder infer (compute_optimal with oracle / predicted bins, even / uneven budgets,
                                      reading each chosen search from the fixed strategies' folders)
    ponder eval search over all test folders: one plot, and the token efficiency against weighted best-of-N

The validation split (seed 3) leaves out every question of the test split (seed 1), so the router
and the predictor never see a test problem. Difficulty bins come from their own samples (a
separate sampling seed): bins read off the very samples that the strategies are scored on would
make the router's estimates circular (a bin of problems whose 16 samples all failed would show
every sampling strategy at 0% there by construction). The router that predicted bins use is fitted
on predicted bins too: each validation problem's bin as a predictor trained on the other folds
predicts it (cross-fitting), so the table knows that a problem predicted easy is sometimes hard
and picks what is best for the problems a predicted bin really holds. Compute-optimal reads the searches it
chooses from the fixed strategies' test folders (`--reuse_results`) rather than running them again:
routed and fixed strategies are then compared on the very same searches, and only choices outside
those folders (e.g. a best-of-N above `baseline_max_n`) are searched anew. Each step writes into its own folder and is skipped
or resumed when a killed run starts again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

FIXED = ["greedy", "majority", "best_of_n", "weighted_best_of_n", "beam_search", "dvts"]
POOL = ["majority", "best_of_n", "weighted_best_of_n"]
ROUTED = [
    "compute_optimal_oracle",
    "compute_optimal",
    "compute_optimal_oracle_uneven",
    "compute_optimal_uneven",
]


@dataclass
class RoutingPlan:
    policy: str
    prm: list[str]  # `ponder infer` options naming the PRM, e.g. ["--prm", "token-cls", "--prm_model", DIR]
    output_dir: str
    val_per_level: int = 60
    test_per_level: int = 100
    budgets: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    baseline_max_n: int = (
        64  # the best-of-N family runs to this N on the test split, for the efficiency ratio
    )
    difficulty_samples: int = 16  # samples per problem for the pass rate behind each bin
    difficulty_seed: int = 1001  # sampling seed of those samples, apart from the searches' seed
    predictor_recipe: str | None = None  # YAML for `ponder train difficulty` (default: the shipped recipe)
    predictor_folds: int = 5  # k of the cross-fitted validation bins behind the predicted-bin router
    val_seed: int = 3
    test_seed: int = 1


def cross_fitted_bins(val_bins: Path, plan: RoutingPlan, folder: Path) -> Path:
    """The validation rows with `bin` replaced by what a predictor that never saw the problem
    predicts: the problems are dealt into `predictor_folds` folds, and a predictor trained on the
    other folds (the same recipe as the real one) predicts each fold."""
    import random

    from ponder.data.difficulty import read, write
    from ponder.infer.difficulty import load_difficulty_predictor
    from ponder.quickstart import recipe
    from ponder.train.difficulty import main as train_difficulty_main

    output = folder / "val_difficulty_predicted.jsonl"
    if output.is_file():
        return output
    rows = list(read(val_bins).values())
    random.Random(0).shuffle(rows)
    folds = [rows[i :: plan.predictor_folds] for i in range(plan.predictor_folds)]
    predicted = []
    for i, held in enumerate(folds):
        print(f"routing: cross-fitted difficulty bins, fold {i + 1}/{len(folds)}", flush=True)
        train, held_file = folder / f"fold-{i}-train.jsonl", folder / f"fold-{i}-held.jsonl"
        write([r for j, fold in enumerate(folds) if j != i for r in fold], train)
        write(held, held_file)
        model = folder / f"fold-{i}"
        if not (model / "difficulty_config.json").is_file():
            train_difficulty_main(
                [
                    "--config",
                    plan.predictor_recipe or str(recipe("train", "difficulty.yaml")),
                    "--model_name_or_path",
                    plan.policy,
                    "--dataset",
                    str(train),
                    "--eval_dataset",
                    str(held_file),
                    "--output_dir",
                    str(model),
                    "--report_to",
                    "none",
                ]
            )
        bins = load_difficulty_predictor(model).predict([r.question for r in held])
        predicted += [replace(r, bin=b) for r, b in zip(held, bins)]
    return write(predicted, output)


def run_routing(plan: RoutingPlan) -> dict:
    from ponder.data.cli import main as arithworld_main
    from ponder.data.difficulty import main as difficulty_main
    from ponder.infer.eval_search import efficiency
    from ponder.infer.eval_search import main as eval_search_main
    from ponder.infer.router import main as fit_router_main
    from ponder.infer.run import main as infer_main
    from ponder.quickstart import recipe
    from ponder.train.difficulty import main as train_difficulty_main

    out = Path(plan.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    budgets = [str(n) for n in plan.budgets]
    test_file, val_file = out / "test_problems.jsonl", out / "val_problems.jsonl"
    arithworld_main(
        ["--n_per_level", str(plan.test_per_level), "--seed", str(plan.test_seed), "--output", str(test_file)]
    )
    arithworld_main(
        [
            "--n_per_level",
            str(plan.val_per_level),
            "--seed",
            str(plan.val_seed),
            "--exclude",
            str(test_file),
            "--output",
            str(val_file),
        ]
    )

    def infer(folder: str, dataset: Path, strategies: list[str], run_budgets: list[str], *extra: str) -> str:
        path = str(out / folder)
        infer_main(
            [
                "--model",
                plan.policy,
                *plan.prm,
                "--dataset",
                str(dataset),
                "--strategies",
                *strategies,
                "--budgets",
                *run_budgets,
                "--output_dir",
                path,
                *extra,
            ]
        )
        return path

    print("routing: every strategy on the validation split", flush=True)
    val = infer("val", val_file, FIXED, budgets)
    print("routing: every fixed strategy on the test split", flush=True)
    test_pool = infer(
        "test-pool", test_file, POOL, sorted(set(budgets) | {str(plan.baseline_max_n)}, key=int)
    )
    test_tree = infer("test-tree", test_file, [s for s in FIXED if s not in POOL], budgets)

    print("routing: pass rates for the difficulty bins, from samples of their own", flush=True)
    val_bins, test_bins = out / "val_difficulty.jsonl", out / "test_difficulty.jsonl"
    for name, dataset, bins in (("val", val_file, val_bins), ("test", test_file, test_bins)):
        samples = infer(
            f"{name}-difficulty",
            dataset,
            ["majority"],
            [str(plan.difficulty_samples)],
            "--seed",
            str(plan.difficulty_seed),
        )
        difficulty_main(["--results", samples, "--output", str(bins)])

    predictor = out / "difficulty-predictor"
    if not (predictor / "difficulty_config.json").is_file():
        print("routing: difficulty predictor on the validation bins", flush=True)
        train_difficulty_main(
            [
                "--config",
                plan.predictor_recipe or str(recipe("train", "difficulty.yaml")),
                "--model_name_or_path",
                plan.policy,
                "--dataset",
                str(val_bins),
                "--eval_dataset",
                str(test_bins),
                "--output_dir",
                str(predictor),
            ]
        )
    predictor_scores = json.loads((predictor / "eval_results.json").read_text())

    predicted_bins = cross_fitted_bins(val_bins, plan, out / "predictor-folds")
    router, predicted_router = out / "router.json", out / "router_predicted_bins.json"
    fit_router_main(["--results", val, "--difficulty", str(val_bins), "--output", str(router)])
    fit_router_main(
        ["--results", val, "--difficulty", str(predicted_bins), "--output", str(predicted_router)]
    )
    print("routing: compute-optimal search on the test split", flush=True)
    reuse = ["--reuse_results", test_pool, test_tree]
    routed_oracle = infer(
        "test-routed-oracle",
        test_file,
        [s for s in ROUTED if "oracle" in s],
        budgets,
        "--router",
        str(router),
        "--difficulty_labels",
        str(test_bins),
        *reuse,
    )
    routed = infer(
        "test-routed",
        test_file,
        [s for s in ROUTED if "oracle" not in s],
        budgets,
        "--router",
        str(predicted_router),
        "--difficulty_model",
        str(predictor),
        *reuse,
    )

    test_folders = [test_pool, test_tree, routed_oracle, routed]
    points = eval_search_main(
        ["--results", *test_folders, "--output_dir", str(out / "eval"), "--levels", "false"]
    )
    top = plan.budgets[-1]
    summary = {
        "efficiency_oracle": efficiency(points, "compute_optimal_oracle", top),
        "efficiency_predicted": efficiency(points, "compute_optimal", top),
        "efficiency_oracle_uneven": efficiency(points, "compute_optimal_oracle_uneven", top),
        "efficiency_predicted_uneven": efficiency(points, "compute_optimal_uneven", top),
        "predictor": predictor_scores,
        "test_file": str(test_file),
        "test_folders": test_folders,
        "fixed_folders": [test_pool, test_tree],  # every fixed strategy's searches of the test split
        "points": [asdict(p) for p in points],
        "plan": asdict(plan),
    }
    (out / "routing.json").write_text(json.dumps(summary, indent=2))
    return summary
