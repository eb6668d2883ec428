"""`ponder infer`: a dataset × strategies × budgets, searched with a policy and a PRM.

Results are JSON lines in `output_dir/results.jsonl`, one `SearchResult` per problem ×
strategy × budget, flushed as each chunk of problems finishes. Chunks have fixed boundaries and
seeds, so a killed run started again regenerates a half-written chunk exactly as the
uninterrupted run did, writes only its missing rows, and ends with the same results.
`--shard i/k` runs every k-th problem; `ponder merge` joins the shards' folders.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ponder.config import ConfigError, parse_config
from ponder.data import Problem
from ponder.data.results import SearchResult, read_results, results_config, search_key
from ponder.data.sources import SourceArguments
from ponder.models import ModelArguments
from ponder.resumable import differing_keys, open_output

from .backends import BACKENDS
from .prm import PRMS  # names only: a scorer imports torch when it is built
from .strategies import STRATEGIES, SearchContext
from .strategies.sampling import sample_pool, select_from_pool


def _needed_by(option: str) -> str:
    """`--help` text naming the strategies that cannot run without `option`."""
    return ", ".join(STRATEGIES.names(lambda s: option in s.requires))


# Fields that say how a run is carried out or how a model would be trained, not what search finds:
# left out of the hash that tells a resumed run it is the same run.
NOT_SEARCH = {
    "limit",
    "shard",
    "output_dir",
    "batch_size",
    "gpu_memory_utilization",
    "tensor_parallel_size",
    "data_parallel_size",
    "chunk_size",
    "strategies",
    "budgets",
    "use_peft",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "wandb",
}


@dataclass
class InferArguments(SourceArguments, ModelArguments):
    """What to search (SourceArguments), with which policy (ModelArguments), and how."""

    backend: str = field(default="hf", metadata={"help": f"Generation backend: {', '.join(BACKENDS)}."})
    prm: str | None = field(
        default=None,
        metadata={"help": f"PRM scorer ({', '.join(PRMS)}); empty for none. Needed by {_needed_by('prm')}."},
    )
    prm_model: str | None = field(
        default=None,
        metadata={
            "help": "PRM model folder or hub name; for the oracle, the world whose step checker it reports "
            "(default: the world --dataset names)."
        },
    )
    strategies: list[str] = field(
        default_factory=lambda: [
            "greedy",
            "majority",
            "best_of_n",
            "weighted_best_of_n",
            "beam_search",
            "dvts",
        ],
        metadata={"help": f"Strategies to run: {', '.join(STRATEGIES)}."},
    )
    budgets: list[int] = field(
        default_factory=lambda: [1, 4, 16], metadata={"help": "Budgets N (generations per problem)."}
    )
    router: str | None = field(
        default=None,
        metadata={"help": f"Router table from `ponder fit-router`. Needed by {_needed_by('router')}."},
    )
    difficulty_model: str | None = field(
        default=None,
        metadata={
            "help": "Difficulty predictor folder from `ponder train difficulty`. "
            f"Needed by {_needed_by('difficulty_model')}."
        },
    )
    difficulty_labels: str | None = field(
        default=None,
        metadata={
            "help": "Difficulty file from `ponder data difficulty` (oracle bins). "
            f"Needed by {_needed_by('difficulty_labels')}."
        },
    )
    reuse_results: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Earlier `ponder infer` folders of the same search set-up (checked): a compute-optimal "
            "choice already searched there for a problem is read, not searched again, so routed and fixed "
            "strategies share the very same searches."
        },
    )
    beam_width: int = field(
        default=4, metadata={"help": "M for beam search, DVTS and lookahead (capped at N)."}
    )
    lookahead: int = field(
        default=1, metadata={"help": "k greedy steps before scoring, for the lookahead strategy."}
    )
    revision_ratio: float = field(
        default=1.0,
        metadata={
            "help": "parallel_revisions: chain length over number of chains (L : C, N = C x L); 4 at N=16 "
            "is 2 chains of 8."
        },
    )
    revision_context: int = field(
        default=4, metadata={"help": "Revision strategies: earlier attempts of its chain each attempt reads."}
    )
    revision_select: str = field(
        default="verifier",
        metadata={
            "help": "Revision strategies: how the answer is chosen, 'verifier' (PRM-weighted vote in each "
            "chain, then across chains), 'weighted_best_of_n' or 'majority' (over all attempts; no PRM)."
        },
    )
    revision_instruction: str | None = field(
        default=None,
        metadata={
            "help": "Revision strategies: the user turn after each earlier attempt (default: the one "
            "`ponder data revisions` trains with)."
        },
    )
    aggregation: str = field(
        default="last", metadata={"help": "How step scores become a trajectory score: last, min, prod, mean."}
    )
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling threshold."})
    max_tokens: int = field(default=256, metadata={"help": "Most tokens per whole solution."})
    max_step_tokens: int = field(default=64, metadata={"help": "Most tokens per step in step-wise search."})
    max_steps: int = field(default=12, metadata={"help": "Most steps (rounds) of step-wise search."})
    system_prompt: str | None = field(
        default=None, metadata={"help": "System message put before every question."}
    )
    batch_size: int = field(default=256, metadata={"help": "hf backend: sequences per generate call."})
    gpu_memory_utilization: float = field(
        default=0.5,
        metadata={"help": "vllm backend: share of GPU memory vLLM takes (the rest holds the PRM)."},
    )
    tensor_parallel_size: int = field(
        default=1, metadata={"help": "vllm backend: GPUs each copy of the policy is split over."}
    )
    data_parallel_size: int = field(
        default=1,
        metadata={
            "help": "vllm backend: copies of the policy that share the requests (one node; past it, --shard)."
        },
    )
    chunk_size: int = field(
        default=16, metadata={"help": "Problems searched together before their results are flushed."}
    )
    shard: str = field(
        default="0/1",
        metadata={"help": "'i/k': run only problems i, i+k, i+2k, ... (merge shards with `ponder merge`)."},
    )
    output_dir: str = field(
        default="outputs/infer", metadata={"help": "Folder for results.jsonl; an existing one is resumed."}
    )
    wandb: bool = field(
        default=True,
        metadata={
            "help": "Log accuracy, tokens and FLOPs per strategy and budget to W&B (offline without a key)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ConfigError(f"strategies: unknown {unknown} (expected some of: {', '.join(STRATEGIES)})")
        if any(n < 1 for n in self.budgets):
            raise ConfigError(f"budgets: every budget must be >= 1, got {self.budgets}")
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size: must be >= 1, got {self.chunk_size}")
        for key in ("tensor_parallel_size", "data_parallel_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1, got {getattr(self, key)}")
        BACKENDS.get(self.backend)
        if self.prm:
            PRMS.get(self.prm)
        self.shard_index, self.shard_count = parse_shard(self.shard)
        # Every option a chosen strategy requires must be set; the first one missing is reported.
        needing: dict[str, list[str]] = {}
        for strategy in self.strategies:
            for option in STRATEGIES[strategy].requires:
                needing.setdefault(option, []).append(strategy)
        for option, strategies in needing.items():
            if not getattr(self, option):
                raise ConfigError(f"{option}: strategies {strategies} need --{option}")
        from .strategies.revisions import check_params

        revising = any(STRATEGIES[s].kind == "revision" for s in self.strategies)
        check_params(
            self.revision_select, self.revision_context, self.revision_ratio, bool(self.prm) or not revising
        )

    def search_config(self) -> dict:
        """Everything that changes a result; its hash tells a resumed run it is the same run."""
        return {k: v for k, v in asdict(self).items() if k not in NOT_SEARCH}

    def shared_search_config(self) -> dict:
        """What two runs must agree on for one's results to stand in for the other's searches."""
        routing = {"router", "difficulty_model", "difficulty_labels", "reuse_results"}
        # A strategy's own hyper-parameters are in each row's params, so in the key a reused row is
        # found by: folders searched with other ratios or beam widths can serve one router.
        own = {p for s in STRATEGIES.values() for p in s.params}
        return {k: v for k, v in self.search_config().items() if k not in routing | own}


def parse_shard(shard: str) -> tuple[int, int]:
    try:
        i, k = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ConfigError(f"shard: expected 'i/k' like 0/4, got '{shard}'") from None
    if not 0 <= i < k:
        raise ConfigError(f"shard: need 0 <= i < k, got '{shard}'")
    return i, k


def build_context(args: InferArguments, problems: list[Problem] = ()) -> SearchContext:
    from .backends import load_backend, model_options
    from .prm import load_prm, prm_model_of

    options = {
        "batch_size": args.batch_size,
        "gpu_memory_utilization": args.gpu_memory_utilization,
        "tensor_parallel_size": args.tensor_parallel_size,
        "data_parallel_size": args.data_parallel_size,
        **model_options(args.backend, args),
    }
    backend = load_backend(args.backend, args.require_model(), **options)
    prm = (
        load_prm(
            args.prm,
            prm_model_of(args, problems),
            trust_remote_code=args.trust_remote_code,
            device=args.resolved_device(),
        )
        if args.prm
        else None
    )
    return SearchContext(
        backend=backend,
        prm=prm,
        router=load_router(args),
        reuse=load_reused(args),
        tokenizer=backend.tokenizer,
        system_prompt=args.system_prompt,
        revision_instruction=args.revision_instruction,
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        max_step_tokens=args.max_step_tokens,
        max_steps=args.max_steps,
        aggregation=args.aggregation,
        seed=args.seed,
    )


def load_router(args: InferArguments):
    """The compute-optimal `Router` (None without a router table)."""
    if not args.router:
        return None
    from ponder.data.difficulty import read as read_difficulty

    from .difficulty import load_difficulty_predictor
    from .router import RouterTable
    from .strategies.compute_optimal import Router

    predictor = load_difficulty_predictor(args.difficulty_model) if args.difficulty_model else None
    oracle = (
        {pid: d.bin for pid, d in read_difficulty(args.difficulty_labels).items()}
        if args.difficulty_labels
        else None
    )
    return Router(RouterTable.load(args.router), predictor, oracle)


def load_reused(args: InferArguments) -> dict[str, SearchResult]:
    """The rows of `reuse_results` by search key (problem, strategy, n, params), after checking
    that each folder ran the same search set-up as this run: otherwise a reused row would be
    another policy's, PRM's or temperature's search."""
    rows: dict[str, SearchResult] = {}
    ours = args.shared_search_config()
    for folder in args.reuse_results:
        theirs = results_config(folder)
        differing = differing_keys(theirs, ours)
        if differing:
            values = ", ".join(f"{k}={theirs.get(k)!r}" for k in differing)
            raise ConfigError(
                f"reuse_results: {folder} was searched with other {', '.join(differing)} ({values})"
            )
        for row in read_results(Path(folder) / "results.jsonl"):
            rows[search_key(row.problem_id, row.strategy, row.n, row.params)] = row
    return rows


def search_chunk(problems: list[Problem], args: InferArguments, ctx: SearchContext, chunk_seed: int):
    """Every (strategy, budget) result for a chunk of problems, in a fixed order."""
    ctx.seed = chunk_seed
    pool_strategies = [s for s in args.strategies if STRATEGIES[s].kind == "pool"]
    rows = []
    if pool_strategies:  # one pool of N_max samples serves every pool strategy and budget
        pools = sample_pool(problems, max(args.budgets), ctx)
        rows += [
            select_from_pool(p, pool, s, n, ctx)
            for s in pool_strategies
            for n in args.budgets
            for p, pool in zip(problems, pools)
        ]
    for name in args.strategies:
        strategy = STRATEGIES[name]
        if strategy.kind == "pool":
            continue
        params = {p: getattr(args, p) for p in strategy.params}
        if strategy.run_many is not None:  # one search serves every budget
            rows += strategy.run_many(problems, strategy.budgets(args.budgets), ctx, **params)
            continue
        for n in strategy.budgets(args.budgets):
            rows += strategy.run(problems, n, ctx, **params)
    return rows


def check_same_problems(earlier: list[SearchResult], problems: list[Problem], output_dir: str) -> None:
    """A resumed folder must hold results of these very problems: the same id with another
    reference answer means the source now generates other questions under the old ids (a folder
    written before generated worlds were split into train/dev/test), which the config hash cannot see."""
    answers = {p.id: p.answer for p in problems}
    for row in earlier:
        if row.problem_id in answers and answers[row.problem_id] != row.reference:
            raise ConfigError(
                f"output_dir: {output_dir} holds results for another problem {row.problem_id} (reference "
                f"{row.reference!r}, now {answers[row.problem_id]!r}); use another folder"
            )


def run(args: InferArguments) -> Path:
    """Search every problem of this shard with every strategy and budget; the results file."""
    args.require_model()
    problems = args.load()[args.shard_index :: args.shard_count]
    results_path, digest = open_output(args.output_dir, "results.jsonl", asdict(args), args.search_config())
    earlier = read_results(results_path) if results_path.exists() else []
    check_same_problems(earlier, problems, args.output_dir)
    done = {(r.problem_id, r.strategy, r.n) for r in earlier}
    ctx = build_context(args, problems)
    wanted = {(s, n) for s in args.strategies for n in STRATEGIES[s].budgets(args.budgets)}
    with results_path.open("a") as sink, tqdm(total=len(problems), desc="infer") as bar:
        for start in range(0, len(problems), args.chunk_size):
            chunk = problems[start : start + args.chunk_size]
            if all((p.id, s, n) in done for p in chunk for s, n in wanted):
                bar.update(len(chunk))
                continue
            rows = search_chunk(chunk, args, ctx, chunk_seed=args.seed + start)
            for row in sorted(rows, key=lambda r: [p.id for p in chunk].index(r.problem_id)):
                if (row.problem_id, row.strategy, row.n) not in done:
                    row.config_hash = digest
                    sink.write(row.to_json() + "\n")
            sink.flush()
            bar.update(len(chunk))
    print(f"results: {results_path}")
    if args.wandb:
        from .eval_search import log_search

        log_search(results_path, asdict(args))
    return results_path


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((InferArguments,), argv, prog="ponder infer", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder infer", main)
