"""Formula -> ModelSpec: the parser never sees data.

Phases, each testable on its own: :func:`tokenize` (tokens with positions) and :func:`parse`
(tokens -> :class:`hiermix.spec.ModelSpec`).

A formula is data, never code: :mod:`.allowlist` checks every expression before anything is
evaluated (:func:`check_expression`), :mod:`.transforms` holds the only functions and names an
evaluation can reach, and :mod:`.evaluate` computes responses and offsets without ``eval``.
"""

from __future__ import annotations

from .allowlist import check_expression
from .parser import parse
from .tokens import Kind, Token, tokenize

__all__ = ["Kind", "Token", "check_expression", "parse", "tokenize"]
