"""Wald inference for variance components on an unconstrained scale.

The variance components of term k are reparameterised as

    psi = (log sd_k1, ..., log sd_kq, atanh rho_k12, ..., atanh rho_k(q-1)q, ..., log s)

where ``s`` is the residual SD sigma for linear mixed models and log phi carries the dispersion
for Gamma and inverse Gaussian GLMMs. On this scale the deviance is closer to quadratic and
every value maps back inside the parameter space, so intervals ``psi +- z se`` transformed back
never put an SD below zero or a correlation outside (-1, 1). The covariance of psi-hat is twice
the inverse Hessian of the criterion (-2 log L, or the REML criterion), by central differences.

For an LMM the criterion is profiled over beta only:

    d(theta, sigma) = nu log(2 pi sigma^2) + log|L_theta|^2 [+ log|R_X|^2] + r^2(theta) / sigma^2

with nu = n (ML) or n - p (REML, with the log|R_X|^2 term), and theta = chol(Sigma) / sigma.

Estimates on the boundary (an SD below 1e-4 relative to the residual scale, a correlation within
1e-4 of +-1: lme4's singular fits) have no Wald interval: their rows are flagged and left empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..covariance import sd_corr_from_theta, theta_from_sd_corr
from ..naming import corr_pairs

BOUNDARY_TOL = 1e-4


def _psi_from_varcorr(terms: list[tuple[np.ndarray, np.ndarray]], scale: float) -> np.ndarray:
    parts = []
    for sd, corr in terms:
        q = sd.size
        parts.append(np.log(np.maximum(sd, 1e-300)))
        iu = [(j, i) for j in range(q) for i in range(j + 1, q)]
        parts.append(np.arctanh(np.clip([corr[i, j] for j, i in iu], -1 + 1e-15, 1 - 1e-15)))
    parts.append(np.array([np.log(scale)]))
    return np.concatenate(parts)


def _varcorr_from_psi(psi: np.ndarray, qs: list[int]) -> tuple[list[tuple[np.ndarray,
                                                                           np.ndarray]], float]:
    terms, pos = [], 0
    for q in qs:
        sd = np.exp(psi[pos:pos + q])
        pos += q
        corr = np.eye(q)
        for j in range(q):
            for i in range(j + 1, q):
                corr[i, j] = corr[j, i] = np.tanh(psi[pos])
                pos += 1
        terms.append((sd, corr))
    return terms, float(np.exp(psi[pos]))


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of f at x, shape (k, k)."""
    k = x.size
    H = np.empty((k, k))
    f0 = f(x)
    h = step * np.maximum(1.0, np.abs(x))
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4.0 * h[i] * h[j])
    return H


def lmm_criterion(fit: Any) -> Callable[[np.ndarray], float]:
    """d(psi) for a linear mixed model fit (see the module docstring)."""
    obj = fit.objective_function()
    g = obj.gram
    qs = [t.q for t in fit.design.reterms]
    nu = g.n - g.p if fit.REML else g.n

    def crit(psi: np.ndarray) -> float:
        terms, sigma = _varcorr_from_psi(psi, qs)
        theta = np.concatenate([theta_from_sd_corr(sd, corr, scale=sigma) for sd, corr in terms])
        f = obj.factor(theta)
        if not f.ok:
            return np.inf
        out = nu * np.log(2.0 * np.pi * sigma**2) + f.ldL2 + f.pwrss / sigma**2 - g.sum_log_w
        if fit.REML:
            out += f.ldRX2
        return float(out)

    return crit


@dataclass(frozen=True)
class PsiEstimate:
    """psi-hat, its covariance and the boundary mask, for a fit.

    Attributes
    ----------
    psi : ndarray, shape (k,)
        Log SDs and atanh correlations per term (design order), then log of the residual scale.
    cov : ndarray, shape (k, k)
        2 H^{-1} over the free entries; zero rows and columns for fixed ones.
    boundary : ndarray of bool, shape (k,)
        Entries on the boundary (no Wald inference).
    qs : list of int
        Columns per term.
    has_resid : bool
        Whether the last entry is a free parameter (gaussian sigma or a dispersion phi).
    """

    psi: np.ndarray
    cov: np.ndarray
    boundary: np.ndarray
    qs: list[int]
    has_resid: bool

    def varcorr(self, psi: np.ndarray | None = None) -> tuple[list[tuple[np.ndarray,
                                                                          np.ndarray]], float]:
        """(SDs, correlation matrix) per term and the residual scale at psi (default psi-hat)."""
        return _varcorr_from_psi(self.psi if psi is None else psi, self.qs)


def estimate_psi(fit: Any, criterion: Callable[[np.ndarray], float] | None = None,
                 scale: float | None = None) -> PsiEstimate:
    """psi-hat and its Wald covariance from the Hessian of the criterion.

    Parameters
    ----------
    fit
        A frequentist result with ``design``, ``theta`` and ``sigma``.
    criterion : callable or None
        -2 log L (or the REML criterion) as a function of psi; built for LMMs when None.
    scale : float or None
        The residual-scale parameter at the optimum: sigma for LMMs (default ``fit.sigma``),
        phi for dispersion GLMMs.
    """
    design = fit.design
    fam = design.family
    lmm = fam.name == "gaussian" and fam.link.name == "identity"
    theta_scale = float(fit.sigma) if lmm else 1.0
    resid = float(scale if scale is not None else (fit.sigma if lmm else 1.0))
    has_resid = fam.has_dispersion
    terms, pos = [], 0
    for t in design.reterms:
        k = t.q * (t.q + 1) // 2
        terms.append(sd_corr_from_theta(np.asarray(fit.theta[pos:pos + k]), t.q, theta_scale))
        pos += k
    psi = _psi_from_varcorr(terms, resid if has_resid else 1.0)
    boundary = np.zeros(psi.size, dtype=bool)
    i = 0
    for sd, corr in terms:
        q = sd.size
        sd_bound = sd < BOUNDARY_TOL * max(theta_scale, 1e-300)
        boundary[i:i + q] = sd_bound
        i += q
        for j in range(q):
            for r in range(j + 1, q):
                boundary[i] = bool(abs(corr[r, j]) > 1 - BOUNDARY_TOL or sd_bound[j]
                                   or sd_bound[r])
                i += 1
    crit = criterion if criterion is not None else (lmm_criterion(fit) if lmm else None)
    cov = np.zeros((psi.size, psi.size))
    if crit is not None:
        free = ~boundary
        if not has_resid:
            free[-1] = False
        idx = np.flatnonzero(free)
        if idx.size:
            def sub(x: np.ndarray) -> float:
                full = psi.copy()
                full[idx] = x
                return crit(full)

            try:
                cov[np.ix_(idx, idx)] = 2.0 * np.linalg.inv(hessian(sub, psi[idx]))
            except np.linalg.LinAlgError:
                cov[np.ix_(idx, idx)] = np.nan
    else:
        cov[:] = np.nan
    return PsiEstimate(psi=psi, cov=cov, boundary=boundary, qs=[t.q for t in design.reterms],
                       has_resid=has_resid)


def varcorr_intervals(fit: Any, ci: float = 0.95,
                      criterion: Callable[[np.ndarray], float] | None = None,
                      scale: float | None = None) -> pd.DataFrame:
    """Wald intervals for every row of ``fit.varcorr``, in its order.

    Parameters
    ----------
    fit, criterion, scale
        See :func:`estimate_psi`.
    ci : float

    Returns
    -------
    DataFrame
        Columns grp, var1, var2, ml, ml_se (on the natural scale, delta method), ml_lower,
        ml_upper, boundary; one row per row of ``fit.varcorr``.
    """
    z = stats.norm.ppf(1.0 - (1.0 - ci) / 2.0)
    est = estimate_psi(fit, criterion, scale)
    terms, resid = est.varcorr()
    var = np.diag(est.cov)
    se_psi = np.sqrt(np.where(var > 0, var, np.nan))
    rows: list[tuple[Any, ...]] = []
    i = 0
    for t, (sd, corr) in zip(fit.design.reterms, terms, strict=True):
        for j, name in enumerate(t.cnames):
            s, b = se_psi[i + j], est.boundary[i + j]
            rows.append((t.label, name, None, sd[j], sd[j] * s, sd[j] * np.exp(-z * s),
                         sd[j] * np.exp(z * s), b))
        i += t.q
        for a, c in corr_pairs(list(t.cnames)):
            ja, jc = t.cnames.index(a), t.cnames.index(c)
            rho = corr[jc, ja]
            s, b = se_psi[i], est.boundary[i]
            x = np.arctanh(np.clip(rho, -1 + 1e-15, 1 - 1e-15))
            rows.append((t.label, a, c, rho, (1 - rho**2) * s, np.tanh(x - z * s),
                         np.tanh(x + z * s), b))
            i += 1
    if est.has_resid:
        s = se_psi[-1]
        rows.append(("Residual", None, None, resid, resid * s, resid * np.exp(-z * s),
                     resid * np.exp(z * s), False))
    out = pd.DataFrame(rows, columns=["grp", "var1", "var2", "ml", "ml_se", "ml_lower",
                                      "ml_upper", "boundary"])
    out.loc[out["boundary"], ["ml_se", "ml_lower", "ml_upper"]] = np.nan
    return out
