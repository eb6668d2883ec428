"""`ponder data distill`: what search found, as training rows that distil it back into the policy.

    ponder data distill --results outputs/search [outputs/search-2 ...] --output_dir outputs/distill-data

Reads `ponder infer` folders and writes, per prompt (system prompt + question):

- `sft.jsonl`: the best trajectories (expert iteration / rejection-sampling fine-tuning), at most
  `max_per_problem`, deduplicated by text. `verified` keeps trajectories whose answer grades
  correct against the reference and, when the PRM scored it, reach `min_score` (a right answer
  after a wrong step teaches the wrong step; a world that grades whole trajectories, such as
  Countdown, has checked every step already, so there the score only orders), best PRM score first
  (shorter first without scores);
  `prm_top` needs no reference: it keeps trajectories whose aggregated PRM score is at least
  `min_score`, best first.
- `pairs.jsonl`: DPO pairs of a good (chosen) and a bad (rejected) trajectory of the same
  prompt — correct against incorrect (`verified`), or above against below `min_score` (`prm_top`).

Only trajectories that finished (not cut at `max_tokens`) and reached a `\\boxed{}` answer count.

`first_n` reads a pool as a smaller budget: only each row's first N trajectories, the samples a
budget of N draws from the same pool. A rejection-sampling control (`ponder infer --strategies
majority`, no PRM, then `verified`, which keeps every right unscored answer up to `max_per_problem`)
is sized this way to the policy tokens a search spent, without sampling again.

Rows are TRL's conversational layout (`prompt` messages, then `completion` or `chosen`/`rejected`
assistant messages) with `problem_id` and `level`: the trainer applies the policy's chat template
to them, so the distilled policy is trained on exactly the prompts search sent (the search run's
system prompt included), and the completion is the trajectory text `"\\n\\n".join(steps)` as the
policy generated it, ending in its boxed answer.

Search results and PRM score aggregation live in `ponder.data.results`, so building these rows
needs nothing from `ponder.infer`: distillation data exists only because search ran, but reading
it is a data task.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path

from ponder.config import parse_config
from ponder.errors import ConfigError

from .grading import grade_trajectories, world_grader
from .loaders import DatasetError
from .problem import Problem
from .results import AGGREGATIONS, Trajectory, aggregate, read_results, results_config, results_problems

SELECTIONS = ("verified", "prm_top")


@dataclass
class DistillDataArguments:
    results: list[str] = field(
        default_factory=list,
        metadata={"help": "One or more `ponder infer` output folders (results.jsonl + config.json)."},
    )
    output_dir: str = field(
        default="outputs/distill-data",
        metadata={"help": "Folder for sft.jsonl, pairs.jsonl and summary.json (overwritten)."},
    )
    selection: str = field(
        default="verified",
        metadata={
            "help": "'verified': answers graded against the reference; "
            "'prm_top': the PRM's best, for data without references."
        },
    )
    aggregation: str = field(
        default="last",
        metadata={"help": f"How step scores become a trajectory score: {', '.join(AGGREGATIONS)}."},
    )
    min_score: float = field(
        default=0.5,
        metadata={
            "help": "A scored trajectory below this aggregated PRM score is never kept: prm_top's line "
            "between good and bad; under verified it drops right answers reached by wrong steps "
            "(0 keeps them), except in worlds that grade every step (Countdown)."
        },
    )
    max_per_problem: int = field(default=4, metadata={"help": "Most SFT rows per problem."})
    first_n: int | None = field(
        default=None,
        metadata={
            "help": "Only each result row's first N trajectories: of a pool strategy's N_max samples, "
            "those a budget of N draws (to match another run's token budget from one pool)."
        },
    )
    max_pairs_per_problem: int = field(default=4, metadata={"help": "Most preference pairs per problem."})

    def __post_init__(self):
        if not self.results:
            raise ConfigError("results: give at least one `ponder infer` output folder (--results DIR ...)")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"selection: expected one of {', '.join(SELECTIONS)}, got '{self.selection}'")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(
                f"aggregation: expected one of {', '.join(AGGREGATIONS)}, got '{self.aggregation}'"
            )
        for name in ("max_per_problem", "max_pairs_per_problem"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.first_n is not None and self.first_n < 1:
            raise ConfigError(f"first_n: must be >= 1, got {self.first_n}")


@dataclass
class PromptGroup:
    """Every trajectory that search produced for one prompt, across strategies, budgets and folders."""

    prompt: list[dict]  # chat messages: optional system, then the user's question
    problem: Problem  # reloaded from its results folder's source, with the rows' reference
    trajectories: list[Trajectory] = field(default_factory=list)


def load_groups(folders: list[str], first_n: int | None = None) -> list[PromptGroup]:
    """Result rows of every folder grouped by prompt, with each problem's question reloaded; with
    `first_n`, only each row's first `first_n` trajectories."""
    groups: dict[tuple[str | None, str], PromptGroup] = {}
    for folder in folders:
        path = Path(folder) / "results.jsonl"
        if not path.is_file():
            raise DatasetError(f"results: {folder} has no results.jsonl (not a `ponder infer` output folder)")
        system = results_config(folder).get("system_prompt")
        problems = results_problems(folder)
        for row in read_results(path):
            if row.problem_id not in problems:
                raise DatasetError(
                    f"results: {folder} has a row for problem '{row.problem_id}', "
                    "which its dataset no longer holds"
                )
            problem = problems[row.problem_id]
            key = (system, problem.question)
            if key not in groups:
                prompt = ([{"role": "system", "content": system}] if system else []) + [
                    {"role": "user", "content": problem.question}
                ]
                # graded against the reference the row was searched with
                groups[key] = PromptGroup(prompt, replace(problem, answer=row.reference))
            groups[key].trajectories += row.trajectories[:first_n]
    return list(groups.values())


def candidates(trajectories: list[Trajectory], aggregation: str) -> list[tuple[Trajectory, float | None]]:
    """Finished, answered trajectories with their aggregated score (None when unscored), best first
    and one per text: pool strategies share samples across budgets, so the same text recurs."""
    usable = [
        (t, aggregate(t.scores, aggregation) if t.scores else None)
        for t in trajectories
        if t.finish_reason != "length" and t.answer is not None
    ]
    usable.sort(key=lambda ts: (ts[1] is None, -(ts[1] or 0.0), len(ts[0].text)))
    first: dict[str, tuple[Trajectory, float | None]] = {}
    for t, s in usable:
        first.setdefault(t.text, (t, s))
    return list(first.values())


def split_good_bad(
    group: list[tuple[Trajectory, float | None]],
    selection: str,
    min_score: float | None,
    correct: list[bool],
):
    """The group's good and bad trajectory texts, each best first.

    A scored trajectory below `min_score` is never good. Under `verified` it is a right answer
    reached through a step the PRM rejects (slips that cancel out, which the exact checker finds
    among the verified rows of a small policy; docs/results.md); training on it would teach the
    slips, so it is left out of both lists. `min_score` None: the grade checked every step, and no
    score vetoes a right answer. Under `prm_top` the score alone decides, and unscored trajectories
    cannot be judged.
    """
    good, bad = [], []
    for k, (t, score) in enumerate(group):
        low = score is not None and min_score is not None and score < min_score
        if selection == "verified":
            if not correct[k]:
                bad.append(t.text)
            elif not low:
                good.append(t.text)
        elif score is not None:
            (bad if low else good).append(t.text)
    return good, bad


def pair_indices(n_good: int, n_bad: int, limit: int) -> list[tuple[int, int]]:
    """Up to `limit` distinct (good, bad) index pairs, best pairs first: in order of the sum of
    ranks, so the first pairs set the best correct answers against the highest-scored wrong ones
    (the mistakes the PRM and the policy find most plausible)."""
    return sorted(product(range(n_good), range(n_bad)), key=sum)[:limit]


def distill(groups: list[PromptGroup], args: DistillDataArguments) -> tuple[list[dict], list[dict], int]:
    """SFT rows, preference pairs, and the number of prompts with at least one good trajectory."""
    ranked = [candidates(g.trajectories, args.aggregation) for g in groups]
    correct: list[list[bool]] = [[] for _ in groups]
    if args.selection == "verified":
        verdicts = iter(grade_trajectories([(g.problem, t) for g, ts in zip(groups, ranked) for t, _ in ts]))
        correct = [[next(verdicts) for _ in ts] for ts in ranked]
    sft, pairs, with_good = [], [], 0
    for group, ts, right in zip(groups, ranked, correct):
        # The veto is for right answers reached through wrong steps, which a world that grades whole
        # trajectories has already ruled out: there a PRM score below min_score only drops correct
        # rows (a Countdown PRM kept 9 of 92 solved problems; docs/results.md).
        whole = args.selection == "verified" and world_grader(group.problem) is not None
        good, bad = split_good_bad(ts, args.selection, None if whole else args.min_score, right)
        with_good += bool(good)
        meta = {"problem_id": group.problem.id, "level": group.problem.level}
        sft += [
            {"prompt": group.prompt, "completion": _assistant(text), **meta}
            for text in good[: args.max_per_problem]
        ]
        pairs += [
            {"prompt": group.prompt, "chosen": _assistant(good[i]), "rejected": _assistant(bad[j]), **meta}
            for i, j in pair_indices(len(good), len(bad), args.max_pairs_per_problem)
        ]
    return sft, pairs, with_good


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def run(args: DistillDataArguments) -> dict:
    """Write sft.jsonl, pairs.jsonl and summary.json; returns the summary's counts."""
    groups = load_groups(args.results, args.first_n)
    sft, pairs, with_good = distill(groups, args)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(sft, out / "sft.jsonl")
    write_jsonl(pairs, out / "pairs.jsonl")
    counts = {
        "problems": len(groups),
        "problems_with_good": with_good,
        "sft_rows": len(sft),
        "pairs": len(pairs),
    }
    (out / "summary.json").write_text(json.dumps({**counts, "args": asdict(args)}, indent=2))
    good = (
        "a verified trajectory"
        if args.selection == "verified"
        else f"a trajectory scored >= {args.min_score}"
    )
    print(f"{with_good} of {len(groups)} problems have {good}")
    print(f"{len(sft)} SFT rows -> {out / 'sft.jsonl'}")
    print(f"{len(pairs)} preference pairs -> {out / 'pairs.jsonl'}")
    return counts


def main(argv: list[str] | None = None) -> dict:
    return run(*parse_config((DistillDataArguments,), argv, prog="ponder data distill", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder data distill", main)
