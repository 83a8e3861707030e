"""The response y and the prior weights it implies, with R's conventions.

* A numeric column or expression (``y``, ``log(y)``): y as given.
* Booleans: 1 for True.
* A two-level categorical (binomial family): 1 for the second level, 0 for the first
  (R's "first level = failure"); levels in category order for a pandas Categorical, sorted
  otherwise.
* ``cbind(successes, failures)`` (binomial family): y = successes / trials and the prior weights
  are multiplied by trials = successes + failures, as R's ``binomial()$initialize`` does;
  rows with zero trials get y = 0 and weight 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError, ResponseSupportError, ResponseTypeError
from ..family import Family
from ..spec import ResponseSpec
from .frame import evaluate


@dataclass(frozen=True)
class Response:
    """y (n,), the weight factor it implies (n,), and how to read y back.

    Attributes
    ----------
    y : ndarray, shape (n,)
    trials : ndarray, shape (n,), or None
        For ``cbind`` responses: successes + failures.
    name : str
        The response as written (``"Reaction"``, ``"cbind(incidence, size - incidence)"``).
    levels : tuple of str or None
        For a two-level categorical response: (failure, success).
    """

    y: np.ndarray
    trials: np.ndarray | None
    name: str
    levels: tuple[str, ...] | None = None


def build_response(spec: ResponseSpec, frame: pd.DataFrame, family: Family,
                   transforms: Mapping[str, Callable[..., Any]] | None = None) -> Response:
    """Compute y from the frame (``transforms``: the user's own functions, if any).

    Raises
    ------
    ResponseTypeError
        Text or multi-level responses, or categorical responses for a non-binomial family.
    ResponseSupportError
        Negative counts in ``cbind``.
    ModelError
        ``cbind`` with a family other than binomial.
    """
    name = str(spec)
    if spec.failures is not None:
        if family.name != "binomial":
            raise ModelError(f"a cbind() response needs family='binomial', not {family.name!r}")
        succ = _numeric(evaluate(spec.expr, frame, transforms), spec.expr)
        fail = _numeric(evaluate(spec.failures, frame, transforms), spec.failures)
        for what, arr in ((spec.expr, succ), (spec.failures, fail)):
            if np.any(arr < 0):
                i = int(np.flatnonzero(arr < 0)[0])
                raise ResponseSupportError(
                    f"cbind() count {what!r} is negative ({arr[i]!r} at row {i}); "
                    "counts of successes and failures must be >= 0")
        trials = succ + fail
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(trials > 0, succ / np.where(trials > 0, trials, 1.0), 0.0)
        return Response(y=y, trials=trials, name=name)

    raw = frame[spec.expr] if spec.expr in frame.columns else None
    if raw is not None and (isinstance(raw.dtype, pd.CategoricalDtype)
                            or pd.api.types.is_string_dtype(raw.dtype)
                            or raw.dtype == object):
        return _categorical_response(raw, name, family)
    value = evaluate(spec.expr, frame, transforms) if raw is None else raw.to_numpy()
    if value.dtype == bool:
        value = value.astype(float)
    y = _numeric(value, name)
    if y.ndim != 1 or y.shape[0] != len(frame):
        raise ResponseTypeError(f"the response {name!r} must give one value per row")
    return Response(y=y, trials=None, name=name)


def _categorical_response(raw: pd.Series, name: str, family: Family) -> Response:
    if family.name != "binomial":
        raise ResponseTypeError(
            f"the response {name!r} is text or categorical; only the binomial family takes a "
            "two-level categorical response (use a numeric column otherwise)")
    if isinstance(raw.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in raw.cat.categories]
        values = raw.astype(str).to_numpy()
    else:
        values = raw.astype(str).to_numpy()
        levels = sorted(set(values))
    if len(levels) != 2:
        shown = ", ".join(repr(v) for v in levels[:5])
        raise ResponseTypeError(
            f"a categorical response needs exactly two levels; {name!r} has {len(levels)} "
            f"({shown}{', ...' if len(levels) > 5 else ''})")
    y = (values == levels[1]).astype(float)
    return Response(y=y, trials=None, name=name, levels=(levels[0], levels[1]))


def _numeric(value: np.ndarray, name: str) -> np.ndarray:
    value = np.asarray(value)
    if value.ndim == 0:
        raise ResponseTypeError(f"the response {name!r} is a constant, not a column")
    if value.dtype == bool:
        return value.astype(float)
    if not np.issubdtype(value.dtype, np.number):
        raise ResponseTypeError(f"the response {name!r} is not numeric (dtype {value.dtype})")
    out = value.astype(float)
    if not np.all(np.isfinite(out)):
        i = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ResponseSupportError(f"the response {name!r} is not finite at row {i} "
                                   f"({out[i]!r})")
    return out
