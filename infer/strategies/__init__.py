"""Search strategies by name; importing the modules registers them."""

from . import compute_optimal, revisions, sampling, tree  # noqa: F401  (registration)
from .base import STRATEGIES, SearchContext

__all__ = ["STRATEGIES", "SearchContext"]
