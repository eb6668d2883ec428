"""`ponder eval prm`: AUROC and ProcessBench's metric, checked with scorers whose predictions are known."""

import itertools
import json
import random

import pytest
from helpers.wandb_offline import finished_runs, history_keys, run_record

from ponder.data.stepwise import load_stepwise
from ponder.infer.eval_prm import auroc, main
from ponder.infer.prm.base import PRMS, register
from ponder.models import SHIPPED_POLICY


def test_auroc_is_the_pairwise_ranking_probability():
    assert auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5] * 4, [True, False, True, False]) == 0.5
    assert auroc([0.3, 0.7], [True, True]) is None
    rng = random.Random(0)
    scores = [rng.choice([0.1, 0.2, 0.3, 0.4]) for _ in range(60)]
    labels = [rng.random() < 0.4 for _ in range(60)]
    pairs = [(p, n) for p, n in itertools.product(range(60), repeat=2) if labels[p] and not labels[n]]
    brute = sum(
        1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs
    ) / len(pairs)
    assert auroc(scores, labels) == pytest.approx(brute)


class KnownScorer:
    """Scores decided in advance from the labels, to check the metric, not a model."""

    num_parameters = 0
    rule = "perfect"
    labels: dict[tuple[str, tuple[str, ...]], list[bool]] = {}

    def __init__(self, model=None, trust_remote_code=False, **_):
        pass

    def score(self, question, step_lists):
        out = []
        for steps in step_lists:
            truth = self.labels[(question, tuple(steps))]
            if self.rule == "perfect":
                out.append([0.9 if ok else 0.1 for ok in truth])
            elif self.rule == "all-good":
                out.append([0.9] * len(steps))
            else:  # "first-wrong": every solution is flagged at its first step
                out.append([0.1] * len(steps))
        return out


@pytest.fixture
def known_scorer():
    register("known-test")(KnownScorer)
    yield KnownScorer
    del PRMS["known-test"]


@pytest.mark.parametrize("rule", ["perfect", "all-good", "first-wrong"])
def test_processbench_metric_with_known_predictions(shared_data, known_scorer, tmp_path, rule):
    path = shared_data / "processbench" / "gsm8k.json"
    raw = json.loads(path.read_text())
    known_scorer.labels = {(r["prompt"], tuple(r["completions"])): r["labels"] for r in load_stepwise(path)}
    known_scorer.rule = rule
    before = set(finished_runs())
    table = main(
        [
            "--prm",
            "known-test",
            "--prm_model",
            "",
            "--dataset",
            str(path),
            "--output",
            str(tmp_path / "out.json"),
        ]
    )
    (scores,) = table
    erroneous = [r for r in raw if r["label"] != -1]
    assert (
        scores.solutions == 400 and len(erroneous) == 207
    )  # ProcessBench's GSM8K split: 207 erroneous, 193 correct
    expected = {
        "perfect": (1.0, 1.0, 1.0, 1.0),
        "all-good": (0.0, 1.0, 0.0, 0.5),
        "first-wrong": (sum(r["label"] == 0 for r in erroneous) / 207, 0.0, 0.0, 0.5),
    }[rule]
    assert (scores.error_accuracy, scores.correct_accuracy, scores.f1, scores.auroc) == pytest.approx(
        expected
    )
    # the questions behind each figure: within-question AUROC only counts those with a right and a
    # wrong solution; these scores do not vary with the questions drawn, so neither do their intervals
    finals: dict[str, set[bool]] = {}
    for r in load_stepwise(path):
        finals.setdefault(r["prompt"], set()).add(r["labels"][-1])
    assert scores.questions == len(finals) and 300 < len(finals) <= 400
    assert scores.within_questions == sum(len(f) == 2 for f in finals.values())
    assert (scores.within_auroc is None) == (scores.within_questions == 0)
    assert (scores.auroc_low, scores.auroc_high, scores.f1_low, scores.f1_high) == pytest.approx(
        (expected[3], expected[3], expected[2], expected[2])
    )
    if rule == "perfect":
        assert scores.within_auroc in (1.0, None)
        # reliability: the 0.1 bin holds exactly the bad steps, the 0.9 bin the good ones
        assert [v for s, good, _ in scores.calibration for v in (s, good)] == pytest.approx(
            [0.1, 0.0, 0.9, 1.0]
        )
        assert sum(n for *_, n in scores.calibration) == scores.steps
        assert (tmp_path / "out_calibration.png").stat().st_size > 0
        # logged to W&B: the table, the overall metrics and the calibration plot
        (run,) = set(finished_runs()) - before
        assert run_record(run).job_type == "eval-prm"
        assert {"prm/table/_type", "prm/auroc", "prm/f1", "plots/out_calibration/_type"} <= history_keys(run)
    elif rule == "all-good":
        assert scores.within_auroc in (0.5, None)
    assert json.loads((tmp_path / "out.json").read_text())["scores"][0]["f1"] == pytest.approx(expected[2])


def test_oracle_prm_is_perfect_on_checked_arithworld_steps(tmp_path):
    # the shipped policy: right on easy levels, often wrong on hard ones, so both kinds of step occur
    table = main(
        [
            "--prm",
            "oracle",
            "--policy",
            str(SHIPPED_POLICY),
            "--per_level",
            "4",
            "--samples_per_problem",
            "2",
            "--max_tokens",
            "60",
            "--output",
            str(tmp_path / "out.json"),
        ]
    )
    overall = table[-1]
    assert overall.group == "all" and [s.group for s in table[:-1]] == [f"level {lv}" for lv in range(1, 6)]
    assert (
        30 <= overall.solutions <= 40
        and overall.auroc == 1.0
        and overall.step_accuracy == 1.0
        and overall.f1 == 1.0
    )
    assert overall.within_auroc in (1.0, None)
    assert overall.questions == sum(s.questions for s in table[:-1]) <= 20  # 4 problems x 5 levels
    assert all(0 <= s.within_questions <= s.questions for s in table)
    assert (overall.within_auroc is None) == (overall.within_questions == 0)
    assert overall.auroc_low == overall.auroc_high == 1.0


def test_within_question_auroc_ignores_how_hard_each_question_is():
    from ponder.infer.eval_prm import LabelledSolution, summarise, within_question_auroc

    def sol(question, ok, score):
        return LabelledSolution(question, ["step"], [ok], scores=[score])

    # pooled, "easy" scores high and "hard" low, which looks good;
    # inside each question it ranks backwards once
    solutions = [
        sol("easy", True, 0.9),
        sol("easy", False, 0.8),
        sol("hard", True, 0.1),
        sol("hard", False, 0.3),
        sol("alone", True, 0.5),
    ]
    assert within_question_auroc(solutions) == 0.5
    assert within_question_auroc([sol("q", True, 0.9)]) is None
    # two questions count; resampling them gives anything from "hard" alone (0) to "easy" alone (1)
    scores = summarise("all", solutions, 0.5)
    assert (scores.questions, scores.within_questions) == (3, 2)
    assert (scores.within_low, scores.within_high) == (0.0, 1.0)


def test_bootstrap_auroc_weighs_steps_like_the_rank_sum():
    from ponder.infer.eval_prm import LabelledSolution, bootstrap_intervals

    rng = random.Random(1)
    solutions = [
        LabelledSolution("q", ["a", "b"], [rng.random() < 0.6, rng.random() < 0.4], scores=[0.1, 0.3])
        for _ in range(30)
    ]
    for s in solutions:
        s.scores = [rng.choice([0.1, 0.2, 0.3, 0.4]) for _ in s.steps]  # ties on purpose
    pooled = auroc([x for s in solutions for x in s.scores], [y for s in solutions for y in s.labels])
    # one question: every draw is the whole set, so the interval is the AUROC itself
    intervals = bootstrap_intervals(solutions, 0.5)
    assert intervals["auroc_low"] == pytest.approx(pooled) and intervals["auroc_high"] == pytest.approx(
        pooled
    )
    # one draw per question: the interval holds the estimate and is not a point
    for i, s in enumerate(solutions):
        s.question = f"q{i}"
    intervals = bootstrap_intervals(solutions, 0.5)
    assert intervals["auroc_low"] < pooled < intervals["auroc_high"]
