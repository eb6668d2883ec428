"""A trained difficulty predictor: the question alone in, a difficulty bin (1 = easiest) out.

`ponder train difficulty` writes a sequence-classification folder plus `difficulty_config.json`
(the number of bins, the label it learnt, and how a question is laid out as tokens); this module
loads it back and lays questions out with the same `encode_question`, so a predictor never reads
questions differently from how it was trained. The router bins problems with

    load_difficulty_predictor(path).predict([p.question for p in problems])

before any policy compute is spent. The metrics the trainer reports on held-out problems
(`difficulty_metrics`) are pure functions here, beside the predictor they judge.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from ponder.errors import ConfigError

CONFIG_FILE = "difficulty_config.json"


@dataclass
class PredictorConfig:
    """What a predictor folder needs besides its weights; saved as `difficulty_config.json`."""

    num_bins: int  # classes are bins 1..num_bins, stored as class ids 0..num_bins-1
    label: str  # what the bins mean: "bin" (pass-rate quantiles) or "level" (a dataset's levels)
    max_length: int  # questions are cut to this many tokens
    chat_template: bool  # the question is the user turn of the tokenizer's chat template

    def save(self, folder: str | Path) -> None:
        Path(folder, CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> PredictorConfig:
        path = Path(folder, CONFIG_FILE)
        if not path.is_file():
            raise ConfigError(
                f"{folder}: no {CONFIG_FILE} (train the predictor with `ponder train difficulty`)"
            )
        return cls(**json.loads(path.read_text()))


def encode_question(tokenizer, question: str, chat_template: bool, max_length: int) -> list[int]:
    """Token ids the classifier reads for `question`: [bos] + question, or the chat template's user
    turn with the assistant turn opened (as a policy reads it). The class is read at the last token."""
    if chat_template:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        ids = tokenizer.encode(text, add_special_tokens=False)
    else:
        bos = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
        ids = bos + tokenizer.encode(question, add_special_tokens=False)
    return ids[:max_length]


def pad_batch(rows: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input_ids and attention_mask. Sequence classification pools the rightmost
    token that is not `pad_id` (the model config's pad_token_id), so that must be this same id."""
    width = max(len(ids) for ids in rows)
    return {
        "input_ids": torch.tensor([ids + [pad_id] * (width - len(ids)) for ids in rows]),
        "attention_mask": torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in rows]),
    }


class DifficultyPredictor:
    """A sequence classifier over questions; bins are 1..num_bins, 1 = easiest."""

    def __init__(self, model: PreTrainedModel, tokenizer, config: PredictorConfig, batch_size: int = 32):
        self.model, self.tokenizer, self.config, self.batch_size = model.eval(), tokenizer, config, batch_size

    @torch.inference_mode()
    def probabilities(self, questions: list[str]) -> list[list[float]]:
        """P(bin k) for k = 1..num_bins, one list per question, in the order given."""
        encoded = [
            encode_question(self.tokenizer, q, self.config.chat_template, self.config.max_length)
            for q in questions
        ]
        order = sorted(
            range(len(encoded)), key=lambda i: len(encoded[i])
        )  # batches of similar length pad less
        starts = range(0, len(order), self.batch_size)
        out: list[list[float]] = [[] for _ in questions]
        for start in tqdm(starts, desc="difficulty", disable=len(starts) < 8, leave=False):
            rows = order[start : start + self.batch_size]
            batch = pad_batch([encoded[i] for i in rows], self.model.config.pad_token_id)
            logits = self.model(**{k: v.to(self.model.device) for k, v in batch.items()}).logits
            for i, probs in zip(rows, logits.float().softmax(-1).tolist()):
                out[i] = probs
        return out

    def predict(self, questions: list[str]) -> list[int]:
        """The most likely bin (1..num_bins) of each question."""
        return [most_likely_bin(p) for p in self.probabilities(questions)]


def load_difficulty_predictor(
    folder: str | Path, batch_size: int = 32, device: str | None = None
) -> DifficultyPredictor:
    """The predictor that `ponder train difficulty` saved in `folder`."""
    config = PredictorConfig.load(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
    if model.config.pad_token_id is None:
        raise ConfigError(
            f"{folder}: the model config has no pad_token_id, "
            "so the last token of a padded batch cannot be found"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return DifficultyPredictor(model.to(device), tokenizer, config, batch_size)


# --- metrics on held-out problems (pure functions) ---


def most_likely_bin(probabilities: list[float]) -> int:
    return 1 + max(range(len(probabilities)), key=probabilities.__getitem__)


def expected_bin(probabilities: list[float]) -> float:
    """Σ p_k·k: a continuous difficulty that ranks questions inside a bin too."""
    return sum(k * p for k, p in enumerate(probabilities, start=1))


def average_ranks(values: list[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (Pearson's on average ranks, so ties are handled as scipy
    does); NaN when either side is constant. scipy is not a dependency, hence by hand."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} values against {len(y)}")
    rx, ry = average_ranks(x), average_ranks(y)
    mean = (len(x) + 1) / 2  # the mean of average ranks is always this
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry))
    var_x, var_y = sum((a - mean) ** 2 for a in rx), sum((b - mean) ** 2 for b in ry)
    return cov / math.sqrt(var_x * var_y) if var_x and var_y else math.nan


def difficulty_metrics(
    probabilities: list[list[float]], true_bins: list[int], pass_rates: list[float | None] | None = None
) -> dict[str, float]:
    """accuracy (most likely bin == true bin), within_one (off by at most one bin), and spearman
    between the expected bin and the true difficulty: -pass_rate when every problem has one (the
    finer truth that bins quantise), else the true bin. Positive is good for all three."""
    predicted = [most_likely_bin(p) for p in probabilities]
    truth = [-r for r in pass_rates] if pass_rates and all(r is not None for r in pass_rates) else true_bins
    return {
        "accuracy": sum(p == t for p, t in zip(predicted, true_bins)) / len(true_bins),
        "within_one": sum(abs(p - t) <= 1 for p, t in zip(predicted, true_bins)) / len(true_bins),
        "spearman": spearman([expected_bin(p) for p in probabilities], truth),
    }
