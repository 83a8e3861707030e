"""The model frame: the rows and columns a model uses, checked, with missing values accounted for.

Like R's ``model.frame``: every variable the formula (and the ``weights``/``offset`` arguments)
refers to is found, rows with a missing value in any of them are dropped *and counted*, unused
categories are dropped, and infinite values are refused. The user's data frame is never
modified: the frame works on a copy of the used columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import (
    ColumnTypeError,
    DataError,
    DuplicateColumnError,
    EmptyDataError,
    MissingValueError,
    NonFiniteError,
    UnknownColumnError,
)
from ..formula.allowlist import CONSTANTS, check_expression, check_formulaic
from ..formula.evaluate import evaluate as evaluate_checked
from ..spec import ModelSpec


def expression_names(expr: str, transforms: Iterable[str] = ()) -> tuple[str, list[str]]:
    """Check ``expr`` against the allow-list and list the columns it reads.

    Returns
    -------
    (canonical_expr, names)
        ``names`` are the columns read (``pi`` and function names excluded).

    Raises
    ------
    UnsafeFormulaError
        Anything outside the allow-list.
    """
    checked = check_expression(expr, transforms=transforms)
    return checked.canonical, list(checked.columns)


def evaluate(expr: str, frame: pd.DataFrame,
             transforms: Mapping[str, Callable[..., Any]] | None = None,
             in_offset: bool = False) -> np.ndarray:
    """Compute an expression of the frame's columns, checked and without ``eval``
    (see :func:`hiermix.formula.evaluate.evaluate`)."""
    return evaluate_checked(expr, frame, transforms, in_offset=in_offset)


@dataclass(frozen=True)
class ModelFrame:
    """The used columns of the data after missing-value handling.

    Attributes
    ----------
    data : pandas.DataFrame
        A copy of the used columns, complete rows only, unused categories dropped.
    rows : numpy.ndarray of int, shape (n,)
        Positions of the kept rows in the user's data.
    n_dropped : int
        Rows dropped for missing values.
    weights, offset : numpy.ndarray, shape (n,), or None
        The ``weights``/``offset`` arguments, aligned with the kept rows.
    """

    data: pd.DataFrame
    rows: np.ndarray
    n_dropped: int
    weights: np.ndarray | None
    offset: np.ndarray | None

    @property
    def nobs(self) -> int:
        return len(self.rows)


def used_variables(spec: ModelSpec, transforms: Iterable[str] = ()) -> dict[str, list[str]]:
    """The columns each part of the model needs: part name -> column names (data-free).

    Every expression is checked against the allow-list on the way, before anything is
    evaluated (:class:`~hiermix.errors.UnsafeFormulaError` otherwise).
    """
    names = tuple(transforms)
    parts: dict[str, list[str]] = {}
    parts["response"] = expression_names(spec.response.expr, names)[1]
    if spec.response.failures is not None:
        parts["response"] += expression_names(spec.response.failures, names)[1]
    parts["fixed effects"] = formula_variables(spec.fixed, names)
    for t in spec.random:
        parts.setdefault(f"random term {t}", []).extend(formula_variables(t.expr, names)
                                                        + list(t.group))
    for o in spec.offsets:
        check_expression(o, transforms=names, in_offset=True)
        parts.setdefault("offset()", []).extend(expression_names(o, names)[1])
    return parts


def formula_variables(formula: str, transforms: Iterable[str] = ()) -> list[str]:
    """Names a formulaic formula reads, including arguments of stateful transforms
    (``center(x)``, ``scale(x)``) and ``Q('...')``, which formulaic's ``required_variables``
    leaves out. The formula is checked against the allow-list first."""
    return check_formulaic(formula, tuple(transforms))


def _time_kind(dtype: Any) -> str | None:
    """"date-time", "time span" or "period" for NumPy and pandas time dtypes, else None."""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date-time"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "time span"
    if isinstance(dtype, pd.PeriodDtype):
        return "period"
    return None


def check_columns(data: pd.DataFrame, used: Sequence[str], numeric: Sequence[str],
                  where: str = "the data") -> None:
    """Refuse duplicated names among the ``used`` columns and time types among the
    ``numeric`` ones (those entering y, X, Z or the offset; a grouping factor may be a date).

    Raises
    ------
    DuplicateColumnError, ColumnTypeError
    """
    counts = pd.Index(data.columns).value_counts()
    for name in dict.fromkeys(used):
        if counts.get(name, 0) > 1:
            raise DuplicateColumnError(
                f"{where} have {int(counts[name])} columns named {name!r}, so the model "
                "cannot tell which one to use; rename or drop the others (for example "
                "df = df.loc[:, ~df.columns.duplicated()] keeps the first)")
    for name in dict.fromkeys(numeric):
        if name not in data.columns:
            continue
        kind = _time_kind(data[name].dtype)
        if kind is not None:
            example = {
                "date-time": f"days since the first: (df[{name!r}] - df[{name!r}].min()) "
                             "/ pd.Timedelta(days=1)",
                "time span": f"seconds: df[{name!r}].dt.total_seconds()",
                "period": f"the year: df[{name!r}].dt.year",
            }[kind]
            raise ColumnTypeError(
                f"column {name!r} of {where} is a {kind} ({data[name].dtype}), which has no "
                f"numeric value in a model; convert it to a number first, for example {example}")


def numeric_variables(spec: ModelSpec, transforms: Iterable[str] = ()) -> list[str]:
    """The columns whose values enter y, X, the terms' columns or the offset (not the grouping
    factors, which only label groups)."""
    parts = used_variables(spec, transforms)
    names = [n for part, ns in parts.items() if not part.startswith("random term") for n in ns]
    for t in spec.random:
        names += formula_variables(t.expr, transforms)
    return list(dict.fromkeys(names))


def _column_argument(value: Any, data: pd.DataFrame, what: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data.columns:
            raise UnknownColumnError(value, data.columns, where=f"the {what} argument")
        col = data[value]
    else:
        col = pd.Series(np.asarray(value).ravel() if not isinstance(value, pd.Series) else value)
        if len(col) != len(data):
            raise DataError(f"{what} has length {len(col)} but the data have {len(data)} rows")
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise DataError(f"{what} must be numeric")
    return col.to_numpy(dtype=float)


def build_frame(
    spec: ModelSpec,
    data: pd.DataFrame | Mapping[str, Sequence[Any]],
    weights: Any = None,
    offset: Any = None,
    na_action: str = "omit",
    transforms: Iterable[str] = (),
) -> ModelFrame:
    """Select, check and clean the rows and columns ``spec`` uses.

    Parameters
    ----------
    spec : ModelSpec
    data : pandas.DataFrame or mapping of columns
        Never modified.
    weights, offset : str, array-like or None
        A column name or an array of length ``len(data)``.
    na_action : {"omit", "raise"}
        ``"omit"`` drops incomplete rows and counts them; ``"raise"`` refuses them.
    transforms : iterable of str
        Names of the user's own functions the formula may call.

    Raises
    ------
    UnsafeFormulaError, UnknownColumnError, EmptyDataError, MissingValueError,
    NonFiniteError, DataError, DuplicateColumnError, ColumnTypeError
    """
    if na_action not in ("omit", "raise"):
        raise DataError(f"na_action must be 'omit' or 'raise', not {na_action!r}")
    if not isinstance(data, pd.DataFrame):
        try:
            data = pd.DataFrame(data)
        except (TypeError, ValueError) as err:
            raise DataError(
                f"data must be a pandas DataFrame or a mapping of columns: {err}") from None
    if len(data) == 0:
        raise EmptyDataError("the data have no rows")
    columns: list[str] = []
    for where, names in used_variables(spec, transforms).items():
        for name in names:
            if name in data.columns:
                columns.append(name)
            elif name not in CONSTANTS:
                raise UnknownColumnError(name, [str(c) for c in data.columns], where=where)
    columns = list(dict.fromkeys(columns))
    arguments = [v for v in (weights, offset) if isinstance(v, str)]
    check_columns(data, columns + arguments, numeric_variables(spec, transforms))
    w = _column_argument(weights, data, "weights")
    off = _column_argument(offset, data, "offset")

    frame = data[columns].copy()
    missing = frame.isna().to_numpy() if columns else np.zeros((len(data), 0), dtype=bool)
    incomplete = missing.any(axis=1)
    extras = {"weights": w, "offset": off}
    for arr in extras.values():
        if arr is not None:
            incomplete |= np.isnan(arr)
    if incomplete.any() and na_action == "raise":
        counts = {c: int(frame[c].isna().sum()) for c in columns if frame[c].isna().any()}
        counts.update({k: int(np.isnan(a).sum()) for k, a in extras.items()
                       if a is not None and np.isnan(a).any()})
        detail = ", ".join(f"{c!r} ({k})" for c, k in counts.items())
        raise MissingValueError(f"missing values in {detail} and na_action='raise'")
    keep = np.flatnonzero(~incomplete)
    if keep.size == 0:
        raise EmptyDataError(f"no complete rows: every one of the {len(data)} rows has a "
                             f"missing value in {', '.join(repr(c) for c in columns)}")
    frame = frame.iloc[keep].reset_index(drop=True) if keep.size < len(frame) else \
        frame.reset_index(drop=True)
    for c in frame.columns:
        col = frame[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            frame[c] = col.cat.remove_unused_categories()
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=float)
            if np.isinf(values).any():
                raise NonFiniteError(f"column {c!r} has {int(np.isinf(values).sum())} "
                                     "infinite value(s)")
    for name, arr in extras.items():
        if arr is not None and np.isinf(arr[keep]).any():
            raise NonFiniteError(f"the {name} argument has infinite values")
    return ModelFrame(
        data=frame,
        rows=keep,
        n_dropped=int(incomplete.sum()),
        weights=None if w is None else w[keep],
        offset=None if off is None else off[keep],
    )
