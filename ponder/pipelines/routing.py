"""Compute-optimal routing end to end: the stage that the quickstart and the `compute_optimal`
benchmark share.

    validation split ─ infer (every strategy × budget) ───────────────────┬─ fit-router (oracle bins)
                     └ infer (16 samples, own seed) ─ data difficulty ────┼─ train difficulty
                               cross-fitted predicted bins (k predictors) ┴─ fit-router (predicted bins)
    test split ─────── infer (every fixed strategy; best-of-N family to a larger N)
                     ├ infer (16 samples, own seed) ─ data difficulty: oracle bins
                     └ infer (compute-optimal with oracle / predicted bins, even / uneven budgets,
                              reading each chosen search from the fixed strategies' folders)
    eval search over all test folders: one plot, and the token efficiency against weighted best-of-N

The validation split (seed 3) leaves out every question of the test split (seed 1), so the router
and the predictor never see a test problem. Difficulty bins come from their own samples (a
separate sampling seed): bins read off the very samples that the strategies are scored on would
make the router's estimates circular (a bin of problems whose 16 samples all failed would show
every sampling strategy at 0% there by construction). The router that predicted bins use is fitted
on predicted bins too: each validation problem's bin as a predictor trained on the other folds
predicts it (cross-fitting), so the table knows that a problem predicted easy is sometimes hard
and picks what is best for the problems a predicted bin really holds. Compute-optimal reads the
searches it chooses from the fixed strategies' test folders (`reuse_results`) rather than running
them again: routed and fixed strategies are then compared on the very same searches, and only
choices outside those folders (e.g. a best-of-N above `baseline_max_n`) are searched anew. Each
step writes into its own folder and is skipped or resumed when a killed run starts again.

Which strategies are pooled, searched step-wise or routed, and which routed ones read oracle or
predicted bins, is read from the strategy registry (`ponder.infer.strategies.STRATEGIES`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ponder.config import from_yaml, recipe
from ponder.errors import ConfigError

# The fixed strategies the router chooses among (a choice of this pipeline, not a registry fact).
FIXED = ("greedy", "majority", "best_of_n", "weighted_best_of_n", "beam_search", "dvts")


@dataclass
class RoutingPlan:
    policy: str
    prm: str  # PRM scorer name for every search (token-cls, oracle, ...)
    output_dir: str
    prm_model: str | None = None  # the PRM's folder, for scorers that are models
    strategies: list[str] = field(default_factory=lambda: list(FIXED))  # what the router chooses among
    val_per_level: int = 60
    test_per_level: int = 100
    budgets: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    baseline_max_n: int = 64  # the best-of-N family runs to this N on the test split (efficiency ratio)
    difficulty_samples: int = 16  # samples per problem for the pass rate behind each bin
    difficulty_seed: int = 1001  # sampling seed of those samples, apart from the searches' seed
    predictor_recipe: str | None = None  # YAML for `ponder train difficulty` (default: the shipped recipe)
    predictor_folds: int = 5  # k of the cross-fitted validation bins behind the predicted-bin router
    val_seed: int = 3
    test_seed: int = 1

    def __post_init__(self):
        from ponder.infer.strategies import STRATEGIES

        routed = [s for s in self.strategies if STRATEGIES.get(s).kind == "routed"]
        if routed:
            raise ConfigError(f"strategies: the router chooses among fixed strategies, not {routed}")
        if not self.budgets or any(n < 1 for n in self.budgets):
            raise ConfigError(f"budgets: every budget must be >= 1, got {self.budgets}")

    def pool(self) -> list[str]:
        """The strategies answered from one pool of samples (each N subsampled from the largest)."""
        from ponder.infer.strategies import STRATEGIES

        return [s for s in self.strategies if STRATEGIES[s].kind == "pool"]


def routed_strategies(bins: str) -> list[str]:
    """The compute-optimal strategies that read `bins`: "oracle" (a difficulty file) or "predicted"
    (the difficulty predictor)."""
    from ponder.infer.strategies import STRATEGIES

    need = {"oracle": "difficulty_labels", "predicted": "difficulty_model"}[bins]
    return STRATEGIES.names(lambda s: s.kind == "routed" and need in s.requires)


def train_predictor(
    plan: RoutingPlan, dataset: Path, eval_dataset: Path, output_dir: Path, **overrides
) -> None:
    """`ponder train difficulty` with the predictor recipe, from the policy, into `output_dir`."""
    from ponder.train.difficulty import DifficultyArguments, DifficultyConfig
    from ponder.train.difficulty import run as train_difficulty

    train_difficulty(
        *from_yaml(
            (DifficultyArguments, DifficultyConfig),
            plan.predictor_recipe or recipe("train", "difficulty.yaml"),
            model_name_or_path=plan.policy,
            dataset=str(dataset),
            eval_dataset=str(eval_dataset),
            output_dir=str(output_dir),
            **overrides,
        )
    )


def cross_fitted_bins(val_bins: Path, plan: RoutingPlan, folder: Path) -> Path:
    """The validation rows with `bin` replaced by what a predictor that never saw the problem
    predicts: the problems are dealt into `predictor_folds` folds, and a predictor trained on the
    other folds (the same recipe as the real one) predicts each fold."""
    import random

    from ponder.data.difficulty import read, write
    from ponder.infer.difficulty import load_difficulty_predictor

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
            train_predictor(plan, train, held_file, model, report_to="none")
        bins = load_difficulty_predictor(model).predict([r.question for r in held])
        predicted += [replace(r, bin=b) for r, b in zip(held, bins)]
    return write(predicted, output)


def run_routing(plan: RoutingPlan) -> dict:
    """Every step of the chain above; the efficiency ratios, the predictor's scores, the test
    split's folders and evaluated points (also written to `output_dir/routing.json`)."""
    from ponder.data.cli import ArithWorldArguments
    from ponder.data.cli import run as arithworld
    from ponder.data.difficulty import DifficultyArguments
    from ponder.data.difficulty import run as difficulty
    from ponder.infer.eval_search import EvalSearchArguments, efficiency
    from ponder.infer.eval_search import run as eval_search
    from ponder.infer.router import FitRouterArguments
    from ponder.infer.router import run as fit_router
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer_run

    out = Path(plan.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    test_file, val_file = out / "test_problems.jsonl", out / "val_problems.jsonl"
    arithworld(
        ArithWorldArguments(n_per_level=plan.test_per_level, seed=plan.test_seed, output=str(test_file))
    )
    arithworld(
        ArithWorldArguments(
            n_per_level=plan.val_per_level, seed=plan.val_seed, exclude=str(test_file), output=str(val_file)
        )
    )

    def infer(folder: str, dataset: Path, strategies: list[str], budgets: list[int], **options) -> str:
        path = str(out / folder)
        infer_run(
            InferArguments(
                model_name_or_path=plan.policy,
                prm=plan.prm,
                prm_model=plan.prm_model,
                dataset=str(dataset),
                strategies=strategies,
                budgets=budgets,
                output_dir=path,
                **options,
            )
        )
        return path

    pool = plan.pool()
    print("routing: every strategy on the validation split", flush=True)
    val = infer("val", val_file, plan.strategies, plan.budgets)
    print("routing: every fixed strategy on the test split", flush=True)
    test_pool = infer("test-pool", test_file, pool, sorted(set(plan.budgets) | {plan.baseline_max_n}))
    test_tree = infer("test-tree", test_file, [s for s in plan.strategies if s not in pool], plan.budgets)

    print("routing: pass rates for the difficulty bins, from samples of their own", flush=True)
    val_bins, test_bins = out / "val_difficulty.jsonl", out / "test_difficulty.jsonl"
    for name, dataset, bins in (("val", val_file, val_bins), ("test", test_file, test_bins)):
        samples = infer(
            f"{name}-difficulty", dataset, ["majority"], [plan.difficulty_samples], seed=plan.difficulty_seed
        )
        difficulty(DifficultyArguments(results=samples, output=str(bins)))

    predictor = out / "difficulty-predictor"
    if not (predictor / "difficulty_config.json").is_file():
        print("routing: difficulty predictor on the validation bins", flush=True)
        train_predictor(plan, val_bins, test_bins, predictor)
    predictor_scores = json.loads((predictor / "eval_results.json").read_text())

    predicted_bins = cross_fitted_bins(val_bins, plan, out / "predictor-folds")
    router, predicted_router = out / "router.json", out / "router_predicted_bins.json"
    fit_router(FitRouterArguments(results=[val], difficulty=str(val_bins), output=str(router)))
    fit_router(
        FitRouterArguments(results=[val], difficulty=str(predicted_bins), output=str(predicted_router))
    )
    print("routing: compute-optimal search on the test split", flush=True)
    reuse = [test_pool, test_tree]
    routed_oracle = infer(
        "test-routed-oracle",
        test_file,
        routed_strategies("oracle"),
        plan.budgets,
        router=str(router),
        difficulty_labels=str(test_bins),
        reuse_results=reuse,
    )
    routed = infer(
        "test-routed",
        test_file,
        routed_strategies("predicted"),
        plan.budgets,
        router=str(predicted_router),
        difficulty_model=str(predictor),
        reuse_results=reuse,
    )

    test_folders = [test_pool, test_tree, routed_oracle, routed]
    points = eval_search(
        EvalSearchArguments(results=test_folders, output_dir=str(out / "eval"), levels=False)
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
