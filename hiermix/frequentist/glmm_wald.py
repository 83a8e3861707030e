"""Wald intervals for a GLMM's variance components: the criterion in psi, beta profiled.

:mod:`hiermix.frequentist.wald` gives intervals on the scale

    psi = (log sd_k, atanh rho_k, ..., log phi)     (log phi only for a dispersion family)

from the Hessian of a criterion in psi. For an LMM beta is profiled out exactly; for a GLMM the
Laplace criterion f(theta, beta, phi) has beta as a free argument, and the marginal curvature in
psi is the Schur complement H_pp - H_pb H_bb^{-1} H_bp of the joint Hessian. It is the Hessian
of

    c(psi) = f(psi, beta-hat + B (psi - psi-hat)),   B = -H_bb^{-1} H_bp,

beta's best linear response to psi, which this module builds from a central-difference joint
Hessian at the estimates (beta in units of its standard error, psi entries on the boundary
held fixed as :mod:`wald` holds them). Only true maximum-likelihood fits have such intervals:
``lme4_compat`` fits are not the optimum of a likelihood in phi.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..covariance import sd_corr_from_theta, theta_from_sd_corr
from .wald import BOUNDARY_TOL, _psi_from_varcorr, _varcorr_from_psi

if TYPE_CHECKING:
    from .glmm_result import GlmerResult

#: Finite-difference step in psi and in standard errors of beta.
STEP = 1e-3


def _free_psi(fit: GlmerResult, psi: np.ndarray) -> np.ndarray:
    """Entries of psi that are estimated away from the boundary (as :mod:`wald` decides)."""
    free = np.ones(psi.size, dtype=bool)
    terms, _ = _varcorr_from_psi(psi, [t.q for t in fit.design.reterms])
    i = 0
    for sd, corr in terms:
        q = sd.size
        low = sd < BOUNDARY_TOL
        free[i:i + q] = ~low
        i += q
        for j in range(q):
            for r in range(j + 1, q):
                free[i] = not (abs(corr[r, j]) > 1 - BOUNDARY_TOL or low[j] or low[r])
                i += 1
    if not fit.family.has_dispersion:
        free[-1] = False
    return free


def psi_criterion(fit: GlmerResult) -> tuple[Callable[[np.ndarray], float], float]:
    """The beta-profiled criterion c(psi) and the residual scale phi (1 without dispersion).

    Returns
    -------
    criterion : callable
        psi (k,) -> -2 log L.
    scale : float
        The value whose log is psi's last entry.
    """
    from .glmm import derivatives

    obj = fit.objective_function()
    design = fit.design
    qs = [t.q for t in design.reterms]
    disp = bool(obj.dispersion)
    scale = float(fit.phi) if disp else 1.0
    terms, pos = [], 0
    for t in design.reterms:
        terms.append(sd_corr_from_theta(np.asarray(fit.theta[pos:pos + t.n_theta]), t.q))
        pos += t.n_theta
    psi0 = _psi_from_varcorr(terms, scale)
    free = _free_psi(fit, psi0)
    beta0 = np.asarray(fit.beta)
    try:
        C = np.linalg.cholesky(np.asarray(fit.vcov_beta))
    except np.linalg.LinAlgError:
        C = np.diag(np.sqrt(np.abs(np.diag(fit.vcov_beta))))

    def f(psi: np.ndarray, beta: np.ndarray) -> float:
        tms, resid = _varcorr_from_psi(psi, qs)
        theta = np.concatenate([theta_from_sd_corr(sd, corr) for sd, corr in tms])
        x = np.concatenate([theta, beta, [np.log(resid)] if disp else []])
        obj.anchor = fit._factor  # PIRLS starts every point from the estimates' modes
        try:
            return float(obj(x))
        finally:
            obj.anchor = None

    idx = np.flatnonzero(free)
    k, p = idx.size, beta0.size

    def joint(v: np.ndarray) -> float:
        psi = psi0.copy()
        psi[idx] = v[:k]
        return f(psi, beta0 + C @ v[k:])

    v0 = np.concatenate([psi0[idx], np.zeros(p)])
    H = derivatives(joint, v0, joint(v0), delta=STEP).hessian
    Bz = -np.linalg.solve(H[k:, k:], H[k:, :k])  # (p, k): z*(psi) - 0

    def criterion(psi: np.ndarray) -> float:
        return f(psi, beta0 + C @ (Bz @ (psi[idx] - psi0[idx])))

    return criterion, scale
