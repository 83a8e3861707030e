"""Perfect separation: fixed-effect columns that predict a binomial or poisson response exactly.

For a binomial response, X separates the data when some direction w != 0 has
``x_i' w >= 0`` on every row with only successes (y = 1), ``x_i' w <= 0`` on every row with
only failures (y = 0) and ``x_i' w = 0`` on rows with both, with strict inequality somewhere
(complete or quasi-complete separation; Albert and Anderson 1984). The likelihood then keeps
increasing along w, the maximum-likelihood beta is infinite and PIRLS cannot converge. For a
poisson response the same holds with the zero counts on one side (``x_i' w <= 0``) and every
positive count on the boundary (``x_i' w = 0``): a level whose counts are all zero.

Whether such a w exists is a linear programme (Konis 2007): maximise sum_i s_i x_i' w over the
rows with a sign s_i, subject to the sign constraints and -1 <= w_j <= 1; the optimum is
positive exactly when the data are separated. Random effects do not remove the problem: the
GLM that gives PIRLS its start is fitted without them. The check runs only after PIRLS has
failed, to say why and which columns are at fault.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from ..design import Design

#: Families whose likelihood can be separated.
SEPARABLE = ("binomial", "poisson")


def _signs(design: Design) -> np.ndarray | None:
    """Per row: +1 (must have x'w >= 0), -1 (x'w <= 0), 0 (x'w = 0); rows of weight 0 get
    nan (unconstrained). None for a family that cannot be separated."""
    fam, y, w = design.family.name, np.asarray(design.y), np.asarray(design.weights)
    if fam == "binomial":
        s = np.where(y >= 1.0, 1.0, np.where(y <= 0.0, -1.0, 0.0))
    elif fam == "poisson":
        s = np.where(y <= 0.0, -1.0, 0.0)
    else:
        return None
    return np.where(w > 0, s, np.nan)


def _separates(X: np.ndarray, s: np.ndarray) -> np.ndarray | None:
    """The separating direction w (p,) of the linear programme, or None."""
    keep = ~np.isnan(s)
    X, s = X[keep], s[keep]
    signed = X[s != 0] * s[s != 0, None]  # rows with a sign, oriented so that >= 0 is allowed
    zero = X[s == 0]
    scale = float(np.abs(signed).sum()) if signed.size else 0.0
    if scale == 0.0:
        return None
    res = linprog(-signed.sum(axis=0),
                  A_ub=-signed, b_ub=np.zeros(signed.shape[0]),
                  A_eq=zero if zero.shape[0] else None,
                  b_eq=np.zeros(zero.shape[0]) if zero.shape[0] else None,
                  bounds=[(-1.0, 1.0)] * X.shape[1], method="highs")
    if res.status != 0 or res.fun is None or -float(res.fun) <= 1e-9 * scale:
        return None
    return np.asarray(res.x)


def separating_columns(design: Design) -> tuple[str, ...]:
    """Names of the fixed-effect columns that separate the response, empty when none do.

    Each column is tried alone (with the intercept, when the model has one) so that the names
    point at the culprit; when no single column separates, the columns of a separating
    combination of all of them are named.
    """
    s = _signs(design)
    X = np.asarray(design.X, dtype=float)
    names = list(design.fixef_names)
    if s is None or X.shape[1] == 0:
        return ()
    intercept = [j for j, col in enumerate(X.T) if np.all(col == col[0]) and col[0] != 0]
    found = []
    for j in range(X.shape[1]):
        if j in intercept:
            continue
        cols = [*intercept, j]
        if _separates(X[:, cols], s) is not None:
            found.append(names[j])
    if found:
        return tuple(found)
    w = _separates(X, s)
    if w is None:
        return ()
    big = np.abs(w) > 1e-8 * np.abs(w).max()
    named = [names[j] for j in range(X.shape[1]) if big[j] and j not in intercept]
    return tuple(named) if named else tuple(names[j] for j in intercept)


def separation_message(design: Design, columns: tuple[str, ...]) -> str:
    """Why PIRLS failed, naming the separating columns, with advice."""
    what = ("successes from failures" if design.family.name == "binomial"
            else "the zero counts from the others")
    cols = ", ".join(repr(c) for c in columns)
    return (f"perfect separation: the fixed-effect column(s) {cols} separate {what} in the "
            f"response {design.response_name!r}, so the maximum-likelihood coefficients are "
            "infinite and PIRLS cannot converge. Remove or merge the column(s) or levels at "
            "fault, or sample the Bayesian model (Model.sample()), whose priors keep the "
            "coefficients finite")
