"""Compute-optimal routing end to end: the stage that the quickstart and the `compute_optimal`
benchmark share.

    validation split ─ infer (every strategy × budget) ───────────────────┬─ fit-router (oracle bins)
                     └ infer (16 samples, own seed) ─ data difficulty ────┼─ train difficulty
                               cross-fitted predicted bins (k predictors) ┴─ fit-router (predicted bins)
    test split ─────── infer (every fixed strategy; best-of-N family to a larger first pool)
                     ├ infer (16 samples, own seed) ─ data difficulty: oracle bins
                     └ infer (compute-optimal with oracle / predicted bins, even / uneven budgets,
                              reading each chosen search from the fixed strategies' folders)
                     └ infer (weighted best-of-N, then the best fixed strategy, at doubling N
                              until each reaches compute-optimal's accuracy or its largest N)
    eval search over all test folders: one plot; token efficiency against weighted best-of-N and
    against the best fixed strategy, each with a bootstrap interval over the test problems

The validation problems come from the world's dev split (seed 3), the test problems from its test
split (seed 1): no question is in both, so the router and the predictor never see a test problem.
Difficulty bins come from their own samples (a separate sampling seed): bins read off the very
samples that the strategies are scored on would make the router's estimates circular (a bin of
problems whose 16 samples all failed would show every sampling strategy at 0% there by
construction). The router that predicted bins use is fitted on predicted bins too: each validation
problem's bin as a predictor trained on the other folds predicts it (cross-fitting), so the table
knows that a problem predicted easy is sometimes hard and picks what is best for the problems a
predicted bin really holds. Compute-optimal reads the searches it chooses from the fixed strategies'
test folders (`reuse_results`) rather than running them again: routed and fixed strategies are then
compared on the very same searches, and only choices outside those folders (e.g. a best-of-N above
`baseline_max_n`) are searched anew. Each step writes into its own folder and is skipped or resumed
when a killed run starts again.

A ratio of tokens is only a measurement where the other strategy reaches compute-optimal's
accuracy: a curve that stops short gives a lower bound (a pool of 64 against N = 16 can never show
more than 4x). The same holds inside the bootstrap: a resample whose curve stops short bounds its
ratio, and the interval's upper end with it. So weighted best-of-N, and the fixed strategy with the
best validation accuracy at the top budget, are searched at doubling N until their curve reaches
every compute-optimal variant's accuracy in at least 97.5% of the resamples, which measures the
whole interval, or until `baseline_max_n` / `fixed_max_n`; a ratio that is still a bound says so
(`reached: false`), and so does an upper end that is one (`high_bound: true`).

Which strategies are pooled, searched step-wise or routed, and which routed ones read oracle or
predicted bins, is read from the strategy registry (`ponder.infer.strategies.STRATEGIES`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ponder.config import from_yaml, recipe
from ponder.errors import ConfigError

# The fixed strategies the router chooses among (a choice of this pipeline, not a registry fact).
FIXED = ("greedy", "majority", "best_of_n", "weighted_best_of_n", "beam_search", "dvts")
# What compute-optimal's token efficiency is measured against (Snell et al. 2024).
BASELINE = "weighted_best_of_n"


@dataclass
class RoutingPlan:
    policy: str
    prm: str  # PRM scorer name for every search (token-cls, oracle, ...)
    output_dir: str
    prm_model: str | None = None  # the PRM's folder, for scorers that are models
    world: str = "arithworld"  # the generated world whose dev and test splits are searched
    strategies: list[str] = field(default_factory=lambda: list(FIXED))  # what the router chooses among
    val_per_level: int = 60
    test_per_level: int = 100
    budgets: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    baseline_pool_n: int = 64  # the best-of-N family's first pool on the test split (capped by the next)
    # weighted best-of-N's pool doubles until it reaches compute-optimal's accuracy or this N
    baseline_max_n: int = 256
    fixed_max_n: int = 64  # the same for the best fixed strategy (routing_gain_vs_best_fixed)
    resamples: int = 1000  # bootstrap resamples of the problems behind each ratio's 95% interval
    difficulty_samples: int = 16  # samples per problem for the pass rate behind each bin
    difficulty_seed: int = 1001  # sampling seed of those samples, apart from the searches' seed
    predictor_recipe: str | None = None  # YAML for `ponder train difficulty` (default: the shipped recipe)
    predictor_folds: int = 5  # k of the cross-fitted validation bins behind the predicted-bin router
    val_seed: int = 3
    test_seed: int = 1

    def __post_init__(self):
        from ponder.data.worlds import WORLDS
        from ponder.infer.strategies import STRATEGIES

        WORLDS.get(self.world)  # an unknown world fails here, naming the known ones
        routed = [s for s in self.strategies if STRATEGIES.get(s).kind == "routed"]
        if routed:
            raise ConfigError(f"strategies: the router chooses among fixed strategies, not {routed}")
        if not self.budgets or any(n < 1 for n in self.budgets):
            raise ConfigError(f"budgets: every budget must be >= 1, got {self.budgets}")
        for key in ("baseline_pool_n", "baseline_max_n", "fixed_max_n", "resamples"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1, got {getattr(self, key)}")

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


def extend_until_reached(
    search: Callable[[str, int], str],
    rows: list,
    strategy: str,
    params: dict | None,
    largest: int,
    max_n: int,
    reached: Callable[[list], bool],
) -> list[str]:
    """Search `strategy` at doubling budgets above `largest` (`search(strategy, n)` returns the new
    folder) until `reached(rows)` or N reaches `max_n`; the new folders, their rows added to `rows`.
    Each budget gets a folder of its own, so a killed run resumes each one and a rerun walks the same
    doublings. For the best-of-N family the new folder is one larger pool, from which eval
    subsamples every smaller N; the smaller pools stay where they are."""
    from ponder.data.results import read_results

    folders = []
    while largest < max_n:
        if reached(rows):
            break
        largest = min(2 * largest, max_n)
        folders.append(search(strategy, largest))
        new = read_results(Path(folders[-1]) / "results.jsonl")
        rows += new
        if not any(params is None or r.params == params for r in new):
            break  # a hyper-parameter that N caps (a beam width above N): larger N is another candidate
    return folders


def interval_reached(
    rows: list, routed: list[str], n: int, strategy: str, params: dict | None, resamples: int
) -> bool:
    """Whether `strategy`'s curve (with `params`) reaches each routed strategy's accuracy at budget
    n in enough bootstrap resamples that the efficiency interval against it is measured, not bounded
    (`INTERVAL_REACHED`, `efficiency`'s `reached_share`)."""
    from ponder.infer.eval_search import INTERVAL_REACHED, efficiency, outcomes

    curve = outcomes(rows, strategy, params)
    shares = [efficiency(outcomes(rows, s), n, curve, resamples)["reached_share"] for s in routed]
    return min(shares) >= INTERVAL_REACHED


def run_routing(plan: RoutingPlan) -> dict:
    """Every step of the chain above; the efficiency ratios, the predictor's scores, the test
    split's folders and evaluated points (also written to `output_dir/routing.json`)."""
    from ponder.data.cli import WorldArguments
    from ponder.data.cli import run as world_problems
    from ponder.data.difficulty import DifficultyArguments
    from ponder.data.difficulty import run as difficulty
    from ponder.data.results import read_results
    from ponder.infer.eval_search import (
        EvalSearchArguments,
        best_fixed,
        efficiency,
        outcomes,
        routing_gain_vs_best_fixed,
    )
    from ponder.infer.eval_search import run as eval_search
    from ponder.infer.router import FitRouterArguments
    from ponder.infer.router import run as fit_router
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer_run

    out = Path(plan.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    test_file, val_file = out / "test_problems.jsonl", out / "val_problems.jsonl"
    for split, n, seed, file in (
        ("test", plan.test_per_level, plan.test_seed, test_file),
        ("dev", plan.val_per_level, plan.val_seed, val_file),
    ):
        world_problems(
            WorldArguments(world=plan.world, n_per_level=n, split=split, seed=seed, output=str(file))
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
    first_pool = min(plan.baseline_pool_n, plan.baseline_max_n)
    test_pool = infer("test-pool", test_file, pool, sorted(set(plan.budgets) | {first_pool}))
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

    top = plan.budgets[-1]
    routed_names = routed_strategies("predicted") + routed_strategies("oracle")
    test_folders = [test_pool, test_tree, routed_oracle, routed]
    rows = [r for folder in test_folders for r in read_results(Path(folder) / "results.jsonl")]
    goal = max(outcomes(rows, s).accuracy(top) for s in routed_names)

    def search(strategy: str, n: int) -> str:
        print(
            f"routing: {strategy} at N={n} on the test split, to reach {100 * goal:.1f}% "
            "in 97.5% of the bootstrap resamples",
            flush=True,
        )
        return infer(f"test-{strategy}-{n}", test_file, [strategy], [n])

    def reached(strategy: str, params: dict | None) -> Callable[[list], bool]:
        return lambda rows: interval_reached(rows, routed_names, top, strategy, params, plan.resamples)

    test_folders += extend_until_reached(
        search, rows, BASELINE, None, first_pool, plan.baseline_max_n, reached(BASELINE, None)
    )
    val_rows = read_results(Path(val) / "results.jsonl")
    fixed = best_fixed(val_rows, top, plan.strategies)
    largest = max(r.n for r in rows if r.strategy == fixed["strategy"])
    test_folders += extend_until_reached(
        search,
        rows,
        fixed["strategy"],
        fixed["params"],
        largest,
        plan.fixed_max_n,
        reached(fixed["strategy"], fixed["params"]),
    )
    points = eval_search(
        EvalSearchArguments(results=test_folders, output_dir=str(out / "eval"), levels=False)
    )
    baseline = outcomes(rows, BASELINE)

    def ratio(strategy: str) -> dict:
        return efficiency(outcomes(rows, strategy), top, baseline, plan.resamples)

    summary = {
        "efficiency_oracle": ratio("compute_optimal_oracle"),
        "efficiency_predicted": ratio("compute_optimal"),
        "efficiency_oracle_uneven": ratio("compute_optimal_oracle_uneven"),
        "efficiency_predicted_uneven": ratio("compute_optimal_uneven"),
        # best-of-N (the PRM's top-scored sample) on the same samples, a reference beside the
        # baseline: where weighted voting levels off below compute-optimal, its ratio is only a bound
        # and this one says whether the PRM's scores alone get there (to N = the first pool; a bound
        # beyond it, as for any curve)
        "efficiency_vs_best_of_n": efficiency(
            outcomes(rows, "compute_optimal"), top, outcomes(rows, "best_of_n"), plan.resamples
        ),
        "routing_gain_vs_best_fixed": routing_gain_vs_best_fixed(
            val_rows, rows, routed_names, top, plan.strategies, resamples=plan.resamples
        ),
        "predictor": predictor_scores,
        "test_file": str(test_file),
        "test_folders": test_folders,
        "fixed_folders": [test_pool, test_tree],  # every fixed strategy's searches of the test split
        "points": [asdict(p) for p in points],
        "plan": asdict(plan),
    }
    (out / "routing.json").write_text(json.dumps(summary, indent=2))
    return summary
