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
