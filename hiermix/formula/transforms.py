"""The functions an allowed formula calls, and the only names its evaluation can resolve.

:mod:`hiermix.formula.allowlist` decides what a formula may say; this module supplies what those
names mean when the expression is evaluated: numpy functions that refuse values outside their
domain (``log`` of a negative value is an error naming the column, never a NaN column), R's
``round``, ``C``/``factor`` with contrast names, and formulaic's stateful transforms.

:func:`formula_context` is the mapping formulaic evaluates in. formulaic layers it over its own
transforms (``np``, ``bs``, ``lag`` ...) and Python's builtins; every one of those names is
shadowed here by a refusal, so that even a call the allow-list missed could not resolve to
anything but an allowed function or a column.

Everything here is a module-level function or an instance of a module-level class: nothing a
design stores (``transforms=``) needs lambdas or closures, so designs pickle.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError, TransformDomainError, UnsafeFormulaError
from .allowlist import CONSTANTS, CONTRASTS, ELEMENTWISE, TRANSFORMS, allowed_text, is_dunder

#: Formula name -> numpy function name.
_NUMPY_NAME = {name: name for name in ELEMENTWISE}
_NUMPY_NAME.update({"asin": "arcsin", "acos": "arccos", "atan": "arctan"})

#: Why a transform gives no finite value, for the error message.
_DOMAIN_HINT = {
    "log": "values > 0", "log2": "values > 0", "log10": "values > 0", "log1p": "values > -1",
    "sqrt": "values >= 0", "asin": "values in [-1, 1]", "acos": "values in [-1, 1]",
    "arcsin": "values in [-1, 1]", "arccos": "values in [-1, 1]",
}


def _label(x: Any) -> str:
    name = getattr(x, "name", None)
    return f"column {name!r}" if isinstance(name, str) and name else "its argument"


def as_numbers(x: Any, what: str, label: str | None = None) -> np.ndarray:
    """``x`` as a float array, or a :class:`TransformDomainError` naming the column."""
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TransformDomainError(f"{what} needs numbers; {label or _label(x)} is not "
                                   "numeric") from None


def apply_elementwise(name: str, x: Any, label: str | None = None) -> np.ndarray:
    """``name(x)`` with numpy, refusing inputs for which the result is not finite.

    Raises
    ------
    TransformDomainError
        Naming the transform, the column (``label``) and the first offending value.
    """
    values = as_numbers(x, f"{name}()", label)
    with np.errstate(all="ignore"):
        out = getattr(np, _NUMPY_NAME[name])(values)
    bad = ~np.isfinite(out) & np.isfinite(values)
    if np.any(bad):
        flat = np.flatnonzero(np.ravel(bad))
        first = float(np.ravel(values)[flat[0]])
        need = _DOMAIN_HINT.get(name)
        why = (f"it needs {need}, but {flat.size} value(s) are not" if need else
               f"it overflows for {flat.size} value(s)")
        raise TransformDomainError(f"{name}() of {label or _label(x)}: {why} "
                                   f"(the first is {first!r})")
    return out


class Elementwise:
    """An allowed elementwise transform (``log``, ``sqrt`` ...) as formulaic calls it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, x: Any) -> Any:
        out = apply_elementwise(self.name, x)
        if isinstance(x, pd.Series):
            return pd.Series(out, index=x.index, name=x.name)
        return out

    def __repr__(self) -> str:
        return f"<allowed transform {self.name}>"


def r_round(x: Any, digits: int = 0) -> Any:
    """R's ``round(x, digits)`` (half to even, as R and numpy both round)."""
    out = np.round(as_numbers(x, "round()"), int(digits))
    if isinstance(x, pd.Series):
        return pd.Series(out, index=x.index, name=x.name)
    return out


class ContrastMaker:
    """A contrast name in a formula (``contr.sum``, ``Treatment``, ``'helmert'``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, reference: Any = None, base: Any = None) -> Any:
        from formulaic.transforms import contrasts as fc

        ref = reference if reference is not None else base
        if self.kind in ("treatment", "sas"):
            cls = fc.TreatmentContrasts if self.kind == "treatment" else fc.SASContrasts
            return cls() if ref is None else cls(base=ref)
        if ref is not None:
            raise TransformDomainError(f"{self.kind} contrasts take no reference level")
        return {"sum": fc.SumContrasts, "helmert": fc.HelmertContrasts,
                "poly": fc.PolyContrasts, "diff": fc.DiffContrasts}[self.kind]()


def _contrasts(value: Any) -> Any:
    if isinstance(value, str):
        return ContrastMaker(CONTRASTS.get(value, CONTRASTS.get(value.lower(), "")))()
    if isinstance(value, ContrastMaker):
        return value()
    return value


def C(data: Any, contrasts: Any = None, *, levels: Any = None) -> Any:
    """R's and formulaic's ``C(f, contrasts)``, with contrasts also given by name."""
    from formulaic.transforms import C as formulaic_C

    return formulaic_C(data, _contrasts(contrasts), levels=levels)


def factor(data: Any, levels: Any = None) -> Any:
    """R's ``factor(x)`` / ``as.factor(x)``: treat ``x`` as categorical."""
    return C(data, levels=levels)


class Refused:
    """What every name outside the allow-list resolves to during formulaic's evaluation."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsafeFormulaError(f"{self.name!r} is not allowed in a formula", self.name, None,
                                 allowed_text())

    def __repr__(self) -> str:
        return f"<refused {self.name}>"


@lru_cache(maxsize=1)
def _base_context() -> dict[str, Any]:
    from formulaic.transforms import TRANSFORMS as FORMULAIC
    from formulaic.transforms import center, identity, poly, scale
    from formulaic.transforms.patsy_compat import Q

    ctx: dict[str, Any] = {name: Refused(name) for name in dir(builtins)}
    ctx.update({name: Refused(name) for name in FORMULAIC})
    ctx.update({name: Elementwise(name) for name in ELEMENTWISE})
    ctx.update({"round": r_round, "I": identity, "Q": Q, "C": C, "factor": factor,
                "poly": poly, "scale": scale, "center": center})
    ctx.update({name: ContrastMaker(kind) for name, kind in CONTRASTS.items()
                if name not in TRANSFORMS})  # C(f, poly) would mean the function: use Poly
    ctx.update(CONSTANTS)
    for name in ("offset", "cbind"):
        ctx[name] = Refused(name)
    return ctx


def formula_context(transforms: Mapping[str, Callable[..., Any]] | None = None) -> dict[str, Any]:
    """The names formulaic may resolve: the allowed transforms, ``pi``, contrast names and the
    user's own ``transforms``; every builtin and every other formulaic transform is refused."""
    ctx = dict(_base_context())
    if transforms:
        ctx.update(transforms)
    return ctx


def validate_transforms(transforms: Any) -> dict[str, Callable[..., Any]]:
    """Check the ``transforms=`` argument: a mapping of new names to callables.

    Raises
    ------
    ModelError
        Not a mapping, a name that is not a plain identifier, a dunder name, a name that an
        allowed transform or constant already has, or a value that is not callable.
    """
    if transforms is None:
        return {}
    if not isinstance(transforms, Mapping):
        raise ModelError("transforms must be a dict of name -> function, not "
                         f"{type(transforms).__name__}")
    out: dict[str, Callable[..., Any]] = {}
    for name, fn in transforms.items():
        if not isinstance(name, str) or not name.isidentifier() or is_dunder(name):
            raise ModelError(f"transforms: {name!r} is not a plain function name")
        if name in TRANSFORMS or name in CONSTANTS or name in CONTRASTS:
            raise ModelError(f"transforms: {name!r} is already an allowed name in formulas; "
                             "give your function another name")
        if not callable(fn):
            raise ModelError(f"transforms: {name!r} must be a function, not "
                             f"{type(fn).__name__}")
        out[name] = fn
    return out
