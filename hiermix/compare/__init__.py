"""Side by side: the maximum-likelihood fit and the posterior of the same model."""

from __future__ import annotations

from .tables import Comparison, compare

__all__ = ["Comparison", "compare"]
