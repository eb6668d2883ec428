"""`ponder quickstart`: the main job, end to end on a generated world (ArithWorld or Countdown).

Today's loop: take a policy (the world's checkpoint shipped with ponder, or one trained afresh
with the world's recipe, `--train_policy true`); report greedy accuracy and pass@k per level on
held-out problems (pass@k far above greedy on the hard levels is the room that search can use);
label solution steps with Monte-Carlo rollouts; train a PRM on the labels; measure it against the
exact step checker; then search with it on a validation and a test split (every strategy and
budget), bin problems by the policy's pass rate, train a difficulty predictor on the question
alone, fit the compute-optimal router, and run compute-optimal search on the test split (oracle
and predicted bins, even and uneven budgets) beside weighted best-of-N with the oracle PRM; distil
one round of search back into the policy and evaluate it again; run every size of the shipped
policy ladder (greedy and majority vote) on the same test problems, so the report opens with the
searched policy against each size at equal policy FLOPs; and write `output_dir/report/` (report.md
and PNG plots). Worlds differ only in where the loop starts (`WORLD_STARTS`: the
policy, its recipe, the LM the PRM starts from); every stage reads the world by name.
Each stage writes into `output_dir`; labelling and search resume where a killed run stopped. Each
stage logs to W&B, all in one group per run, with the summary and the report's plots.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ponder.config import from_yaml, load_yaml, parse_config, recipe
from ponder.errors import ConfigError
from ponder.models import SHIPPED_COUNTDOWN_POLICY, SHIPPED_LADDER, SHIPPED_POLICY, SHIPPED_VERIFIER
from ponder.tracking import log_run, new_group, wandb_scope


@dataclass(frozen=True)
class WorldStart:
    """Where the quickstart starts in one world."""

    policy: Path  # the shipped policy checkpoint (trained afresh with `policy_recipe` when absent)
    policy_recipe: str  # configs/train/ file
    # The LM the PRM starts from when shipped; else the policy. ArithWorld's is a stronger LM than the
    # policy (its PRM recipe's base); Countdown's PRM starts from the policy itself, so that no model
    # behind the search saw more ground truth than the policy (issue 22).
    prm_base: Path | None = None


WORLD_STARTS = {
    "arithworld": WorldStart(SHIPPED_POLICY, "policy.yaml", SHIPPED_VERIFIER),
    "countdown": WorldStart(SHIPPED_COUNTDOWN_POLICY, "policy_countdown.yaml"),
}


@dataclass
class QuickstartArguments:
    """Sizes default to a short run on CPU; the benchmarks under tests/benchmarks/ run each stage at
    sizes that measure it."""

    output_dir: str = field(
        default="outputs/quickstart",
        metadata={"help": "Folder for everything the quickstart writes; a finished stage is not redone."},
    )
    world: str = field(
        default="arithworld",
        metadata={"help": f"The generated world the loop runs on: {', '.join(WORLD_STARTS)}."},
    )
    train_policy: bool = field(
        default=False,
        metadata={
            "help": "Train a policy afresh with the world's recipe instead of using its shipped "
            "checkpoint (done anyway where none is shipped)."
        },
    )
    policy: str | None = field(
        default=None, metadata={"help": "Use this policy folder instead (overrides train_policy)."}
    )
    prm_base: str | None = field(
        default=None,
        metadata={
            "help": "Causal-LM folder the PRM starts from (default: ArithWorld's shipped verifier LM; "
            "Countdown's policy itself)."
        },
    )
    per_level: int = field(
        default=100, metadata={"help": "Held-out problems per level for greedy and pass@k."}
    )
    k: int = field(default=16, metadata={"help": "Samples per problem for pass@k."})
    label_per_level: int | None = field(
        default=60,
        metadata={
            "help": "Training problems per level for PRM labels (empty: the recipe's, as in the "
            "prm_quality benchmark)."
        },
    )
    prm_eval_per_level: int = field(
        default=10, metadata={"help": "Held-out problems per level for the PRM's step AUROC."}
    )
    search_per_level: int = field(
        default=20, metadata={"help": "Test problems per level for search with the learned PRM."}
    )
    val_per_level: int = field(
        default=10, metadata={"help": "Validation problems per level (router and difficulty predictor)."}
    )
    budgets: list[int] = field(
        default_factory=lambda: [1, 2, 4, 8, 16], metadata={"help": "Search budgets N."}
    )
    reference_policy: str | None = field(
        default=None,
        metadata={
            "help": "A larger policy folder whose greedy and weighted best-of-N (same PRM) become "
            "reference lines in the report."
        },
    )
    ladder: str = field(
        default=str(SHIPPED_LADDER),
        metadata={
            "help": "ladder.json of policy sizes (`ponder ladder`; default: the shipped one) whose "
            "greedy and majority vote on the test problems open the report, beside the searched policy "
            "at equal policy FLOPs; rungs trained on another world are left out; '' skips it."
        },
    )
    ladder_n: int = field(default=4, metadata={"help": "N of each ladder rung's majority vote."})
    distill_per_level: int = field(
        default=40,
        metadata={"help": "Training problems per level searched for one round of distillation (0 skips it)."},
    )
    distill_steps: int = field(
        default=60,
        metadata={
            "help": "SFT steps of that round: the recipe's length is for the thousands of rows a full "
            "round yields (tests/benchmarks/distill_gain.py); a few hundred rows would be memorised."
        },
    )
    distill_learning_rate: float = field(
        default=5e-5,
        metadata={
            "help": "SFT learning rate of that round: the recipe's is for thousands of rows and steps; "
            "on the quickstart's few hundred rows it undoes what the policy knew."
        },
    )
    baseline_max_n: int = field(
        default=32,
        metadata={
            "help": "Largest N of the best-of-N family and of the best fixed strategy on the test split "
            "(for the efficiency ratios; the benchmark searches further)."
        },
    )
    wandb: bool = field(
        default=True,
        metadata={
            "help": "Log every stage, the summary and the report's plots to W&B, in one group per run "
            "(offline without an API key); false logs none."
        },
    )

    def __post_init__(self):
        if self.world not in WORLD_STARTS:
            raise ConfigError(f"world: unknown '{self.world}' (expected one of: {', '.join(WORLD_STARTS)})")


def _stage(number: int, text: str) -> None:
    print(f"[{number}/9] {text}", flush=True)


def search_points(folder: Path) -> list[dict]:
    """`ponder eval search` of one results folder, without W&B: its points as dicts."""
    from ponder.infer.eval_search import EvalSearchArguments
    from ponder.infer.eval_search import run as eval_search

    return [
        asdict(p) for p in eval_search(EvalSearchArguments(results=[str(folder)], levels=False, wandb=False))
    ]


def parameters(model: str) -> int:
    """A causal LM's parameter count (its policy FLOPs are 2 x parameters x generated tokens)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model).num_parameters()


def ladder_points(args: QuickstartArguments, test_file: str, folder: Path) -> list[dict]:
    """Greedy and majority@ladder_n of every rung of `args.ladder` trained on this world, on the
    test problems the searches ran on: each rung's parameters, training tokens, plateau and points."""
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer
    from ponder.pipelines.ladder import read_ladder

    rungs = [r for r in read_ladder(args.ladder) if r.get("dataset") in (None, args.world)]
    out = []
    for rung in rungs:
        results = folder / rung["rung"]
        infer(
            InferArguments(
                model_name_or_path=rung["checkpoint"],
                dataset=test_file,
                strategies=["greedy", "majority"],
                budgets=[args.ladder_n],
                output_dir=str(results),
            )
        )
        keep = ("rung", "checkpoint", "parameters", "train_tokens", "plateaued")
        out.append({**{k: rung.get(k) for k in keep}, "points": search_points(results)})
    return out


def run(args: QuickstartArguments) -> dict:
    """Every stage; the summary (also written to `output_dir/summary.json`, beside the report).
    Every stage's W&B run, trainers' included, goes in one group unique to this run (`wandb_group`
    in the summary), so the run's stages sit on one dashboard."""
    group = new_group(args.output_dir)
    with wandb_scope(group, enabled=args.wandb):
        return run_stages(args, group if args.wandb else None)


def run_stages(args: QuickstartArguments, group: str | None) -> dict:
    from ponder.infer.eval_policy import EvalArguments
    from ponder.infer.eval_policy import run as eval_policy
    from ponder.infer.eval_prm import EvalPRMArguments
    from ponder.infer.eval_prm import run as eval_prm
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer
    from ponder.pipelines.evolve import EvolveArguments
    from ponder.pipelines.evolve import run as evolve
    from ponder.pipelines.report import ReportArguments
    from ponder.pipelines.report import run as report
    from ponder.pipelines.routing import RoutingPlan, run_routing
    from ponder.train.prm import PRMArguments, PRMConfig
    from ponder.train.prm import run as train_prm
    from ponder.train.prm_labels import LabelArguments
    from ponder.train.prm_labels import run as label

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.time()
    start_from = WORLD_STARTS[args.world]
    if args.policy:
        policy = args.policy
        _stage(1, f"using the policy {policy}")
    elif args.train_policy or not (start_from.policy / "config.json").is_file():
        from ponder.train.policy import PolicyArguments, PolicyConfig
        from ponder.train.policy import run as train_policy

        policy = str(out / "policy")
        policy_recipe = recipe("train", start_from.policy_recipe)
        _stage(1, f"training a policy with {policy_recipe} into {policy}")
        if not (out / "policy" / "config.json").is_file():
            train_policy(
                *from_yaml((PolicyArguments, PolicyConfig), policy_recipe, output_dir=policy, eval_k=0)
            )
    else:
        policy = str(start_from.policy)
        command = load_yaml(start_from.policy / "recipe.yaml").get("command")
        _stage(1, f"using the shipped policy {policy} (recipe: {command})")
    timings["policy_s"] = round(time.time() - start, 1)

    _stage(2, f"greedy accuracy and pass@{args.k} per level, {args.per_level} held-out problems per level")
    start = time.time()
    levels = eval_policy(
        EvalArguments(
            model_name_or_path=policy,
            dataset=args.world,
            per_level=args.per_level,
            k=args.k,
            output=str(out / "levels.json"),
        )
    )
    timings["eval_policy_s"] = round(time.time() - start, 1)

    _stage(3, f"step labels from Monte-Carlo rollouts ({recipe('data', 'prm_labels.yaml')})")
    start = time.time()
    labels = out / "prm-labels"
    per_level = {"per_level": args.label_per_level} if args.label_per_level else {}
    label(
        *from_yaml(
            (LabelArguments,),
            recipe("data", "prm_labels.yaml"),
            model_name_or_path=policy,
            dataset=args.world,
            output_dir=str(labels),
            **per_level,
        )
    )
    timings["labels_s"] = round(time.time() - start, 1)

    shipped_base = start_from.prm_base
    prm_base = args.prm_base or (
        str(shipped_base) if shipped_base and (shipped_base / "config.json").is_file() else policy
    )
    _stage(4, f"training a PRM on them from {prm_base} ({recipe('train', 'prm.yaml')})")
    start = time.time()
    prm = out / "prm"
    if not (prm / "prm_config.json").is_file():
        train_prm(
            *from_yaml(
                (PRMArguments, PRMConfig),
                recipe("train", "prm.yaml"),
                model_name_or_path=prm_base,
                dataset=str(labels / "labels.jsonl"),
                output_dir=str(prm),
            )
        )
    timings["train_prm_s"] = round(time.time() - start, 1)

    _stage(
        5, f"the PRM against the exact step checker, {args.prm_eval_per_level} held-out problems per level"
    )
    start = time.time()
    prm_scores = eval_prm(
        EvalPRMArguments(
            prm="token-cls",
            prm_model=str(prm),
            model_name_or_path=policy,
            dataset=args.world,
            per_level=args.prm_eval_per_level,
            output=str(out / "eval_prm.json"),
        )
    )
    timings["eval_prm_s"] = round(time.time() - start, 1)

    _stage(
        6,
        f"weighted best-of-N with the oracle PRM on the test split, "
        f"{args.search_per_level} problems per level",
    )
    start = time.time()
    oracle = out / "search-oracle-prm"
    infer(
        InferArguments(
            model_name_or_path=policy,
            dataset=args.world,
            prm="oracle",
            strategies=["weighted_best_of_n"],
            budgets=args.budgets,
            per_level=args.search_per_level,
            output_dir=str(oracle),
        )
    )
    search = {"oracle": search_points(oracle)}
    timings["oracle_search_s"] = round(time.time() - start, 1)

    _stage(
        7,
        "search with the learned PRM; difficulty bins, predictor and router; "
        "compute-optimal search on the test split",
    )
    start = time.time()
    routing = run_routing(
        RoutingPlan(
            policy=policy,
            prm="token-cls",
            prm_model=str(prm),
            world=args.world,
            output_dir=str(out / "routing"),
            val_per_level=args.val_per_level,
            test_per_level=args.search_per_level,
            budgets=args.budgets,
            baseline_max_n=args.baseline_max_n,
            fixed_max_n=args.baseline_max_n,
        )
    )
    search["learned"] = routing.pop("points")
    timings["routing_s"] = round(time.time() - start, 1)

    distill = {}
    if args.distill_per_level:
        _stage(
            8,
            f"one round of distillation: search {args.distill_per_level} training problems per level, "
            "SFT on the verified best, evaluate again",
        )
        start = time.time()
        rounds = evolve(
            EvolveArguments(
                policy=policy,
                prm="token-cls",
                prm_model=str(prm),
                world=args.world,
                rounds=1,
                train_per_level=args.distill_per_level,
                distill_max_steps=args.distill_steps,
                distill_learning_rate=args.distill_learning_rate,
                budget=max(args.budgets),
                eval_dataset=routing["test_file"],
                round0_results=routing["fixed_folders"],
                output_dir=str(out / "evolve"),
            )
        )
        distill = {"rounds": rounds}
        timings["distill_s"] = round(time.time() - start, 1)

    ladder = []
    if args.ladder:
        _stage(
            9,
            f"every size of the ladder {args.ladder}: greedy and majority@{args.ladder_n} on the test split",
        )
        start = time.time()
        ladder = ladder_points(args, routing["test_file"], out / "ladder")
        timings["ladder_s"] = round(time.time() - start, 1)

    if args.reference_policy:
        print(f"reference: greedy and weighted best-of-N of {args.reference_policy}", flush=True)
        folder = out / "search-reference-policy"
        infer(
            InferArguments(
                model_name_or_path=args.reference_policy,
                dataset=routing["test_file"],
                prm="token-cls",
                prm_model=str(prm),
                strategies=["greedy", "weighted_best_of_n"],
                budgets=args.budgets,
                output_dir=str(folder),
            )
        )
        search["reference"] = search_points(folder)

    summary = {
        "policy": policy,
        "policy_parameters": parameters(policy),
        "ladder": ladder,
        "levels": levels,
        "prm": [asdict(s) for s in prm_scores],
        "search": search,
        "routing": routing,
        "distill": distill,
        **timings,
        "wandb_group": group,
        "args": asdict(args),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'summary.json'}")
    report_dir = report(ReportArguments(run_dir=str(out))).parent
    if args.wandb:
        results = {k: v for k, v in summary.items() if k != "args"}
        log_run(
            "quickstart",
            f"quickstart {out.name}",
            asdict(args),
            results,
            images=sorted(report_dir.glob("*.png")),
        )
    return summary


def main(argv: list[str] | None = None) -> dict:
    return run(*parse_config((QuickstartArguments,), argv, prog="ponder quickstart", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder quickstart", main)
