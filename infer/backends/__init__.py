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


def model_options(name: str, model) -> dict:
    """What backend `name` takes from a command's ModelArguments `model`: where to run, whether
    remote code may run, and the dtype: for hf resolved (bf16 on a GPU, float32 on the CPU); vLLM
    keeps its own default (the checkpoint's) unless `--dtype` names one."""
    options = {"trust_remote_code": model.trust_remote_code, "device": model.resolved_device()}
    if name == "hf":
        options["dtype"] = model.resolved_dtype()
    elif model.dtype:
        options["dtype"] = model.dtype
    return options


__all__ = ["BACKENDS", "Backend", "Generation", "Sampling", "load_backend", "model_options"]
