"""`ponder data distill` and `ponder train distill` for real: the shipped ArithWorld policy searches
a few problems with the oracle PRM, its results become SFT rows and DPO pairs, and short SFT and
DPO runs (full and LoRA) train on them."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ponder.data import extract_boxed, grade
from ponder.data.results import aggregate, read_results, results_problems
from ponder.infer.prompts import build_prompt
from ponder.models import SHIPPED_POLICY

pytestmark = pytest.mark.slow

POLICY = SHIPPED_POLICY
REPO = Path(__file__).resolve().parents[1]
MAX_ROWS, MAX_PAIRS = 3, 3


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def distil(results: Path, out: Path, *extra: str) -> Path:
    from ponder.data.distill import main

    main(
        [
            "--results",
            str(results),
            "--output_dir",
            str(out),
            "--max_per_problem",
            str(MAX_ROWS),
            "--max_pairs_per_problem",
            str(MAX_PAIRS),
            *extra,
        ]
    )
    return out


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> Path:
    """Real `ponder infer` results: 2 problems per level, majority and weighted best-of-N at N = 4, 8."""
    from ponder.infer.run import main

    out = tmp_path_factory.mktemp("search")
    main(
        [
            "--model",
            str(POLICY),
            "--prm",
            "oracle",
            "--strategies",
            "majority",
            "weighted_best_of_n",
            "--budgets",
            "4",
            "8",
            "--per_level",
            "2",
            "--seed",
            "3",
            "--output_dir",
            str(out),
        ]
    )
    return out


@pytest.fixture(scope="module")
def finished(search) -> dict[str, dict[str, list[float]]]:
    """problem id -> text -> PRM scores, of every trajectory search finished with an answer."""
    out: dict[str, dict[str, list[float]]] = {}
    for row in read_results(search / "results.jsonl"):
        for t in row.trajectories:
            if t.finish_reason != "length" and t.answer is not None:
                out.setdefault(row.problem_id, {})[t.text] = t.scores
    return out


@pytest.fixture(scope="module")
def distilled(search, tmp_path_factory) -> Path:
    return distil(search, tmp_path_factory.mktemp("distilled"))


def test_sft_rows_are_verified_distinct_search_trajectories_of_the_search_prompt(search, finished, distilled):
    problems = results_problems(search)
    tokenizer = AutoTokenizer.from_pretrained(POLICY)
    rows = read_jsonl(distilled / "sft.jsonl")
    assert rows
    for row in rows:
        problem, text = problems[row["problem_id"]], row["completion"][0]["content"]
        assert (
            row["prompt"] == [{"role": "user", "content": problem.question}] and row["level"] == problem.level
        )
        # through the chat template the prompt is exactly the one search sent
        assert tokenizer.apply_chat_template(
            row["prompt"], tokenize=False, add_generation_prompt=True
        ) == build_prompt(tokenizer, problem.question)
        assert text in finished[problem.id]  # as generated, ending in its boxed answer
        assert text.endswith(f"\\boxed{{{extract_boxed(text)}}}") and grade(text, problem.answer)
    keys = [(r["problem_id"], r["completion"][0]["content"]) for r in rows]
    assert len(set(keys)) == len(keys)
    assert max(Counter(pid for pid, _ in keys).values()) <= MAX_ROWS
    # every problem with a correct finished trajectory that the PRM does not reject has rows, best
    # PRM score first; a right answer reached by a wrong step (score below 0.5) is never kept
    solved = {
        pid
        for pid, texts in finished.items()
        if any(
            grade(text, problems[pid].answer) and aggregate(scores, "last") >= 0.5
            for text, scores in texts.items()
        )
    }
    assert {pid for pid, _ in keys} == solved
    for pid in solved:
        scores = [aggregate(finished[pid][text], "last") for p, text in keys if p == pid]
        assert scores == sorted(scores, reverse=True) and min(scores) >= 0.5
    summary = json.loads((distilled / "summary.json").read_text())
    assert (
        summary["problems"] == 10
        and summary["problems_with_good"] == len(solved)
        and summary["sft_rows"] == len(rows)
    )


def test_pairs_set_a_correct_against_an_incorrect_trajectory_of_the_same_problem(search, finished, distilled):
    problems = results_problems(search)
    pairs = read_jsonl(distilled / "pairs.jsonl")
    assert pairs, "search on levels 3-5 at N = 8 leaves wrong samples to reject"
    for pair in pairs:
        problem = problems[pair["problem_id"]]
        chosen, rejected = pair["chosen"][0]["content"], pair["rejected"][0]["content"]
        assert pair["prompt"][-1]["content"] == problem.question
        assert chosen in finished[problem.id] and rejected in finished[problem.id]
        assert grade(chosen, problem.answer) and not grade(rejected, problem.answer)
    keys = [(p["problem_id"], p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs]
    assert len(set(keys)) == len(keys)
    assert max(Counter(k[0] for k in keys).values()) <= MAX_PAIRS


def test_prm_top_selects_by_score_without_references(search, finished, tmp_path):
    """Rows whose references are blanked give the same prm_top rows, and no verified ones."""
    blind = tmp_path / "blind"
    blind.mkdir()
    (blind / "config.json").write_text((search / "config.json").read_text())
    rows = [
        {**json.loads(line), "reference": "", "correct": False}
        for line in (search / "results.jsonl").read_text().splitlines()
    ]
    (blind / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    top = read_jsonl(distil(search, tmp_path / "top", "--selection", "prm_top") / "sft.jsonl")
    assert (
        top
        and read_jsonl(distil(blind, tmp_path / "blind_top", "--selection", "prm_top") / "sft.jsonl") == top
    )
    assert read_jsonl(distil(blind, tmp_path / "blind_verified") / "sft.jsonl") == []
    for row in top:
        assert aggregate(finished[row["problem_id"]][row["completion"][0]["content"]], "last") >= 0.5
    pairs = read_jsonl(tmp_path / "top" / "pairs.jsonl")
    for pair in pairs:
        scores = finished[pair["problem_id"]]
        assert (
            aggregate(scores[pair["chosen"][0]["content"]], "last")
            >= 0.5
            > aggregate(scores[pair["rejected"][0]["content"]], "last")
        )


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """A rejection-sampling pool: 8 of the shipped policy's own samples per problem, no PRM."""
    from ponder.infer.run import main

    out = tmp_path_factory.mktemp("pool")
    main(
        ["--model", str(POLICY), "--strategies", "majority", "--budgets", "8", "--per_level", "2"]
        + ["--seed", "3", "--wandb", "false", "--output_dir", str(out)]
    )
    return out


def test_first_n_keeps_every_right_answer_among_a_pools_first_samples(pool, tmp_path):
    """The control arm of distillation: unscored samples graded by their final answer only, every
    distinct right one kept (shortest first), from the first N samples of a larger pool."""
    problems = results_problems(pool)
    rows = read_results(pool / "results.jsonl")
    assert {len(r.trajectories) for r in rows} == {8} and not any(
        t.scores for r in rows for t in r.trajectories
    )

    def expected(n: int) -> dict[str, list[str]]:
        out = {}
        for row in rows:
            right = [
                t.text
                for t in row.trajectories[:n]
                if t.finish_reason != "length"
                and t.answer is not None
                and grade(t.text, problems[row.problem_id].answer)
            ]
            if right:
                out[row.problem_id] = sorted(dict.fromkeys(right), key=len)  # first of each text, stable
        return out

    def kept(*extra: str) -> dict[str, list[str]]:
        out = {}
        for row in read_jsonl(
            distil(pool, tmp_path / "_".join(extra or ("all",)), "--max_per_problem", "8", *extra)
            / "sft.jsonl"
        ):
            out.setdefault(row["problem_id"], []).append(row["completion"][0]["content"])
        return out

    first4, every = kept("--first_n", "4"), kept()
    assert first4 == expected(4) and every == expected(8)
    # the wrong answers too (pairs' rejected side) come from the first 4 samples only, and the
    # later samples add some: first_n cuts the pool rather than the rows it yields
    first_texts = {r.problem_id: {t.text for t in r.trajectories[:4]} for r in rows}
    pairs4 = read_jsonl(tmp_path / "--first_n_4" / "pairs.jsonl")
    assert all(p["rejected"][0]["content"] in first_texts[p["problem_id"]] for p in pairs4)
    assert len(pairs4) < len(read_jsonl(tmp_path / "all" / "pairs.jsonl"))
    with pytest.raises(ValueError, match="first_n: must be >= 1"):
        distil(pool, tmp_path / "bad", "--first_n", "0")


def test_a_folder_without_results_fails_in_one_line_naming_it(tmp_path, capsys):
    from ponder.cli import main

    for folder in (tmp_path / "missing", tmp_path):
        with pytest.raises(SystemExit) as exit_info:
            main(["data", "distill", "--results", str(folder), "--output_dir", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and str(folder) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "distill", "--help"],
        ["train", "distill", "--help"],
        ["train", "distill", "--method", "dpo", "--help"],
    ],
)
def test_help_exits_0(argv, capsys):
    from ponder.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert ("--beta" in out) == ("dpo" in argv)


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_recipes_parse_into_their_method_config(method, monkeypatch):
    from ponder.config import parse_config
    from ponder.train.distill import CONFIGS, config_types

    monkeypatch.chdir(REPO)  # the recipes name the shipped policy by a relative path
    argv = ["--config", f"configs/train/distill_{method}.yaml"]
    args, config = parse_config(config_types(argv), argv)
    assert args.method == method and type(config) is CONFIGS[method] and not config.bf16


def weights_changed(folder: Path) -> bool:
    base, trained = AutoModelForCausalLM.from_pretrained(POLICY), AutoModelForCausalLM.from_pretrained(folder)
    assert trained.config.model_type == "llama"
    trained_params = dict(trained.named_parameters())
    return any(not torch.equal(p, trained_params[name]) for name, p in base.named_parameters())


@pytest.mark.parametrize(
    "method,lora", [("sft", True), ("dpo", True), ("dpo", False)], ids=["sft-lora", "dpo-lora", "dpo-full"]
)
def test_training_saves_a_plain_loadable_model_folder(distilled, tmp_path, method, lora):
    from ponder.train.distill import main

    out = tmp_path / "model"
    main(
        [
            "--method",
            method,
            "--model_name_or_path",
            str(POLICY),
            "--dataset",
            str(distilled),
            "--use_peft",
            str(lora).lower(),
            "--max_steps",
            "3",
            "--report_to",
            "none",
            "--output_dir",
            str(out),
        ]
    )
    assert not list(out.glob("adapter_*")), "the LoRA must be merged into the saved weights"
    assert weights_changed(out)
    record = json.loads((out / "eval_results.json").read_text())
    assert record["method"] == method and record["rows"] == len(
        read_jsonl(distilled / ("sft.jsonl" if method == "sft" else "pairs.jsonl"))
    )


def test_full_sft_learns_resumes_logs_and_compares_with_the_base(distilled, tmp_path):
    from ponder.train.distill import main

    common = [
        "--model_name_or_path",
        str(POLICY),
        "--dataset",
        str(distilled),
        "--output_dir",
        str(tmp_path),
        "--learning_rate",
        "0.001",
        "--per_device_train_batch_size",
        "4",
        "--logging_steps",
        "3",
        "--save_steps",
        "9",
        "--save_total_limit",
        "2",
        "--report_to",
        "none",
        "--eval_per_level",
        "2",
    ]
    main(
        common + ["--max_steps", "9", "--eval_per_level", "0"]
    )  # stands for a run killed right after checkpoint-9
    first = json.loads((tmp_path / "checkpoint-9" / "trainer_state.json").read_text())["log_history"]
    main(common + ["--max_steps", "18", "--report_to", "wandb"])
    history = json.loads((tmp_path / "checkpoint-18" / "trainer_state.json").read_text())["log_history"]
    assert history[: len(first)] == first  # resumed, not restarted
    assert history[0] == {"lr_batch_ratio": 0.001 / 4, "step": 0}
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) == 6 and losses[-1] < losses[0]
    record = json.loads((tmp_path / "eval_results.json").read_text())
    assert record["lr_batch_ratio"] == 0.001 / 4
    for name in ("base", "distilled"):
        assert [s["level"] for s in record["levels"][name]] == [1, 2, 3, 4, 5]
    from helpers.wandb_offline import config_keys, finished_runs, history_keys

    runs = finished_runs()
    assert any("lr_batch_ratio" in config_keys(run) for run in runs), (
        "lr_batch_ratio is not in a W&B run's config"
    )
    assert any({"lr_batch_ratio", "eval/greedy_L1"} <= history_keys(run) for run in runs)


def test_runs_under_accelerate_launch(distilled, tmp_path):
    out = tmp_path / "model"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "1",
        "--cpu",
        "-m",
        "ponder.train.distill",
        "--model_name_or_path",
        str(POLICY),
        "--dataset",
        str(distilled),
        "--max_steps",
        "2",
        "--report_to",
        "none",
        "--output_dir",
        str(out),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.safetensors").exists() and (out / "eval_results.json").exists()


def test_evolve_options_are_checked():
    from ponder.pipelines.evolve import EvolveArguments

    assert (
        EvolveArguments(prm="oracle", search_strategy="beam_search", distill_max_steps=5).search_strategy
        == "beam_search"
    )
    with pytest.raises(ValueError, match="search_strategy: unknown 'compute_optimal'"):
        EvolveArguments(prm="oracle", search_strategy="compute_optimal")
    with pytest.raises(ValueError, match="distill_max_steps"):
        EvolveArguments(prm="oracle", distill_max_steps=0)
    with pytest.raises(ValueError, match="distill_learning_rate"):
        EvolveArguments(prm="oracle", distill_learning_rate=0.0)
    with pytest.raises(ValueError, match="prm_base: only used with relabel_prm"):
        EvolveArguments(prm="oracle", prm_base="ponder/checkpoints/ladder/policy")
    with pytest.raises(ValueError, match="prm_base: no model folder './no-such-lm'"):
        EvolveArguments(prm="token-cls", prm_model="outputs/prm", relabel_prm=True, prm_base="./no-such-lm")
    # a round searches the train split of its world, and is evaluated on that world unless told
    assert EvolveArguments(prm="oracle", world="countdown").eval_dataset == "countdown"
    assert EvolveArguments(prm="oracle", world="countdown", eval_dataset="x.jsonl").eval_dataset == "x.jsonl"
    with pytest.raises(ValueError, match="world: unknown 'chess'"):
        EvolveArguments(prm="oracle", world="chess")
    assert EvolveArguments(prm="oracle", eval_split="dev").eval_split == "dev"  # for choosing a recipe
    with pytest.raises(ValueError, match="eval_split: expected 'test' or 'dev'"):
        EvolveArguments(prm="oracle", eval_split="train")  # an evaluation on trained-on questions


def test_evolve_relabels_steps_and_retrains_the_prm_from_prm_base(tiny_policy, tmp_path):
    """A round with relabel_prm: the new policy's rollouts label steps, the PRM is trained from
    `prm_base` (here the tiny policy: another architecture than the distilled one, so the saved
    config tells which base it came from), and the round is evaluated with that new PRM."""
    from ponder.config import recipe
    from ponder.models import SHIPPED_VERIFIER
    from ponder.pipelines.evolve import EvolveArguments
    from ponder.pipelines.evolve import run as evolve
    from ponder.train.prm import main as train_prm_main
    from ponder.train.prm_labels import main as label_main

    # round 0's PRM: the recipe at a small size (its scores must pass distillation's min_score)
    label_main(
        [
            "--config",
            str(recipe("data", "prm_labels.yaml")),
            "--model",
            str(SHIPPED_POLICY),
            "--per_level",
            "4",
            "--rollouts",
            "2",
            "--output_dir",
            str(tmp_path / "labels0"),
        ]
    )
    train_prm_main(
        [
            "--config",
            str(recipe("train", "prm.yaml")),
            "--model_name_or_path",
            str(SHIPPED_VERIFIER),
            "--dataset",
            str(tmp_path / "labels0" / "labels.jsonl"),
            "--output_dir",
            str(tmp_path / "prm0"),
            "--report_to",
            "none",
        ]
    )
    rounds = evolve(
        EvolveArguments(
            policy=str(SHIPPED_POLICY),
            prm="token-cls",
            prm_model=str(tmp_path / "prm0"),
            rounds=1,
            train_per_level=2,
            budget=2,
            distill_max_steps=2,
            distill_learning_rate=5e-5,
            relabel_prm=True,
            label_per_level=1,
            prm_base=str(tiny_policy),
            eval_per_level=1,
            output_dir=str(tmp_path / "evolve"),
        )
    )
    round1 = tmp_path / "evolve" / "round-1"
    assert read_jsonl(round1 / "prm-labels" / "labels.jsonl")  # labelled by the distilled policy's rollouts
    assert (round1 / "policy" / "trained_on_rows.txt").is_file()  # what a resumed round checks
    hidden = {
        name: json.loads((folder / "config.json").read_text())["hidden_size"]
        for name, folder in (("prm", round1 / "prm"), ("base", tiny_policy), ("policy", round1 / "policy"))
    }
    assert hidden["prm"] == hidden["base"] != hidden["policy"]
    assert json.loads((round1 / "eval" / "config.json").read_text())["prm_model"] == str(round1 / "prm")
    assert [r["round"] for r in rounds] == [0, 1] and rounds[1]["relabel_s"] > 0
    assert all(r["greedy_problems"] == r["search_problems"] == 5 for r in rounds)  # 1 per level


def test_a_resumed_round_reuses_its_policy_only_if_it_learned_the_same_rows_with_the_same_recipe(tmp_path):
    from ponder.errors import ConfigError
    from ponder.pipelines.evolve import record_rows, trained_on

    policy, data = tmp_path / "policy", tmp_path / "data"
    policy.mkdir(), data.mkdir()
    (data / "sft.jsonl").write_text('{"row": 1}\n')
    assert not trained_on(policy, data)  # nothing trained yet
    (policy / "config.json").write_text("{}")
    assert trained_on(policy, data)  # a folder from before records were kept is taken as it is
    record_rows(policy, data)
    assert trained_on(policy, data)
    (data / "sft.jsonl").write_text('{"row": 1}\n{"row": 2}\n')  # the round's rows changed since
    with pytest.raises(ConfigError, match="distilled from other rows"):
        trained_on(policy, data)
    recipe = {"method": "sft", "max_steps": 50, "learning_rate": 1e-4}
    record_rows(policy, data)  # a record from before recipes were recorded: checked on its rows
    assert trained_on(policy, data, recipe)
    record_rows(policy, data, recipe)
    assert trained_on(policy, data, recipe)
    with pytest.raises(ConfigError, match="with another recipe"):  # same rows, other steps: train again
        trained_on(policy, data, {**recipe, "max_steps": 200})
