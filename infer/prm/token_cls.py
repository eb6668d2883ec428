"""`token-cls`: a token classifier with 2 labels, read at the end of each step.

This is the layout `ponder train prm` produces and TRL's former PRMTrainer produced (e.g.
HuggingFaceH4/Qwen2.5-Math-1.5B-Instruct-PRM-0.2). TRL's `PRMTrainer.tokenize_row` built a row
as [bos] + prompt, then each step followed by `step_separator` ("\\n" by default), all tokenized
without special tokens, and put the step's label on the LAST token of its separator; the step's
score is therefore softmax(logits)[1] there. `ponder train prm` also puts the separator after
the prompt by default (`separate_prompt`, saved in prm_config.json), so that a question and its
first step do not run together.

A folder trained with `head: lm` (prm_config.json) is a causal LM whose 2-way classifier is two
rows of its own LM head: the verdict is the softmax over the logits of its `bad_token` and
`good_token` at the same position. Trained with `likelihood_score`, its prm_config.json also
holds `score_weights`, and a step's score is sigmoid(verdict · verdict log-odds + likelihood ·
log-likelihood of the steps so far under the PRM's own LM + least · the log-probability of the
least likely token so far + tokens · their number + bias): `step_log_odds` below, which the
trainer uses to fit those weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.errors import ConfigError

from ..backends.base import encode_prompt
from .base import register
from .model import ModelPRM, output_logits, token_id

if TYPE_CHECKING:  # torch loads when a PRM scores, not when the registry names it
    import torch
    from transformers import PreTrainedModel

TRL_STEP_SEPARATOR = "\n"


def encode_separator(tokenizer, separator: str) -> list[int]:
    """The step separator's token ids as they are between two steps, where a step follows it.

    Each step and separator is encoded apart and the ids joined, so every label sits on a known
    token. A BPE tokenizer may encode a separator alone differently from the same separator before
    a word: SmolLM2's gives "\\n\\n" alone as one token, but as two newline tokens before the next
    step, which is how the policy writes it. Encoded alone, the PRM would read its steps joined by
    a token the policy never writes between them; a PRM started from the policy then judges text
    unlike the policy's, and its LM likelihood is taken in a context it never learnt.
    """
    return encode_prompt(tokenizer, separator)


def prompt_ids(
    tokenizer, question: str, separator_ids: list[int], separate_prompt: bool, chat_template: bool
) -> list[int]:
    """The tokens before the first step; `ponder train prm` builds its rows with this same function.

    With `chat_template`, the question is the user turn of the tokenizer's chat template with the
    assistant turn opened, exactly as the policy reads it, so a PRM started from the policy sees
    its steps in the context it learnt them in. Otherwise [bos] + question (TRL's layout),
    followed by the separator when `separate_prompt`.
    """
    if chat_template:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        return tokenizer.encode(text, add_special_tokens=False)
    bos = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    return (
        bos
        + tokenizer.encode(question, add_special_tokens=False)
        + (separator_ids if separate_prompt else [])
    )


# How the verdict alone is read: sigmoid(log-odds) is softmax over the two logits.
VERDICT_ONLY = {"verdict": 1.0, "likelihood": 0.0, "least": 0.0, "tokens": 0.0, "bias": 0.0}


def separator_positions(input_ids: torch.Tensor, separator_ids: list[int]) -> torch.Tensor:
    """[batch, length] True on every token of each occurrence of `separator_ids`."""
    import torch

    width = len(separator_ids)
    found = torch.zeros_like(input_ids, dtype=torch.bool)
    if input_ids.shape[1] < width:
        return found
    starts = (input_ids.unfold(1, width, 1) == torch.tensor(separator_ids, device=input_ids.device)).all(-1)
    for offset in range(width):
        found[:, offset : offset + starts.shape[1]] |= starts
    return found


def step_token_log_probs(
    logits: torch.Tensor, input_ids: torch.Tensor, start: torch.Tensor, separator_ids: list[int] | None = None
) -> torch.Tensor:
    """[batch, length]: log p(token t | tokens before t) for the step tokens from the row's first
    step token `start` on; 0 before it and on the separators. The separator after the last step is
    the scorer's markup where the policy wrote its end of text, so the policy's LM finds it
    unlikely whether or not the steps are right: counting it would blur the step tokens' signal."""
    import torch
    import torch.nn.functional as F

    token_lp = logits[:, :-1].log_softmax(-1).gather(-1, input_ids[:, 1:, None])[..., 0]
    token_lp = F.pad(token_lp, (1, 0))  # token_lp[:, t] = log p(token t)
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    skipped = positions[None, :] < start[:, None]
    if separator_ids:
        skipped = skipped | separator_positions(input_ids, separator_ids)
    return token_lp.masked_fill(skipped, 0.0)


def prefix_lm_features(
    logits: torch.Tensor, input_ids: torch.Tensor, start: torch.Tensor, separator_ids: list[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two [batch, length] tensors over the step tokens start..t at each position t (0 before
    `start`, the row's first step token): the sum of their log-probabilities (the log-likelihood
    of the steps so far), and the log-probability of the least likely one. One wrong digit is one
    unlikely token wherever it sits, while a sum also falls with every likely token a longer
    solution adds. Both come from one log-softmax over the vocabulary."""
    token_lp = step_token_log_probs(logits, input_ids, start, separator_ids)
    return token_lp.cumsum(-1), token_lp.cummin(-1).values


def prefix_tokens(input_ids: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """[batch, length]: how many tokens from the row's first step token up to each position."""
    import torch

    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    return (positions[None, :] - start[:, None] + 1).clamp(min=0).float()


def step_log_odds(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    start: torch.Tensor,
    verdict_ids: list[int] | None,
    weights: dict,
    separator_ids: list[int] | None = None,
) -> torch.Tensor:
    """[batch, length] log-odds that the solution is still on a correct path, at every position.

    `logits` are the model's (2 per token for a 2-label head, the vocabulary for head lm, whose
    [bad, good] columns are `verdict_ids`). The likelihood terms need head lm's whole vocabulary;
    they leave out the tokens of `separator_ids`.
    """
    pair = logits if verdict_ids is None else logits[..., verdict_ids]
    odds = weights["verdict"] * (pair[..., 1] - pair[..., 0]) + weights["bias"]
    if weights["likelihood"] or weights.get("least"):
        likelihood, least = prefix_lm_features(logits, input_ids, start, separator_ids)
        odds = odds + weights["likelihood"] * likelihood + weights.get("least", 0.0) * least
    if weights.get("tokens"):
        odds = odds + weights["tokens"] * prefix_tokens(input_ids, start)
    return odds


@register("token-cls")
class TokenClassificationPRM(ModelPRM):
    auto_class = "AutoModelForTokenClassification"

    def __init__(
        self,
        model: str | PreTrainedModel,
        *,
        trust_remote_code: bool = False,
        tokenizer=None,
        step_separator: str | None = None,
        separate_prompt: bool | None = None,
        chat_template: bool | None = None,
        batch_size: int = 16,
        dtype: str = "float32",
        device: str | None = None,
    ):
        """`step_separator`, `separate_prompt` and `chat_template` left None read what a `ponder
        train prm` folder saved in prm_config.json, else use TRL's convention ("\\n" after each
        step, nothing after the prompt): scoring with another layout than the PRM was trained on
        reads its labels at the wrong tokens."""
        saved_path = Path(model, "prm_config.json") if isinstance(model, str) else None
        saved = json.loads(saved_path.read_text()) if saved_path and saved_path.is_file() else {}
        step_separator = (
            saved.get("step_separator", TRL_STEP_SEPARATOR) if step_separator is None else step_separator
        )
        self.separate_prompt = (
            saved.get("separate_prompt", False) if separate_prompt is None else separate_prompt
        )
        self.chat_template = saved.get("chat_template", False) if chat_template is None else chat_template
        if saved.get("head") == "lm":
            self.auto_class = "AutoModelForCausalLM"
        super().__init__(
            model,
            trust_remote_code=trust_remote_code,
            tokenizer=tokenizer,
            batch_size=batch_size,
            dtype=dtype,
            device=device,
        )
        self.verdict_ids = None  # [bad, good] rows of the LM head; None for a 2-label head
        if saved.get("head") == "lm":
            self.verdict_ids = [
                token_id(self.tokenizer, saved[key], key) for key in ("bad_token", "good_token")
            ]
        self.weights = saved.get("score_weights", VERDICT_ONLY)
        self.steps_start = 0  # where the steps begin in `score`'s inputs (one question, one prompt)
        self.separator_ids = encode_separator(self.tokenizer, step_separator)
        if not self.separator_ids:
            raise ConfigError(f"step_separator: {step_separator!r} encodes to no tokens")

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        ids = prompt_ids(
            self.tokenizer, question, self.separator_ids, self.separate_prompt, self.chat_template
        )
        positions = []
        for step in steps:
            ids = ids + self.tokenizer.encode(step, add_special_tokens=False) + self.separator_ids
            positions.append(len(ids) - 1)
        return ids, positions

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        self.steps_start = len(
            prompt_ids(self.tokenizer, question, self.separator_ids, self.separate_prompt, self.chat_template)
        )
        return super().score(question, step_lists)

    def token_scores(self, output, input_ids: torch.Tensor) -> torch.Tensor:
        import torch

        start = torch.full((input_ids.shape[0],), self.steps_start, device=input_ids.device)
        return step_log_odds(
            output_logits(output).float(),
            input_ids,
            start,
            self.verdict_ids,
            self.weights,
            self.separator_ids,
        ).sigmoid()
