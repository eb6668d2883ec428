"""Benchmark: sequential revisions against parallel sampling on ArithWorld (Snell et al. 2024, §6).

1. The policy samples `--samples_per_problem` solutions to train-split problems; `ponder data
   revisions` turns them into revision trajectories and `ponder train revision` fine-tunes the
   revision model from the policy (configs/train/revision.yaml).
2. The learned verifier: a PRM from the policy's own Monte-Carlo step labels, started from the
   policy (no LM trained on more ground truth than the policy; size_ladder.learned_prm), unless
   `--prm_model` gives one.
3. On a dev split (validation, seed 3) and a test split (seed 1) the revision model spends each
   budget N in `--budgets` as parallel samples (weighted best-of-N and majority over one pool), one
   chain of N revisions (`revisions`), and C chains of L for every L : C in `--ratios`
   (`parallel_revisions`), each answer chosen by the learned verifier (hierarchical across chains).
   Every sample is drawn once; the oracle verifier (ArithWorld's exact step checker) re-chooses from
   the very same attempts, so the two verifiers differ in the choice alone.
4. Compute-optimal revisions: per difficulty bin (the level) and budget, the router (`ponder
   fit-router`'s `fit_router`) picks the best of those candidates on the dev split; on the test split
   each problem gets its bin's choice, read from the test searches (what `compute_optimal_oracle`
   with `--reuse_results` does).

Keys: `sequential_minus_parallel_points_easy` (levels 1-2, N=16: one chain of 16 against weighted
best-of-16, learned verifier, with a paired bootstrap 95% interval), `efficiency_revisions` (how
many times the policy tokens, re-read context included, weighted best-of-N needs to reach
compute-optimal revisions' accuracy at N=16, interpolated on its curve, whose pool doubles up to
`--baseline_max_n`; `reached: false` marks a bound, which never meets the target >= 2),
`efficiency_revisions_oracle`, `turned_wrong_rate` (of the attempts in the test chains that were
right, the share whose next attempt is wrong; `turned_right_rate` beside it), `router` (each bin's
choice at every budget), per-level curves for every arm and both verifiers, `train_test_overlap`.
Writes revisions.json and a PNG of accuracy against N per level (one per verifier) into --work.

    python tests/benchmarks/revisions.py [--work DIR] [--budgets 1 2 4 8 16 32 64] [--ratios 0.25 1 4]
        [--train_per_level 300] [--val_per_level 20] [--test_per_level 40] [--prm_model DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from overlap import overlap_report
from size_ladder import learned_prm, paired_difference

from ponder.data import grade, load_problems
from ponder.data.grading import grade_trajectory
from ponder.data.results import SearchResult, read_results, search_key
from ponder.models import SHIPPED_POLICY
from ponder.plots import pyplot, save_figure

REPO = Path(__file__).resolve().parents[2]
POOL = ("weighted_best_of_n", "majority")
TARGET = 2.0
ROUTED = "compute_optimal_revisions"


def arm_name(row: SearchResult) -> str:
    """One name per arm: a ratio's rows are one arm each."""
    if row.strategy == "parallel_revisions":
        return f"ratio {row.params['revision_ratio']:g}"
    return row.strategy


def make_problems(work: Path, args) -> dict[str, Path]:
    from ponder.data.cli import WorldArguments
    from ponder.data.cli import run as arithworld

    files = {}
    for name, split, per_level, seed in (
        ("train", "train", args.train_per_level, 7),
        ("val", "dev", args.val_per_level, 3),
        ("test", "test", args.test_per_level, 1),
    ):
        files[name] = work / f"{name}_problems.jsonl"
        arithworld(WorldArguments(output=str(files[name]), n_per_level=per_level, split=split, seed=seed))
    return files


def revision_model(args, work: Path, train_file: Path) -> tuple[str, Path]:
    """The revision model trained here from the policy's own samples (or `--revision_model` with the
    rows it was trained on, `--revision_rows`); (folder, rows file)."""
    from ponder.config import from_yaml, recipe
    from ponder.data.revisions import RevisionDataArguments
    from ponder.train.revision import RevisionArguments, RevisionSFTConfig
    from ponder.train.revision import run as train_revision
    from ponder.train.revision_data import run as build_rows

    if args.revision_model:
        return args.revision_model, Path(args.revision_rows)
    data, model = work / "revision-data", work / "revision-model"
    if not (data / "revisions.jsonl").is_file():
        build_rows(
            RevisionDataArguments(
                model_name_or_path=args.policy,
                dataset=str(train_file),
                samples_per_problem=args.samples_per_problem,
                max_attempts=args.context,
                output_dir=str(data),
            )
        )
    if not (model / "config.json").is_file():
        train_revision(
            *from_yaml(
                (RevisionArguments, RevisionSFTConfig),
                recipe("train", "revision.yaml"),
                model_name_or_path=args.policy,
                dataset=str(data),
                output_dir=str(model),
                report_to="none",
            )
        )
    return str(model), data / "revisions.jsonl"


def search(
    model: str, prm: str, problems: Path, folder: Path, strategies, budgets, context: int, **options
) -> list:
    from ponder.infer.run import InferArguments
    from ponder.infer.run import run as infer

    path = infer(
        InferArguments(
            model_name_or_path=model,
            prm="token-cls",
            prm_model=prm,
            dataset=str(problems),
            strategies=list(strategies),
            budgets=list(budgets),
            max_tokens=160,
            revision_context=context,
            # every problem in one chunk: a chain's rounds are sequential, so only the problems batch
            chunk_size=256,
            output_dir=str(folder),
            wandb=False,
            **options,
        )
    )
    return read_results(path)


def arms(model: str, prm: str, problems: Path, work: Path, split: str, args) -> list[SearchResult]:
    """Every arm on one split: the pool, one chain, and each ratio."""
    rows = search(model, prm, problems, work / f"{split}-pool", POOL, args.budgets, args.context)
    rows += search(model, prm, problems, work / f"{split}-chain", ["revisions"], args.budgets, args.context)
    for ratio in args.ratios:
        rows += search(
            model, prm, problems, work / f"{split}-ratio-{ratio:g}", ["parallel_revisions"], args.budgets,
            args.context, revision_ratio=ratio,
        )  # fmt: skip
    return rows


def with_oracle(rows: list[SearchResult], problems: dict) -> list[SearchResult]:
    """The same attempts re-chosen with ArithWorld's exact step checker as the verifier."""
    from ponder.infer.prm import load_prm
    from ponder.infer.strategies.revisions import choose
    from ponder.infer.strategies.selection import SELECTORS

    oracle = load_prm("oracle", "arithworld")
    out = []
    for row in rows:
        row = copy.deepcopy(row)
        question = problems[row.problem_id].question
        scored = [t for t in row.trajectories if t.steps]
        for t, scores in zip(scored, oracle.score(question, [t.steps for t in scored])):
            t.scores = scores
        base = row.strategy.removeprefix("policy_")
        if base != row.strategy:  # the policy's pool rows, renamed: each budget's choice made again
            chosen = SELECTORS[base](row.trajectories, row.params["aggregation"])
            row.answer = chosen.answer if chosen else None
            row.correct = chosen is not None and grade_trajectory(row.problem, chosen.text, row.answer)
        if row.strategy in ("revisions", "parallel_revisions"):
            chains = defaultdict(list)
            for t in row.trajectories:
                chains[t.parent].append(t)
            chosen = choose(list(chains.values()), row.params["revision_select"], row.params["aggregation"])
            row.answer = chosen.answer if chosen else None
            row.correct = chosen is not None and grade_trajectory(row.problem, chosen.text, row.answer)
        out.append(row)
    return out


def curves(rows: list[SearchResult], budgets: list[int]) -> dict:
    """Accuracy per arm, level and budget (pools subsampled from their largest pool)."""
    from ponder.infer.eval_search import outcomes

    table = {}
    for name in sorted({arm_name(r) for r in rows}):
        mine = [r for r in rows if arm_name(r) == name]
        per_level = {}
        for level in [None, *sorted({r.level for r in mine})]:
            subset = [r for r in mine if level is None or r.level == level]
            o = outcomes(subset, subset[0].strategy)
            per_level["all" if level is None else f"L{level}"] = {
                n: round(100 * o.accuracy(n), 1) for n in budgets if n in o.ns
            }
        table[name] = per_level
    return table


def route(val: list[SearchResult], test: list[SearchResult], budgets: list[int]):
    """Compute-optimal revisions: the router fitted on the dev rows (bins: levels), applied to the
    test rows; (test rows of the routed arm, the table's choices)."""
    from ponder.infer.router import fit_router

    candidates = [r for r in val if r.strategy != "majority"]
    table = fit_router(candidates, {r.problem_id: r.level for r in candidates}, 5, budgets)
    by_key = {search_key(r.problem_id, r.strategy, r.n, r.params): r for r in test}
    routed = []
    for n in budgets:
        for pid, level in sorted({(r.problem_id, r.level) for r in test}):
            choice = table.choose(level, n)
            row = by_key[search_key(pid, choice.strategy, choice.n, choice.params)]
            routed.append(replace(row, strategy=ROUTED, n=n, params={"bin": level, **choice.params}))
    choices = {n: {f"L{b}": describe(c) for b, c in sorted(table.even[n].items()) if b} for n in budgets}
    return routed, choices


def describe(choice) -> str:
    ratio = choice.params.get("revision_ratio")
    return choice.strategy + (f" {ratio:g}" if ratio is not None else "")


def sequential_minus_parallel(rows: list[SearchResult], n: int, levels=(1, 2)) -> dict:
    from ponder.infer.eval_search import outcomes

    easy = [r for r in rows if r.level in levels]
    chain, pool = outcomes(easy, "revisions"), outcomes(easy, "weighted_best_of_n")
    problems = sorted(set(chain.problems) & set(pool.problems))

    def column(o):
        index = {p: j for j, p in enumerate(o.problems)}
        return np.array([o.correct[o.ns.index(n)][index[p]] for p in problems])

    return {**paired_difference(column(chain), column(pool)), "problems": len(problems)}


def turned(rows: list[SearchResult]) -> dict:
    """Of consecutive attempts in the longest test chains: right → wrong and wrong → right shares."""
    chains = [r for r in rows if r.strategy == "revisions"]
    longest = {}
    for r in chains:
        if r.problem_id not in longest or r.n > longest[r.problem_id].n:
            longest[r.problem_id] = r
    right_next, wrong_next = [], []
    for r in longest.values():
        marks = [
            t.answer is not None and grade(f"\\boxed{{{t.answer}}}", r.reference) for t in r.trajectories
        ]
        for now, nxt in zip(marks, marks[1:]):
            (right_next if now else wrong_next).append(nxt)
    return {
        "turned_wrong_rate": round(1 - sum(right_next) / max(1, len(right_next)), 4),
        "turned_right_rate": round(sum(wrong_next) / max(1, len(wrong_next)), 4),
        "pairs_right": len(right_next),
        "pairs_wrong": len(wrong_next),
    }


def efficiency_vs_pool(routed, test, budget, extend, baseline_max_n) -> dict:
    """Compute-optimal revisions' token efficiency against weighted best-of-N at `budget`."""
    from ponder.infer.eval_search import efficiency, outcomes

    target = outcomes(routed, ROUTED)
    goal = target.accuracy(budget)
    baseline_rows = [r for r in test if r.strategy == "weighted_best_of_n"]
    largest = max(r.n for r in baseline_rows)
    while outcomes(baseline_rows, "weighted_best_of_n").accuracy(largest) < goal and largest < baseline_max_n:
        largest = min(2 * largest, baseline_max_n)
        baseline_rows += extend(largest)
    return efficiency(target, budget, outcomes(baseline_rows, "weighted_best_of_n"))


def plot(curve: dict, work: Path, name: str) -> Path:
    plt = pyplot()
    levels = sorted(next(iter(curve.values())))
    fig, axes = plt.subplots(1, len(levels), figsize=(3.2 * len(levels), 3.2), sharey=True)
    for ax, level in zip(axes, levels):
        for arm, per_level in sorted(curve.items()):
            points = sorted((int(n), acc) for n, acc in per_level[level].items())
            ax.plot([n for n, _ in points], [a for _, a in points], marker="o", ms=3, label=arm)
        ax.set_xscale("log", base=2)
        ax.set_title(level)
        ax.set_xlabel("budget N")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    return save_figure(fig, axes[-1], work / f"revisions_{name}.png", legend_size=7)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=REPO / "outputs" / "bench-revisions")
    parser.add_argument("--policy", default=str(SHIPPED_POLICY))
    parser.add_argument(
        "--revision_model", default=None, help="a revision model to use instead of training one"
    )
    parser.add_argument("--revision_rows", default=None, help="with --revision_model: the rows it trained on")
    parser.add_argument("--prm_model", default=None, help="a learned PRM to use instead of training one")
    parser.add_argument(
        "--prm_base", default=None, help="LM the learned PRM starts from (default: the policy)"
    )
    parser.add_argument(
        "--label_per_level", type=int, default=100, help="train problems per level for PRM labels"
    )
    parser.add_argument("--train_per_level", type=int, default=300)
    parser.add_argument("--samples_per_problem", type=int, default=16)
    parser.add_argument("--val_per_level", type=int, default=20)
    parser.add_argument("--test_per_level", type=int, default=40)
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.25, 1.0, 4.0])
    parser.add_argument(
        "--context",
        type=int,
        default=4,
        help="earlier attempts a revision reads (and most in a training row); level-5 chats of four "
        "right-length attempts stay within the policy's 512 positions (474 tokens at most)",
    )
    parser.add_argument("--headline_n", type=int, default=16)
    parser.add_argument("--baseline_max_n", type=int, default=256)
    args = parser.parse_args()
    if args.revision_model and not args.revision_rows:
        parser.error(
            "--revision_model needs --revision_rows (its training rows: their questions are checked)"
        )
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    walls = {}

    start = time.time()
    files = make_problems(work, args)
    model, rows_file = revision_model(args, work, files["train"])
    walls["revision_model_s"] = round(time.time() - start)
    start = time.time()
    prm, prm_base, prm_labels = learned_prm({"checkpoint": args.policy}, args, work)
    walls["prm_s"] = round(time.time() - start)

    start = time.time()
    val = arms(model, prm, files["val"], work, "val", args)
    test = arms(model, prm, files["test"], work, "test", args)
    # the control: the policy itself, sampled in parallel (the revision model's first attempts are
    # what the parallel arm above samples)
    test += [
        replace(r, strategy=f"policy_{r.strategy}")
        for r in search(
            args.policy, prm, files["test"], work / "test-policy-pool", POOL, args.budgets, args.context
        )
    ]
    walls["search_s"] = round(time.time() - start)
    problems = {p.id: p for name in ("val", "test") for p in load_problems(files[name])}

    def extend(n: int) -> list:
        return search(
            model, prm, files["test"], work / f"test-pool-{n}", ["weighted_best_of_n"], [n], args.context
        )

    verifiers = {"learned": (val, test), "oracle": (with_oracle(val, problems), with_oracle(test, problems))}
    results = {}
    for name, (v, t) in verifiers.items():
        routed, choices = route(v, t, args.budgets)
        extension = [r for n in (128, 256) if (work / f"test-pool-{n}").is_dir() for r in extend(n)]
        pool_rows = t + (with_oracle(extension, problems) if name == "oracle" else extension)

        def grow(n: int, name=name) -> list:
            new = extend(n)
            return with_oracle(new, problems) if name == "oracle" else new

        results[name] = {
            "curves": curves(t + routed, args.budgets),
            "router": choices,
            "efficiency": efficiency_vs_pool(routed, pool_rows, args.headline_n, grow, args.baseline_max_n),
            "sequential_minus_parallel_points_easy": sequential_minus_parallel(t, args.headline_n),
        }
        plot(results[name]["curves"], work, name)

    test_problems = load_problems(files["test"])
    overlap = overlap_report(
        test_problems,
        {
            "policy": args.policy,
            "revision_rows": rows_file,
            "prm_labels": prm_labels,
            "router_val": files["val"],
        },
    )
    eff = results["learned"]["efficiency"]
    line = {
        "sequential_minus_parallel_points_easy": results["learned"]["sequential_minus_parallel_points_easy"],
        "sequential_minus_parallel_points_easy_oracle": results["oracle"][
            "sequential_minus_parallel_points_easy"
        ],
        "efficiency_revisions": eff,
        "efficiency_revisions_oracle": results["oracle"]["efficiency"],
        **turned(test),
        "router": results["learned"]["router"],
        "router_oracle": results["oracle"]["router"],
        "targets": {"efficiency_revisions>=2": bool(eff.get("reached") and eff["ratio"] >= TARGET)},
        "curves": {k: r["curves"] for k, r in results.items()},
        "revision_model": model,
        "prm": {"model": prm, "base": prm_base, "labels": prm_labels},
        "problems": {"val_per_level": args.val_per_level, "test_per_level": args.test_per_level},
        "budgets": args.budgets,
        "ratios": args.ratios,
        **overlap,
        "walls": walls,
    }
    (work / "revisions.json").write_text(json.dumps(line, indent=2))
    print(json.dumps(line))


if __name__ == "__main__":
    main()
