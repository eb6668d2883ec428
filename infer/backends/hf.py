"""The transformers backend: `model.generate`, batched across prompts and samples; the CPU default."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .base import Generation, Sampling


class HFBackend:
    def __init__(
        self,
        model: PreTrainedModel | str,
        tokenizer: PreTrainedTokenizerBase | None = None,
        batch_size: int = 256,
        dtype: str = "float32",
        progress: bool = False,
    ):
        if isinstance(model, str):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype))
        if tokenizer is None:
            raise ValueError("HFBackend needs a tokenizer when given a model object")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.progress = progress
        self.num_parameters = model.num_parameters()
        eos = model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos if eos is not None else tokenizer.eos_token_id])

    @torch.inference_mode()
    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Generation]]:
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        expanded = [p for p in prompts for _ in range(n)]
        # Sorting by length keeps padding small; results are put back in prompt order.
        order = sorted(range(len(expanded)), key=lambda i: len(expanded[i]))
        results: list[Generation | None] = [None] * len(expanded)
        batches = range(0, len(order), self.batch_size)
        for start in tqdm(batches, desc="generate", disable=not self.progress, leave=False):
            idx = order[start : start + self.batch_size]
            for i, generation in zip(idx, self._generate_batch([expanded[i] for i in idx], sampling)):
                results[i] = generation
        return [results[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _generate_batch(self, prompts: list[str], sampling: Sampling) -> list[Generation]:
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        greedy = sampling.temperature == 0
        out = self.model.generate(
            **enc,
            do_sample=not greedy,
            temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p,
            top_k=None,
            max_new_tokens=sampling.max_tokens,
            stop_strings=sampling.stop or None,
            tokenizer=self.tokenizer if sampling.stop else None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()
        return [self._finish(tokens, sampling) for tokens in new_tokens]

    def _finish(self, tokens: list[int], sampling: Sampling) -> Generation:
        """Cut one row at its end of sequence or stop string and say why it ended."""
        pad = self.tokenizer.pad_token_id
        end = len(tokens)
        for k, token in enumerate(tokens):
            if token in self.eos_ids:
                text = self.tokenizer.decode(tokens[:k], skip_special_tokens=True)
                return Generation(text, k + 1, "eos")
            if token == pad:  # generate pads a row after a stop string ends it
                end = k
                break
        text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
        found = [(text.find(stop), stop) for stop in sampling.stop if stop in text]
        if found:
            at, stop = min(found)
            cut = at + len(stop) if sampling.include_stop_str_in_output else at
            return Generation(text[:cut], end, "stop")
        return Generation(text, end, "length")
