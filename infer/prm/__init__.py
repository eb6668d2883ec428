"""PRM scorers by name; importing the modules registers them."""

from . import causal_lm, oracle, qwen_math, token_cls  # noqa: F401  (registration)
from .base import AGGREGATIONS, PRM, PRMS, aggregate, load_prm

__all__ = ["AGGREGATIONS", "PRM", "PRMS", "aggregate", "load_prm"]
