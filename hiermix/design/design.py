"""The Design: a ModelSpec bound to data. Both engines start from it and from nothing else.

Holds, for n observations, p fixed effects and K random-effects terms::

    y        (n,)        response (a proportion for binomial)
    X        (n, p)      fixed-effects model matrix, columns named ``fixef_names``
    reterms  K blocks    one :class:`ReTerm` per term: codes (n,), levels, X_k (n, q_k)
    weights  (n,)        prior weights (binomial: times the trials of a cbind response)
    offset   (n,)        added to the linear predictor
    family               distribution and link

Terms are ordered as lme4 1.1-31 orders them (``mkReTrms``), a ``||`` term first split into one
term per column: when the numbers of levels do not already decrease along the formula, by
decreasing number of levels with ties in *reverse* formula order (lme4 takes
``rev(order(nl))``), so ``(1 | Part) + (1 | Operator) + (1 | Part:Operator)`` with 3, 3 and 9
levels becomes ``Part:Operator, Operator, Part``; otherwise in formula order. This order is the
order of theta, of the blocks of Z and of ``varcorr``.
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import PACKAGE_DIR, DataError
from ..family import Family
from ..formula.allowlist import CONSTANTS
from ..formula.transforms import validate_transforms
from ..naming import lme4_name, term_labels
from ..pickling import ReadOnlyArrays
from ..spec import ModelSpec
from .frame import (
    ModelFrame,
    build_frame,
    check_columns,
    evaluate,
    expression_names,
    formula_variables,
)
from .matrices import ColumnEncoding, independent_columns, learn_encoding
from .response import Response, build_response
from .reterm import ReTerm, check_grouping, grouping_codes


class RankDeficiencyWarning(UserWarning):
    """Fixed-effect columns were dropped because X is rank deficient."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class NewData(ReadOnlyArrays):
    """New data encoded with a design's encodings (see :meth:`Design.encode_new`).

    Attributes
    ----------
    X : ndarray, shape (m, p)
    offset : ndarray, shape (m,)
    codes : tuple of ndarray of int32, shape (m,) each
        Per design term; -1 for a level the fit never saw.
    Xk : tuple of ndarray, shape (m, q_k) each
    """

    X: np.ndarray
    offset: np.ndarray
    codes: tuple[np.ndarray, ...]
    Xk: tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class Design(ReadOnlyArrays):
    """A :class:`ModelSpec` bound to data: y, X, random-effects blocks, weights, offset.

    Build it through :class:`hiermix.Model` (or :func:`build_design`). Arrays are read-only.

    Attributes
    ----------
    spec : ModelSpec
    family : Family
    y : ndarray, shape (n,)
    X : ndarray, shape (n, p)
    fixef_names : tuple of str, length p
    reterms : tuple of ReTerm
    weights : ndarray, shape (n,)
    offset : ndarray, shape (n,)
    rows : ndarray of int, shape (n,)
        Positions in the user's data of the rows used.
    n_dropped : int
        Rows dropped for missing values.
    dropped_fixef : tuple of str
        Columns of X dropped for rank deficiency.
    response_name : str
    response_levels : tuple of str or None
        (failure, success) for a two-level categorical response.
    has_weights : bool
        True when the user passed weights or the response is cbind (prior weights not all 1).
    data_name : str
        What summaries print after "Data:" (empty when unknown).
    transforms : dict of str to callable
        The user's own functions the formula may call (``Model(..., transforms=...)``);
        empty unless given. Module-level functions keep the design picklable.
    """

    spec: ModelSpec
    family: Family
    y: np.ndarray
    X: np.ndarray
    fixef_names: tuple[str, ...]
    reterms: tuple[ReTerm, ...]
    weights: np.ndarray
    offset: np.ndarray
    rows: np.ndarray
    n_dropped: int
    fixed_encoding: ColumnEncoding = field(repr=False)
    dropped_fixef: tuple[str, ...] = ()
    response_name: str = ""
    response_levels: tuple[str, ...] | None = None
    has_weights: bool = False
    user_weights: Any = field(default=None, repr=False)
    user_offset: Any = field(default=None, repr=False)
    data_name: str = ""
    transforms: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def nobs(self) -> int:
        """Number of observations used (after dropping incomplete rows)."""
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        """Number of fixed effects."""
        return int(self.X.shape[1])

    @property
    def ngrps(self) -> dict[str, int]:
        """Grouping factor (lme4's name) -> number of levels, in design order."""
        out: dict[str, int] = {}
        for t in self.reterms:
            out.setdefault(t.group, t.nlevels)
        return out

    @property
    def fixef_names_lme4(self) -> tuple[str, ...]:
        """lme4's spelling of the fixed-effect names (``period[T.2]`` -> ``period2``)."""
        return tuple(lme4_name(n) for n in self.fixef_names)

    @property
    def n_theta(self) -> int:
        return sum(t.n_theta for t in self.reterms)

    @property
    def q_total(self) -> int:
        """Number of random effects: sum over terms of l_k q_k."""
        return sum(t.ncols for t in self.reterms)

    @cached_property
    def Z(self) -> sp.csc_matrix:
        """Z = [Z_1 ... Z_K] as a sparse matrix, shape (n, q_total). Never dense."""
        if not self.reterms:
            return sp.csc_matrix((self.nobs, 0))
        return sp.hstack([t.Z() for t in self.reterms], format="csc")

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the spec, family and every array: equal designs, equal fingerprints."""
        h = hashlib.sha256()
        h.update(repr((str(self.spec), repr(self.family), self.fixef_names)).encode())
        for a in (self.y, self.X, self.weights, self.offset):
            h.update(np.ascontiguousarray(a).tobytes())
        for t in self.reterms:
            h.update(repr((t.label, t.levels, t.cnames)).encode())
            h.update(t.codes.tobytes())
            h.update(np.ascontiguousarray(t.X).tobytes())
        return h.hexdigest()[:16]

    def with_response(self, y: Any) -> Design:
        """The same design with a new response (n,), for ``refit`` and simulation studies.

        Raises
        ------
        DataError
            Wrong length or non-finite values.
        """
        y_new = np.asarray(y, dtype=float).ravel()
        if y_new.shape != self.y.shape:
            raise DataError(f"the new response has {y_new.size} values; the design has "
                            f"{self.nobs} observations")
        if not np.all(np.isfinite(y_new)):
            raise DataError("the new response has non-finite values")
        self.family.validate(y_new, self.weights, self.response_name)
        return replace(self, y=_frozen(y_new))

    def encode_new(self, newdata: pd.DataFrame | Mapping[str, Sequence[Any]],
                   allow_new_levels: bool = False,
                   with_random: bool | Sequence[bool] = True) -> NewData:
        """Encode new data with the fitted encodings (for ``predict``).

        Parameters
        ----------
        newdata : DataFrame
        allow_new_levels : bool
            When False, a grouping level the fit never saw raises :class:`NewLevelError`;
            when True it gets code -1 (b = 0 in predictions, as in lme4).
        with_random : bool or sequence of bool
            False skips the random-effects terms (lme4's ``re.form = NA``); one flag per term
            encodes only the flagged terms (the others get code -1 and zero columns, so they
            add nothing to a prediction).

        Raises
        ------
        NewLevelError, UnknownColumnError, MissingValueError, DuplicateColumnError,
        ColumnTypeError
        """
        from ..errors import MissingValueError, UnknownColumnError

        nd = newdata if isinstance(newdata, pd.DataFrame) else pd.DataFrame(newdata)
        # every expression is checked against the allow-list again, before anything runs
        user = tuple(self.transforms)
        if isinstance(with_random, bool):
            use = [with_random] * len(self.reterms)
        else:
            use = [bool(u) for u in with_random]
        numeric = formula_variables(self.fixed_encoding.formula, user)
        factors: list[str] = []
        for t, u in zip(self.reterms, use, strict=True):
            if u:
                factors += list(t.factors)
                numeric += formula_variables(t.encoding.formula, user)
        for o in self.spec.offsets:
            numeric += expression_names(o, user)[1]
        if isinstance(self.user_offset, str):
            numeric.append(self.user_offset)
        needed = numeric + factors
        check_columns(nd, [n for n in needed if n in nd.columns], numeric, where="newdata")
        for name in dict.fromkeys(needed):
            if name in CONSTANTS and name not in nd.columns:
                continue
            if name not in nd.columns:
                raise UnknownColumnError(name, [str(c) for c in nd.columns], where="newdata")
            if nd[name].isna().any():
                raise MissingValueError(f"newdata column {name!r} has missing values")
        m = len(nd)
        X = self.fixed_encoding.transform(nd, self.transforms) if self.p else np.zeros((m, 0))
        offset = np.zeros(m)
        for o in self.spec.offsets:
            offset = offset + np.broadcast_to(
                evaluate(o, nd, self.transforms, in_offset=True), (m,))
        if isinstance(self.user_offset, str):
            offset = offset + nd[self.user_offset].to_numpy(dtype=float)
        codes, Xk = [], []
        if any(use):
            for t, u in zip(self.reterms, use, strict=True):
                if u:
                    codes.append(t.new_codes(nd, allow_new_levels))
                    Xk.append(t.encoding.transform(nd, self.transforms))
                else:
                    codes.append(np.full(m, -1, dtype=np.intp))
                    Xk.append(np.zeros((m, t.q)))
        return NewData(X=X, offset=offset, codes=tuple(codes), Xk=tuple(Xk))

    def summary(self) -> str:
        """A few lines describing the design (dimensions, dropped rows and columns)."""
        lines = [f"Design for {self.spec}",
                 f"  family: {self.family}",
                 f"  observations: {self.nobs}"
                 + (f" ({self.n_dropped} dropped for missing values)" if self.n_dropped else ""),
                 f"  fixed effects (p = {self.p}): {', '.join(self.fixef_names)}"]
        if self.dropped_fixef:
            lines.append(f"  dropped for rank deficiency: {', '.join(self.dropped_fixef)}")
        for t in self.reterms:
            lines.append(f"  term {t.label}: {t.nlevels} levels x {t.q} column(s) "
                         f"({', '.join(t.cnames)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        grps = ", ".join(f"{k}: {v}" for k, v in self.ngrps.items())
        return (f"<Design {self.spec} | n={self.nobs}, p={self.p}, "
                f"groups {{{grps}}}, family={self.family.r_name}({self.family.link.name})>")



def lme4_term_order(terms: Sequence[ReTerm]) -> list[ReTerm]:
    """Random-effects terms in lme4's order (``mkReTrms``, ``reorder.terms = TRUE``).

    lme4 reorders only when some term has more levels than the one before it
    (``any(diff(nl) > 0)``), and then takes ``rev(order(nl))``: R's ``order`` is stable, so
    the reversal puts terms with equal numbers of levels in reverse formula order.
    """
    nl = [t.nlevels for t in terms]
    if not any(b > a for a, b in itertools.pairwise(nl)):
        return list(terms)
    return [terms[i] for i in sorted(range(len(terms)), key=lambda i: (-nl[i], -i))]

def check_zero_weights(w: np.ndarray, rows: np.ndarray, family: Family) -> None:
    """Refuse zero prior weights for families with a dispersion parameter.

    For binomial and poisson a row of weight 0 adds exactly 0 to the log-likelihood in both
    engines (:meth:`Family.loglik` and the Bayesian likelihood agree), so the fit equals the
    fit without that row. For gaussian, Gamma and inverse gaussian responses a zero weight
    gives the observation an infinite variance: its log-density is undefined, and lme4's lmer,
    which keeps such rows in n, maximises a criterion that is not the likelihood of the other
    rows. Rather than fit two different models in the two engines, both refuse it.

    Raises
    ------
    DataError
        Naming how many rows and the first of them (its position in the user's data).
    """
    zero = w == 0
    if family.has_dispersion and np.any(zero):
        first = int(rows[np.flatnonzero(zero)[0]])
        raise DataError(
            f"weights must be > 0 for the {family.r_name} family: {int(zero.sum())} row(s) "
            f"have weight 0 (the first at position {first} of the data). A zero weight would "
            "give an observation infinite variance, which neither engine can fit as the same "
            "model; drop those rows instead, e.g. data[weights > 0]")


def build_design(
    spec: ModelSpec,
    data: pd.DataFrame | Mapping[str, Sequence[Any]],
    family: Family,
    weights: Any = None,
    offset: Any = None,
    na_action: str = "omit",
    data_name: str = "",
    transforms: Mapping[str, Any] | None = None,
) -> Design:
    """Bind ``spec`` to ``data``: the one step from a data-free spec to matrices.

    Every expression of ``spec`` is checked against the allow-list
    (:mod:`hiermix.formula.allowlist`) before anything is evaluated, also when ``spec`` was
    built by hand rather than parsed.

    Parameters
    ----------
    transforms : mapping of str to callable, optional
        The user's own functions the formula may call.

    Raises
    ------
    HiermixError subclasses
        Expressions outside the allow-list, unknown columns, missing values with
        ``na_action="raise"``, empty data, infinite values, transforms undefined for some
        values (``log`` of a negative value), unusable responses, responses outside the
        family's support, grouping factors refused by lme4's checks.
    """
    user = validate_transforms(transforms)
    frame: ModelFrame = build_frame(spec, data, weights, offset, na_action, transforms=user)
    fdata = frame.data
    n = frame.nobs
    response: Response = build_response(spec.response, fdata, family, transforms=user)

    w = np.ones(n) if frame.weights is None else frame.weights.copy()
    if np.any(w < 0):
        raise DataError(f"weights must be >= 0; found {w[w < 0][0]!r}")
    check_zero_weights(w, frame.rows, family)
    if response.trials is not None:
        w = w * response.trials
    family.validate(response.y, w, response.name)

    off = np.zeros(n) if frame.offset is None else frame.offset.copy()
    for o in spec.offsets:
        val = np.asarray(evaluate(o, fdata, user, in_offset=True), dtype=float)
        if not np.all(np.isfinite(val)):
            raise DataError(f"offset({o}) has non-finite values")
        off = off + np.broadcast_to(val, (n,))

    X, fenc = learn_encoding(spec.fixed, fdata, "fixed effects", user)
    keep = independent_columns(X)
    dropped: tuple[str, ...] = ()
    if keep.size < X.shape[1]:
        dropped = tuple(fenc.names[j] for j in range(X.shape[1]) if j not in set(keep))
        k = len(dropped)
        warnings.warn(f"fixed-effect model matrix is rank deficient so dropping {k} "
                      f"column{'s' if k > 1 else ''} / coefficient{'s' if k > 1 else ''}: "
                      f"{', '.join(dropped)}", RankDeficiencyWarning,
                      skip_file_prefixes=(PACKAGE_DIR,))
        X = X[:, keep]
        fenc = ColumnEncoding(fenc.formula, fenc.model_spec, tuple(fenc.names[j] for j in keep),
                              keep)

    built = []
    for idx, t in enumerate(spec.random):
        codes, levels = grouping_codes(fdata, t.group)
        Xk, enc = learn_encoding(t.expr, fdata, f"random term {t}", user)
        if t.correlated:
            pieces = [(Xk, enc)]
        else:
            pieces = [(Xk[:, [j]], ColumnEncoding(enc.formula, enc.model_spec, (enc.names[j],),
                                                  np.array([j]))) for j in range(Xk.shape[1])]
        for Xpart, encpart in pieces:
            built.append(ReTerm(group=t.group_name, label=t.group_name, factors=t.group,
                                codes=_frozen(codes), levels=levels, X=_frozen(Xpart),
                                cnames=encpart.names, encoding=encpart, spec_index=idx))
    ordered = lme4_term_order(built)
    labels = term_labels([t.group for t in ordered])
    reterms = tuple(replace(t, label=lab) for t, lab in zip(ordered, labels, strict=True))
    for term in reterms:
        check_grouping(term, n, free_scale=family.has_scale)

    return Design(
        spec=spec,
        family=family,
        y=_frozen(response.y),
        X=_frozen(X),
        fixef_names=fenc.names,
        reterms=reterms,
        weights=_frozen(w),
        offset=_frozen(off),
        rows=_frozen(frame.rows),
        n_dropped=frame.n_dropped,
        fixed_encoding=fenc,
        dropped_fixef=dropped,
        response_name=response.name,
        response_levels=response.levels,
        has_weights=bool(frame.weights is not None or response.trials is not None),
        user_weights=weights if isinstance(weights, str) else None,
        user_offset=offset if isinstance(offset, str) else None,
        data_name=data_name,
        transforms=user,
    )
