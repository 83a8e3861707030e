"""Satterthwaite degrees of freedom for t and F tests of the fixed effects of a linear mixed
model, as lmerTest 3.1 computes them.

Variance parameters (lmerTest's ``varpar``): x = (theta, sigma), theta relative to sigma in
lme4's order. With beta profiled out, the criterion at given (theta, sigma) is

    d(theta, sigma) = a(theta) + r^2(theta) / sigma^2 + nu log(2 pi sigma^2),

a = log|L_theta|^2 (+ log|R_X|^2 for REML), r^2 the penalised residual sum of squares and
nu = n - p (REML) or n (ML): lmerTest's ``devfun_vp``. The covariance of beta-hat is
V(theta, sigma) = sigma^2 (R_X' R_X)^{-1}(theta). Then

    A = 2 H^+                the covariance of x-hat, H the Hessian of d at x-hat, ^+ the
                             Moore-Penrose inverse over eigenvalues above 1e-8 (lmerTest's);
    J_i = dV / dx_i          (p, p) for each variance parameter;
    df(l) = 2 (l' V l)^2 / (g' A g),   g_i = l' J_i l,   for a contrast l (p,).

The sigma derivatives are analytic; the theta derivatives of a, r^2 and (R_X' R_X)^{-1} are
central differences with Richardson extrapolation over four halvings of a starting step of
0.1 |theta_i| (numDeriv's defaults, which lmerTest uses), so they agree with lmerTest's to far
below the 1e-3 relative tolerance of the tests.

A multi-row contrast L (q, p) is tested as lmerTest's ``contestMD``: the eigenvectors of
L V L' turn it into q independent t statistics with Satterthwaite df nu_m; F is their mean
square and its denominator df is 2E / (E - q), E = sum nu_m / (nu_m - 2) (2 if any nu_m <= 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy import stats

from ..errors import ModelError

#: numDeriv's defaults for ``hessian``: relative starting step, the absolute step for entries
#: near zero, and the threshold that decides which is used.
STEP_RELATIVE = 0.1
STEP_ZERO = 1e-4
ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))
#: Richardson levels (numDeriv's r = 4), each halving the step.
RICHARDSON_LEVELS = 4
#: Eigenvalues of H at or below this count as zero in its inverse (lmerTest's ``tol``).
EIGEN_TOL = 1e-8
#: Successive t-statistic df closer than this are averaged (lmerTest's ``get_Fstat_ddf``).
FSTAT_DDF_TOL = 1e-8


def richardson(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, gradient and Hessian of a vector function by Richardson-extrapolated central
    differences.

    Parameters
    ----------
    fun : callable
        x (k,) -> values (m,).
    x : ndarray, shape (k,)

    Returns
    -------
    value : ndarray, shape (m,)
    gradient : ndarray, shape (m, k)
    hessian : ndarray, shape (m, k, k)

    Notes
    -----
    Central differences have errors in even powers of the step h; with h halved at each level,
    the table T[l, j] = (4^j T[l, j-1] - T[l-1, j-1]) / (4^j - 1) removes them one by one.
    Mixed second derivatives use the four-point formula, whose error is also even in h when
    both steps shrink together.
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    f0 = np.asarray(fun(x), dtype=float)
    m = f0.size
    h0 = np.where(np.abs(x) < ZERO_TOL, STEP_ZERO, STEP_RELATIVE * np.abs(x))
    grads = np.empty((RICHARDSON_LEVELS, m, k))
    hess = np.empty((RICHARDSON_LEVELS, m, k, k))
    for level in range(RICHARDSON_LEVELS):
        h = h0 / 2.0**level
        plus = np.empty((k, m))
        minus = np.empty((k, m))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            plus[i], minus[i] = fun(x + e), fun(x - e)
        grads[level] = ((plus - minus) / (2.0 * h[:, None])).T
        for i in range(k):
            hess[level, :, i, i] = (plus[i] - 2.0 * f0 + minus[i]) / h[i] ** 2
            for j in range(i):
                ei = np.zeros(k)
                ei[i] = h[i]
                ej = np.zeros(k)
                ej[j] = h[j]
                val = (fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej)
                       + fun(x - ei - ej)) / (4.0 * h[i] * h[j])
                hess[level, :, i, j] = hess[level, :, j, i] = val
    return f0, _extrapolate(grads), _extrapolate(hess)


def _extrapolate(table: np.ndarray) -> np.ndarray:
    """The last entry of the Richardson table over the first axis (halved steps)."""
    t = table.copy()
    for j in range(1, t.shape[0]):
        t[j:] = (4.0**j * t[j:] - t[j - 1:-1]) / (4.0**j - 1.0)
    return t[-1]


def _check_lmm(fit: Any, what: str) -> None:
    fam = fit.design.family
    if fam.name != "gaussian" or fam.link.name != "identity" or not hasattr(fit, "pwrss") \
            or getattr(fit, "nAGQ", None) is not None:
        raise ModelError(f"{what} degrees of freedom apply to linear mixed models (lmer fits); "
                         f"this is a {fam.name}({fam.link.name}) GLMM: use ddf=None (z tests)")


@dataclass(frozen=True)
class Satterthwaite:
    """What Satterthwaite's method needs from a fit (lmerTest's ``lmerModLmerTest`` slots).

    Attributes
    ----------
    varpar : ndarray, shape (k,)
        (theta, sigma) at the estimates, k = n_theta + 1.
    hessian : ndarray, shape (k, k)
        Hessian of the criterion d(theta, sigma).
    vcov_varpar : ndarray, shape (k, k)
        2 H^+, the asymptotic covariance of varpar.
    vcov_beta : ndarray, shape (p, p)
        sigma^2 (R_X' R_X)^{-1}.
    jacobian : ndarray, shape (k, p, p)
        dV / d varpar_i.
    beta : ndarray, shape (p,)
    """

    varpar: np.ndarray
    hessian: np.ndarray
    vcov_varpar: np.ndarray
    vcov_beta: np.ndarray
    jacobian: np.ndarray
    beta: np.ndarray

    def t_test(self, L: np.ndarray) -> tuple[float, float, float]:
        """(estimate, variance, df) of the contrast l' beta, l of shape (p,)."""
        L = np.asarray(L, dtype=float).ravel()
        var = float(L @ self.vcov_beta @ L)
        g = np.einsum("i,kij,j->k", L, self.jacobian, L)
        denom = float(g @ self.vcov_varpar @ g)
        df = 2.0 * var**2 / denom if denom > 0 else np.inf
        return float(L @ self.beta), var, df

    def f_test(self, L: np.ndarray, eps: float = float(np.sqrt(np.finfo(float).eps))
               ) -> tuple[float, int, float]:
        """(F value, numerator df, denominator df) for L beta = 0, L of shape (q, p)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[0] == 1:
            est, var, df = self.t_test(L[0])
            return est**2 / var, 1, df
        VL = L @ self.vcov_beta @ L.T
        d, P = np.linalg.eigh(VL)
        d, P = d[::-1], P[:, ::-1]  # R's eigen(): decreasing eigenvalues
        q = int(np.sum(d > max(eps * d[0], 0.0)))
        if q == 0:
            raise ModelError("the contrast has no estimable direction (L V L' is zero)")
        PtL = (P.T @ L)[:q]
        if q == 1:
            est, var, df = self.t_test(PtL[0])
            return est**2 / var, 1, df
        t2 = (PtL @ self.beta) ** 2 / d[:q]
        nu = np.array([self.t_test(PtL[m])[2] for m in range(q)])
        return float(np.sum(t2) / q), q, fstat_ddf(nu)


def fstat_ddf(nu: np.ndarray) -> float:
    """Denominator df of an F built from independent t statistics with df nu (lmerTest)."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < FSTAT_DDF_TOL):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - nu.size)


def satterthwaite(fit: Any) -> Satterthwaite:
    """The derivatives Satterthwaite's method needs, at a linear mixed model fit.

    Parameters
    ----------
    fit : LmerResult

    Returns
    -------
    Satterthwaite
    """
    _check_lmm(fit, "Satterthwaite")
    obj = fit._objective_fn
    g = obj.gram
    n, p, mz = g.n, g.p, g.m_z
    nu = n - p if fit.REML else n
    theta = np.asarray(fit.theta, dtype=float)
    sigma = float(fit.sigma)
    k = theta.size

    def parts(th: np.ndarray) -> np.ndarray:
        f = obj.factor(th)
        if not f.ok:
            return np.full(2 + p * p, np.nan)
        RXinv = sla.solve_triangular(f.LR[mz:mz + p, mz:mz + p], np.eye(p), lower=True)
        a = f.ldL2 + (f.ldRX2 if fit.REML else 0.0)
        return np.concatenate([[a, f.pwrss], (RXinv.T @ RXinv).ravel()])

    val, grad, hess = richardson(parts, theta)
    if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(hess[:2]))):
        raise ModelError("the criterion is undefined next to the estimates; Satterthwaite's "
                         "degrees of freedom cannot be computed")
    r2 = val[1]
    H = np.empty((k + 1, k + 1))
    H[:k, :k] = hess[0] + hess[1] / sigma**2
    H[:k, k] = H[k, :k] = -2.0 * grad[1] / sigma**3
    H[k, k] = 6.0 * r2 / sigma**4 - 2.0 * nu / sigma**2
    U = val[2:].reshape(p, p)
    jac = np.empty((k + 1, p, p))
    jac[:k] = sigma**2 * np.moveaxis(grad[2:].reshape(p, p, k), 2, 0)
    jac[k] = 2.0 * sigma * U
    return Satterthwaite(varpar=np.append(theta, sigma), hessian=H,
                         vcov_varpar=2.0 * pseudo_inverse(H), vcov_beta=sigma**2 * U,
                         jacobian=jac, beta=np.asarray(fit.beta, dtype=float))


def pseudo_inverse(H: np.ndarray, tol: float = EIGEN_TOL) -> np.ndarray:
    """Moore-Penrose inverse of a symmetric matrix over its eigenvalues above ``tol``."""
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    keep = w > tol
    return (V[:, keep] / w[keep]) @ V[:, keep].T


DDF_METHODS = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger",
               "kr": "Kenward-Roger"}


def ddf_method(ddf: str | None) -> str | None:
    """The canonical name of a ddf method (None: lme4's table without df)."""
    if ddf is None:
        return None
    key = str(ddf).lower()
    if key in ("lme4", "none"):
        return None
    if key not in DDF_METHODS:
        raise ModelError(f"unknown ddf {ddf!r}; use 'Satterthwaite', 'Kenward-Roger' or None")
    return DDF_METHODS[key]


def coef_table(fit: Any, ddf: str | None = "Satterthwaite") -> pd.DataFrame:
    """Fixed-effects table with t tests (lmerTest's ``summary(fit, ddf=)$coefficients``).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    ddf : {"Satterthwaite", "Kenward-Roger", None}
        None gives lme4's table: for a linear mixed model no df and no p-value (lme4 gives
        none); for a GLMM the Wald z test (df = inf, normal p-value), as glmer's summary.

    Returns
    -------
    DataFrame
        Indexed by fixed-effect names; columns estimate, se, df, t, p. Kenward-Roger's se is
        the square root of the adjusted covariance's diagonal.
    """
    names = list(fit.design.fixef_names)
    beta = np.asarray(fit.beta, dtype=float)
    method = ddf_method(ddf)
    if method is None:
        se = np.asarray(fit.fixef_se, dtype=float)
        glmm = getattr(fit, "nAGQ", None) is not None
        t = beta / se
        df = np.full(beta.size, np.inf if glmm else np.nan)
        pval = (np.asarray(2.0 * stats.norm.sf(np.abs(t)), dtype=float) if glmm
                else np.full(beta.size, np.nan))
    elif method == "Satterthwaite":
        info = satterthwaite(fit)
        rows = [info.t_test(row) for row in np.eye(beta.size)]
        se = np.sqrt([r[1] for r in rows])
        df = np.array([r[2] for r in rows])
        t = beta / se
        pval = np.asarray(2.0 * stats.t.sf(np.abs(t), df), dtype=float)
    else:
        from .kenward_roger import kenward_roger

        kr = kenward_roger(fit)
        se = np.sqrt(np.diag(kr.vcov_adjusted))
        df = np.array([kr.ddf(row) for row in np.eye(beta.size)])
        t = beta / se
        pval = np.asarray(2.0 * stats.t.sf(np.abs(t), df), dtype=float)
    out = pd.DataFrame({"estimate": beta, "se": se, "df": df, "t": t, "p": pval},
                       index=pd.Index(names, name="term"))
    out.attrs["ddf"] = method
    return out


def type1_contrasts(fit: Any, terms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """lmerTest's type I hypotheses: the rows of the unit upper-triangular factor of X'X
    (``t(doolittle(crossprod(X))$L)``) that belong to each term; ``terms`` maps labels to
    coefficient positions."""
    X = np.asarray(fit.design.X, dtype=float)
    R = np.linalg.cholesky(X.T @ X).T  # X'X = R'R; doolittle's L' = R / diag(R) by rows
    U = R / np.diag(R)[:, None]
    U[np.abs(U) < 1e-6] = 0.0
    return {t: U[idx] for t, idx in terms.items()}


def hypotheses(fit: Any) -> dict[str, np.ndarray]:
    """Term label -> type III hypothesis matrix (q, p), as lmerTest's ``anova`` builds them:
    type I contrasts when the model has at most one term (lmerTest's rule; the same hypothesis
    there), otherwise :func:`hiermix.inference.contrasts.type3_contrasts`."""
    from .contrasts import type3_contrasts

    enc = fit.design.fixed_encoding
    if enc.model_spec is None:
        labels = [str(n) for n in enc.names if n not in ("Intercept", "(Intercept)")]
    else:
        labels = [str(t) for t in enc.model_spec.term_slices if str(t) != "1"]
    if fit.design.p <= 1 or len(labels) <= 1:
        idx = {lab: np.flatnonzero([n not in ("Intercept", "(Intercept)")
                                    for n in fit.design.fixef_names]) for lab in labels}
        return {k: v for k, v in type1_contrasts(fit, idx).items() if v.shape[0]}
    return type3_contrasts(fit.design)


def anova_table(fit: Any, ddf: str = "Satterthwaite") -> pd.DataFrame:
    """lmerTest's type III ANOVA table: one F test per fixed-effect term.

    The hypotheses are lmerTest's (:func:`hypotheses`): for a term no other term contains, all
    its coefficients zero; for a term contained in an interaction, SAS's type III hypothesis
    built on the over-parameterised design (:mod:`hiermix.inference.contrasts`). lmerTest's
    Satterthwaite F depends on the rows chosen for L, not only on the hypothesis, so the rows
    are built as lmerTest builds them.

    Parameters
    ----------
    fit : LmerResult
    ddf : {"Satterthwaite", "Kenward-Roger"}

    Returns
    -------
    DataFrame
        Indexed by term; columns sum_sq, mean_sq, num_df, den_df, F, p (lmerTest's
        ``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)``).
    """
    method = ddf_method(ddf)
    if method is None:
        raise ModelError("anova(ddf=None) has no denominator df; use 'Satterthwaite' or "
                         "'Kenward-Roger' (or hiermix.anova(fit0, fit1) for likelihood-ratio "
                         "tests)")
    _check_lmm(fit, method)
    hyp = hypotheses(fit)
    sigma2 = float(fit.sigma) ** 2
    rows = []
    if method == "Satterthwaite":
        info = satterthwaite(fit)
        for term, L in hyp.items():
            F, q, den = info.f_test(L)
            rows.append((term, F * sigma2 * q, F * sigma2, q, den, F,
                         float(stats.f.sf(F, q, den))))
    else:
        from .kenward_roger import kenward_roger

        kr = kenward_roger(fit)
        for term, L in hyp.items():
            res = kr.f_test(L)
            # lmerTest's table: sums of squares from the unscaled F, the F value scaled.
            rows.append((term, res.F_unscaled * sigma2 * res.num_df, res.F_unscaled * sigma2,
                         res.num_df, res.den_df, res.F, res.p))
    out = pd.DataFrame(rows, columns=["term", "sum_sq", "mean_sq", "num_df", "den_df", "F",
                                      "p"]).set_index("term")
    out.attrs["ddf"] = method
    return out
