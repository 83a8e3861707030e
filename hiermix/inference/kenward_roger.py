"""Kenward and Roger's (1997) adjusted covariance and degrees of freedom, as pbkrtest computes
them (``vcovAdj``, ``Lb_ddf``, ``KRmodcomp``) for a REML fit.

The marginal covariance of y is written as a sum over the variance parameters gamma_r::

    Sigma = sum_r gamma_r G_r,   G_r = Z_k (I_{l_k} (x) E_ij) Z_k'  for the entry (i, j) of term
                                 k's covariance (E_ij = e_i e_j' + e_j e_i' off the diagonal),
                                 and G = W^{-1} for the residual variance sigma^2.

With Phi = (X' Sigma^{-1} X)^{-1} (the REML fit's ``vcov``)::

    P_r  = -X' Sigma^{-1} G_r Sigma^{-1} X
    Q_rs =  X' Sigma^{-1} G_r Sigma^{-1} G_s Sigma^{-1} X
    I_rs =  tr(Sigma^{-1} G_r Sigma^{-1} G_s) - 2 tr(Phi Q_rs) + tr(Phi P_r Phi P_s)
    W    =  2 I^{-1}                       (expected REML information; pseudo-inverse if
                                            nearly singular)
    Phi_A = Phi + 2 Phi (sum_rs W_rs (Q_rs - P_r Phi P_s)) Phi

and for a contrast L (q, p) with Theta = L' (L Phi L')^{-1} L, the quantities A1, A2 of
pbkrtest's ``.KR_adjust`` give the denominator df and the F scaling. The result does not
depend on how the variance parameters are numbered, so term order is immaterial.

Sigma is formed densely (n x n), as pbkrtest does; memory grows as n^2 per variance
parameter, so fits above :data:`MAX_NOBS` observations are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy import stats

from ..errors import ModelError
from .ddf import _check_lmm

#: Largest number of observations for which the dense n x n computation is attempted.
MAX_NOBS = 3000
#: Below this smallest |eigenvalue| the information is inverted by the pseudo-inverse
#: (pbkrtest's ``condi``).
CONDITION_TOL = 1e-10


@dataclass(frozen=True)
class KRTest:
    """A Kenward-Roger F test of L beta = 0.

    Attributes
    ----------
    F : float
        The scaled F statistic (pbkrtest's ``Ftest``).
    F_unscaled : float
        Wald / q with the adjusted covariance (``FtestU``).
    num_df : int
    den_df : float
    scaling : float
    p : float
    """

    F: float
    F_unscaled: float
    num_df: int
    den_df: float
    scaling: float
    p: float


@dataclass(frozen=True)
class KenwardRoger:
    """pbkrtest's ``vcovAdj`` and what its df computations read from it.

    Attributes
    ----------
    vcov : ndarray, shape (p, p)
        Phi, the unadjusted covariance of beta-hat.
    vcov_adjusted : ndarray, shape (p, p)
        Phi_A.
    P : ndarray, shape (m, p, p)
        P_r for each of the m variance parameters.
    W : ndarray, shape (m, m)
        2 times the inverse expected information of the variance parameters.
    beta : ndarray, shape (p,)
    """

    vcov: np.ndarray
    vcov_adjusted: np.ndarray
    P: np.ndarray
    W: np.ndarray
    beta: np.ndarray

    def _a1_a2(self, L: np.ndarray) -> tuple[float, float]:
        Phi = self.vcov
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        U = np.einsum("ij,rjk,kl->ril", Theta @ Phi, self.P, Phi)  # (m, p, p)
        tr = np.einsum("rii->r", U)
        A1 = float(tr @ self.W @ tr)
        A2 = float(np.einsum("rs,rij,sji->", self.W, U, U))
        return A1, A2

    def _ddf(self, L: np.ndarray, q: int) -> tuple[float, float, float]:
        """(df, F scaling, A2) from pbkrtest's formulas with q restrictions."""
        A1, A2 = self._a1_a2(L)
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        den = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        V0 = 1.0 + c1 * B
        V1 = 1.0 - c2 * B
        V2 = 1.0 - c3 * B
        V0 = 0.0 if abs(V0) < 1e-10 else V0
        x = 1.0 - A2 / q
        ratio = 1.0 if abs(x) < 1e-14 and abs(V1) < 1e-14 else x / V1
        rho = ratio**2 * V0 / V2 / q
        df2 = 4.0 + (q + 2.0) / (q * rho - 1.0)
        scaling = 1.0 if abs(df2 - 2.0) < 1e-2 else df2 * x / (df2 - 2.0)
        return df2, scaling, A2

    def ddf(self, L: np.ndarray) -> float:
        """Denominator df for L beta (pbkrtest's ``Lb_ddf``; q = rows of L)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        return self._ddf(L, L.shape[0])[0]

    def f_test(self, L: np.ndarray) -> KRTest:
        """The F test of L beta = 0 (pbkrtest's ``KRmodcomp`` with a restriction matrix)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        q = int(np.linalg.matrix_rank(L))
        df2, scaling, _ = self._ddf(L, q)
        Lb = L @ self.beta
        wald = float(Lb @ np.linalg.solve(L @ self.vcov_adjusted @ L.T, Lb))
        FU = wald / q
        F = scaling * FU
        return KRTest(F=F, F_unscaled=FU, num_df=q, den_df=df2, scaling=scaling,
                      p=float(stats.f.sf(F, q, df2)))


def _g_matrices(fit: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """The G_r (n, n) and gamma_r of the random-effects terms and the residual."""
    d = fit.design
    n = d.nobs
    sigma = float(fit.sigma)
    G: list[np.ndarray] = []
    gamma: list[float] = []
    start = 0
    rows = np.arange(n)
    for t in d.reterms:
        th = np.asarray(fit.theta[start:start + t.n_theta], dtype=float)
        start += t.n_theta
        lam = np.zeros((t.q, t.q))
        idx = [(i, j) for j in range(t.q) for i in range(j, t.q)]  # lme4's column order
        for val, (i, j) in zip(th, idx, strict=True):
            lam[i, j] = val
        cov = sigma**2 * lam @ lam.T
        Zs = []
        for i in range(t.q):
            Zi = np.zeros((n, t.nlevels))
            Zi[rows, t.codes] = t.X[:, i]
            Zs.append(Zi)
        for j in range(t.q):
            for i in range(j, t.q):
                Gij = Zs[i] @ Zs[j].T
                G.append(Gij if i == j else Gij + Gij.T)
                gamma.append(cov[i, j])
    G.append(np.diag(1.0 / np.asarray(d.weights, dtype=float)))
    gamma.append(sigma**2)
    return G, np.array(gamma)


def kenward_roger(fit: Any) -> KenwardRoger:
    """Kenward-Roger's adjusted covariance of beta-hat at a REML fit.

    Raises
    ------
    ModelError
        Not a linear mixed model, an ML fit (pbkrtest and lmerTest refuse those), or more
        than :data:`MAX_NOBS` observations.
    """
    _check_lmm(fit, "Kenward-Roger")
    if not fit.REML:
        raise ModelError("Kenward-Roger's method is only available for REML fits (as in "
                         "lmerTest and pbkrtest); refit with REML=True")
    d = fit.design
    if d.nobs > MAX_NOBS:
        raise ModelError(f"Kenward-Roger's method forms n x n matrices; n = {d.nobs} is above "
                         f"{MAX_NOBS}: use ddf='Satterthwaite'")
    X = np.asarray(d.X, dtype=float)
    G, gamma = _g_matrices(fit)
    Sigma = sum(g * Gr for g, Gr in zip(gamma, G, strict=True))
    cho = sla.cho_factor(Sigma, lower=True)
    SinvX = sla.cho_solve(cho, X)  # (n, p)
    Phi = np.asarray(fit.vcov_unscaled, dtype=float) * float(fit.sigma) ** 2
    m = len(G)
    H = [sla.cho_solve(cho, Gr).T for Gr in G]  # G_r Sigma^{-1}, (n, n)
    GSX = [Hr @ X for Hr in H]  # G_r Sigma^{-1} X, (n, p)
    SinvO = [sla.cho_solve(cho, Or) for Or in GSX]  # Sigma^{-1} G_r Sigma^{-1} X
    P = np.array([-Or.T @ SinvX for Or in GSX])  # (m, p, p)
    Q = np.empty((m, m, X.shape[1], X.shape[1]))
    info = np.empty((m, m))
    for r in range(m):
        for s in range(r, m):
            Q[r, s] = GSX[r].T @ SinvO[s]
            Q[s, r] = Q[r, s].T
            val = (np.sum(H[r].T * H[s]) - 2.0 * np.sum(Phi * Q[r, s])
                   + np.sum((Phi @ P[r]) * (P[s] @ Phi)))
            info[r, s] = info[s, r] = val
    if np.min(np.abs(np.linalg.eigvalsh(info))) > CONDITION_TOL:
        W = 2.0 * np.linalg.inv(info)
    else:
        W = 2.0 * np.linalg.pinv(info)
    W = 0.5 * (W + W.T)
    U = np.einsum("rs,rsij->ij", W, Q) - np.einsum("rs,rij,jk,skl->il", W, P, Phi, P)
    Phi_A = Phi + 2.0 * Phi @ U @ Phi
    return KenwardRoger(vcov=Phi, vcov_adjusted=0.5 * (Phi_A + Phi_A.T), P=P, W=W,
                        beta=np.asarray(fit.beta, dtype=float))
