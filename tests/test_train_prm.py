"""`ponder train prm` for real on stepwise rows built from ArithWorld solutions and the exact checker."""

import json
import random

import pytest
from transformers import AutoTokenizer

from ponder.data.arithworld import check_steps, generate_problems
from ponder.data.answers import split_steps
from ponder.infer.prm import load_prm
from ponder.train.prm import IGNORE, PRMConfig, tokenize_row

pytestmark = pytest.mark.slow


def stepwise_rows(n: int, seed: int) -> list[dict]:
    """Correct reference solutions and copies with one corrupted result, labelled by the checker."""
    rng, rows = random.Random(seed), []
    for problem in generate_problems(n, levels=[2, 3], seed=seed):
        steps = split_steps(problem.solution)
        bad = list(steps)
        k = rng.randrange(len(bad))
        head, value = bad[k].split("=", 1)
        bad[k] = f"{head}={int(value.split()[0]) + rng.randint(1, 9)}" + ("\n\\boxed{0}" if "\\boxed" in value else "")
        for candidate in (steps, bad):
            labels = check_steps(problem.question, candidate)
            rows.append({"prompt": problem.question, "completions": candidate, "labels": labels,
                         "soft_labels": [float(x) * 0.9 for x in labels]})
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
    last_only = tokenize_row(row, tokenizer, PRMConfig(output_dir="x", report_to="none", train_on_last_step_only=True))
    assert [t for t in last_only["targets"] if t != IGNORE] == [0.0]
    with pytest.raises(ValueError, match="2 completions but 1 labels"):
        tokenize_row({**row, "labels": [True]}, tokenizer, PRMConfig(output_dir="x", report_to="none"))


@pytest.mark.parametrize("extra", [[], ["--soft_labels", "true", "--use_peft", "true"]], ids=["hard-full", "soft-lora"])
def test_trained_prm_loads_in_the_token_cls_scorer(tiny_policy, tmp_path, extra):
    from ponder.train.prm import main

    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in stepwise_rows(40, seed=3)))
    out = tmp_path / "prm"
    main(["--model_name_or_path", str(tiny_policy), "--dataset", str(data), "--output_dir", str(out),
          "--max_steps", "30", "--per_device_train_batch_size", "16", "--learning_rate", "0.005",
          "--report_to", "none", "--logging_steps", "5", *extra])
    history = json.loads(next(out.glob("checkpoint-*/trainer_state.json")).read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses[-1] < losses[0]  # it learns
    prm = load_prm("token-cls", model=str(out))
    rows = stepwise_rows(3, seed=8)
    scores = prm.score(rows[0]["prompt"], [rows[0]["completions"], rows[1]["completions"]])
    assert [len(s) for s in scores] == [len(rows[0]["completions"]), len(rows[1]["completions"])]
    assert all(0 <= x <= 1 for s in scores for x in s)


def test_missing_columns_fail_in_one_line(tiny_policy, tmp_path):
    import subprocess
    import sys

    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"prompt": "1 +1", "steps": ["1+1=2"]}) + "\n")
    result = subprocess.run([sys.executable, "-m", "ponder", "train", "prm", "--model_name_or_path", str(tiny_policy),
                             "--dataset", str(data), "--report_to", "none", "--output_dir", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "completions" in result.stderr and "Traceback" not in result.stderr
