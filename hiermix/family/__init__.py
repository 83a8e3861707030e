"""Families and links, shared by the frequentist and Bayesian engines."""

from __future__ import annotations

from .families import FAMILIES, Family, get_family
from .links import LINKS, Link, get_link

__all__ = ["FAMILIES", "LINKS", "Family", "Link", "get_family", "get_link"]
