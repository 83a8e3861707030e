"""Formula -> ModelSpec: the parser never sees data.

Phases, each testable on its own: :func:`tokenize` (tokens with positions) and :func:`parse`
(tokens -> :class:`hiermix.spec.ModelSpec`).
"""

from __future__ import annotations

from .parser import parse
from .tokens import Kind, Token, tokenize

__all__ = ["Kind", "Token", "parse", "tokenize"]
