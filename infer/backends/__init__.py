"""Generation backends by name; each is imported only when used (vLLM is an optional extra)."""

from __future__ import annotations

import importlib
import inspect

from ponder.registry import Registry

from .base import Backend, Generation, Sampling

# name -> (module, class): the module (torch, vLLM) is imported only when the backend is built.
BACKENDS: Registry[tuple[str, str]] = Registry("backend")
BACKENDS.add("hf", ("ponder.infer.backends.hf", "HFBackend"))
BACKENDS.add("vllm", ("ponder.infer.backends.vllm", "VLLMBackend"))


def load_backend(name: str, model: str, **kwargs) -> Backend:
    """The backend `name` on `model`; `kwargs` it does not take (batch_size for vLLM) are dropped."""
    module, cls = BACKENDS.get(name)
    backend_cls = getattr(importlib.import_module(module), cls)
    accepted = inspect.signature(backend_cls).parameters
    return backend_cls(model, **{k: v for k, v in kwargs.items() if k in accepted})


__all__ = ["BACKENDS", "Backend", "Generation", "Sampling", "load_backend"]
