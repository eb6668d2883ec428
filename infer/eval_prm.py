"""`ponder eval prm`: how well a PRM tells good steps from bad ones.

The PRM scores solutions whose steps carry ground-truth labels, which come from one of two places:

- problems of a world with an exact step checker (`data.worlds`): the policy samples solutions
  on held-out problems and the world's checker labels every step (the oracle PRM's labels);
- a file of labelled steps in any layout `ponder.data.stepwise` reads: ProcessBench (earliest
  wrong step), TRL stepwise rows, Math-Shepherd, PRM800K, MATH-APS.

Either way every solution is a list of steps, each good (the solution is still on a correct
path after it) or bad. Reported:

- step AUROC: the chance that a random good step scores above a random bad one (threshold-free);
- within-question AUROC: the same for the last step, inside each question's solutions, averaged
  (pooled step AUROC also rewards a PRM that only knows which questions are hard; picking among
  one question's solutions, as best-of-N does, needs this one);
- step accuracy: the share of steps on the right side of `threshold`;
- ProcessBench's metric (Zheng et al. 2024): the PRM's predicted earliest wrong step is the first
  step scoring below `threshold` (-1 if none); accuracy on erroneous solutions (the prediction is
  the labelled step), on correct ones (the prediction is -1), and F1, their harmonic mean.

Each comes with how many questions stand behind it (within-question AUROC: only the questions with
both a right and a wrong solution count) and, for AUROC, within-question AUROC and F1, a 95%
percentile bootstrap interval over questions: a question's solutions share its difficulty, so
questions, not steps, are the independent draws.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ponder.config import ConfigError, parse_config
from ponder.data.loaders import read_rows
from ponder.data.sources import SourceArguments
from ponder.data.stepwise import detect_format, load_stepwise
from ponder.data.worlds import WORLDS, step_checker
from ponder.models import ModelArguments
from ponder.plots import pyplot, save_figure
from ponder.tracking import log_run

from .prm import PRMS  # names only: a scorer imports torch when it is built


@dataclass
class EvalPRMArguments(SourceArguments, ModelArguments):
    """Labelled steps or the problems to sample them on (SourceArguments; `dataset` may also be a
    file of labelled steps: ProcessBench, TRL stepwise, ...), the policy that samples (ModelArguments),
    and the PRM scored against the labels."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Policy that samples solutions when `dataset` holds problems.",
            "aliases": ["--model", "--policy"],
        },
    )
    prm: str = field(default="token-cls", metadata={"help": f"PRM scorer: {', '.join(PRMS)}."})
    prm_model: str | None = field(
        default=None,
        metadata={
            "help": "PRM model folder or hub name; for the oracle, the world whose step checker it reports "
            "(default: the world --dataset names)."
        },
    )
    world: str | None = field(
        default=None,
        metadata={
            "help": f"World whose exact step checker labels sampled solutions ({', '.join(WORLDS)}; "
            "default: the world `dataset` names)."
        },
    )
    samples_per_problem: int = field(default=4, metadata={"help": "Solutions sampled per problem."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    max_tokens: int = field(default=256, metadata={"help": "Most tokens per sampled solution."})
    batch_size: int = field(default=256, metadata={"help": "Sequences per generate call."})
    threshold: float = field(
        default=0.5,
        metadata={"help": "A step scoring below this is predicted wrong (accuracy, earliest wrong step)."},
    )
    output: str | None = field(
        default=None,
        metadata={"help": "JSON file for the scores (default: PRM_MODEL/eval_prm.json, else eval_prm.json)."},
    )
    wandb: bool = field(
        default=True,
        metadata={"help": "Log the table and the calibration plot to W&B (offline without an API key)."},
    )

    def __post_init__(self):
        super().__post_init__()
        PRMS.get(self.prm)
        if self.world is not None:
            WORLDS.get(self.world)
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold: must be in (0, 1), got {self.threshold}")


@dataclass
class LabelledSolution:
    question: str
    steps: list[str]
    labels: list[bool]  # per step: still on a correct path after it
    group: str = "all"  # what the report breaks down by (the level when there is one)
    scores: list[float] = field(default_factory=list)


@dataclass
class PRMScores:
    group: str
    solutions: int
    steps: int
    good_steps: float  # share of steps labelled good
    auroc: float | None  # None when one class is absent
    within_auroc: float | None  # final-step AUROC inside each question, averaged: what search selection needs
    step_accuracy: float
    error_accuracy: float | None  # ProcessBench: erroneous solutions whose earliest wrong step is found
    correct_accuracy: float | None  # ProcessBench: correct solutions predicted correct
    f1: float | None
    calibration: list[list[float]] = field(
        default_factory=list
    )  # per score decile: [mean score, share good, steps]
    # None in files written before they were reported
    questions: int | None = None  # distinct questions: behind AUROC, F1 and their intervals
    within_questions: int | None = None  # questions with a right and a wrong solution: behind within_auroc
    auroc_low: float | None = None  # 95% bootstrap intervals over questions
    auroc_high: float | None = None
    within_low: float | None = None
    within_high: float | None = None
    f1_low: float | None = None
    f1_high: float | None = None


def calibration(scores: list[float], labels: list[bool], bins: int = 10) -> list[list[float]]:
    """Reliability table: steps grouped by score into equal-width bins, mean score against share good."""
    groups: dict[int, list[tuple[float, bool]]] = {}
    for score, label in zip(scores, labels):
        groups.setdefault(min(int(score * bins), bins - 1), []).append((score, label))
    return [
        [sum(s for s, _ in g) / len(g), sum(lab for _, lab in g) / len(g), len(g)]
        for _, g in sorted(groups.items())
    ]


def plot_calibration(table: list[PRMScores], path: Path) -> Path:
    """Reliability diagram of every group: a calibrated PRM's points lie on the diagonal."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5, 4.6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="calibrated")
    for s in table:
        if s.calibration:
            xs, ys, _ = zip(*s.calibration)
            ax.plot(
                xs,
                ys,
                marker="o",
                linewidth=2.5 if s.group == "all" else 1,
                label=f"{s.group} (AUROC {s.auroc:.2f})" if s.auroc else s.group,
            )
    ax.set_xlabel("PRM score (P good)")
    ax.set_ylabel("share of steps labelled good")
    ax.set_title("PRM calibration")
    return save_figure(fig, ax, path, legend_size=7)


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Area under the ROC curve from the rank-sum (Mann-Whitney U) statistic, ties counted half."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):  # tied scores share the mean of their ranks
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(rank for rank, label in zip(ranks, labels) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def by_question(solutions: list[LabelledSolution]) -> dict[str, list[LabelledSolution]]:
    groups: dict[str, list[LabelledSolution]] = {}
    for solution in solutions:
        groups.setdefault(solution.question, []).append(solution)
    return groups


def question_aurocs(solutions: list[LabelledSolution]) -> list[float]:
    """The last step's AUROC inside each question that has both correct and wrong solutions."""
    values = [
        auroc([s.scores[-1] for s in group], [s.labels[-1] for s in group])
        for group in by_question(solutions).values()
    ]
    return [v for v in values if v is not None]


def within_question_auroc(solutions: list[LabelledSolution]) -> float | None:
    """Mean, over questions with both correct and wrong solutions, of the AUROC of the last step's
    score for the last step's label. Step AUROC pooled over questions also rewards a PRM that only
    knows which questions are hard; choosing among one question's solutions needs this one."""
    values = question_aurocs(solutions)
    return sum(values) / len(values) if values else None


def bootstrap_intervals(
    solutions: list[LabelledSolution], threshold: float, resamples: int = 1000, seed: int = 0
) -> dict[str, float | None]:
    """95% percentile intervals of step AUROC, within-question AUROC and ProcessBench F1, from
    `resamples` draws of the questions with replacement (each draw weighs every step and solution
    of a question by how often it was drawn); None where a metric is undefined."""
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = list(by_question(solutions).values())
    draws = rng.multinomial(len(groups), [1 / len(groups)] * len(groups), resamples)
    # step AUROC with weights: P(good step scores above a bad one), ties half, by score bins
    question = np.array([q for q, group in enumerate(groups) for sol in group for _ in sol.labels], dtype=int)
    labels = np.array([label for group in groups for sol in group for label in sol.labels], dtype=float)
    values, bins = np.unique(
        [x for group in groups for sol in group for x in sol.scores], return_inverse=True
    )
    # F1: per question, erroneous solutions, those whose earliest wrong step is found, and the same
    # for correct ones
    per_question = np.array(
        [
            [
                sum(not all(s.labels) for s in group),
                sum(
                    not all(s.labels)
                    and first_error([x >= threshold for x in s.scores]) == first_error(s.labels)
                    for s in group
                ),
                sum(all(s.labels) for s in group),
                sum(all(s.labels) and all(x >= threshold for x in s.scores) for s in group),
            ]
            for group in groups
        ],
        dtype=float,
    )
    within = [auroc([s.scores[-1] for s in group], [s.labels[-1] for s in group]) for group in groups]
    counted = np.array([v is not None for v in within])
    within_values = np.array([v if v is not None else 0.0 for v in within])
    samples: dict[str, list[float]] = {"auroc": [], "within": [], "f1": []}
    for weights in draws:
        w = weights[question]
        good = np.bincount(bins, w * labels, len(values))
        bad = np.bincount(bins, w * (1 - labels), len(values))
        if good.sum() and bad.sum():
            below = np.cumsum(bad) - bad
            samples["auroc"].append(float(good @ (below + bad / 2) / (good.sum() * bad.sum())))
        counts = weights @ counted
        if counts:
            samples["within"].append(float(weights @ (counted * within_values) / counts))
        errors, found, correct, kept = weights @ per_question
        if errors and correct:
            e, c = found / errors, kept / correct
            samples["f1"].append(2 * e * c / (e + c) if e + c else 0.0)
    out: dict[str, float | None] = {}
    for key, xs in samples.items():
        low, high = np.percentile(xs, [2.5, 97.5]) if xs else (None, None)
        out[f"{key}_low"] = None if low is None else float(low)
        out[f"{key}_high"] = None if high is None else float(high)
    return out


def first_error(flags: list[bool]) -> int:
    """Index of the first False (a wrong step), -1 if there is none."""
    return next((k for k, ok in enumerate(flags) if not ok), -1)


def summarise(group: str, solutions: list[LabelledSolution], threshold: float) -> PRMScores:
    scores = [s for sol in solutions for s in sol.scores]
    labels = [label for sol in solutions for label in sol.labels]
    erroneous = [sol for sol in solutions if not all(sol.labels)]
    correct = [sol for sol in solutions if all(sol.labels)]

    def predicted(sol: LabelledSolution) -> int:
        return first_error([s >= threshold for s in sol.scores])

    error_acc = (
        sum(predicted(sol) == first_error(sol.labels) for sol in erroneous) / len(erroneous)
        if erroneous
        else None
    )
    correct_acc = sum(predicted(sol) == -1 for sol in correct) / len(correct) if correct else None
    f1 = None
    if error_acc is not None and correct_acc is not None:
        f1 = 2 * error_acc * correct_acc / (error_acc + correct_acc) if error_acc + correct_acc else 0.0
    return PRMScores(
        group=group,
        solutions=len(solutions),
        steps=len(labels),
        good_steps=sum(labels) / max(1, len(labels)),
        auroc=auroc(scores, labels),
        within_auroc=within_question_auroc(solutions),
        step_accuracy=sum((s >= threshold) == label for s, label in zip(scores, labels))
        / max(1, len(labels)),
        error_accuracy=error_acc,
        correct_accuracy=correct_acc,
        f1=f1,
        calibration=calibration(scores, labels),
        questions=len(by_question(solutions)),
        within_questions=len(question_aurocs(solutions)),
        **bootstrap_intervals(solutions, threshold),
    )


def holds_labelled_steps(source: SourceArguments) -> bool:
    """Whether `source` is labelled steps (a stepwise layout) rather than problems to sample."""
    if source.generated_world is not None:
        return False
    first = next(iter(read_rows(source.dataset, source.split)), None)
    return first is not None and isinstance(first[1], dict) and detect_format(first[1]) is not None


def labelling_checker(args: EvalPRMArguments):
    """The step checker of `world`, else of the world `dataset` names: (question, steps) -> bools."""
    if args.world is None and args.generated_world is None:
        raise ConfigError(
            f"world: {args.dataset} is not a generated world; name the world whose step checker "
            f"labels the sampled steps (--world {' | '.join(WORLDS)})"
        )
    return step_checker(args.world or args.dataset)


def sampled_solutions(args: EvalPRMArguments) -> list[LabelledSolution]:
    """Solutions the policy samples on held-out problems, every step labelled by the world's checker."""
    from .backends.hf import HFBackend
    from .strategies.base import SearchContext
    from .strategies.sampling import sample_pool

    check = labelling_checker(args)
    problems = args.load()
    backend = HFBackend(
        args.require_model(),
        batch_size=args.batch_size,
        dtype=args.resolved_dtype(),
        device=args.resolved_device(),
        trust_remote_code=args.trust_remote_code,
        progress=True,
    )
    ctx = SearchContext(
        backend=backend,
        prm=None,
        tokenizer=backend.tokenizer,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
    )
    solutions = []
    for problem, (trajectories, _) in zip(problems, sample_pool(problems, args.samples_per_problem, ctx)):
        group = f"level {problem.level}" if problem.level is not None else "all"
        solutions += [
            LabelledSolution(problem.question, t.steps, check(problem.question, t.steps), group)
            for t in trajectories
            if t.steps
        ]
    return solutions


def file_solutions(args: EvalPRMArguments) -> list[LabelledSolution]:
    rows = load_stepwise(args.dataset, split=args.split, limit=args.limit)
    return [LabelledSolution(row["prompt"], row["completions"], row["labels"]) for row in rows]


def evaluate(args: EvalPRMArguments) -> list[PRMScores]:
    """Every labelled solution scored by the PRM, summarised per group (and overall)."""
    from .prm import load_prm, prm_model_of

    solutions = file_solutions(args) if holds_labelled_steps(args.source()) else sampled_solutions(args)
    prm = load_prm(
        args.prm,
        prm_model_of(args),
        trust_remote_code=args.trust_remote_code,
        device=args.resolved_device(),
    )
    for question, group in tqdm(by_question(solutions).items(), desc="score steps"):
        for solution, scores in zip(group, prm.score(question, [s.steps for s in group])):
            solution.scores = scores
    groups = sorted({s.group for s in solutions})
    table = [summarise(g, [s for s in solutions if s.group == g], args.threshold) for g in groups]
    if len(groups) > 1:
        table.append(summarise("all", solutions, args.threshold))
    return table


def format_table(table: list[PRMScores]) -> str:
    """One line per group: its solutions, questions (`q`), steps, and each metric; AUROC,
    within-question AUROC (over its `wq` questions with a right and a wrong solution) and F1 with
    their 95% bootstrap intervals over questions."""

    def pct(value):
        return "   -" if value is None else f"{100 * value:5.1f}"

    def count(value):
        return "-" if value is None else str(value)

    def ci(low, high, scale=1.0, digits=2):
        return "" if low is None or high is None else f"[{scale * low:.{digits}f}, {scale * high:.{digits}f}]"

    lines = [
        f"{'group':<10}{'solutions':>10}{'q':>5}{'steps':>7}{'good%':>7}{'AUROC':>7}{'95% CI':>14}"
        f"{'within':>7}{'wq':>5}{'95% CI':>14}{'acc%':>7}{'err%':>7}{'corr%':>7}{'F1':>7}{'95% CI':>14}"
    ]
    for s in table:
        auc = "   -" if s.auroc is None else f"{s.auroc:.3f}"
        within = "   -" if s.within_auroc is None else f"{s.within_auroc:.3f}"
        lines.append(
            f"{s.group:<10}{s.solutions:>10}{count(s.questions):>5}{s.steps:>7}{pct(s.good_steps):>7}"
            f"{auc:>7}{ci(s.auroc_low, s.auroc_high):>14}{within:>7}{count(s.within_questions):>5}"
            f"{ci(s.within_low, s.within_high):>14}{pct(s.step_accuracy):>7}{pct(s.error_accuracy):>7}"
            f"{pct(s.correct_accuracy):>7}{pct(s.f1):>7}{ci(s.f1_low, s.f1_high, 100, 0):>14}"
        )
    return "\n".join(lines)


def run(args: EvalPRMArguments) -> list[PRMScores]:
    """Score the PRM against the labels: print the table, write it as JSON and plot its calibration."""
    table = evaluate(args)
    print(format_table(table))
    default = (
        Path(args.prm_model, "eval_prm.json")
        if args.prm_model and Path(args.prm_model).is_dir()
        else Path("eval_prm.json")
    )
    output = Path(args.output) if args.output else default
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"args": asdict(args), "scores": [asdict(s) for s in table]}, indent=2))
    plot = plot_calibration(table, output.with_name(output.stem + "_calibration.png"))
    print(f"wrote {output} and {plot}")
    if args.wandb:
        log_to_wandb(table, plot, f"eval-prm {output.parent.name}/{output.stem}", asdict(args))
    return table


def log_to_wandb(table: list[PRMScores], plot: Path, run_name: str, config: dict) -> None:
    """The table (its calibration bins are in the plot), the overall row's metrics and the plot."""
    rows = [{k: v for k, v in asdict(s).items() if k != "calibration"} for s in table]
    overall = {k: v for k, v in rows[-1].items() if k != "group"}  # "all" when there are groups
    log_run("eval-prm", run_name, config, {"prm/table": rows, "prm": overall}, images=[plot])


def main(argv: list[str] | None = None) -> list[PRMScores]:
    return run(*parse_config((EvalPRMArguments,), argv, prog="ponder eval prm", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder eval prm", main)
