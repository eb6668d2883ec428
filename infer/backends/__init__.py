"""Generation backends by name; each is imported only when used (vLLM is an optional extra)."""

from __future__ import annotations

import importlib
import inspect

from .base import Backend, Generation, Sampling

BACKENDS = {
    "hf": ("ponder.infer.backends.hf", "HFBackend"),
    "vllm": ("ponder.infer.backends.vllm", "VLLMBackend"),
}


def load_backend(name: str, model: str, **kwargs) -> Backend:
    """`kwargs` a backend does not take (batch_size for vLLM) are dropped."""
    if name not in BACKENDS:
        raise ValueError(f"backend: unknown '{name}' (expected one of: {', '.join(BACKENDS)})")
    module, cls = BACKENDS[name]
    backend_cls = getattr(importlib.import_module(module), cls)
    accepted = inspect.signature(backend_cls).parameters
    return backend_cls(model, **{k: v for k, v in kwargs.items() if k in accepted})


__all__ = ["BACKENDS", "Backend", "Generation", "Sampling", "load_backend"]
