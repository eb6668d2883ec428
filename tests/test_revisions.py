"""Sequential revisions: chain shapes, the staircase that serves every budget, what each attempt
reads, token counts and the hierarchical choice, pinned on a scripted revision model; then a real
run through `ponder infer` on the tiny policy with the oracle PRM, and routing to a revision ratio."""

import json

import pytest

from ponder.data.arithworld import generate_problems
from ponder.data.problem import Problem
from ponder.data.results import Trajectory, read_results
from ponder.data.revisions import REVISION_INSTRUCTION
from ponder.errors import ConfigError
from ponder.infer.backends.base import Generation
from ponder.infer.run import InferArguments, run
from ponder.infer.strategies import STRATEGIES, SearchContext
from ponder.infer.strategies.revisions import chain_shape, staircase
from ponder.infer.strategies.selection import hierarchical

TOKENS = 5


class CharTokenizer:
    """A chat template and one id per character: enough for revision prompts and their counts."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + (
            "<assistant>" if add_generation_prompt else ""
        )

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": list(range(len(text)))}


class RevisingBackend:
    """Attempt t of a chain answers `t`, read off how many earlier attempts its prompt holds (so a
    prompt that holds more than k shows in the answers); every call's prompts are kept."""

    num_parameters = 100

    def __init__(self):
        self.prompts: list[list[str]] = []

    def generate(self, prompts, n, sampling):
        self.prompts.append(prompts)
        return [
            [Generation(f"s\n\n\\boxed{{{p.count('<assistant>') - 1}}}", TOKENS, "eos")] * n for p in prompts
        ]


class LengthPRM:
    """Scores an attempt by its answer: higher answers score higher (a later attempt is better)."""

    num_parameters = 10
    tokens_scored = 0

    def score(self, question, step_lists):
        self.tokens_scored += sum(len(steps) for steps in step_lists)
        return [[0.1 * int(steps[-1].strip("\\boxed{}"))] for steps in step_lists]


def scripted_ctx(prm=None) -> SearchContext:
    backend = RevisingBackend()
    return SearchContext(backend=backend, prm=prm, tokenizer=CharTokenizer(), max_tokens=20)


def test_chain_shapes_follow_the_ratio_and_cover_every_budget():
    assert chain_shape(16, None) == (1, 16)
    assert chain_shape(16, 1.0) == (4, 4)
    assert chain_shape(16, 4.0) == (2, 8)
    assert chain_shape(16, 0.25) == (8, 2)
    assert chain_shape(8, 1.0) == (4, 2)  # 2x4 and 4x2 are equally far: the more parallel one
    assert chain_shape(7, 1.0) == (7, 1)  # a prime: one chain or N chains
    assert chain_shape(1, 4.0) == (1, 1)
    # one staircase holds every budget's C x L rectangle
    lengths = staircase([1, 4, 16], 4.0)
    for n in (1, 4, 16):
        c, length = chain_shape(n, 4.0)
        assert len(lengths) >= c and all(lengths[i] >= length for i in range(c))
    assert staircase([1, 2, 4], None) == [4]


def test_a_chain_reads_its_last_k_attempts_and_counts_them():
    ctx = scripted_ctx()
    q = Problem(id="p", question="q", answer="3")
    [row] = STRATEGIES["revisions"].run([q], 6, ctx, revision_context=2, revision_select="majority")
    prompts = [calls[0] for calls in ctx.backend.prompts]
    # attempt t reads min(t, 2) earlier attempts, each followed by the revision instruction
    assert [p.count("<assistant>") - 1 for p in prompts] == [0, 1, 2, 2, 2, 2]
    assert prompts[3].count(REVISION_INSTRUCTION) == 2
    assert [t.answer for t in row.trajectories] == ["0", "1", "2", "2", "2", "2"]
    assert row.answer == "2" and not row.correct  # majority over all six attempts
    assert row.compute.policy_tokens == 6 * TOKENS
    bare = len("<user>q<assistant>")
    assert row.compute.context_tokens == sum(len(p) - bare for p in prompts) > 0
    assert row.compute.flops == 2 * 100 * (row.compute.policy_tokens + row.compute.context_tokens)
    assert row.params["chains"] == 1 and row.params["length"] == 6


def test_one_staircase_gives_each_budget_its_own_rectangle():
    prm = LengthPRM()
    ctx = scripted_ctx(prm)
    q = Problem(id="p", question="q", answer="1")
    rows = STRATEGIES["parallel_revisions"].run_many([q], [1, 4, 16], ctx, revision_ratio=4.0)
    by_n = {r.n: r for r in rows}
    assert (by_n[16].params["chains"], by_n[16].params["length"]) == (2, 8)
    assert (by_n[4].params["chains"], by_n[4].params["length"]) == (1, 4)
    assert len(by_n[16].trajectories) == 16 and len(by_n[1].trajectories) == 1
    assert [t.parent for t in by_n[16].trajectories] == [0] * 8 + [1] * 8
    # attempts past the fourth read four earlier ones and answer 4: the verifier's vote in a chain of
    # 0, 1, 2, 3, 4, 4, 4, 4 (scored by answer) picks 4
    assert by_n[16].answer == "4" and by_n[4].answer == "3" and by_n[1].answer == "0"
    assert by_n[1].correct is False and by_n[4].compute.policy_tokens == 4 * TOKENS
    # the same budget alone gives the same result (the scripted model is deterministic)
    [alone] = STRATEGIES["parallel_revisions"].run([q], 4, scripted_ctx(LengthPRM()), revision_ratio=4.0)
    assert alone.answer == by_n[4].answer and alone.compute.context_tokens == by_n[4].compute.context_tokens


def test_hierarchical_counts_each_chain_once():
    def t(answer, score):
        return Trajectory(steps=["x"], scores=[score], answer=answer)

    # one chain repeats "5" four times; three chains say "6" once, each well scored
    chains = [[t("5", 0.3)] * 4, [t("6", 0.5)], [t("6", 0.5)], [t("7", 0.9)]]
    assert hierarchical(chains, "last").answer == "6"  # 1.0 for "6" beats 0.9 and 0.3
    flat = [x for chain in chains for x in chain]
    from ponder.infer.strategies.selection import weighted_best_of_n

    assert weighted_best_of_n(flat, "last").answer == "5"  # a flat vote lets the long chain win


def test_verifier_choice_needs_a_prm(tmp_path):
    with pytest.raises(ConfigError, match="prm"):
        STRATEGIES["revisions"].run([Problem(id="p", question="q", answer="1")], 2, scripted_ctx())
    with pytest.raises(ConfigError, match="prm"):
        InferArguments(model_name_or_path=str(tmp_path), dataset="y", strategies=["revisions"])
    with pytest.raises(ConfigError, match="revision_select"):
        InferArguments(
            model_name_or_path=str(tmp_path), dataset="y", strategies=["revisions"], revision_select="best"
        )


def test_revisions_run_through_ponder_infer_and_route(tiny_policy, tmp_path):
    """A real run on the hf backend with the oracle PRM; then compute-optimal routed to a ratio."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        "".join(json.dumps(p.__dict__) + "\n" for p in generate_problems(2, levels=[2, 4], seed=5))
    )
    common = dict(
        model_name_or_path=str(tiny_policy),
        dataset=str(problems),
        prm="oracle",
        budgets=[1, 4],
        max_tokens=60,
        temperature=1.0,
        wandb=False,
    )
    folder = tmp_path / "rev"
    path = run(
        InferArguments(
            **common,
            strategies=["revisions", "parallel_revisions"],
            revision_ratio=0.25,
            output_dir=str(folder),
        )
    )
    rows = read_results(path)
    assert len(rows) == 4 * 2 * 2
    for r in rows:
        assert len(r.trajectories) == r.n and r.compute.policy_tokens > 0
        if r.strategy == "revisions" and r.n == 4:
            assert r.compute.context_tokens > 0
        if r.strategy == "parallel_revisions" and r.n == 4:  # 1 : 4 at N = 4 is four chains of one
            assert (r.params["chains"], r.params["length"], r.compute.context_tokens) == (4, 1, 0)
    assert (
        run(
            InferArguments(
                **common,
                strategies=["revisions", "parallel_revisions"],
                revision_ratio=0.25,
                output_dir=str(folder),
            )
        )
        == path
    )
    assert len(read_results(path)) == len(rows)  # resumed: nothing searched twice

    # a router table that sends every bin to parallel revisions at 1 : 4
    from ponder.infer.router import Choice, RouterTable

    choice = Choice(
        "parallel_revisions",
        4,
        {"revision_ratio": 0.25, "revision_context": 4, "revision_select": "verifier"},
    )
    table = RouterTable(1, [4], {1: 1.0}, {4: {0: choice, 1: choice}}, {4: {0: choice, 1: choice}})
    router = table.save(tmp_path / "router.json")
    labels = tmp_path / "difficulty.jsonl"
    from ponder.data.difficulty import Difficulty, write

    write(
        [
            Difficulty(r.problem_id, "q", 1, 0.5, 16, 1)
            for r in rows
            if r.n == 1 and r.strategy == "revisions"
        ],
        labels,
    )
    routed = read_results(
        run(
            InferArguments(
                **{**common, "budgets": [4]},
                strategies=["compute_optimal_oracle"],
                router=str(router),
                difficulty_labels=str(labels),
                output_dir=str(tmp_path / "routed"),
            )
        )
    )
    assert {r.params["strategy"] for r in routed} == {"parallel_revisions"}
    assert all(len(r.trajectories) == 4 and r.params["revision_ratio"] == 0.25 for r in routed)
