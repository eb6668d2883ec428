"""PRM scorers on tiny randomly initialised models with each published convention, and the registry."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForTokenClassification

from ponder.data.chartok import build_char_tokenizer
from ponder.infer.prm import aggregate, load_prm


@pytest.fixture(scope="module")
def prm(tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, num_labels=2, pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("prm")
    LlamaForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return load_prm("token-cls", model=str(folder))


def test_input_is_trl_stepwise_layout(prm):
    ids, positions = prm.build_input("2 +3 *4", ["2+3=5", "5*4=20\n\\boxed{20}"])
    tok = prm.tokenizer
    expected = [tok.bos_token_id] + tok("2 +3 *4", add_special_tokens=False)["input_ids"]
    expected += tok("2+3=5\n", add_special_tokens=False)["input_ids"]
    first = len(expected) - 1
    expected += tok("5*4=20\n\\boxed{20}\n", add_special_tokens=False)["input_ids"]
    assert ids == expected and positions == [first, len(expected) - 1]


def test_scores_are_label_one_probabilities_at_separators(prm):
    steps = ["2+3=5", "5*4=20\n\\boxed{20}"]
    scores = prm.score("2 +3 *4", [steps])[0]
    ids, positions = prm.build_input("2 +3 *4", steps)
    with torch.no_grad():
        logits = prm.model(input_ids=torch.tensor([ids])).logits[0]
    assert scores == pytest.approx(logits.softmax(-1)[positions, 1].tolist(), abs=1e-6)
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)


def test_batching_with_padding_gives_the_same_scores(prm):
    lists = [["1+1=2\n\\boxed{2}"], ["9-4=5", "5+30=35", "35*2=70\n\\boxed{70}"], ["3+3=6"]]
    together = prm.score("q", lists)
    alone = [prm.score("q", [steps])[0] for steps in lists]
    for a, b in zip(together, alone):
        assert a == pytest.approx(b, abs=1e-5)
    assert prm.tokens_scored > 0


def test_registry_and_aggregations():
    with pytest.raises(ValueError, match="nope"):
        load_prm("nope")
    oracle = load_prm("oracle", checker="arithworld")
    q = "47 +38 *3 -19"
    assert oracle.score(q, [["47+38=85", "85*3=255", "255-19=236\n\\boxed{236}"], ["47+37=84", "84*3=252"]]) == [
        [1.0, 1.0, 1.0], [0.0, 0.0]]
    assert aggregate([0.5, 0.8, 0.4], "last") == 0.4 and aggregate([0.5, 0.8, 0.4], "min") == 0.4
    assert aggregate([0.5, 0.8], "prod") == pytest.approx(0.4) and aggregate([0.5, 0.8], "mean") == pytest.approx(0.65)


def tiny_causal_lm(extra_tokens=()):
    from transformers import LlamaForCausalLM

    torch.manual_seed(1)
    tokenizer = build_char_tokenizer()
    tokenizer.add_tokens(list(extra_tokens))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval(), tokenizer


STEPS = ["2+3=5", "5*4=20\n\\boxed{20}"]


def plus_minus_by_hand(prm, ids, positions):
    with torch.no_grad():
        logits = prm.model(input_ids=torch.tensor([ids])).logits[0]
    plus, minus = prm.tokenizer.convert_tokens_to_ids(["+", "-"])
    return logits[positions][:, [plus, minus]].softmax(-1)[:, 0].tolist()


def test_math_shepherd_tags_each_step_and_reads_plus_minus_there():
    from ponder.infer.prm.causal_lm import MathShepherdPRM

    model, tokenizer = tiny_causal_lm(["ки"])
    prm = MathShepherdPRM(model, tokenizer)
    ids, positions = prm.build_input("2 +3 *4", STEPS)
    assert tokenizer.decode(ids, skip_special_tokens=False).endswith("2 +3 *4 2+3=5 ки\n5*4=20\n\\boxed{20} ки\n")
    assert [tokenizer.convert_ids_to_tokens(ids[p]) for p in positions] == ["ки", "ки"]
    assert prm.score("2 +3 *4", [STEPS])[0] == pytest.approx(plus_minus_by_hand(prm, ids, positions), abs=1e-6)


def test_rlhflow_reads_the_assistant_verdict_after_each_step():
    from ponder.infer.prm.causal_lm import RLHFlowPRM

    model, tokenizer = tiny_causal_lm()
    prm = RLHFlowPRM(model, tokenizer)
    ids, positions = prm.build_input("2 +3 *4", STEPS)
    text = tokenizer.decode(ids)
    assert text == "<s><|user|>2 +3 *4 2+3=5<|end|><|assistant|>+<|end|><|user|>5*4=20\n\\boxed{20}<|end|><|assistant|>+<|end|>"
    # each read position is the assistant header, whose next token is the "+" verdict
    assert [tokenizer.convert_ids_to_tokens(ids[p + 1]) for p in positions] == ["+", "+"]
    assert [tokenizer.convert_ids_to_tokens(ids[p]) for p in positions] == ["<|assistant|>", "<|assistant|>"]
    scores = prm.score("2 +3 *4", [STEPS, STEPS[:1]])
    assert scores[0] == pytest.approx(plus_minus_by_hand(prm, ids, positions), abs=1e-5)
    assert scores[1] == pytest.approx(scores[0][:1], abs=1e-5)  # a prefix scores its steps the same


def test_qwen_math_prm_needs_opt_in_and_reads_label_one_at_extra_0():
    from ponder.infer.prm.qwen_math import QwenMathPRM

    with pytest.raises(ValueError, match="trust_remote_code"):
        load_prm("qwen2.5-math-prm", model="Qwen/Qwen2.5-Math-PRM-7B")
    tokenizer = build_char_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, num_labels=2, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(2)
    prm = QwenMathPRM(LlamaForTokenClassification(config).eval(), tokenizer)
    ids, positions = prm.build_input("2 +3 *4", STEPS)
    assert tokenizer.decode(ids).endswith("<|assistant|>2+3=5<extra_0>5*4=20\n\\boxed{20}<extra_0><|end|>")
    assert "<|system|>Please reason step by step" in tokenizer.decode(ids)
    assert len(positions) == 2
    with torch.no_grad():
        probs = prm.model(input_ids=torch.tensor([ids])).logits[0].softmax(-1)[positions, 1].tolist()
    assert prm.score("2 +3 *4", [STEPS])[0] == pytest.approx(probs, abs=1e-6)
