"""Checks of the scalar arguments both engines take: counts and random seeds.

A count (``draws``, ``tune``, ``chains``, ``nsim``) must be a Python or NumPy integer, never a
float, a bool or a string: ``draws=2.5`` is a mistake to report, not to round. A seed is what
:func:`numpy.random.default_rng` accepts; the Bayesian engine records its seed in the sampler
record and so takes a non-negative integer only. Each refusal is an
:class:`~hiermix.errors.ArgumentError` that names the argument and the value.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .errors import ArgumentError


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int, refused unless it is an integer of at least ``minimum``.

    Raises
    ------
    ArgumentError
    """
    if not _is_integer(value):
        raise ArgumentError(f"{name} must be a whole number (an int), not {value!r}")
    if int(value) < minimum:
        raise ArgumentError(f"{name} must be at least {minimum}; got {int(value)}")
    return int(value)


def check_seed(value: Any, name: str = "random_seed") -> int | None:
    """A seed that can be recorded: None or a non-negative integer below 2**63 (the
    samplers take 64-bit seeds, and the engine derives ``seed + 1`` from it).

    Raises
    ------
    ArgumentError
    """
    if value is None:
        return None
    if not _is_integer(value) or not 0 <= int(value) < 2**63:
        raise ArgumentError(f"{name} must be None or a non-negative whole number (an int), "
                            f"not {value!r}")
    return int(value)


def make_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` with a refusal that names the argument.

    ``seed`` may be None, a non-negative integer, a sequence of them, a ``SeedSequence``,
    a ``BitGenerator`` or a ``Generator``.

    Raises
    ------
    ArgumentError
    """
    if isinstance(seed, bool | np.bool_ | float | str | bytes):
        # default_rng would take a bool as an int, and report a float or text in its own terms
        raise ArgumentError(f"{name} must be None, a non-negative whole number or a "
                            f"numpy Generator, not {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as err:
        raise ArgumentError(f"{name} must be None, a non-negative whole number or a numpy "
                            f"Generator, not {seed!r} ({err})") from None
