"""One random-effects term of the design: the block Z_k of Z, kept in factored form.

For term k with grouping factor g_k (l_k levels) and term columns X_k (n, q_k), row i of Z_k is
``kron(e_{g_k[i]}, X_k[i])``: Z_k has l_k q_k columns, level-major (all q_k columns of level 1,
then of level 2, ...), which is lme4's layout. Z_k is never formed densely: engines use the
codes and X_k directly (index gathers, per-level sums), and :meth:`ReTerm.Z` gives a
``scipy.sparse`` matrix for anyone who wants it.

Extending the design with a new kind of term means supplying what engines read here:
``codes``, ``levels``, ``X``, ``cnames``, ``q``, ``nlevels``, ``group`` and ``label``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import GroupingFactorError, NewLevelError
from ..pickling import ReadOnlyArrays
from .matrices import ColumnEncoding


@dataclass(frozen=True, eq=False)
class ReTerm(ReadOnlyArrays):
    """A random-effects term bound to data.

    Attributes
    ----------
    group : str
        lme4's name of the grouping factor (``"Subject"``, ``"cask:batch"``).
    label : str
        Unique label in the design (``"Subject"``, ``"Subject.1"`` for a repeat), as lme4's
        ``VarCorr`` prints it.
    factors : tuple of str
        Columns whose interaction defines the groups.
    codes : ndarray of int32, shape (n,)
        0-based level of each observation.
    levels : tuple of str, length l_k
    X : ndarray, shape (n, q_k)
        The term's columns (``1``, ``Days``, dummy columns of a factor ...).
    cnames : tuple of str, length q_k
    encoding : ColumnEncoding
        Rebuilds ``X`` for new data.
    spec_index : int
        Position of the term in ``ModelSpec.random``.
    """

    group: str
    label: str
    factors: tuple[str, ...]
    codes: np.ndarray
    levels: tuple[str, ...]
    X: np.ndarray
    cnames: tuple[str, ...]
    encoding: ColumnEncoding = field(repr=False)
    spec_index: int = 0

    @property
    def nlevels(self) -> int:
        return len(self.levels)

    @property
    def q(self) -> int:
        return self.X.shape[1]

    @property
    def ncols(self) -> int:
        """Columns of Z_k: l_k q_k."""
        return self.nlevels * self.q

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    def Z(self) -> sp.csc_matrix:
        """Z_k as a sparse matrix, shape (n, l_k q_k), level-major columns."""
        n, q = self.X.shape
        rows = np.repeat(np.arange(n), q)
        cols = (self.codes[:, None] * q + np.arange(q)[None, :]).ravel()
        return sp.csc_matrix((self.X.ravel(), (rows, cols)), shape=(n, self.ncols))

    def new_codes(self, data: pd.DataFrame, allow_new_levels: bool = False) -> np.ndarray:
        """Codes of new data's groups; -1 marks a level the fit never saw.

        Raises
        ------
        NewLevelError
            New levels when ``allow_new_levels`` is False, naming the factor and levels.
        """
        labels = group_labels(data, self.factors)
        index = {lev: i for i, lev in enumerate(self.levels)}
        codes = np.array([index.get(lab, -1) for lab in labels], dtype=np.int32)
        if not allow_new_levels and np.any(codes < 0):
            new = sorted({lab for lab, c in zip(labels, codes, strict=True) if c < 0})
            shown = ", ".join(repr(v) for v in new[:10])
            raise NewLevelError(
                f"grouping factor {self.group!r} has new level(s) {shown}"
                f"{' ...' if len(new) > 10 else ''} in the new data; pass "
                "allow_new_levels=True to predict them from the population (b = 0)")
        return codes


def level_strings(col: pd.Series) -> list[str]:
    """Values of one factor as level labels: integral floats print as integers, like R."""
    if pd.api.types.is_float_dtype(col.dtype):
        vals = col.to_numpy(dtype=float)
        return [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in vals]
    if pd.api.types.is_bool_dtype(col.dtype):
        return ["TRUE" if v else "FALSE" for v in col]
    return [str(v) for v in col.astype(object)]


def group_labels(data: pd.DataFrame, factors: tuple[str, ...]) -> list[str]:
    """Labels of each row's group: ``"a:A"`` for an interaction of two factors."""
    parts = [level_strings(data[f]) for f in factors]
    if len(parts) == 1:
        return parts[0]
    return [":".join(p) for p in zip(*parts, strict=True)]


def _factor_codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes (n,) and levels of one factor, vectorised (no per-row Python work)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.cat.remove_unused_categories()
        return col.cat.codes.to_numpy().astype(np.int64), level_strings(
            pd.Series(col.cat.categories))
    if pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=bool)
        uniq, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64), ["TRUE" if u else "FALSE" for u in uniq]
    if pd.api.types.is_numeric_dtype(col.dtype):
        codes, uniq = pd.factorize(col.to_numpy(dtype=float), sort=True)
        return codes.astype(np.int64), level_strings(pd.Series(uniq))
    codes, uniques = pd.factorize(col.astype(str), sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def grouping_codes(data: pd.DataFrame, factors: tuple[str, ...]) -> tuple[np.ndarray,
                                                                            tuple[str, ...]]:
    """Codes (n,) and levels of the interaction of ``factors``, unused combinations dropped.

    Levels of an interaction are ordered by the first factor's level, then the second's...,
    which is the order R's ``factor(a:b)`` gives.
    """
    per_factor = [_factor_codes(data[f]) for f in factors]
    if len(per_factor) == 1:
        codes, levels = per_factor[0]
        return codes.astype(np.int32), tuple(levels)
    key = np.zeros(len(data), dtype=np.int64)
    for codes, levels in per_factor:
        key = key * len(levels) + codes  # mixed radix: sorts as (first, second, ...)
    uniq, inverse = np.unique(key, return_inverse=True)
    parts = []
    rem = uniq.copy()
    for _, levels in reversed(per_factor):
        parts.append(np.asarray(levels, dtype=object)[rem % len(levels)])
        rem = rem // len(levels)
    labels = tuple(":".join(str(p) for p in row) for row in zip(*reversed(parts), strict=True))
    return inverse.astype(np.int32).ravel(), labels


def check_grouping(term: ReTerm, nobs: int, free_scale: bool) -> None:
    """lme4's checks on a grouping factor (``check.nlev.gtr.1``, ``check.nobs.vs.nlev``,
    ``check.nobs.vs.nRE``).

    Raises
    ------
    GroupingFactorError
    """
    if term.nlevels < 2:
        raise GroupingFactorError(
            f"grouping factor {term.group!r} has only {term.nlevels} level "
            f"({', '.join(term.levels)}); a random effect needs at least 2 sampled levels")
    if free_scale and term.nlevels >= nobs:
        raise GroupingFactorError(
            f"grouping factor {term.group!r} has {term.nlevels} levels for {nobs} observations; "
            "with a residual variance the random effects and the residual are not identifiable "
            "(lme4: number of levels of each grouping factor must be < number of observations)")
    if free_scale and term.ncols >= nobs:
        raise GroupingFactorError(
            f"term ({' + '.join(term.cnames)} | {term.group}) has {term.ncols} random effects "
            f"for {nobs} observations; the random-effects parameters and the residual variance "
            "are probably unidentifiable (lme4: check.nobs.vs.nRE)")
