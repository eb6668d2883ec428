"""Accuracy of a policy per difficulty level: greedy, and pass@k from k samples.

These are the numbers that say whether there is room for search: pass@k far above greedy means
a good verifier could pick a correct sample that greedy decoding misses.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ponder.data import Problem
from ponder.data.grading import grade_solutions
from ponder.errors import ConfigError

from .backends.base import Backend, Sampling
from .eval_search import wilson
from .prompts import build_prompt


@dataclass
class LevelScore:
    """One level's accuracies over its `n` problems, each with its 95% Wilson interval."""

    level: int | None
    n: int  # problems
    greedy: float
    pass_at_k: float | None = None
    k: int | None = None
    greedy_low: float = 0.0
    greedy_high: float = 0.0
    pass_low: float | None = None
    pass_high: float | None = None


@dataclass
class ProblemScore:
    """One problem's outcome: its greedy completion, whether it is right, and how many of its k
    samples are right. Two policies' rows on the same problems give a paired comparison: only the
    problems on which they differ count, so its interval is narrower than that of the difference of
    two accuracies."""

    id: str
    level: int | None
    greedy: bool
    greedy_text: str
    samples_correct: int | None = None


def score_problems(
    backend: Backend,
    tokenizer,
    problems: list[Problem],
    max_tokens: int = 256,
    k: int = 0,
    temperature: float = 1.0,
    system_prompt: str | None = None,
    seed: int = 0,
) -> list[ProblemScore]:
    """Each problem's greedy outcome and, when `k` > 0, how many of `k` samples at `temperature`
    are right."""
    prompts = [build_prompt(tokenizer, p.question, system_prompt) for p in problems]
    greedy = backend.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=max_tokens))
    greedy_ok = grade_solutions([(p, g[0].text) for g, p in zip(greedy, problems)])
    rows = [ProblemScore(p.id, p.level, ok, g[0].text) for p, ok, g in zip(problems, greedy_ok, greedy)]
    if k > 0:
        samples = backend.generate(
            prompts, k, Sampling(temperature=temperature, max_tokens=max_tokens, seed=seed)
        )
        flat = grade_solutions([(p, s.text) for group, p in zip(samples, problems) for s in group])
        for i, row in enumerate(rows):
            row.samples_correct = sum(flat[i * k : (i + 1) * k])
    return rows


def by_level(rows: list[ProblemScore]) -> dict[int | None, list[ProblemScore]]:
    """`rows` grouped by level, levels ascending and problems without one last."""
    groups: dict[int | None, list[ProblemScore]] = defaultdict(list)
    for row in rows:
        groups[row.level].append(row)
    return {level: groups[level] for level in sorted(groups, key=lambda lv: (lv is None, lv))}


def level_scores(rows: list[ProblemScore], k: int = 0) -> list[LevelScore]:
    """Greedy accuracy and, when `k` > 0, pass@k per level, each with its 95% Wilson interval:
    what `ponder eval policy` prints and trainers record after training."""
    scores = []
    for level, level_rows in by_level(rows).items():
        greedy_hits = sum(r.greedy for r in level_rows)
        score = LevelScore(level, len(level_rows), greedy_hits / len(level_rows), k=k or None)
        score.greedy_low, score.greedy_high = wilson(greedy_hits, len(level_rows))
        if k > 0:
            pass_hits = sum(bool(r.samples_correct) for r in level_rows)
            score.pass_at_k = pass_hits / len(level_rows)
            score.pass_low, score.pass_high = wilson(pass_hits, len(level_rows))
        scores.append(score)
    return scores


def paired_difference(mine, theirs, resamples: int = 1000, seed: int = 0) -> dict:
    """Mean of mine - theirs (per-problem outcomes, 0/1 or fractions) in points, with a percentile
    bootstrap 95% interval over problems."""
    import numpy as np

    diff = 100 * (np.asarray(mine, dtype=float) - np.asarray(theirs, dtype=float))
    rng = np.random.default_rng(seed)
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(resamples)]
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "points": round(float(diff.mean()), 1),
        "low": round(float(low), 1),
        "high": round(float(high), 1),
    }


def paired_by_key(mine: Mapping[str, float], theirs: Mapping[str, float]) -> dict:
    """`paired_difference` of two per-problem outcomes keyed by problem id, on the problems both hold,
    with their count (`problems`): the benchmarks compare runs that may not have answered the same
    problems (a resumed or partial run)."""
    shared = sorted(mine.keys() & theirs.keys())
    return {
        **paired_difference([mine[p] for p in shared], [theirs[p] for p in shared]),
        "problems": len(shared),
    }


def rows_by_id(ids: list[str], theirs: list[ProblemScore]) -> dict[str, ProblemScore]:
    """`theirs` by problem id; every one of `ids` must be there (checked before a run generates)."""
    other = {row.id: row for row in theirs}
    missing = [i for i in ids if i not in other]
    if missing:
        raise ConfigError(
            f"paired_with: no row for problem {missing[0]} ({len(missing)} of {len(ids)} missing); "
            "log both policies on the same problems"
        )
    return other


def paired_by_level(mine: list[ProblemScore], theirs: list[ProblemScore]) -> dict[str, dict]:
    """Greedy of `mine` minus `theirs` on the same problems (matched by id), per level and over all
    ("all"): points with a 95% interval, and how many problems each got right alone. Every problem
    of `mine` must be in `theirs`."""
    other = rows_by_id([row.id for row in mine], theirs)
    groups = {str(level): rows for level, rows in by_level(mine).items()}
    out = {}
    for name, rows in {**groups, "all": mine}.items():
        pairs = [(row.greedy, other[row.id].greedy) for row in rows]
        out[name] = paired_difference([a for a, _ in pairs], [b for _, b in pairs]) | {
            "n": len(pairs),
            "gained": sum(a and not b for a, b in pairs),
            "lost": sum(b and not a for a, b in pairs),
        }
    return out


def write_problem_scores(path: str | Path, rows: list[ProblemScore]) -> None:
    """`rows` as a `--log_samples` file: one JSON row per problem, read back by `read_problem_scores`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(row)) + "\n" for row in rows))


def read_problem_scores(path: str | Path) -> list[ProblemScore]:
    """The rows a `--log_samples` file holds; a line that is not one names itself."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        try:
            rows.append(ProblemScore(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as error:
            raise ConfigError(
                f"paired_with: {path} line {number} is not a --log_samples row ({error})"
            ) from None
    return rows


def format_paired(paired: dict[str, dict], other: str) -> str:
    """Per level: this policy's greedy minus `other`'s on the same problems, with its interval."""
    lines = [
        f"{'level':>5}{'n':>7}{'greedy difference':>19}{'95% CI':>16}{'gained':>8}{'lost':>6}   vs {other}"
    ]
    for level, d in paired.items():
        interval = f"[{d['low']:+.1f}, {d['high']:+.1f}]"
        lines.append(
            f"{level:>5}{d['n']:>7}{d['points']:>+18.1f} {interval:>16}{d['gained']:>8}{d['lost']:>6}"
        )
    return "\n".join(lines)


def interval(low: float | None, high: float | None) -> str:
    """A 95% interval in percent, as the tables print it."""
    return "" if low is None or high is None else f"[{100 * low:.0f}, {100 * high:.0f}]"


def format_table(scores: list[LevelScore]) -> str:
    """Per level: its problems (n), greedy and pass@k, each with its 95% interval."""
    k = scores[0].k if scores else None
    header = f"{'level':>5}{'n':>7}{'greedy':>9}{'95% CI':>11}"
    if k:
        header += f"{f'pass@{k}':>9}{'95% CI':>11}"
    lines = [header]
    for s in scores:
        level = str(s.level if s.level is not None else "-")
        line = f"{level:>5}{s.n:>7}{100 * s.greedy:>8.1f}%{interval(s.greedy_low, s.greedy_high):>11}"
        if s.pass_at_k is not None:
            line += f"{100 * s.pass_at_k:>8.1f}%{interval(s.pass_low, s.pass_high):>11}"
        lines.append(line)
    return "\n".join(lines)
