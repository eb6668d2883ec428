"""Sequential revisions (Snell et al. 2024): the chat format a revision model reads and writes,
and the rows of `ponder data revisions` (the command itself is `ponder.train.revision_data`: with
`--model` it samples through `ponder.infer`, which this layer does not import).

    ponder data revisions --results outputs/samples [more ...] --output_dir outputs/revision-data
    ponder data revisions --model ponder/checkpoints/arithworld-policy --split train --per_level 200

A revision model sees the question, then its earlier attempts, each followed by a short user turn
asking for another attempt, and writes the next attempt as a new assistant turn:

    user: <question>
    assistant: <attempt 1>          (up to k earlier attempts, oldest first)
    user: Revise.
    assistant: <attempt 2>
    user: Revise.
    assistant: <the new attempt>    (what the model writes; with no earlier attempt, a first try)

Every turn goes through the model's own chat template, so a real chat model reads it as an
ordinary conversation. `ponder data revisions` writes training rows in this format (TRL's
conversational prompt-completion rows) and the `revisions` strategies build their prompts with it,
so the two cannot drift apart.

The rows follow Snell et al.: the policy samples N attempts per problem in parallel (a pool
strategy's row at its largest budget holds them all; with `--model` the command runs `ponder infer`
for them), and each of up to `rows_per_problem` distinct correct attempts becomes a completion
after 0..k incorrect attempts of the same problem (k drawn uniformly), the ones nearest to it by
character edit distance, farthest first. A problem with no correct attempt gives no row. Rows
carry `problem_id`, `level` and `n_attempts` beside TRL's columns, as `ponder data distill`'s do.

Test questions never become training rows: a generated world's problem whose question is in its
test split (`ponder.data.splits`) is refused, in a file as in the world itself; files and hub
datasets have no splits, so `--exclude` drops the questions of a test set and counts them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from ponder.errors import ConfigError
from ponder.models import ModelArguments

from .grading import grade_trajectories
from .loaders import DatasetError
from .problem import Problem
from .results import SearchResult, Trajectory, read_results, results_config, results_problems
from .sources import SourceArguments
from .splits import split_of
from .worlds import WORLDS

# Short on purpose: a character-level ArithWorld model re-reads it after every attempt in context.
REVISION_INSTRUCTION = "Revise."


def revision_messages(
    question: str,
    attempts: list[str] = (),
    instruction: str = REVISION_INSTRUCTION,
    system_prompt: str | None = None,
) -> list[dict]:
    """The conversation up to the next attempt: system prompt, question, earlier attempts."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": question})
    for attempt in attempts:
        messages += [{"role": "assistant", "content": attempt}, {"role": "user", "content": instruction}]
    return messages


@dataclass
class RevisionDataArguments(SourceArguments, ModelArguments):
    """Where the attempts come from (`ponder infer` folders, or a policy and a problem source to
    sample them now) and how rows are drawn from them."""

    results: list[str] = field(
        default_factory=list,
        metadata={
            "help": "`ponder infer` output folders whose pool-strategy rows hold the sampled attempts "
            "(results.jsonl + config.json)."
        },
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A policy folder (or hub name) to sample attempts with now, on the problems of "
            "--dataset/--split/--limit/--seed/--per_level (beside or instead of --results).",
            "aliases": ["--model"],
        },
    )
    split: str = field(
        default="train",
        metadata={
            "help": "With --model: a hub dataset's split, or a generated world's (train: never a test "
            "question)."
        },
    )
    seed: int = field(
        default=1,
        metadata={
            "help": "Seed of the rows' draws; with --model also of a generated world's problems and of "
            "the samples."
        },
    )
    samples_per_problem: int = field(
        default=16, metadata={"help": "With --model: attempts sampled per problem."}
    )
    strategy: str = field(
        default="majority",
        metadata={
            "help": "The pool strategy whose rows are read (at its largest budget a row holds every "
            "sample); with --model, the one run (majority needs no PRM)."
        },
    )
    backend: str = field(
        default="hf", metadata={"help": "With --model: generation backend ('hf' or 'vllm')."}
    )
    temperature: float = field(default=0.8, metadata={"help": "With --model: sampling temperature."})
    max_tokens: int = field(default=256, metadata={"help": "With --model: most tokens per attempt."})
    system_prompt: str | None = field(
        default=None,
        metadata={
            "help": "With --model: system message put before every question (rows carry each folder's own)."
        },
    )
    output_dir: str = field(
        default="outputs/revision-data",
        metadata={
            "help": "Folder for revisions.jsonl and summary.json (overwritten); with --model the "
            "samples go to its samples/ (an existing one is resumed)."
        },
    )
    rows_per_problem: int = field(
        default=4, metadata={"help": "Most rows per problem, each completed by another correct attempt."}
    )
    max_attempts: int = field(
        default=4,
        metadata={
            "help": "Most incorrect attempts in a row's context: each row draws 0..this many "
            "(uniformly; no more than the problem has)."
        },
    )
    instruction: str = field(
        default=REVISION_INSTRUCTION,
        metadata={
            "help": "The user turn after each earlier attempt (the revision strategies must use the same)."
        },
    )
    exclude: str | None = field(
        default=None,
        metadata={
            "help": "jsonl/json problems whose questions are dropped (a test set: files and hub datasets "
            "have no splits; a generated world's test questions are refused anyway)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if not self.results and not self.model_name_or_path:
            raise ConfigError(
                "results: give `ponder infer` output folders (--results DIR ...) or a policy to sample "
                "with (--model)"
            )
        for name in ("samples_per_problem", "rows_per_problem"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_attempts < 0:
            raise ConfigError(f"max_attempts: must be >= 0, got {self.max_attempts}")


@dataclass
class Pool:
    """Every attempt sampled for one prompt (system prompt + question), across folders."""

    problem: Problem  # reloaded from its results folder's source, with the rows' reference
    system_prompt: str | None
    trajectories: list[Trajectory] = field(default_factory=list)


def refuse_test_question(problem: Problem, where: str) -> None:
    """ConfigError naming the problem when it is a generated world's test question: splits are
    fixed by a question's text (`ponder.data.splits`), so a world's problems, generated or written
    to a file, say which split they are of. Files and hub datasets carry no such knowledge (--exclude)."""
    world = problem.meta.get("source")
    if world in WORLDS and split_of(problem.question) == "test":
        raise ConfigError(
            f"{where}: problem {problem.id} ({problem.question!r}) is in {world}'s test split; revision "
            "training rows must come from its train split"
        )


def load_pools(folders: list[str], strategy: str, exclude: set[str]) -> tuple[list[Pool], int]:
    """The attempts of every folder's `strategy` rows at their largest budget, grouped by prompt,
    and how many prompts were dropped because `exclude` holds their question (as
    `ponder.data.distill.load_groups` reads folders, one pool per row instead of every row)."""
    pools: dict[tuple[str | None, str], Pool] = {}
    dropped: set[tuple[str | None, str]] = set()
    for folder in folders:
        path = Path(folder) / "results.jsonl"
        if not path.is_file():
            raise DatasetError(f"results: {folder} has no results.jsonl (not a `ponder infer` output folder)")
        system = results_config(folder).get("system_prompt")
        problems = results_problems(folder)
        rows = read_results(path)
        largest: dict[str, SearchResult] = {}
        for row in rows:
            if row.strategy == strategy and (
                row.problem_id not in largest or row.n > largest[row.problem_id].n
            ):
                largest[row.problem_id] = row
        if not largest:
            raise DatasetError(
                f"strategy: {folder} has no '{strategy}' rows (it has {sorted({r.strategy for r in rows})})"
            )
        for row in largest.values():
            if row.problem_id not in problems:
                raise DatasetError(
                    f"results: {folder} has a row for problem '{row.problem_id}', "
                    "which its dataset no longer holds"
                )
            problem = problems[row.problem_id]
            refuse_test_question(problem, f"results: {folder}")
            key = (system, problem.question)
            if problem.question in exclude:
                dropped.add(key)
                continue
            if key not in pools:
                # graded against the reference the row was searched with
                pools[key] = Pool(replace(problem, answer=row.reference), system)
            pools[key].trajectories += row.trajectories
    return list(pools.values()), len(dropped)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest character insertions, deletions and substitutions that turn
    `a` into `b`.

    Written here because no dependency of ours has one (rapidfuzz or python-Levenshtein would).
    Myers' bit-parallel algorithm (1999; Hyyrö's form for the global distance): a column of the
    dynamic-programming table is kept as the bits of its +1 and -1 steps downwards, one bit per
    character of the shorter string in a Python int, and each character of the longer string moves
    the whole column on in a dozen integer operations: several times faster than filling the table
    a NumPy row at a time, at the lengths of sampled solutions (a hundred to thousands of characters).
    """
    if len(a) > len(b):
        a, b = b, a
    if not a:
        return len(b)
    positions: dict[str, int] = {}  # character -> bits of where it occurs in `a`
    for i, char in enumerate(a):
        positions[char] = positions.get(char, 0) | (1 << i)
    full, last = (1 << len(a)) - 1, 1 << (len(a) - 1)
    up, down, distance = full, 0, len(a)  # column 0 of the table: 0, 1, ..., len(a)
    for char in b:
        eq = positions.get(char, 0)
        xv = eq | down
        xh = (((eq & up) + up) ^ up) | eq
        h_up = down | (~(xh | up) & full)
        h_down = up & xh
        distance += bool(h_up & last) - bool(h_down & last)  # the bottom cell: the distance so far
        h_up = ((h_up << 1) | 1) & full  # row 0 grows by one per column
        h_down = (h_down << 1) & full
        up = h_down | (~(xv | h_up) & full)
        down = h_up & xv
    return distance


def nearest_attempts(correct: str, incorrect: list[str], k: int) -> list[str]:
    """The `k` incorrect attempts closest to `correct` by edit distance, farthest first, so that the
    nearest sits right before the correct one (Snell et al. 2024: wrong attempts that resemble the
    right answer teach a revision rather than a fresh start). Ties keep `incorrect`'s order."""
    if k == 0:
        return []
    distances = [edit_distance(correct, text) for text in incorrect]
    nearest = sorted(range(len(incorrect)), key=lambda i: (distances[i], i))[:k]
    return [incorrect[i] for i in reversed(nearest)]


def split_attempts(pool: Pool, correct: list[bool]) -> tuple[list[str], list[str]]:
    """The pool's distinct correct and incorrect attempt texts, in sampling order. Incorrect: graded
    wrong or with no answer. Correct: graded right and finished, since a completion cut at
    max_tokens would teach the model to run on past its answer."""
    right, wrong, seen = [], [], set()
    for t, solved in zip(pool.trajectories, correct):
        if t.text in seen:
            continue
        seen.add(t.text)
        if not solved:
            wrong.append(t.text)
        elif t.finish_reason != "length":
            right.append(t.text)
    return right, wrong


def revision_rows(pool: Pool, right: list[str], wrong: list[str], args: RevisionDataArguments) -> list[dict]:
    """Up to `rows_per_problem` rows, each with a distinct correct attempt as the completion after
    0..max_attempts incorrect ones (a uniform draw), drawn from a stream seeded by `seed` and the
    question, so a problem's rows do not depend on the other problems or folders."""
    rng = random.Random(f"{args.seed}\n{pool.problem.question}")
    rows = []
    for text in rng.sample(right, min(args.rows_per_problem, len(right))):
        attempts = nearest_attempts(text, wrong, rng.randint(0, min(args.max_attempts, len(wrong))))
        rows.append(
            {
                "prompt": revision_messages(
                    pool.problem.question, attempts, args.instruction, pool.system_prompt
                ),
                "completion": [{"role": "assistant", "content": text}],
                "problem_id": pool.problem.id,
                "level": pool.problem.level,
                "n_attempts": len(attempts),
            }
        )
    return rows


def build(pools: list[Pool], args: RevisionDataArguments) -> tuple[list[dict], int]:
    """Every pool's rows, and how many pools have a correct attempt (the others give none)."""
    verdicts = iter(grade_trajectories([(p.problem, t) for p in pools for t in p.trajectories]))
    rows, with_correct = [], 0
    for pool in pools:
        right, wrong = split_attempts(pool, [next(verdicts) for _ in pool.trajectories])
        with_correct += bool(right)
        rows += revision_rows(pool, right, wrong, args)
    return rows, with_correct
