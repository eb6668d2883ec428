"""PRM scorers by name; importing the modules registers them."""

from . import math_shepherd, oracle, qwen_math, rlhflow, token_cls  # noqa: F401  (registration)
from .base import PRM, PRMS, load_prm, prm_model_of

__all__ = ["PRM", "PRMS", "load_prm", "prm_model_of"]
