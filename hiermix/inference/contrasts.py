"""Type III hypothesis matrices for the fixed-effect terms, as lmerTest 3.1 builds them
(``get_contrasts_type3`` with treatment contrasts, ``extract_contrasts_type3``).

With X (n, p) the treatment-coded design and rdX (n, pp) the over-parameterised one (an
intercept, then every term with full indicator coding: all levels of a factor, all cells of an
interaction), rdX = X M for the p x pp matrix M = X^+ rdX, and L0 = M' (pp, p) says how each
over-parameterised effect is a combination of the coefficients. A term contained in others
(SAS's containment: same continuous variables, a proper subset of the factors) gets its
columns of L0 replaced by their residuals on the columns of the terms containing it, higher
order terms first. The rows of L0 that are columns of X then give, per term, its hypothesis
matrix L (q, p): the transpose of the term's columns, zero rows dropped. A term no other term
contains gets the identity rows of its own coefficients.

lmerTest computes M from the data; M is a property of the coding alone whenever rdX lies in
the column space of X (every hierarchical model), so here it is computed on a small synthetic
frame: every combination of the factor levels, with random positive values for the numeric
variables, repeated until X has full column rank. A model whose rdX is not in X's column space
(an interaction without its marginal terms) raises :class:`ModelError`: lmerTest then falls
back on the data's projection, which hiermix does not keep.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError

#: Largest synthetic frame built to find M (rows).
MAX_GRID_ROWS = 200_000
#: Rows of a hypothesis matrix with absolute sum below this are dropped (as lmerTest does).
ZERO_TOL = 1e-8


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest entry."""
    mx = float(np.max(np.abs(x))) if x.size else 0.0
    if mx == 0.0:
        return x
    return np.round(x, max(0, digits - int(np.ceil(np.log10(mx)))))


def _variables(term: Any) -> list[str]:
    return [str(f.expr) for f in term.factors if str(f.expr) != "1"]


def containment(terms: list[Any], categorical: set[str]) -> dict[str, list[str]]:
    """Term label -> labels of the terms that contain it (lmerTest's ``term_contain``)."""
    info = {str(t): (set(_variables(t)), {v for v in _variables(t) if v not in categorical})
            for t in terms}
    out: dict[str, list[str]] = {}
    for a, (va, na) in info.items():
        out[a] = [b for b, (vb, nb) in info.items()
                  if b != a and va <= vb and len(vb - va) > 0 and na == nb]
    return out


def _grid(encoding: Any, p: int, user: tuple[str, ...] = (),
          seed: int = 20261201) -> pd.DataFrame:
    from ..design.frame import formula_variables

    cats = encoding.categories()
    names = [v for v in dict.fromkeys(formula_variables(encoding.formula, user))]
    numeric = [v for v in names if v not in cats]
    combos = list(itertools.product(*[cats[v] for v in cats])) or [()]
    reps = max(2, p + 1)
    if len(combos) * reps > MAX_GRID_ROWS:
        raise ModelError(f"type III contrasts need a frame of {len(combos) * reps} rows, above "
                         f"{MAX_GRID_ROWS}; test the terms with explicit contrasts instead")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(combos * reps, columns=list(cats))
    for v in cats:
        frame[v] = pd.Categorical(frame[v], categories=cats[v])
    for v in numeric:
        frame[v] = rng.uniform(1.0, 2.0, size=len(frame))
    return frame


def type3_contrasts(design: Any) -> dict[str, np.ndarray]:
    """Term label -> its type III hypothesis matrix L (q, p), in term order.

    Raises
    ------
    ModelError
        The fixed part cannot be rebuilt on a synthetic frame, or the model is not
        hierarchical (see the module docstring).
    """
    from formulaic import model_matrix

    from ..formula.transforms import formula_context

    enc = design.fixed_encoding
    p = design.p
    keep = np.asarray(enc.keep)
    if enc.model_spec is None:
        terms_cols = {str(n): [j] for j, n in enumerate(enc.names)
                      if n not in ("Intercept", "(Intercept)")}
        return {t: np.eye(p)[cols] for t, cols in terms_cols.items()}
    spec = enc.model_spec
    terms = [t for t in spec.term_slices if str(t) != "1"]
    has_intercept = any(str(t) == "1" for t in spec.term_slices)
    frame = _grid(enc, p, tuple(getattr(design, "transforms", None) or ()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (m, p) with the dropped columns already removed
        X = enc.transform(frame, getattr(design, "transforms", None))
        blocks = [np.ones((len(frame), 1))] if has_intercept else []
        for t in terms:
            mm = model_matrix(f"0 + {t}", frame,
                              context=formula_context(getattr(design, "transforms", None)),
                              ensure_full_rank=False)
            blocks.append(np.asarray(mm, dtype=float))
    rdX = np.hstack(blocks)
    if np.linalg.matrix_rank(X) < p:
        raise ModelError("the fixed-effects design could not be rebuilt with full rank for the "
                         "type III contrasts")
    M, *_ = np.linalg.lstsq(X, rdX, rcond=None)  # (p, pp)
    if not np.allclose(X @ M, rdX, atol=1e-8 * max(1.0, np.abs(rdX).max())):
        raise ModelError("type III contrasts need a hierarchical model (every interaction with "
                         "its marginal terms); test the terms with explicit contrasts instead")
    L = zapsmall(M.T)  # (pp, p), as lmerTest zaps it
    # Columns of X per term, in X's (kept) numbering.
    pos = {int(j): k for k, j in enumerate(keep)}
    cols = {str(t): [pos[j] for j in range(sl.start, sl.stop) if j in pos]
            for t, sl in spec.term_slices.items() if str(t) != "1"}
    cats = set(enc.categories())
    contained = containment(terms, cats)
    order = sorted(terms, key=lambda t: -len(t.factors))  # stable: higher order first
    for t in order:
        label = str(t)
        outer = [c for o in contained[label] for c in cols[o]]
        if not outer or not cols[label]:
            continue
        A = L[:, outer]
        B = L[:, cols[label]]
        coef, *_ = np.linalg.lstsq(A, B, rcond=None)
        L[:, cols[label]] = zapsmall(B - A @ coef)
    # Rows of L that are columns of X: the rdX column equal to each X column.
    rows = []
    for k in range(p):
        match = np.flatnonzero(np.all(np.isclose(rdX, X[:, [k]], rtol=0, atol=1e-12), axis=0))
        if match.size == 0:
            raise ModelError(f"column {design.fixef_names[k]!r} of the fixed effects has no "
                             "counterpart in the over-parameterised design; type III contrasts "
                             "need treatment-coded factors")
        rows.append(int(match[0]))
    Lp = L[rows]  # (p, p): rows = coefficients, columns = coefficients
    out: dict[str, np.ndarray] = {}
    for t in terms:
        label = str(t)
        if not cols[label]:
            continue
        Lt = Lp[:, cols[label]].T
        Lt = Lt[np.sum(np.abs(Lt), axis=1) > ZERO_TOL]
        if Lt.shape[0]:
            out[label] = Lt
    return out
