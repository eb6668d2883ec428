"""Train, dev and test splits of a generated world, fixed by each question's text.

A world generates problems by seed, so two seeds can draw the same question, and a seed says
nothing about which questions another command trained on. Splits are therefore a partition of the
world's question space, by a stable hash of the question text: about 10% of all questions are
"test", 10% "dev" and the rest "train", whatever the seed, the size or the command. A command
draws from the world's generator and keeps the questions of its split, so the test questions are
out of every training set by construction, for every seed and size. Training commands read
"train", tuning (router validation, recipe choices) reads "dev", the numbers we report read "test".
"all" is the whole question space, unsplit: what every command drew before splits existed, kept to
rebuild the training data of checkpoints trained then.

Small levels. A level with fewer than `MIN_QUESTIONS` distinct questions (ArithWorld's levels 1
and 2: 126 and 5,343) cannot hold questions out in any useful way: its test bucket holds about a
tenth of them, so a test set of 100 problems per level repeats a dozen questions, and a policy
trained before splits has seen all of them. These levels are not widened here, because the shipped
checkpoints were trained on them as they are (the size-ladder issue retrains them on wider
levels); benchmarks and reports list them apart (`small_levels`) and show how few distinct
questions stand behind their numbers (`distinct_by_level`, `split_space`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
import sys
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tqdm.auto import tqdm

from ponder.errors import ConfigError

from .problem import Problem, read_problem_file, write_problem_file
from .worlds import WORLDS, World

SPLITS = ("train", "dev", "test")
ALL = "all"  # the unsplit question space
# Shares in percent of the question space; train takes the rest.
TEST_PERCENT, DEV_PERCENT = 10, 10
# A level with fewer distinct questions than this is reported apart (see the module docstring).
MIN_QUESTIONS = 10_000


def split_of(question: str) -> str:
    """The split `question` belongs to: a hash of its text, the same on every machine and run."""
    bucket = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < TEST_PERCENT:
        return "test"
    return "dev" if bucket < TEST_PERCENT + DEV_PERCENT else "train"


def check_split(split: str, key: str = "split") -> None:
    """ConfigError naming `key` unless `split` is a world's split (or "all")."""
    if split not in (*SPLITS, ALL):
        raise ConfigError(
            f"{key}: a generated world's split is one of {', '.join((*SPLITS, ALL))}, got '{split}'"
        )


def small_levels(world: str) -> list[int]:
    """The levels of `world` with fewer than MIN_QUESTIONS distinct questions, reported apart."""
    spec = WORLDS.get(world)
    return [
        level for level in spec.levels if spec.question_space(level, at_most=MIN_QUESTIONS) < MIN_QUESTIONS
    ]


@cache
def split_space(world: str, level: int, split: str) -> int:
    """Distinct questions of a small `level` that `split` holds, by listing them all (small levels only)."""
    if level not in small_levels(world):
        raise ValueError(f"{world} level {level} has too many questions to list; use question_space")
    listed = WORLDS.get(world).questions(level)
    return sum(1 for q in listed if split == ALL or split_of(q) == split)


def generate_split(
    world: str, split: str, per_level: int, seed: int, levels: list[int] | None = None
) -> list[Problem]:
    """`per_level` problems of each level, all of `split`, deterministic in `seed` (levels interleaved).

    One random stream draws problem after problem and keeps those of `split`, so a smaller
    `per_level` gives a prefix of a larger one, and "all" gives the world's unsplit generator.
    Ids (`<world>-L<level>-<index>`) are unique within one split's problems. A small level's
    problems repeat questions; a split of it that holds none is an error.
    """
    check_split(split)
    spec = WORLDS.get(world)
    levels = levels or list(spec.levels)
    unknown = [level for level in levels if level not in spec.levels]
    if unknown:
        raise ConfigError(f"levels: unknown {world} level(s) {unknown}; expected one of {list(spec.levels)}")
    small = set(levels) & set(small_levels(world))
    empty = [level for level in small if not split_space(world, level, split)]
    if empty:
        raise ConfigError(f"split: {world} level(s) {sorted(empty)} hold no '{split}' question")
    return _draw_split(spec, world, split, per_level, seed, tuple(levels))


# Drawing is deterministic, and a ladder's rungs and stages share their training problems: each
# stage's samples extend the last one's (one stream, so 256,000 problems are the first half of
# 512,000), and an overlap count rebuilds every rung's questions. Drawing them again costs minutes
# per 100,000 Countdown problems, so the last `KEPT_STREAMS` streams are kept with their generator's
# state: a smaller request is a prefix of what is drawn, a larger one draws only the problems beyond
# it. Keyed by the world's registered object, so a world registered anew (a candidate level table)
# draws anew.
KEPT_STREAMS = 2
# A stream of at least `CACHED_DRAW` problems is also kept on disk (`draw_cache`), so that the next
# process asking for it (a ladder's next stage, a benchmark that rebuilds a rung's training questions)
# reads it, or extends it, instead of drawing it all again: a 1,024,000-problem Countdown stage spent
# about 40 minutes of one core drawing what the stage before it had drawn half of (docs/results.md).
CACHED_DRAW = 20_000
# A long draw is written to disk every `DRAW_CHECKPOINT` new problems (about ten minutes of one core
# for Countdown), so a run killed while drawing keeps what it drew: a 2,048,000-problem Countdown
# stream is about two hours of drawing, and a session can end inside it.
DRAW_CHECKPOINT = 200_000


def draw_cache() -> Path | None:
    """Where drawn streams are kept: `$PONDER_DRAW_CACHE` (empty: nowhere), else
    `~/.cache/ponder/draws`. Each stream is one jsonl file (see `_DiskStream`); deleting it only
    costs the next run its draw."""
    folder = os.environ.get("PONDER_DRAW_CACHE", str(Path.home() / ".cache" / "ponder" / "draws"))
    return Path(folder).expanduser() if folder else None


@dataclass
class _Stream:
    """The problems one (world, split, seed, levels) stream has drawn so far, and where it stands."""

    rng: random.Random
    problems: list[Problem] = field(default_factory=list)


_streams: OrderedDict[tuple, _Stream] = OrderedDict()


def _generator_fingerprint(spec: World) -> str | None:
    """A digest of what decides a world's draws: the source of the module that draws its problems
    (a partial's arguments too, such as a candidate level table), of `split_of` and its shares, of
    `Problem`, and the Python version (whose `random` makes the stream). Any edit to the generator
    changes it, so a kept stream is never read for a generator it did not come from. None where the
    source cannot be read (a function defined at a prompt): such a world is not kept on disk."""
    draw = spec.draw
    keywords = getattr(draw, "keywords", {})
    draw = getattr(draw, "func", draw)
    try:
        parts = [
            inspect.getsource(sys.modules[draw.__module__]),
            draw.__qualname__,
            repr(sorted(keywords.items())),
            inspect.getsource(split_of),
            repr((TEST_PERCENT, DEV_PERCENT)),
            inspect.getsource(Problem),
            repr(sys.version_info[:2]),
        ]
    except (OSError, TypeError, KeyError):
        return None
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


@dataclass
class _DiskStream:
    """A stream kept on disk: one jsonl file whose first line is a header (what the stream is, how
    many problems follow, the generator's state after them) and then one problem per line. It is
    written whole to a temporary file and renamed over the old one, so a reader sees the old stream
    or the new one, never half of one, and a run killed while writing loses nothing already kept."""

    path: Path
    header: dict

    @classmethod
    def of(
        cls, spec: World, world: str, split: str, seed: int, levels: tuple[int, ...]
    ) -> _DiskStream | None:
        folder, fingerprint = draw_cache(), _generator_fingerprint(spec)
        if folder is None or fingerprint is None:
            return None
        header = {"world": world, "split": split, "seed": seed, "levels": list(levels)}
        header["generator"] = fingerprint
        name = hashlib.sha256(json.dumps(header, sort_keys=True).encode("utf-8")).hexdigest()[:24]
        return cls(folder / f"{world}-{split}-{seed}-{name}.jsonl", header)

    def read(self) -> _Stream | None:
        """The kept stream, or None when there is none (or the file is not this stream's, or is cut
        short: then it is drawn again and written over)."""
        kept = read_problem_file(self.path, lambda header: header.items() >= self.header.items())
        if kept is None or len(kept[1]) != kept[0]["count"]:
            return None
        header, problems = kept
        version, state, gauss = header["rng"]
        rng = random.Random()
        rng.setstate((version, tuple(state), gauss))
        return _Stream(rng, problems)

    def write(self, stream: _Stream) -> None:
        state = {"count": len(stream.problems), "rng": stream.rng.getstate()}
        write_problem_file(self.path, self.header | state, stream.problems)


def _draw_split(
    spec: World, world: str, split: str, per_level: int, seed: int, levels: tuple[int, ...]
) -> list[Problem]:
    key = (spec, world, split, seed, levels)
    total = per_level * len(levels)
    stream = _streams.pop(key, None)
    disk = _DiskStream.of(spec, world, split, seed, levels) if total >= CACHED_DRAW else None
    if disk is not None and (stream is None or len(stream.problems) < total):
        kept = disk.read()
        if kept is not None and (stream is None or len(kept.problems) > len(stream.problems)):
            stream = kept
    stream = stream or _Stream(random.Random(seed))
    _streams[key] = stream  # the most recently used last
    while len(_streams) > KEPT_STREAMS:
        _streams.popitem(last=False)
    drawn = len(stream.problems) // len(levels)
    missing = max(total - len(stream.problems), 0)
    # The draw advances a copy of the stream, and the stream takes its problems and state only at
    # the end of a round of levels (every `DRAW_CHECKPOINT` problems, and at the end): a draw that
    # is interrupted leaves the stream as it was at its last checkpoint, never half a round ahead.
    rng, new = random.Random(), []
    rng.setstate(stream.rng.getstate())
    with tqdm(total=missing, desc=f"drawing {world} {split} problems", disable=missing < 20_000) as bar:
        for index in range(drawn, per_level):
            for level in levels:
                problem = spec.draw(level, rng, index)
                while split != ALL and split_of(problem.question) != split:
                    problem = spec.draw(level, rng, index)
                new.append(problem)
            bar.update(len(levels))
            if len(new) >= DRAW_CHECKPOINT or index == per_level - 1:
                stream.rng.setstate(rng.getstate())
                stream.problems += new
                new = []
                if disk is not None:
                    disk.write(stream)
    return stream.problems[:total]


def distinct_by_level(problems: Iterable[Problem]) -> dict[int | None, int]:
    """How many distinct questions stand behind each level's problems (fewer than the problems
    where a small level repeats them)."""
    return dict(Counter(level for level, _ in {(p.level, p.question) for p in problems}))


def train_test_overlap(test_questions: Iterable[str], training_questions: Iterable[str]) -> int:
    """How many test problems (counted with repeats) ask a question that the training data holds;
    a benchmark reports it, and it must be 0."""
    seen = set(training_questions)
    return sum(1 for question in test_questions if question in seen)
