"""Model matrices through formulaic, with the encodings kept for new data.

:class:`ColumnEncoding` wraps one formulaic model spec: it builds a dense (n, q) matrix from a
frame, remembers the categorical levels it saw, and rebuilds the same columns for new data,
refusing levels it never saw (formulaic would turn them into NaN with only a warning).

Categoricals use treatment contrasts with the first level as reference: a pandas Categorical
keeps its category order; other columns have their levels sorted, as R's ``factor()`` does.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix
from formulaic.errors import FormulaicError

from ..errors import DataError, HiermixError, NewLevelError, UnknownColumnError
from ..formula.allowlist import check_factors, check_formulaic
from ..formula.transforms import formula_context
from ..naming import INTERCEPT


@dataclass(frozen=True, eq=False)
class ColumnEncoding:
    """Turns a formula into columns, for the fitted data and for new data.

    Attributes
    ----------
    formula : str
        The formulaic formula (``"1 + Days"``).
    model_spec : formulaic.ModelSpec or None
        None for a formula of numeric columns only (see :func:`_plain_columns`).
    names : tuple of str
        Column names as formulaic gives them.
    keep : ndarray of int
        Positions of the columns kept (all, unless rank-deficient columns were dropped).
    """

    formula: str
    model_spec: Any
    names: tuple[str, ...]
    keep: np.ndarray

    def categories(self) -> dict[str, list[Any]]:
        """Categorical variables -> levels seen when the encoding was learned."""
        out: dict[str, list[Any]] = {}
        if self.model_spec is None:
            return out
        for var, (kind, state) in self.model_spec.encoder_state.items():
            if str(getattr(kind, "value", kind)) == "categorical" and "categories" in state:
                out[str(var)] = list(state["categories"])
        return out

    def transform(self, data: pd.DataFrame,
                  transforms: Mapping[str, Callable[..., Any]] | None = None) -> np.ndarray:
        """Columns for new data, shape (n_new, len(names)).

        The formula, and every factor of the stored formulaic spec, is checked against the
        allow-list again before formulaic evaluates anything on the new data.

        Parameters
        ----------
        data : DataFrame
        transforms : mapping of str to callable, optional
            The user's own functions the formula calls (as given when fitting).

        Raises
        ------
        NewLevelError
            A categorical variable takes a level the encoding never saw.
        UnsafeFormulaError
            A formula outside the allow-list (a tampered encoding).
        """
        names = tuple(transforms or ())
        check_formulaic(self.formula, names)
        if self.model_spec is not None:
            check_factors(getattr(self.model_spec, "formula", ()), self.formula, names)
        for var, levels in self.categories().items():
            if var in data.columns:
                seen = {str(v) for v in levels}
                new = sorted({str(v) for v in data[var].dropna().unique()} - seen)
                if new:
                    raise NewLevelError(f"column {var!r} has level(s) {new} not seen when the "
                                        f"model was fitted (known: {sorted(seen)})")
        if self.model_spec is None:
            cols = _plain_columns(self.formula, data)
            if cols is None:
                raise DataError(f"cannot build columns of {self.formula!r} for new data: "
                                "its columns must be numeric, as when the model was fitted")
            return _stack(cols, len(data))[:, self.keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                mm = self.model_spec.get_model_matrix(data,
                                                      context=formula_context(transforms))
            except FormulaicError as err:
                _raise_cause(err, f"{self.formula!r} for new data")
                raise DataError(f"cannot build columns of {self.formula!r} for new data: "
                                f"{err}") from None
        return np.asarray(mm, dtype=float)[:, self.keep]


def learn_encoding(formula: str, frame: pd.DataFrame, where: str,
                   transforms: Mapping[str, Callable[..., Any]] | None = None
                   ) -> tuple[np.ndarray, ColumnEncoding]:
    """Build the model matrix of ``formula`` on ``frame`` and the encoding that rebuilds it.

    The formula is checked against the allow-list before formulaic sees it, and formulaic
    evaluates in :func:`~hiermix.formula.transforms.formula_context`, where only the allowed
    transforms, ``pi``, the user's ``transforms`` and the frame's columns resolve.

    Returns
    -------
    matrix : ndarray, shape (n, q)
    encoding : ColumnEncoding

    Raises
    ------
    UnsafeFormulaError, TransformDomainError, UnknownColumnError, DataError
    """
    check_formulaic(formula, tuple(transforms or ()))
    cols = _plain_columns(formula, frame)
    if cols is not None:
        names = tuple(INTERCEPT if t is None else t for t in _plain_terms(formula) or ())
        return _stack(cols, len(frame)), ColumnEncoding(formula, None, names,
                                                        np.arange(len(names)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        try:
            mm = model_matrix(formula, frame, context=formula_context(transforms),
                              na_action="raise")
        except FormulaicError as err:
            _raise_cause(err, f"{formula!r} ({where})")
            missing = getattr(err, "args", [""])[0]
            raise DataError(f"cannot build the columns of {formula!r} ({where}): "
                            f"{missing}") from None
        except NameError as err:
            raise UnknownColumnError(str(err).split("'")[1] if "'" in str(err) else str(err),
                                     frame.columns, where=where) from None
    mat = np.asarray(mm, dtype=float)
    names = tuple(str(c) for c in mm.columns)
    enc = ColumnEncoding(formula, mm.model_spec, names, np.arange(len(names)))
    return mat, enc


def _raise_cause(err: BaseException, what: str) -> None:
    """Re-raise a hiermix error that formulaic wrapped (``log`` of a negative value ...)."""
    cause = err.__cause__
    while cause is not None and not isinstance(cause, HiermixError):
        cause = cause.__cause__
    if isinstance(cause, DataError):  # DataError classes take just a message
        found = re.search(r"factor `(.*)`\. \[", str(err))
        factor = f" in {found.group(1)}:" if found else ""
        raise type(cause)(f"cannot build the columns of {what}:{factor} {cause}") from None
    if isinstance(cause, HiermixError):
        raise cause from None


@lru_cache(maxsize=256)
def _plain_terms(formula: str) -> tuple[str | None, ...] | None:
    """The terms of a formula made only of ``1`` and bare column names, else None.

    None stands for the intercept. Such formulas (``"1 + Days"``, ``"0 + x"``) are the common
    case of random-effects terms and simple fixed parts; with numeric columns, formulaic would
    return exactly these columns in this order, so they are built without it (formulaic's
    machinery costs about 2 ms a call, most of a small model's fit).
    """
    out: list[str | None] = []
    for term in Formula(formula):
        factors = term.factors
        if len(factors) != 1:
            return None
        (factor,) = factors
        method = str(getattr(factor.eval_method, "value", factor.eval_method))
        if method == "literal" and str(factor.expr) == "1":
            out.append(None)
        elif method == "lookup":
            out.append(str(factor.expr))
        else:
            return None
    return tuple(out)


def _plain_columns(formula: str, frame: pd.DataFrame) -> list[Any] | None:
    """Numeric columns of a plain formula, in order (None for the intercept), else None."""
    terms = _plain_terms(formula)
    if terms is None:
        return None
    cols: list[Any] = []
    for name in terms:
        if name is None:
            cols.append(None)
            continue
        if name not in frame.columns:
            return None
        col = frame[name]
        if not (pd.api.types.is_float_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype)):
            return None
        cols.append(col.to_numpy(dtype=float))
    return cols


def _stack(cols: list[Any], n: int) -> np.ndarray:
    out = np.empty((n, len(cols)))
    for j, c in enumerate(cols):
        out[:, j] = 1.0 if c is None else c
    return out


def independent_columns(x: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns, earliest columns first.

    Mirrors R's ``qr()`` (LINPACK dqrdc2) as lme4 uses it to drop rank-deficient fixed-effect
    columns: a column is dropped when its norm after projection on the kept columns falls
    below ``tol`` times its original norm.
    """
    n, p = x.shape
    if p == 0:
        return np.arange(0)
    norms = np.linalg.norm(x, axis=0)
    if n >= p and np.all(norms > 0):
        # Fast path: with no near-zero pivot in a plain QR, every column is independent.
        r = np.linalg.qr(x / norms, mode="r")
        if np.all(np.abs(np.diag(r)) > 1e3 * tol):
            return np.arange(p)
    q = np.zeros((n, 0))
    keep = []
    for j in range(p):
        col = x[:, j]
        norm0 = np.linalg.norm(col)
        if norm0 == 0.0:
            continue
        r = col - q @ (q.T @ col)
        r = r - q @ (q.T @ r)  # re-orthogonalise: one pass loses accuracy for near-collinear X
        norm = np.linalg.norm(r)
        if norm > tol * norm0:
            q = np.column_stack([q, r / norm])
            keep.append(j)
    return np.array(keep, dtype=np.intp)
