"""Accuracy of a policy per difficulty level: greedy, and pass@k from k samples.

These are the numbers that say whether there is room for search: pass@k far above greedy means
a good verifier could pick a correct sample that greedy decoding misses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ponder.data import Problem, grade_many

from .backends.base import Backend, Sampling
from .prompts import build_prompt


@dataclass
class LevelScore:
    level: int | None
    n: int
    greedy: float
    pass_at_k: float | None = None
    k: int | None = None


def score_by_level(
    backend: Backend,
    tokenizer,
    problems: list[Problem],
    max_tokens: int = 256,
    k: int = 0,
    temperature: float = 1.0,
    system_prompt: str | None = None,
    seed: int = 0,
) -> list[LevelScore]:
    """Greedy accuracy per level and, when `k` > 0, pass@k from `k` samples at `temperature`."""
    prompts = [build_prompt(tokenizer, p.question, system_prompt) for p in problems]
    greedy = backend.generate(prompts, 1, Sampling(temperature=0.0, max_tokens=max_tokens))
    greedy_ok = grade_many([(g[0].text, p.answer) for g, p in zip(greedy, problems)])
    sample_ok = [None] * len(problems)
    if k > 0:
        samples = backend.generate(
            prompts, k, Sampling(temperature=temperature, max_tokens=max_tokens, seed=seed)
        )
        flat = grade_many([(s.text, p.answer) for group, p in zip(samples, problems) for s in group])
        sample_ok = [any(flat[i * k : (i + 1) * k]) for i in range(len(problems))]
    by_level: dict[int | None, list[tuple[bool, bool | None]]] = defaultdict(list)
    for problem, g, s in zip(problems, greedy_ok, sample_ok):
        by_level[problem.level].append((g, s))
    scores = []
    for level in sorted(by_level, key=lambda lv: (lv is None, lv)):
        rows = by_level[level]
        scores.append(
            LevelScore(
                level=level,
                n=len(rows),
                greedy=sum(g for g, _ in rows) / len(rows),
                pass_at_k=sum(bool(s) for _, s in rows) / len(rows) if k > 0 else None,
                k=k or None,
            )
        )
    return scores


def format_table(scores: list[LevelScore]) -> str:
    header = "level      n   greedy" + (f"   pass@{scores[0].k}" if scores and scores[0].k else "")
    lines = [header]
    for s in scores:
        line = f"{str(s.level if s.level is not None else '-'):>5} {s.n:>6}   {100 * s.greedy:5.1f}%"
        if s.pass_at_k is not None:
            line += f"   {100 * s.pass_at_k:6.1f}%"
        lines.append(line)
    return "\n".join(lines)
