"""Beam search, DVTS and lookahead pinned exactly on a scripted backend and PRM (no model).

Each test's script says which step every partial solution leads to and what the PRM thinks of
it, so the beams kept each round, the completions, the answer and every token are known.
"""

from __future__ import annotations

import pytest
from helpers.scripted import (
    POLICY_PARAMETERS,
    PRM_PARAMETERS,
    PRM_TOKENS,
    TOKENS,
    ChatTokenizer,
    ScriptedBackend,
    ScriptedPRM,
)

from ponder.data import Problem
from ponder.infer.strategies import STRATEGIES, SearchContext
from ponder.infer.strategies.base import STEP_STOP


def context(backend: ScriptedBackend, prm: ScriptedPRM, **options) -> SearchContext:
    return SearchContext(backend=backend, prm=prm, tokenizer=ChatTokenizer(), temperature=0.8, **options)


def problem(question: str, answer: str) -> Problem:
    return Problem(id=question, question=question, answer=answer)


def flops(policy_tokens: int, prm_tokens: int) -> int:
    return 2 * POLICY_PARAMETERS * policy_tokens + 2 * PRM_PARAMETERS * prm_tokens


def partials(call) -> list[tuple[str, ...]]:
    return [steps for _, steps in call.partials]


def test_tree_strategies_are_registered_with_their_facts():
    for name in ("beam_search", "dvts", "lookahead"):
        strategy = STRATEGIES[name]
        assert strategy.kind == "tree" and strategy.needs_prm and "beam_width" in strategy.params
    assert STRATEGIES["lookahead"].params == ("beam_width", "lookahead")


def test_beam_search_keeps_the_best_and_refills_to_n_live_beams():
    # q: a and b are kept; next round a's child finishes, so only b1 goes on, and the round
    # after still expands 4 beams (b1 four times), two of which reach the best answers.
    # p: every first step finishes: its 2 best are kept and p leaves the search.
    backend = ScriptedBackend(
        sampled={
            ("q", ()): ["a", "b", "c", "d"],
            ("q", ("a",)): ["a1 \\boxed{1}", "a2"],
            ("q", ("b",)): ["b1", "b2"],
            ("q", ("b", "b1")): ["b1x", "b1y", "b1z \\boxed{2}", "b1w \\boxed{3}"],
            ("p", ()): ["p1 \\boxed{7}", "p2 \\boxed{8}", "p3 \\boxed{7}", "p4 \\boxed{9}"],
        }
    )
    prm = ScriptedPRM(
        {
            **{"a": 0.9, "b": 0.8, "c": 0.3, "d": 0.1},
            **{"a1 \\boxed{1}": 0.95, "a2": 0.5, "b1": 0.7, "b2": 0.2},
            **{"b1x": 0.3, "b1y": 0.2, "b1z \\boxed{2}": 0.9, "b1w \\boxed{3}": 0.85},
            **{"p1 \\boxed{7}": 0.6, "p2 \\boxed{8}": 0.9, "p3 \\boxed{7}": 0.7, "p4 \\boxed{9}": 0.1},
        }
    )
    ctx = context(backend, prm, max_step_tokens=33, seed=5)
    q, p = STRATEGIES["beam_search"].run([problem("q", "1"), problem("p", "8")], 4, ctx, beam_width=2)

    # one backend call per round for both problems; p drops out after round 0
    assert backend.prompts_per_call() == [8, 4, 4]
    assert partials(backend.calls[1]) == [("a",), ("a",), ("b",), ("b",)]
    assert partials(backend.calls[2]) == [("b", "b1")] * 4  # refilled: 4 live beams, not 2
    for round_, call in enumerate(backend.calls):
        assert call.n == 1
        assert call.sampling.temperature == 0.8 and call.sampling.seed == 5 + round_
        assert call.sampling.stop == [STEP_STOP] and call.sampling.max_tokens == 33
    assert len(prm.calls) == 4  # one PRM call per problem per round

    assert [t.steps for t in q.trajectories] == [
        ["a", "a1 \\boxed{1}"],
        ["b", "b1", "b1z \\boxed{2}"],
        ["b", "b1", "b1w \\boxed{3}"],
    ]  # 3 completions (< N: no beam was left), best first
    assert [t.scores for t in q.trajectories] == [[0.9, 0.95], [0.8, 0.7, 0.9], [0.8, 0.7, 0.85]]
    assert [t.answer for t in q.trajectories] == ["1", "2", "3"]
    assert [t.tokens for t in q.trajectories] == [2 * TOKENS, 3 * TOKENS, 3 * TOKENS]
    assert [t.parent for t in q.trajectories] == [0, 1, 1]  # a and b were first-round beams 0 and 1
    assert all(t.finish_reason == "eos" for t in q.trajectories)
    assert q.answer == "1" and q.correct and q.n == 4 and q.strategy == "beam_search"
    assert q.params == {"beam_width": 2, "lookahead": 0, "select": "best_of_n", "aggregation": "last"}
    # 12 generations; the PRM read 4 candidates of 1, 2 and 3 steps
    assert q.compute.policy_tokens == 12 * TOKENS
    assert q.compute.prm_tokens == (4 + 8 + 12) * PRM_TOKENS
    assert q.compute.flops == flops(12 * TOKENS, 24 * PRM_TOKENS)

    assert [t.steps for t in p.trajectories] == [["p2 \\boxed{8}"], ["p3 \\boxed{7}"]]
    assert [t.parent for t in p.trajectories] == [1, 2]
    assert p.answer == "8" and p.correct
    assert p.compute.policy_tokens == 4 * TOKENS and p.compute.prm_tokens == 4 * PRM_TOKENS
    assert p.compute.flops == flops(4 * TOKENS, 4 * PRM_TOKENS)


def test_beam_search_refill_repeats_the_best_beams_first_and_returns_at_most_n():
    # N=8, M=2: 4 kept, one finished -> 3 live beams fill 8 as 3 + 3 + 2 copies, best first.
    # The step limit (2) ends every second step, so 4 more finish: 5 come back.
    backend = ScriptedBackend(
        sampled={
            ("q", ()): ["s0 \\boxed{0}", "s1", "s2", "s3", "s4", "s5", "s6", "s7"],
            ("q", ("s1",)): ["t1"],
            ("q", ("s2",)): ["t2"],
            ("q", ("s3",)): ["t3"],
        }
    )
    scores = {"s0 \\boxed{0}": 0.9, "s1": 0.8, "s2": 0.7, "s3": 0.6, "t1": 0.1, "t2": 0.3, "t3": 0.2}
    prm = ScriptedPRM({**scores, **{f"s{j}": 0.05 * j for j in range(4, 8)}})
    ctx = context(backend, prm, max_steps=2)
    (r,) = STRATEGIES["beam_search"].run([problem("q", "0")], 8, ctx, beam_width=2)
    assert backend.prompts_per_call() == [8, 8]
    assert partials(backend.calls[1]) == [("s1",)] * 3 + [("s2",)] * 3 + [("s3",)] * 2
    # round 1 keeps 4 of its 8 (all finished at the step limit): the 3 t2 and one t3
    assert [t.steps for t in r.trajectories] == [["s0 \\boxed{0}"]] + [["s2", "t2"]] * 3 + [["s3", "t3"]]
    assert [t.finish_reason for t in r.trajectories] == ["eos", "stop", "stop", "stop", "stop"]
    assert [t.parent for t in r.trajectories] == [0, 2, 2, 2, 3]
    assert r.answer == "0" and r.compute.policy_tokens == 16 * TOKENS

    # N=2, M=1: one kept beam finishes, the other is repeated twice; 3 finish, the best 2 return
    backend = ScriptedBackend(
        sampled={("q", ()): ["x \\boxed{1}", "y"], ("q", ("y",)): ["y1 \\boxed{2}", "y2 \\boxed{3}"]}
    )
    prm = ScriptedPRM({"x \\boxed{1}": 0.5, "y": 0.6, "y1 \\boxed{2}": 0.7, "y2 \\boxed{3}": 0.8})
    (r,) = STRATEGIES["beam_search"].run([problem("q", "3")], 2, context(backend, prm), beam_width=1)
    assert backend.prompts_per_call() == [2, 2]
    assert [t.steps for t in r.trajectories] == [["y", "y2 \\boxed{3}"], ["y", "y1 \\boxed{2}"]]
    assert r.answer == "3" and r.compute.policy_tokens == 4 * TOKENS


def test_dvts_keeps_one_greedy_beam_per_subtree():
    # N=8, M=4: two subtrees of 4 first steps. Each keeps its own best (s1 and s6; beam search
    # would keep s6 and s7) and expands it 4 ways. Subtree 1 finishes in round 1 and is not
    # refilled; subtree 0 goes on alone with 4 beams.
    backend = ScriptedBackend(
        sampled={
            ("q", ()): [f"s{j}" for j in range(8)],
            ("q", ("s1",)): ["s1a", "s1b", "s1c", "s1d"],
            ("q", ("s6",)): ["s6a \\boxed{6}", "s6b", "s6c", "s6d \\boxed{7}"],
            ("q", ("s1", "s1b")): ["s1b1 \\boxed{5}", "s1b2 \\boxed{9}", "s1b3", "s1b4"],
        }
    )
    prm = ScriptedPRM(
        {
            **dict(zip([f"s{j}" for j in range(8)], [0.2, 0.7, 0.5, 0.1, 0.3, 0.4, 0.9, 0.8])),
            **{"s1a": 0.3, "s1b": 0.6, "s1c": 0.2, "s1d": 0.1},
            **{"s6a \\boxed{6}": 0.9, "s6b": 0.5, "s6c": 0.4, "s6d \\boxed{7}": 0.3},
            **{"s1b1 \\boxed{5}": 0.8, "s1b2 \\boxed{9}": 0.6, "s1b3": 0.1, "s1b4": 0.2},
        }
    )
    (r,) = STRATEGIES["dvts"].run([problem("q", "6")], 8, context(backend, prm), beam_width=4)

    assert backend.prompts_per_call() == [8, 8, 4]
    assert partials(backend.calls[1]) == [("s1",)] * 4 + [("s6",)] * 4
    assert partials(backend.calls[2]) == [("s1", "s1b")] * 4
    assert [t.steps for t in r.trajectories] == [["s6", "s6a \\boxed{6}"], ["s1", "s1b", "s1b1 \\boxed{5}"]]
    assert [t.scores for t in r.trajectories] == [[0.9, 0.9], [0.7, 0.6, 0.8]]
    assert [t.parent // 4 for t in r.trajectories] == [1, 0]  # one completion per subtree
    assert [t.parent for t in r.trajectories] == [6, 1]
    assert r.answer == "6" and r.correct  # weighted best-of-N: 0.9 for 6 against 0.8 for 5
    assert r.params["select"] == "weighted_best_of_n"
    assert r.compute.policy_tokens == 20 * TOKENS
    assert r.compute.prm_tokens == (8 + 16 + 12) * PRM_TOKENS
    assert r.compute.flops == flops(20 * TOKENS, 36 * PRM_TOKENS)


def test_lookahead_ranks_candidates_by_their_greedy_rollout():
    # Candidates a and b score best, but one greedy step further c and d do: lookahead keeps c, d.
    # Next round c2 (0.65) outscores d2 (0.6) itself, but its rollout scores 0.4: d1, d2 are kept.
    backend = ScriptedBackend(
        sampled={
            ("q", ()): ["a", "b", "c", "d"],
            ("q", ("c",)): ["c1 \\boxed{3}", "c2"],
            ("q", ("d",)): ["d1 \\boxed{4}", "d2 \\boxed{5}"],
        },
        greedy={
            **{("q", (s,)): f"{s}g" for s in "abcd"},
            ("q", ("c", "c2")): "c2g",
        },
    )
    prm = ScriptedPRM(
        {
            **{"a": 0.9, "b": 0.8, "c": 0.3, "d": 0.1, "ag": 0.1, "bg": 0.2, "cg": 0.9, "dg": 0.8},
            **{"c1 \\boxed{3}": 0.5, "c2": 0.65, "c2g": 0.4, "d1 \\boxed{4}": 0.7, "d2 \\boxed{5}": 0.6},
        }
    )
    ctx = context(backend, prm)
    (r,) = STRATEGIES["lookahead"].run([problem("q", "4")], 4, ctx, beam_width=2, lookahead=1)

    # per round: the sampled step of every beam, then one greedy step of every unfinished candidate
    assert backend.prompts_per_call() == [4, 4, 4, 1]
    assert [c.sampling.temperature for c in backend.calls] == [0.8, 0.0, 0.8, 0.0]
    assert [c.sampling.seed for c in backend.calls] == [0, 0, 1, 1]
    assert partials(backend.calls[1]) == [("a",), ("b",), ("c",), ("d",)]
    assert partials(backend.calls[2]) == [("c",), ("c",), ("d",), ("d",)]
    assert partials(backend.calls[3]) == [("c", "c2")]
    assert [t.steps for t in r.trajectories] == [["d", "d1 \\boxed{4}"], ["d", "d2 \\boxed{5}"]]
    assert [t.scores for t in r.trajectories] == [[0.1, 0.7], [0.1, 0.6]]  # their own steps' scores
    assert [t.tokens for t in r.trajectories] == [2 * TOKENS, 2 * TOKENS]  # rollouts are not theirs
    assert [t.parent for t in r.trajectories] == [3, 3]
    assert r.answer == "4" and r.correct and r.params["lookahead"] == 1
    # rollout tokens count: 13 generations; the PRM read 4 rollouts of 2 steps, 4 candidates of 1,
    # then 1 rollout of 3 steps and 4 candidates of 2
    assert r.compute.policy_tokens == 13 * TOKENS
    assert r.compute.prm_tokens == (8 + 4 + 3 + 8) * PRM_TOKENS
    assert r.compute.flops == flops(13 * TOKENS, 23 * PRM_TOKENS)
    assert len(prm.calls) == 4 + 1 + 1 + 1  # one call per rollout, one per round's candidates


@pytest.mark.parametrize("name", ["beam_search", "dvts", "lookahead"])
def test_tree_search_refuses_a_width_that_does_not_divide_the_budget(name):
    ctx = context(ScriptedBackend({}), ScriptedPRM({}))
    with pytest.raises(ValueError, match="beam_width"):
        STRATEGIES[name].run([problem("q", "1")], 6, ctx, beam_width=4)
