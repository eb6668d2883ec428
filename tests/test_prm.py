"""PRM scorers: how each adapter lays a solution out and where it reads its scores.

Every model here is a tiny randomly initialised transformers model with the character tokenizer,
so each test is quick; what is checked is the published convention (the exact input) and that
each score is the softmax, computed by hand, at the expected token.
"""

import json
import shutil

import pytest
import torch
from torch import nn
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForTokenClassification,
    Qwen2Config,
    Qwen2ForTokenClassification,
)

from ponder.data.arithworld import check_steps
from ponder.data.chartok import build_char_tokenizer
from ponder.data.results import AGGREGATIONS, aggregate
from ponder.data.worlds import step_checker
from ponder.infer.prm import PRMS, load_prm
from ponder.infer.prm.math_shepherd import MathShepherdPRM
from ponder.infer.prm.qwen_math import QwenMathPRM
from ponder.infer.prm.rlhflow import RLHFlowPRM

QUESTION = "2 +3 *4"
STEPS = ["2+3=5", "5*4=20\n\\boxed{20}"]
# Candidates of different lengths, so a batch of them is padded.
CANDIDATES = [STEPS, ["1+1=2\n\\boxed{2}"], ["9-4=5", "5+30=35", "35*2=70", "70-1=69\n\\boxed{69}"]]
SMALL = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=2,
    max_position_embeddings=160,
    initializer_range=0.5,
)  # wide init: scores that differ by position


def llama(model_class, tokenizer, **extra):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **SMALL, **extra)
    return model_class(config).eval()


def logits_of(prm, ids):
    with torch.no_grad():
        return prm.model(input_ids=torch.tensor([ids])).logits[0]


def check_batching(prm):
    """Scores of a padded batch equal the scores of each candidate alone, one per step, in [0, 1]."""
    together = prm.score(QUESTION, [*CANDIDATES, []])
    assert together[-1] == []  # no steps yet: nothing to score
    for steps, scores in zip(CANDIDATES, together):
        assert len(scores) == len(steps) and all(0 <= s <= 1 for s in scores)
        assert scores == pytest.approx(prm.score(QUESTION, [steps])[0], abs=1e-5)


# token-cls: TRL's stepwise layout, read at the last token of each step separator


@pytest.fixture(scope="module")
def prm_folder(tmp_path_factory):
    tokenizer = build_char_tokenizer()
    folder = tmp_path_factory.mktemp("token_cls")
    llama(LlamaForTokenClassification, tokenizer, num_labels=2).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def token_cls(prm_folder):
    return load_prm("token-cls", model=str(prm_folder))


def test_token_cls_builds_trl_stepwise_input(token_cls):
    ids, positions = token_cls.build_input(QUESTION, STEPS)
    # [bos] question, then each step followed by TRL's default separator "\n"; one token per character
    assert token_cls.tokenizer.decode(ids) == "<s>2 +3 *4" + "2+3=5\n" + "5*4=20\n\\boxed{20}\n"
    assert positions == [1 + 7 + 5, 1 + 7 + 6 + 17]  # the separators, not the "\n" inside step 2
    assert [ids[p] for p in positions] == token_cls.tokenizer.encode("\n\n", add_special_tokens=False)


def test_token_cls_scores_are_label_one_probabilities_at_separators(token_cls):
    ids, positions = token_cls.build_input(QUESTION, STEPS)
    by_hand = logits_of(token_cls, ids).softmax(-1)[positions, 1].tolist()
    scores = token_cls.score(QUESTION, [STEPS])[0]
    assert scores == pytest.approx(by_hand, abs=1e-6) and scores[0] != pytest.approx(scores[1], abs=1e-3)
    check_batching(token_cls)
    assert token_cls.tokens_scored > 0


def test_token_cls_reads_at_the_last_token_of_the_trained_separator(prm_folder, tmp_path):
    folder = shutil.copytree(prm_folder, tmp_path / "prm")
    (folder / "prm_config.json").write_text(
        json.dumps({"step_separator": "\n\n"})
    )  # as `ponder train prm` saves it
    for prm in (
        load_prm("token-cls", model=str(folder)),
        load_prm("token-cls", model=str(prm_folder), step_separator="\n\n"),
    ):
        ids, positions = prm.build_input(QUESTION, STEPS)
        assert prm.tokenizer.decode(ids) == "<s>2 +3 *4" + "2+3=5\n\n" + "5*4=20\n\\boxed{20}\n\n"
        assert positions == [1 + 7 + 6, 1 + 7 + 7 + 18]
    # a folder trained with the separator after the prompt too is scored the same way
    (folder / "prm_config.json").write_text(json.dumps({"step_separator": "\n", "separate_prompt": True}))
    ids, positions = load_prm("token-cls", model=str(folder)).build_input(QUESTION, STEPS)
    assert prm.tokenizer.decode(ids) == "<s>2 +3 *4\n" + "2+3=5\n" + "5*4=20\n\\boxed{20}\n"
    assert positions == [1 + 8 + 5, 1 + 8 + 6 + 17]


def test_too_long_a_candidate_is_an_error_not_a_silent_cut(token_cls):
    with pytest.raises(ValueError, match="longer than the PRM's 160"):
        token_cls.score(QUESTION, [STEPS, ["1+1=2"] * 30])


# Children of one prefix share it: scored from its cached keys and values, with the same scores

# A beam-search round: two beams, each expanded into three children; a lone candidate; none yet.
ROUND = [
    *[["2+3=5", step] for step in ("5*4=20", "5*4=21", "5*4=20\n\\boxed{20}")],
    *[["2+3=6", step] for step in ("6*4=24", "6*4=2", "6+4=10")],
    ["1+1=2\n\\boxed{2}"],
    [],
]


def check_shared_prefixes(prm):
    """Scores with the prefix shared equal the scores of each candidate read whole, and fewer
    tokens go through the model."""
    prm.reuse_prefix, before = False, prm.tokens_scored
    whole = prm.score(QUESTION, ROUND)
    whole_tokens = prm.tokens_scored - before
    prm.reuse_prefix, before = True, prm.tokens_scored
    shared = prm.score(QUESTION, ROUND)
    assert prm.reuse_prefix and prm.tokens_scored - before < whole_tokens
    assert shared[-1] == [] and [len(s) for s in shared] == [len(steps) for steps in ROUND]
    for a, b in zip(shared, whole):
        assert a == pytest.approx(b, abs=1e-5)


def test_children_of_one_prefix_are_scored_from_its_cache(token_cls, prm_folder, tmp_path):
    check_shared_prefixes(token_cls)
    # a head-lm PRM whose score also reads the LM likelihood of every step token so far
    tokenizer = build_char_tokenizer()
    folder = tmp_path / "head_lm"
    llama(LlamaForCausalLM, tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    weights = {"verdict": 0.7, "likelihood": 0.05, "least": 0.3, "tokens": -0.02, "bias": 0.1}
    saved = {"step_separator": "\n\n", "head": "lm", "good_token": "+", "bad_token": "-"}
    (folder / "prm_config.json").write_text(json.dumps({**saved, "score_weights": weights}))
    check_shared_prefixes(load_prm("token-cls", model=str(folder)))


# rlhflow: "+" / "-" assistant turns after each step


@pytest.fixture(scope="module")
def rlhflow():
    tokenizer = build_char_tokenizer()
    return RLHFlowPRM(llama(LlamaForCausalLM, tokenizer), tokenizer=tokenizer)


def plus_probability_by_hand(prm, ids, positions):
    plus, minus = prm.tokenizer.convert_tokens_to_ids(["+", "-"])
    return logits_of(prm, ids)[positions][:, [plus, minus]].softmax(-1)[:, 0].tolist()


def test_rlhflow_builds_one_user_turn_per_step_answered_by_plus(rlhflow):
    ids, positions = rlhflow.build_input(QUESTION, STEPS)
    assert rlhflow.tokenizer.decode(ids) == (
        "<s><|user|>2 +3 *4 2+3=5<|end|><|assistant|>+<|end|>"
        "<|user|>5*4=20\n\\boxed{20}<|end|><|assistant|>+<|end|>"
    )
    # read where the assistant's answer to each step is predicted: the token just before its "+"
    assert rlhflow.tokenizer.convert_ids_to_tokens([ids[p] for p in positions]) == ["<|assistant|>"] * 2
    assert rlhflow.tokenizer.convert_ids_to_tokens([ids[p + 1] for p in positions]) == ["+"] * 2


def test_rlhflow_scores_are_plus_against_minus_in_one_pass(rlhflow):
    ids, positions = rlhflow.build_input(QUESTION, STEPS)
    scores = rlhflow.score(QUESTION, [STEPS])[0]
    assert scores == pytest.approx(plus_probability_by_hand(rlhflow, ids, positions), abs=1e-6)
    assert scores[0] != pytest.approx(scores[1], abs=1e-3)
    check_batching(rlhflow)
    check_shared_prefixes(rlhflow)


def test_rlhflow_refuses_a_chat_template_it_cannot_read(rlhflow):
    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = tokenizer.chat_template.replace(
        "<|assistant|>{% endif %}", "<|assistant|>\n{% endif %}"
    )
    prm = RLHFlowPRM(rlhflow.model, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="chat template"):
        prm.build_input(QUESTION, STEPS)


# math-shepherd: " ки" after each step, "+" / "-" read at the tag


@pytest.fixture(scope="module")
def math_shepherd():
    tokenizer = build_char_tokenizer()
    tokenizer.add_tokens(["ки"])
    return MathShepherdPRM(llama(LlamaForCausalLM, tokenizer), tokenizer=tokenizer)


def test_math_shepherd_tags_each_step(math_shepherd):
    ids, positions = math_shepherd.build_input(QUESTION, STEPS)
    assert math_shepherd.tokenizer.decode(ids) == "2 +3 *4 2+3=5 ки\n5*4=20\n\\boxed{20} ки"
    assert positions == [7 + 1 + 5 + 1, 7 + 1 + 5 + 3 + 17 + 1]
    assert math_shepherd.tokenizer.convert_ids_to_tokens([ids[p] for p in positions]) == ["ки", "ки"]
    with pytest.raises(ValueError, match="3 'ки' tags for 2 steps"):
        math_shepherd.build_input("ки " + QUESTION, STEPS)


def test_math_shepherd_scores_are_plus_against_minus_at_tags(math_shepherd):
    ids, positions = math_shepherd.build_input(QUESTION, STEPS)
    scores = math_shepherd.score(QUESTION, [STEPS])[0]
    assert scores == pytest.approx(plus_probability_by_hand(math_shepherd, ids, positions), abs=1e-6)
    assert scores[0] != pytest.approx(scores[1], abs=1e-3)
    check_batching(math_shepherd)
    check_shared_prefixes(math_shepherd)


# qwen2.5-math-prm: "<extra_0>" after each step of the assistant turn, label 1 read there


@pytest.fixture(scope="module")
def qwen_parts():
    tokenizer = build_char_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, num_labels=2, **SMALL
    )
    return Qwen2ForTokenClassification(config).eval(), tokenizer


def test_qwen_math_prm_needs_explicit_trust_remote_code():
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_prm("qwen2.5-math-prm", model="Qwen/Qwen2.5-Math-PRM-7B")


def test_qwen_math_prm_builds_the_chat_and_reads_label_one_at_extra_0(qwen_parts):
    model, tokenizer = qwen_parts
    prm = QwenMathPRM(model, tokenizer=tokenizer)
    ids, positions = prm.build_input(QUESTION, STEPS)
    assert prm.tokenizer.decode(ids) == (
        "<s><|system|>Please reason step by step, and put your final answer within \\boxed{}.<|end|>"
        "<|user|>2 +3 *4<|end|><|assistant|>2+3=5<extra_0>5*4=20\n\\boxed{20}<extra_0><|end|>"
    )
    assert prm.tokenizer.convert_ids_to_tokens([ids[p] for p in positions]) == ["<extra_0>"] * 2
    scores = prm.score(QUESTION, [STEPS])[0]
    assert scores == pytest.approx(logits_of(prm, ids).softmax(-1)[positions, 1].tolist(), abs=1e-6)
    assert scores[0] != pytest.approx(scores[1], abs=1e-3)
    check_batching(prm)


def test_qwen_math_prm_accepts_custom_code_returning_a_tuple(qwen_parts):
    model, tokenizer = qwen_parts

    class TupleOutput(nn.Module):  # what remote code such as Qwen2ForProcessRewardModel may return
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, **inputs):
            return (self.inner(**inputs).logits,)

    custom = QwenMathPRM(TupleOutput(), tokenizer=tokenizer).score(QUESTION, CANDIDATES)
    for a, b in zip(custom, QwenMathPRM(model, tokenizer=tokenizer).score(QUESTION, CANDIDATES)):
        assert a == pytest.approx(b, abs=1e-6)


# oracle, registry, aggregation


def test_oracle_scores_are_the_exact_checker():
    assert step_checker("arithworld") is check_steps
    oracle = load_prm("oracle", "arithworld")
    question = "47 +38 *3 -19"
    solutions = [
        ["47+38=85", "85*3=255", "255-19=236\n\\boxed{236}"],  # right
        ["47+37=84", "84*3=252"],  # wrong operand: the chain is wrong from there on
        ["47+38=85", "85*4=340"],
    ]  # wrong operand in step 2
    assert oracle.score(question, solutions) == [[1.0, 1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    assert oracle.num_parameters == 0
    with pytest.raises(ValueError, match="several worlds have a step checker"):
        load_prm("oracle")  # each world checks its own steps: the oracle must be told which
    with pytest.raises(ValueError, match="world: unknown 'gsm8k'"):
        load_prm("oracle", "gsm8k")


def test_registry_names_every_scorer_and_errors_name_the_culprit():
    assert {"token-cls", "rlhflow", "math-shepherd", "qwen2.5-math-prm", "oracle"} <= set(PRMS)
    with pytest.raises(ValueError, match="prm: unknown 'nope'"):
        load_prm("nope")
    with pytest.raises(ValueError, match="prm_model"):
        load_prm("rlhflow", model=None)
    with pytest.raises(ValueError, match="prm_model: no model folder './missing'"):
        load_prm("token-cls", model="./missing")


def test_aggregations():
    scores = [0.5, 0.8, 0.4]
    assert set(AGGREGATIONS) == {"last", "min", "prod", "mean"}
    assert aggregate(scores, "last") == 0.4 and aggregate(scores, "min") == 0.4
    assert aggregate(scores, "prod") == pytest.approx(0.16) and aggregate(scores, "mean") == pytest.approx(
        1.7 / 3
    )
    assert aggregate([], "min") == 0.0
    with pytest.raises(ValueError, match="aggregation: unknown 'max'"):
        aggregate(scores, "max")
