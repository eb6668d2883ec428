"""What every PRM that is a transformers model shares: loading, batching, and reading scores.

A model PRM differs from another only in how it lays a solution out as tokens (`build_input`:
the ids, and the positions whose outputs hold each step's verdict) and in how a model output
becomes one score per token (`token_scores`). Everything else lives here once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder.errors import ConfigError
from ponder.models import check_model_name

if TYPE_CHECKING:  # torch and transformers' models load when a PRM is built, not when it is named
    import torch
    from transformers import PreTrainedModel


class ModelPRM:
    """Base of the model PRM adapters; subclasses implement `build_input`, and `token_scores`
    unless their score is the probability of a `verdict` token."""

    auto_class = "AutoModelForCausalLM"  # the transformers class that loads a model folder or hub name
    # (good, bad): PRMs that answer each step with one of two tokens; a step's score is the good
    # token's probability in the softmax over the two logits (search-and-learn's reading).
    verdict: tuple[str, str] | None = None

    def __init__(
        self,
        model: str | PreTrainedModel,
        *,
        trust_remote_code: bool = False,
        tokenizer=None,
        batch_size: int = 8,
        dtype: str = "bfloat16",
        device: str | None = None,
    ):
        """`device` None: a GPU when torch sees one (scoring beside vLLM on the same GPU: give
        vLLM a share with gpu_memory_utilization), else the CPU."""
        import torch
        import transformers

        if model is None:
            raise ConfigError("prm_model: this PRM scorer needs a model folder or hub name")
        if isinstance(model, str):
            check_model_name("prm_model", model)
            if tokenizer is None:
                tokenizer = transformers.AutoTokenizer.from_pretrained(
                    model, trust_remote_code=trust_remote_code
                )
            model = getattr(transformers, self.auto_class).from_pretrained(
                model, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
            )
            model = model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if tokenizer is None:
            raise ValueError(f"{type(self).__name__}: pass the tokenizer along with a model object")
        self.model, self.tokenizer, self.batch_size = model.eval(), tokenizer, batch_size
        self.num_parameters = sum(p.numel() for p in model.parameters())  # FLOPs = 2 × this × tokens
        self.max_length = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        self.tokens_scored = 0  # tokens run through the model, for compute accounting
        if self.verdict:  # looked up as search-and-learn does: `tokenizer.encode("+")[-1]`
            self.candidates = [token_id(self.tokenizer, t, "verdict") for t in self.verdict]

    def build_input(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        """Token ids of one candidate, and the position of each step's verdict in them."""
        raise NotImplementedError

    def token_scores(self, output, input_ids: torch.Tensor) -> torch.Tensor:
        """A [batch, length] tensor of scores in [0, 1] from the model's output (and its input):
        by default the good `verdict` token's share of the two verdict tokens' probability."""
        return output_logits(output)[..., self.candidates].float().softmax(-1)[..., 0]

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        """One score per step for each candidate, batched `batch_size` candidates at a time.

        Batches are right-padded, which is safe without trusting the pad token (any id works):
        the outputs at real positions of a causal model never see what follows them, and an
        encoder is kept from the padding by the attention mask. Position ids are 0.. as alone.
        """
        import torch

        # A candidate with no steps yet has nothing to score and is not run through the model.
        inputs = [self.build_input(question, steps) for steps in step_lists if steps]
        for ids, _ in inputs:
            if self.max_length is not None and len(ids) > self.max_length:
                # Cutting the solution would silently drop the steps being scored.
                raise ConfigError(
                    f"prm: a candidate is {len(ids)} tokens, longer than the PRM's {self.max_length}"
                )
        pad = self.tokenizer.pad_token_id or 0
        device = getattr(self.model, "device", "cpu")
        scores: list[list[float]] = []
        with torch.inference_mode():
            for start in range(0, len(inputs), self.batch_size):
                batch = inputs[start : start + self.batch_size]
                width = max(len(ids) for ids, _ in batch)
                input_ids = torch.tensor(
                    [ids + [pad] * (width - len(ids)) for ids, _ in batch], device=device
                )
                mask = torch.tensor(
                    [[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch], device=device
                )
                probs = (
                    self.token_scores(self.model(input_ids=input_ids, attention_mask=mask), input_ids)
                    .float()
                    .cpu()
                )
                scores += [probs[row, positions].tolist() for row, (_, positions) in enumerate(batch)]
                self.tokens_scored += int(mask.sum())
        found = iter(scores)
        return [next(found) if steps else [] for steps in step_lists]


def output_logits(output) -> torch.Tensor:
    """The logits of a model output: a `ModelOutput`, a tuple from custom code, or a bare tensor."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    return output.logits if hasattr(output, "logits") else output[0]


def token_id(tokenizer, text: str, what: str) -> int:
    """The id `text` ends with, as the published PRMs look their tokens up (`encode(text)[-1]`)."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if not ids or ids[-1] == tokenizer.unk_token_id:
        raise ConfigError(f"prm: this tokenizer has no token for the {what} {text!r}")
    return ids[-1]
