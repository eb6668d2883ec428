"""The token-cls PRM on a tiny randomly initialised token classifier, and the PRM registry."""

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
