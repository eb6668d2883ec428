"""`ponder train prm` for real on stepwise rows built from ArithWorld solutions and the exact checker."""

import json
import random

import pytest
from transformers import AutoTokenizer

from ponder.data.answers import split_steps
from ponder.data.arithworld import check_steps, generate_problems
from ponder.infer.prm import load_prm
from ponder.infer.prompts import build_prompt
from ponder.train.prm import IGNORE, PRMConfig, fit_score_weights, split_questions, tokenize_row

pytestmark = pytest.mark.slow


def stepwise_rows(n: int, seed: int) -> list[dict]:
    """Correct reference solutions and copies with one corrupted result, labelled by the checker."""
    rng, rows = random.Random(seed), []
    for problem in generate_problems(n, levels=[2, 3], seed=seed):
        steps = split_steps(problem.solution)
        bad = list(steps)
        k = rng.randrange(len(bad))
        head, value = bad[k].split("=", 1)
        bad[k] = f"{head}={int(value.split()[0]) + rng.randint(1, 9)}" + (
            "\n\\boxed{0}" if "\\boxed" in value else ""
        )
        for candidate in (steps, bad):
            labels = check_steps(problem.question, candidate)
            rows.append(
                {
                    "prompt": problem.question,
                    "completions": candidate,
                    "labels": labels,
                    "soft_labels": [float(x) * 0.9 for x in labels],
                }
            )
    return rows


def test_rows_are_labelled_at_each_separator(tiny_policy):
    tokenizer = AutoTokenizer.from_pretrained(tiny_policy)
    row = {"prompt": "2 +3 *4", "completions": ["2+3=5", "5*4=21\n\\boxed{21}"], "labels": [True, False]}
    out = tokenize_row(row, tokenizer, PRMConfig(output_dir="x", report_to="none"))
    labelled = [(i, t) for i, t in enumerate(out["targets"]) if t != IGNORE]
    assert [t for _, t in labelled] == [1.0, 0.0]
    assert [tokenizer.decode([out["input_ids"][i]]) for i, _ in labelled] == ["\n", "\n"]
    assert out["input_ids"][0] == tokenizer.bos_token_id
    # the prompt is separated from the first step like a step (as prm_config.json tells the scorer)
    assert tokenizer.decode(out["input_ids"][1:9]) == "2 +3 *4\n"
    # with chat_template, the steps follow the policy's own prompt: the PRM reads them where the policy
    # wrote them
    chat = tokenize_row(row, tokenizer, PRMConfig(output_dir="x", report_to="none", chat_template=True))
    assert tokenizer.decode(chat["input_ids"]) == build_prompt(
        tokenizer, row["prompt"], partial="2+3=5\n5*4=21\n\\boxed{21}\n"
    )
    assert [chat["input_ids"][i] for i, t in enumerate(chat["targets"]) if t != IGNORE] == [
        out["input_ids"][i] for i, _ in labelled
    ]
    last_only = tokenize_row(
        row, tokenizer, PRMConfig(output_dir="x", report_to="none", train_on_last_step_only=True)
    )
    assert [t for t in last_only["targets"] if t != IGNORE] == [0.0]
    # the LM loss (head lm) predicts each next token inside steps labelled good, and nothing else
    lm = tokenize_row(
        row, tokenizer, PRMConfig(output_dir="x", report_to="none", head="lm", lm_loss_weight=1.0)
    )
    predicted = [(i, t) for i, t in enumerate(lm["next_tokens"]) if t != IGNORE]
    assert tokenizer.decode([t for _, t in predicted]) == "+3=5"
    assert all(lm["input_ids"][i + 1] == t for i, t in predicted)
    with pytest.raises(ValueError, match="2 completions but 1 labels"):
        tokenize_row({**row, "labels": [True]}, tokenizer, PRMConfig(output_dir="x", report_to="none"))


@pytest.mark.parametrize(
    "extra", [[], ["--soft_labels", "true", "--use_peft", "true"]], ids=["hard-full", "soft-lora"]
)
def test_trained_prm_loads_in_the_token_cls_scorer(tiny_policy, tmp_path, extra):
    from ponder.train.prm import main

    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in stepwise_rows(40, seed=3)))
    out = tmp_path / "prm"
    main(
        [
            "--model_name_or_path",
            str(tiny_policy),
            "--dataset",
            str(data),
            "--output_dir",
            str(out),
            "--max_steps",
            "30",
            "--per_device_train_batch_size",
            "16",
            "--learning_rate",
            "0.005",
            "--report_to",
            "none",
            "--logging_steps",
            "5",
            *extra,
        ]
    )
    history = json.loads(next(out.glob("checkpoint-*/trainer_state.json")).read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses[-1] < losses[0]  # it learns
    prm = load_prm("token-cls", model=str(out))
    rows = stepwise_rows(3, seed=8)
    scores = prm.score(rows[0]["prompt"], [rows[0]["completions"], rows[1]["completions"]])
    assert [len(s) for s in scores] == [len(rows[0]["completions"]), len(rows[1]["completions"])]
    assert all(0 <= x <= 1 for s in scores for x in s)


def test_lm_head_prm_keeps_the_language_model_and_fits_its_likelihood_weight(tiny_policy, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from ponder.infer.prm.token_cls import prefix_lm_features
    from ponder.train.prm import main

    rows = stepwise_rows(60, seed=3)
    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "prm"
    main(
        [
            "--model_name_or_path",
            str(tiny_policy),
            "--dataset",
            str(data),
            "--output_dir",
            str(out),
            "--head",
            "lm",
            "--lm_loss_weight",
            "1",
            "--likelihood_score",
            "true",
            "--score_fit_fraction",
            "0.3",
            "--max_steps",
            "20",
            "--per_device_train_batch_size",
            "16",
            "--learning_rate",
            "0.005",
            "--report_to",
            "none",
        ]
    )
    saved = json.loads((out / "prm_config.json").read_text())
    assert saved["head"] == "lm" and (saved["good_token"], saved["bad_token"]) == ("+", "-")
    assert (
        set(saved["score_weights"]) >= {"verdict", "likelihood", "least", "tokens", "bias"}
        and saved["score_weights"]["pairs"] > 0
    )
    # the PRM is still a whole causal LM, and the scorer reads it with the fitted weights
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model(torch.tensor([[1, 5, 6]])).logits.shape[-1] == len(
        AutoTokenizer.from_pretrained(tiny_policy)
    )
    prm = load_prm("token-cls", model=str(out))
    assert prm.weights == saved["score_weights"] and prm.verdict_ids is not None
    scores = prm.score(rows[0]["prompt"], [rows[0]["completions"], rows[1]["completions"]])
    assert all(0 < x < 1 for s in scores for x in s)
    # held-out questions are apart from the trained ones, whole
    train, held = split_questions(
        Dataset.from_list([{k: r[k] for k in ("prompt", "completions", "labels")} for r in rows]), 0.3, 0
    )
    assert not set(train["prompt"]) & set(held["prompt"]) and len(train) + len(held) == len(rows)
    assert len(set(held["prompt"])) == round(0.3 * len({r["prompt"] for r in rows}))
    # the prefix log-likelihood is the running sum of each step token's log-probability
    ids = torch.tensor([[1, 5, 6, 7, 8, 9]])
    logits = torch.randn(1, 6, 12)
    lp = logits.log_softmax(-1)
    expected = [0.0, 0.0, lp[0, 1, 6].item()]
    expected += [expected[-1] + lp[0, 2, 7].item(), expected[-1] + lp[0, 2, 7].item() + lp[0, 3, 8].item()]
    assert torch.allclose(
        prefix_lm_features(logits, ids, torch.tensor([2]))[0][0, :5], torch.tensor(expected)
    )


@pytest.mark.parametrize("signal", ["likelihood", "least"])
def test_score_weights_rank_one_questions_solutions_by_the_feature_that_tells_them_apart(signal):
    """Synthetic features: the verdict knows only how hard a question is, one LM feature (the
    likelihood, or the least token log-probability) which of its solutions is right, the other is
    noise. The pairwise fit weighs the informative one most, and the fitted score ranks every right
    final step above its question's wrong ones."""
    import torch

    gen = torch.Generator().manual_seed(0)
    questions = torch.arange(40).repeat_interleave(4)
    difficulty = torch.randn(40, generator=gen)[questions]
    right = torch.tensor([1.0, 0.0, 1.0, 0.0]).repeat(40)
    informative = -20 + 8 * right + torch.randn(160, generator=gen)
    noise = -20 + 3 * torch.randn(160, generator=gen)
    lm = (
        {"likelihood": informative, "least": noise}
        if signal == "likelihood"
        else {"likelihood": noise, "least": informative}
    )
    features = {
        "verdict": difficulty.double(),
        **{k: v.double() for k, v in lm.items()},
        "tokens": torch.full((160,), 12.0).double(),
        "target": right.double(),
        "question": questions.double(),
        "last": torch.ones(160).double(),
    }
    weights = fit_score_weights(features)
    other = "least" if signal == "likelihood" else "likelihood"
    assert (
        weights[signal] > 0 and abs(weights[signal]) > 5 * abs(weights[other]) and weights["pairs"] == 40 * 4
    )
    score = (
        weights["verdict"] * difficulty
        + weights["likelihood"] * lm["likelihood"]
        + weights["least"] * lm["least"]
        + weights["tokens"] * 12
        + weights["bias"]
    )
    for q in range(40):
        s, r = score[questions == q], right[questions == q]
        assert s[r == 1].min() > s[r == 0].max()


def test_likelihood_features_skip_the_prompt_and_the_separators():
    """The sum and the least token log-probability count step tokens only: not the prompt, and not
    the separator that the scorer writes after each step (after the last one the policy wrote its
    end of text instead, so its LM finds that separator unlikely whatever the steps)."""
    import torch

    from ponder.infer.prm.token_cls import prefix_lm_features, separator_positions

    ids = torch.tensor([[1, 5, 6, 9, 9, 7, 9, 9]])  # prompt [1, 5], steps [6] and [7], separator [9, 9]
    assert separator_positions(ids, [9, 9]).tolist() == [[False, False, False, True, True, False, True, True]]
    logits = torch.randn(1, 8, 12)
    # the separators get a very unlikely next-token log-probability: it must not count
    logits[0, 2, 9] = logits[0, 6, 9] = -50.0
    lp = logits.log_softmax(-1)
    step6, step7 = lp[0, 1, 6].item(), lp[0, 4, 7].item()
    total, least = (feature[0] for feature in prefix_lm_features(logits, ids, torch.tensor([2]), [9, 9]))
    assert torch.allclose(total[[4, 7]], torch.tensor([step6, step6 + step7]))
    assert torch.allclose(least[[4, 7]], torch.tensor([step6, min(step6, step7)]))
    assert (
        prefix_lm_features(logits, ids, torch.tensor([2]))[1][0, 4] < -40
    )  # counted without the separator ids


def test_prm_head_options_are_checked():
    with pytest.raises(ValueError, match="lm_loss_weight"):
        PRMConfig(output_dir="x", report_to="none", lm_loss_weight=1.0)
    with pytest.raises(ValueError, match="likelihood_score"):
        PRMConfig(output_dir="x", report_to="none", likelihood_score=True)
    with pytest.raises(ValueError, match="head"):
        PRMConfig(output_dir="x", report_to="none", head="value")


def test_missing_columns_fail_in_one_line(tiny_policy, tmp_path):
    import subprocess
    import sys

    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"prompt": "1 +1", "steps": ["1+1=2"]}) + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ponder",
            "train",
            "prm",
            "--model_name_or_path",
            str(tiny_policy),
            "--dataset",
            str(data),
            "--report_to",
            "none",
            "--output_dir",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "completions" in result.stderr and "Traceback" not in result.stderr
