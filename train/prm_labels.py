"""`ponder data prm-labels`: step labels from Monte-Carlo rollouts (Math-Shepherd, Wang et al. 2024).

For each problem the policy samples whole solutions; from every step prefix of every solution it
then samples `rollouts` completions and grades their answers against the reference. A step's
soft label is the fraction of rollouts from it that reach the reference answer (an estimate of
the prefix's value under the policy), its hard label whether any does. The rollouts can come from
another model than the one that wrote the solutions (`rollout_model`, Math-Shepherd's "completer"):
a stronger completer values a prefix by whether the answer can still be reached from it, where
the policy's own rollouts also carry its habits (a weak policy fails from correct prefixes, and
sometimes reaches the answer after a wrong step). The last step needs no rollouts: its label is
whether the solution's own answer is right. Nothing here knows the dataset: labels come from the
policy and the reference answer alone, so real datasets are labelled the same way as generated
worlds.

It lives beside the trainers rather than in data/ because it runs a generation backend and the
search's sampling (`ponder.infer`).

Identical solutions of a problem are kept once, and a prefix that several solutions share is
rolled out once. Rows are TRL's stepwise-supervision layout (`prompt`, `completions`, `labels`)
plus `soft_labels` and the problem's id, level and sample index, written as JSON lines in
`output_dir/labels.jsonl` chunk by chunk. Chunks have fixed seeds, so a killed run started
again on the same folder skips finished chunks (`chunks_done.txt`), regenerates the unfinished one
exactly and writes only its missing rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from ponder.config import ConfigError, parse_config
from ponder.data.grading import grade_solutions
from ponder.data.problem import Problem
from ponder.data.sources import SourceArguments
from ponder.models import ModelArguments, check_model_name
from ponder.resumable import complete_lines, open_output

# Options that do not change a label (LoRA is for training), left out of a resumed run's check.
NOT_LABELS = {"limit", "output_dir", "batch_size", "chunk_size", "trust_remote_code"}
NOT_LABELS |= {"use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules"}


@dataclass
class LabelArguments(SourceArguments, ModelArguments):
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Policy folder (or hub name) that samples the solutions to label (and the rollouts, "
            "unless rollout_model is set).",
            "aliases": ["--model"],
        },
    )
    split: str = field(
        default="train",
        metadata={"help": "A hub dataset's split, or a generated world's (train: never a test question)."},
    )
    per_level: int = field(default=200, metadata={"help": "Generated worlds: problems per level."})
    seed: int = field(
        default=2,
        metadata={
            "help": "Seed of a generated world's problems (the policy's recipe trains on 0, evaluation "
            "uses 1) and of sampling."
        },
    )
    rollout_model: str | None = field(
        default=None,
        metadata={
            "help": "Model folder (or hub name) that completes each step prefix (Math-Shepherd's "
            "completer); default: `model_name_or_path`. It continues the prompt in its own chat template."
        },
    )
    backend: str = field(
        default="hf", metadata={"help": "Generation backend: 'hf' (transformers) or 'vllm'."}
    )
    samples_per_problem: int = field(
        default=4, metadata={"help": "Solutions sampled per problem; each distinct one becomes a row."}
    )
    rollouts: int = field(
        default=8, metadata={"help": "Completions sampled from each step prefix to estimate its value."}
    )
    temperature: float = field(
        default=1.0, metadata={"help": "Sampling temperature for the solutions that are labelled."}
    )
    rollout_temperature: float | None = field(
        default=None, metadata={"help": "Sampling temperature for the rollouts (default: `temperature`)."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling threshold."})
    max_tokens: int = field(default=256, metadata={"help": "Most tokens per solution and per rollout."})
    system_prompt: str | None = field(
        default=None, metadata={"help": "System message put before every question."}
    )
    batch_size: int = field(default=256, metadata={"help": "hf backend: sequences per generate call."})
    chunk_size: int = field(
        default=32, metadata={"help": "Problems labelled together before their rows are flushed."}
    )
    output_dir: str = field(
        default="outputs/prm-labels",
        metadata={"help": "Folder for labels.jsonl; an existing one is resumed."},
    )

    def __post_init__(self):
        super().__post_init__()
        for name in ("samples_per_problem", "rollouts", "chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.rollout_model is not None:
            check_model_name("rollout_model", self.rollout_model)

    def label_config(self) -> dict:
        """Everything that changes a label; its hash tells a resumed run it is the same run."""
        return {k: v for k, v in asdict(self).items() if k not in NOT_LABELS}


@dataclass
class LabelStats:
    rows: int = 0
    steps: int = 0
    good_steps: int = 0
    generated_tokens: int = 0  # by the policy and, for the rollouts, the completer
    wall_s: float = 0.0


def label_chunk(
    problems: list[Problem], args: LabelArguments, ctx, rollout_ctx, seed: int, stats: LabelStats
) -> list[dict]:
    """Every labelled row of a chunk of problems: sample with `ctx`, roll out every distinct prefix
    with `rollout_ctx` (the same context unless a completer model is set), grade."""
    from ponder.infer.backends import Sampling
    from ponder.infer.strategies.base import STEP_STOP
    from ponder.infer.strategies.sampling import sample_pool

    # A backend that caches prefixes starts each chunk empty, so a resumed chunk is sampled exactly as before.
    for backend in {ctx.backend, rollout_ctx.backend}:
        getattr(backend, "reset_prefix_cache", lambda: None)()
    ctx.seed = seed
    solutions = []  # (problem index, sample index, trajectory), distinct per problem
    for i, (trajectories, compute) in enumerate(sample_pool(problems, args.samples_per_problem, ctx)):
        stats.generated_tokens += compute.policy_tokens
        seen = set()
        for j, trajectory in enumerate(trajectories):
            if trajectory.steps and tuple(trajectory.steps) not in seen:
                seen.add(tuple(trajectory.steps))
                solutions.append((i, j, trajectory))

    # Every distinct non-final prefix is rolled out once, all of the chunk's in one backend call.
    prefixes = sorted({(i, tuple(t.steps[:k])) for i, _, t in solutions for k in range(1, len(t.steps))})
    rollout_temperature = args.temperature if args.rollout_temperature is None else args.rollout_temperature
    rollout_sampling = Sampling(
        temperature=rollout_temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=seed
    )
    rollouts = rollout_ctx.backend.generate(
        [rollout_ctx.prompt(problems[i].question, list(steps)) for i, steps in prefixes],
        args.rollouts,
        rollout_sampling,
    )
    stats.generated_tokens += sum(g.num_tokens for gens in rollouts for g in gens)
    # A rollout is graded as the whole solution it completes: a world that grades trajectories
    # (Countdown) checks the steps before it too; for an answer alone the prefix changes nothing.
    pairs = [
        (problems[i], "".join(step + STEP_STOP for step in steps) + g.text)
        for (i, steps), gens in zip(prefixes, rollouts)
        for g in gens
    ]
    pairs += [(problems[i], t.text) for i, _, t in solutions]
    correct = grade_solutions(pairs)

    value = {
        prefix: sum(correct[k * args.rollouts : (k + 1) * args.rollouts]) / args.rollouts
        for k, prefix in enumerate(prefixes)
    }
    final_correct = correct[len(prefixes) * args.rollouts :]
    rows = []
    for (i, j, trajectory), solved in zip(solutions, final_correct):
        soft = [value[(i, tuple(trajectory.steps[:k]))] for k in range(1, len(trajectory.steps))] + [
            float(solved)
        ]
        problem = problems[i]
        rows.append(
            {
                "prompt": problem.question,
                "completions": trajectory.steps,
                "labels": [v > 0 for v in soft],
                "soft_labels": soft,
                "problem_id": problem.id,
                "level": problem.level,
                "sample": j,
            }
        )
        stats.rows += 1
        stats.steps += len(soft)
        stats.good_steps += sum(v > 0 for v in soft)
    return rows


def run(args: LabelArguments) -> Path:
    """Label `args`' problems into `output_dir/labels.jsonl` (resuming a folder of the same
    configuration); returns the file."""
    from ponder.infer.backends import load_backend, model_options
    from ponder.infer.strategies.base import SearchContext

    model = args.require_model()
    problems = args.load()
    if not problems:
        raise ConfigError(f"dataset: {args.dataset} has no problems")
    path, _ = open_output(args.output_dir, "labels.jsonl", asdict(args), args.label_config())
    done = {(row["problem_id"], row["sample"]) for row in complete_lines(path)}
    progress = path.with_name("chunks_done.txt")  # start index of each chunk whose rows are all written
    finished = set(progress.read_text().split()) if progress.exists() and done else set()
    options = {"batch_size": args.batch_size, **model_options(args.backend, args)}
    backend = load_backend(args.backend, model, **options)
    ctx = SearchContext(
        backend=backend,
        prm=None,
        tokenizer=backend.tokenizer,
        system_prompt=args.system_prompt,
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
    )
    rollout_ctx = ctx
    if args.rollout_model not in (None, model):
        completer = load_backend(args.backend, args.rollout_model, **options)
        rollout_ctx = replace(ctx, backend=completer, tokenizer=completer.tokenizer)
    stats, start = LabelStats(), time.time()
    with path.open("a") as sink, tqdm(total=len(problems), desc="prm-labels") as bar:
        for first in range(0, len(problems), args.chunk_size):
            chunk = problems[first : first + args.chunk_size]
            if str(first) in finished:
                bar.update(len(chunk))
                continue
            for row in label_chunk(chunk, args, ctx, rollout_ctx, seed=args.seed + first, stats=stats):
                if (row["problem_id"], row["sample"]) not in done:
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
            with progress.open("a") as marks:
                marks.write(f"{first}\n")
            bar.update(len(chunk))
    stats.wall_s = round(time.time() - start, 1)
    print(
        f"labelled {stats.rows} solutions, {stats.steps} steps "
        f"({stats.good_steps / max(1, stats.steps):.0%} good) "
        f"with {stats.generated_tokens} generated tokens in {stats.wall_s} s: {path}"
    )
    return path


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((LabelArguments,), argv, prog="ponder data prm-labels", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder data prm-labels", main)
