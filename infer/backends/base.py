"""The one interface every generation backend implements.

Strategies call `backend.generate(prompts, n, sampling)` and never learn which engine ran it,
the way most vLLM users only touch `LLM.generate(prompts, SamplingParams)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Sampling:
    """What to generate; mirrors the part of vLLM's `SamplingParams` that search needs."""

    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    include_stop_str_in_output: bool = True
    seed: int | None = None

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")


@dataclass
class Generation:
    text: str
    num_tokens: int  # tokens generated, including a stop string's tokens when it is kept
    finish_reason: str  # "stop" (a stop string), "eos", or "length"


class Backend(Protocol):
    num_parameters: int

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Generation]]:
        """`n` generations for each prompt, in prompt order."""
        ...


# Any letter: what follows a separator in a solution, so that the separator is tokenized as there.
_PROBE = "x"


def encode_prompt(tokenizer, text: str) -> list[int]:
    """The token ids of a prompt, its trailing whitespace tokenized the way it is before more text.

    Step-wise search continues a solution after its blank-line separator. A BPE tokenizer may encode
    that separator one way at the end of a text and another way before a word (SmolLM2's: one
    "\\n\\n" token against two "\\n" tokens), and the model learnt, and mostly writes, the second.
    Encoding the prompt with a letter appended and dropping the letter's token gives the ids the
    model would have written itself. Where the letter merges into the whitespace, the plain
    encoding is kept. A character-level tokenizer encodes both ways alike.
    """
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not text or not text[-1].isspace():
        return ids
    probed = tokenizer(text + _PROBE, add_special_tokens=False)["input_ids"]
    if tokenizer.decode(probed[-1:]) != _PROBE:  # the letter merged into the whitespace
        return ids
    probed = probed[:-1]
    shared = next((i for i, (a, b) in enumerate(zip(ids, probed)) if a != b), min(len(ids), len(probed)))
    return probed if tokenizer.decode(probed[shared:]) == tokenizer.decode(ids[shared:]) else ids
