"""What every PRM that is a transformers model shares: loading, batching, and reading scores.

A model PRM differs from another only in how it lays a solution out as tokens (`build_input`:
the ids, and the positions whose outputs hold each step's verdict) and in how a model output
becomes one score per token (`token_scores`). Everything else lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    # Score the children of one prefix from that prefix's cached keys and values (`score`); turned
    # off, for good, by the first model that keeps no cache.
    reuse_prefix = True

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

        Candidates that extend one prefix (the children of one beam in tree search) share it: the
        prefix runs through the model once and each child only adds its last step
        (`_score_children`). Tree search re-scores every beam's whole solution each round, so
        without this the PRM re-read the same prefix once per child: on SmolLM2-135M that
        re-reading was nearly all of a CPU search's time. The rest are scored whole
        (`_score_whole`). A causal model's scores at a position depend only on the tokens before
        it, so both give the same scores.
        """
        import torch

        # A candidate with no steps yet has nothing to score and is not run through the model.
        inputs = {i: self.build_input(question, steps) for i, steps in enumerate(step_lists) if steps}
        for ids, _ in inputs.values():
            if self.max_length is not None and len(ids) > self.max_length:
                # Cutting the solution would silently drop the steps being scored.
                raise ConfigError(
                    f"prm: a candidate is {len(ids)} tokens, longer than the PRM's {self.max_length}"
                )
        scores: dict[int, list[float]] = {}
        with torch.inference_mode():
            whole = set(inputs)
            for prefix, members in shared_prefixes(question, step_lists, inputs, self.build_input):
                if not self.reuse_prefix:
                    break
                whole -= set(members)
                whole |= set(self._score_children(prefix, {i: inputs[i] for i in members}, scores))
            self._score_whole({i: inputs[i] for i in sorted(whole)}, scores)
        return [scores.get(i, []) for i in range(len(step_lists))]

    def _score_whole(self, inputs: dict[int, tuple[list[int], list[int]]], scores: dict) -> None:
        """Score each candidate from its first token. Batches are right-padded, which is safe
        without trusting the pad token (any id works): the outputs at real positions of a causal
        model never see what follows them, and an encoder is kept from the padding by the
        attention mask. Position ids are 0.. as alone."""
        import torch

        pad = self.tokenizer.pad_token_id or 0
        device = getattr(self.model, "device", "cpu")
        order = list(inputs)
        for start in range(0, len(order), self.batch_size):
            batch = [inputs[i] for i in order[start : start + self.batch_size]]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch], device=device)
            mask = torch.tensor(
                [[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch], device=device
            )
            probs = self.token_scores(self.model(input_ids=input_ids, attention_mask=mask), input_ids)
            probs = probs.float().cpu()
            for row, i in enumerate(order[start : start + self.batch_size]):
                scores[i] = probs[row, inputs[i][1]].tolist()
            self.tokens_scored += int(mask.sum())

    def _score_children(
        self, prefix: list[int], children: dict[int, tuple[list[int], list[int]]], scores: dict
    ) -> list[int]:
        """Run `prefix` once, keeping its keys and values, then each batch of children's remaining
        tokens on a copy of that cache. Returns the children left to score whole: all of them when
        the model keeps no cache (then this PRM stops trying)."""
        import copy

        import torch
        from transformers import DynamicCache

        device = getattr(self.model, "device", "cpu")
        prefix_ids = torch.tensor([prefix], device=device)
        cache = DynamicCache()
        try:
            prefix_logits = output_logits(
                self.model(input_ids=prefix_ids, past_key_values=cache, use_cache=True)
            )
        except TypeError:  # a model whose forward takes no cache (custom remote code)
            prefix_logits = None
        if prefix_logits is None or cache.get_seq_length() != len(prefix):
            self.reuse_prefix = False
            return list(children)
        self.tokens_scored += len(prefix)
        pad = self.tokenizer.pad_token_id or 0
        order = list(children)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            rests = [children[i][0][len(prefix) :] for i in rows]
            width = max(map(len, rests))
            rest_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rests], device=device)
            mask = torch.tensor(
                [[1] * (len(prefix) + len(r)) + [0] * (width - len(r)) for r in rests], device=device
            )
            batch_cache = copy.deepcopy(cache)  # the forward pass appends to the cache it is given
            batch_cache.batch_repeat_interleave(len(rows))
            output = self.model(
                input_ids=rest_ids, attention_mask=mask, past_key_values=batch_cache, use_cache=True
            )
            rest_logits = output_logits(output)
            logits = torch.cat([prefix_logits.expand(len(rows), -1, -1), rest_logits], dim=1)
            input_ids = torch.cat([prefix_ids.expand(len(rows), -1), rest_ids], dim=1)
            probs = self.token_scores(logits, input_ids).float().cpu()
            for row, i in enumerate(rows):
                scores[i] = probs[row, children[i][1]].tolist()
            self.tokens_scored += int(mask[:, len(prefix) :].sum())
        return []


def shared_prefixes(
    question: str,
    step_lists: list[list[str]],
    inputs: dict[int, tuple[list[int], list[int]]],
    build_input: Callable[[str, list[str]], tuple[list[int], list[int]]],
) -> Iterator[tuple[list[int], list[int]]]:
    """(prefix ids, candidate indices) for every group of two or more candidates that differ only
    in their last step and whose ids start with the ids of the steps before it (a layout may
    change earlier tokens when a step is added; such a candidate is left to be scored whole)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in inputs:
        groups.setdefault(tuple(step_lists[i][:-1]), []).append(i)
    for before, members in groups.items():
        if len(members) < 2:
            continue
        prefix, _ = build_input(question, list(before))
        members = [i for i in members if extends(inputs[i][0], prefix)]
        if len(members) >= 2 and prefix:
            yield prefix, members


def extends(ids: list[int], prefix: list[int]) -> bool:
    """Whether `ids` are `prefix` followed by at least one more token."""
    return len(ids) > len(prefix) and ids[: len(prefix)] == prefix


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
