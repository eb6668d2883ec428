"""The transformers backend: `model.generate`, batched across prompts and samples; the CPU default.

Step-wise search sends, every round, prompts that extend the previous round's prompts by the
step just generated. Rather than encode those prefixes again, the backend keeps the key/value
cache of the last call's sequences (like vLLM's prefix caching) and feeds generate only the
tokens it has not seen. `reset_prefix_cache()` empties it, so a run
starts the same way whatever ran before it.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .base import Generation, Sampling, encode_prompt


class HFBackend:
    def __init__(
        self,
        model: PreTrainedModel | str,
        tokenizer: PreTrainedTokenizerBase | None = None,
        batch_size: int = 256,
        dtype: str = "float32",
        progress: bool = False,
        prefix_caching: bool = True,
        trust_remote_code: bool = False,
        device: str | None = None,
    ):
        if isinstance(model, str):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                model,
                dtype=dtype if dtype == "auto" else getattr(torch, dtype),
                trust_remote_code=trust_remote_code,
            )
        if tokenizer is None:
            raise ValueError("HFBackend needs a tokenizer when given a model object")
        # `device` None leaves the model where it is (a folder or hub name loads on the CPU).
        self.model = (model.to(device) if device else model).eval()
        self.device = self.model.device
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.progress = progress
        self.prefix_caching = prefix_caching
        # token ids of a sequence -> its per-layer (keys, values), each [heads, length, head_dim]
        self._prefixes: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._next_prefixes: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.num_parameters = model.num_parameters()
        eos = model.generation_config.eos_token_id
        self.eos_ids = set(
            eos if isinstance(eos, list) else [eos if eos is not None else tokenizer.eos_token_id]
        )

    @torch.inference_mode()
    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Generation]]:
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        expanded = [p for p in prompts for _ in range(n)]
        # Sorting by length keeps padding small; results are put back in prompt order.
        order = sorted(range(len(expanded)), key=lambda i: len(expanded[i]))
        results: list[Generation | None] = [None] * len(expanded)
        batches = range(0, len(order), self.batch_size)
        self._next_prefixes = {}
        for start in tqdm(batches, desc="generate", disable=not self.progress, leave=False):
            idx = order[start : start + self.batch_size]
            for i, generation in zip(idx, self._generate_batch([expanded[i] for i in idx], sampling)):
                results[i] = generation
        # Only the latest call's sequences are kept: the next round of search extends them.
        self._prefixes = self._next_prefixes
        return [results[i * n : (i + 1) * n] for i in range(len(prompts))]

    def reset_prefix_cache(self) -> None:
        self._prefixes = {}

    def _generate_batch(self, prompts: list[str], sampling: Sampling) -> list[Generation]:
        ids = [encode_prompt(self.tokenizer, p) for p in prompts]
        width = max(map(len, ids))
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in ids], device=self.device)
        attention_mask = torch.tensor(
            [[0] * (width - len(row)) + [1] * len(row) for row in ids], device=self.device
        )
        greedy = sampling.temperature == 0
        out = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            past_key_values=self._cached_prefix(ids, width) if self.prefix_caching else None,
            do_sample=not greedy,
            temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p,
            top_k=None,
            max_new_tokens=sampling.max_tokens,
            stop_strings=sampling.stop or None,
            tokenizer=self.tokenizer if sampling.stop else None,
            pad_token_id=pad,
            return_dict_in_generate=True,
        )
        new_tokens = out.sequences[:, width:].tolist()
        generations = [self._finish(tokens, sampling) for tokens in new_tokens]
        if self.prefix_caching:
            self._remember(ids, generations, new_tokens, width, out.past_key_values)
        return generations

    def _cached_prefix(self, ids: list[list[int]], width: int) -> DynamicCache | None:
        """A left-padded cache covering, for every row, a prefix whose keys/values are known.

        The batch shares one cache length C; row i, left-padded by p_i, needs its first C - p_i
        tokens cached, so C is the smallest p_i + (cached length of row i), and at least one
        token per row is left for generate to encode.
        """
        if not self._prefixes:
            return None
        lengths = sorted({len(key) for key in self._prefixes}, reverse=True)
        hits = []
        for row in ids:
            hit = next((row[:n] for n in lengths if n < len(row) and tuple(row[:n]) in self._prefixes), None)
            hits.append(self._prefixes[tuple(hit)] if hit else None)
        if any(h is None for h in hits):
            return None
        cache_len = min(min(width - len(row) + h[0][0].shape[1] for row, h in zip(ids, hits)), width - 1)
        if cache_len <= 0:
            return None
        layers = []
        for layer in range(len(hits[0])):
            keys, values = [], []
            for row, h in zip(ids, hits):
                k, v = h[layer]
                left = width - len(row)
                fill = k.new_zeros(k.shape[0], left, k.shape[2])
                keys.append(torch.cat([fill, k[:, : cache_len - left]], dim=1))
                values.append(torch.cat([fill, v[:, : cache_len - left]], dim=1))
            layers.append((torch.stack(keys), torch.stack(values)))
        return DynamicCache(layers, config=self.model.config)

    def _remember(self, ids, generations, new_tokens, width, cache) -> None:
        """Keep each row's keys/values for its prompt and generated tokens (but the last, never fed)."""
        for r, (row, g, tokens) in enumerate(zip(ids, generations, new_tokens)):
            if g.finish_reason != "stop":  # only a generation cut at a stop string is continued
                continue
            seq = row + tokens[: max(0, g.num_tokens - 1)]
            left = width - len(row)
            kv = [
                (
                    layer.keys[r, :, left : left + len(seq)].clone(),
                    layer.values[r, :, left : left + len(seq)].clone(),
                )
                for layer in cache.layers
            ]
            self._next_prefixes[tuple(seq)] = kv

    def _finish(self, tokens: list[int], sampling: Sampling) -> Generation:
        """Cut one row at its stop string or end of sequence and say why it ended.

        generate pads a row once a stop string or an end of sequence ends it. Many chat models
        (SmolLM2, Llama, Qwen) pad with their end-of-sequence token, so a padded row looks as if it
        ended with one: a stop string in the text before it is what tells the two apart, since
        generation never runs past a stop string. The stop string may end inside a token
        (SmolLM2 writes " \\n\\n" and "\\n\\n\\n" as one token): the text is cut right after it,
        and the token is counted.
        """
        end = next(
            (k for k, t in enumerate(tokens) if t in self.eos_ids or t == self.tokenizer.pad_token_id),
            len(tokens),
        )
        text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
        found = [(text.find(stop), stop) for stop in sampling.stop if stop in text]
        if found:
            at, stop = min(found)
            cut = at + len(stop) if sampling.include_stop_str_in_output else at
            return Generation(text[:cut], end, "stop")
        if end < len(tokens) and tokens[end] in self.eos_ids:
            return Generation(text, end + 1, "eos")
        return Generation(text, end, "length")
