"""Compiled criteria for the small models that profiles and bootstraps evaluate most: a linear
mixed model with one random-effects term, and (:func:`scalar_laplace`) the Laplace deviance of
a binomial or poisson GLMM with one scalar term.

Profiles and bootstraps evaluate the criterion tens of thousands of times on small models;
the engine's :class:`~hiermix.frequentist.blocked.BlockedCholesky` is general (any number of
terms, sparse blocks) and pays Python's per-call overhead on every evaluation. With a single
term (sleepstudy, Dyestuff, the seed data) the rest block R = [X y] is tiny, and the whole
update of L(theta) is one compiled loop over the levels g:

    M_g = Lambda' D_g Lambda + I                  (q, q), D_g = A_00 of level g
    S   = A_RR - sum_g A_R0g Lambda M_g^{-1} Lambda' A_R0g'      (p + 1, p + 1)
    S   = L_R L_R'

so that log|L_theta|^2 = sum_g log det M_g, log|R_X|^2 = 2 sum log diag(L_R)[:p] and
r^2(theta) = L_R[p, p]^2, exactly the blocked factor of :mod:`hiermix.frequentist.blocked`
when the design has one term (Bates et al. 2015, JSS, eqs. 35 and 42 then give the criteria).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..pls.kernels import cholesky_lower


@njit(cache=True, nogil=True)
def one_term_factor(theta: np.ndarray, q: int, D0: np.ndarray, AXY0: np.ndarray,
                    ARR: np.ndarray) -> tuple[float, float, float, np.ndarray
                                              ]:  # pragma: no cover - jit
    """log|L_theta|^2, log|R_X|^2, r^2(theta) and L_R for a one-term LMM.

    Parameters
    ----------
    theta : ndarray, shape (q (q + 1) / 2,)
        Lambda's lower triangle, column by column (lme4's order).
    q : int
    D0 : ndarray, shape (l, q, q)
    AXY0 : ndarray, shape (p + 1, l q)
    ARR : ndarray, shape (p + 1, p + 1)

    Returns
    -------
    ldL2, ldRX2, pwrss : float
        pwrss is nan when S is not positive definite.
    LR : ndarray, shape (p + 1, p + 1)
        Lower triangular Cholesky factor of S.
    """
    lam = np.zeros((q, q))
    k = 0
    for j in range(q):
        for i in range(j, q):
            lam[i, j] = theta[k]
            k += 1
    m = ARR.shape[0]
    S = ARR.copy()
    nlev = D0.shape[0]
    M = np.empty((q, q))
    C = np.empty((q, q))
    T = np.empty((q, m))  # Lambda' A_R0g' for one level
    ld = 0.0
    for g in range(nlev):
        # M = Lambda' D_g Lambda + I
        for a in range(q):
            for b in range(q):
                s = 0.0
                for r in range(q):
                    for c in range(q):
                        s += lam[r, a] * D0[g, r, c] * lam[c, b]
                M[a, b] = s + (1.0 if a == b else 0.0)
        ld += cholesky_lower(M, C, q)  # M = C C'
        # T = C^{-1} Lambda' A_R0g', so that A_R0g W_g A_R0g' = T' T
        for c in range(m):
            for a in range(q):
                s = 0.0
                for r in range(q):
                    s += lam[r, a] * AXY0[c, g * q + r]
                T[a, c] = s
        for c in range(m):
            for a in range(q):
                s = T[a, c]
                for r in range(a):
                    s -= C[a, r] * T[r, c]
                T[a, c] = s / C[a, a]
        for i in range(m):
            for j in range(i + 1):
                s = 0.0
                for a in range(q):
                    s += T[a, i] * T[a, j]
                S[i, j] -= s
    LR = np.zeros((m, m))
    if not np.isfinite(cholesky_lower(S, LR, m)):
        return ld, np.nan, np.nan, LR
    ldrx = 0.0  # log|R_X|^2: every pivot but the last (the last is sqrt(pwrss))
    for j in range(m - 1):
        ldrx += 2.0 * np.log(LR[j, j])
    return ld, ldrx, LR[m - 1, m - 1] ** 2, LR


@njit(cache=True, nogil=True)
def one_term_deviance(theta: np.ndarray, q: int, D0: np.ndarray, AXY0: np.ndarray,
                      ARR: np.ndarray, n: int, REML: bool,
                      sum_log_w: float) -> float:  # pragma: no cover - jit
    """The profiled criterion (JSS eq. 35 for ML, eq. 42 for REML); +inf where undefined."""
    ld, ldrx, r2, _ = one_term_factor(theta, q, D0, AXY0, ARR)
    if not r2 > 0.0:
        return np.inf
    p = ARR.shape[0] - 1
    nu = n - p if REML else n
    out = ld + nu * (1.0 + np.log(2.0 * np.pi * r2 / nu)) - sum_log_w
    return out + ldrx if REML else out


@njit(cache=True, nogil=True)
def one_term_beta(LR: np.ndarray) -> np.ndarray:  # pragma: no cover - jit
    """beta-hat (p,) from L_R: R_X' beta = c by back-substitution, with R_X = L_R[:p, :p]
    (lower) and c = L_R[p, :p]."""
    p = LR.shape[0] - 1
    beta = np.empty(p)
    for i in range(p - 1, -1, -1):
        s = LR[p, i]
        for k in range(i + 1, p):
            s -= LR[k, i] * beta[k]
        beta[i] = s / LR[i, i]
    return beta


@njit(cache=True, nogil=True)
def theta_from_sdcor(v: np.ndarray, qs: np.ndarray,
                     scale: float) -> np.ndarray:  # pragma: no cover - jit
    """theta from SDs and correlations in theta's order, for Sigma_k = scale^2 Lambda_k
    Lambda_k' (:meth:`ParameterLayout.theta`, compiled: profiles call it at every evaluation).

    The Cholesky factor is taken column by column and leaves zero pivots at zero, so singular
    covariances (an SD of 0, a correlation of +-1) are allowed.
    """
    out = np.empty(v.size)
    pos = 0
    for q in qs:
        sd = np.empty(q)
        corr = np.eye(q)
        k = pos
        for j in range(q):
            for i in range(j, q):
                if i == j:
                    sd[i] = v[k]
                else:
                    corr[i, j] = v[k]
                    corr[j, i] = v[k]
                k += 1
        lam = np.zeros((q, q))
        for j in range(q):
            d = sd[j] * sd[j] / (scale * scale)
            for r in range(j):
                d -= lam[j, r] * lam[j, r]
            lam[j, j] = np.sqrt(d) if d > 0.0 else 0.0
            for i in range(j + 1, q):
                num = sd[i] * sd[j] * corr[i, j] / (scale * scale)
                for r in range(j):
                    num -= lam[i, r] * lam[j, r]
                lam[i, j] = num / lam[j, j] if lam[j, j] > 0.0 else 0.0
        k = pos
        for j in range(q):
            for i in range(j, q):
                out[k] = lam[i, j]
                k += 1
        pos = k
    return out


@njit(cache=True, nogil=True)
def sdcor_from_theta(theta: np.ndarray, qs: np.ndarray,
                     scale: float) -> np.ndarray:  # pragma: no cover - jit
    """SDs and correlations in theta's order of Sigma_k = scale^2 Lambda_k Lambda_k' (the
    inverse of :func:`theta_from_sdcor`; a correlation with a zero SD is 0)."""
    out = np.empty(theta.size)
    pos = 0
    for q in qs:
        lam = np.zeros((q, q))
        k = pos
        for j in range(q):
            for i in range(j, q):
                lam[i, j] = theta[k]
                k += 1
        cov = scale * scale * (lam @ lam.T)
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        k = pos
        for j in range(q):
            for i in range(j, q):
                if i == j:
                    out[k] = sd[i]
                else:
                    den = sd[i] * sd[j]
                    out[k] = min(1.0, max(-1.0, cov[i, j] / den)) if den > 0.0 else 0.0
                k += 1
        pos = k
    return out


#: Families of :func:`scalar_laplace`: binomial with the logit link, poisson with the log link.
BINOMIAL_LOGIT, POISSON_LOG = 0, 1


@njit(cache=True, nogil=True)
def _group_terms(theta: float, ug: float, eta0: np.ndarray, z: np.ndarray, order: np.ndarray,
                 lo: int, hi: int, y: np.ndarray, wt: np.ndarray, family: int
                 ) -> tuple[float, float, float, float, float]:  # pragma: no cover - jit
    """For one group at u_g: the objective sum log p - u_g^2 / 2, its first and second
    derivatives in u_g, sum log p, and sum z^2 w (w the Fisher weights)."""
    ll = 0.0
    grad = -ug
    hess = -1.0
    s = 0.0
    for k in range(lo, hi):
        i = order[k]
        eta = eta0[i] + theta * z[i] * ug
        if family == 0:
            # log mu = -log(1 + e^-eta), log(1 - mu) = -log(1 + e^eta)
            lmu = -np.log1p(np.exp(-eta)) if eta > -30.0 else eta
            l1mu = -np.log1p(np.exp(eta)) if eta < 30.0 else -eta
            mu = np.exp(lmu)
            ll += wt[i] * (y[i] * lmu + (1.0 - y[i]) * l1mu)
            v = mu * (1.0 - mu)
        else:
            mu = np.exp(eta)
            ll += wt[i] * (y[i] * eta - mu)
            v = mu
        tz = theta * z[i]
        grad += tz * wt[i] * (y[i] - mu)
        hess -= tz * tz * wt[i] * v
        s += z[i] * z[i] * wt[i] * v
    return ll - 0.5 * ug * ug, grad, hess, ll, s


@njit(cache=True, nogil=True)
def scalar_laplace(theta: float, eta0: np.ndarray, z: np.ndarray, order: np.ndarray,
                   starts: np.ndarray, y: np.ndarray, wt: np.ndarray, family: int,
                   u: np.ndarray) -> float:  # pragma: no cover - jit
    """The Laplace deviance of a GLMM with one scalar random-effects term and a canonical
    link, up to a constant free of the parameters.

    With beta fixed the conditional modes decouple by group: u_g maximises
    sum_{i in g} log p(y_i | eta0_i + theta z_i u_g) - u_g^2 / 2, a concave scalar problem
    solved by Newton's method with step halving from the previous modes ``u`` (updated in
    place). Then

        -2 sum_i log p(y_i | mu_i) + sum_g u_g^2 + sum_g log(1 + theta^2 sum_{i in g} z_i^2 w_i)

    with w_i = wt_i V(mu_i), the Fisher (here also the observed) weights at the modes: the
    engine's Laplace criterion (:mod:`hiermix.frequentist.laplace`) without its constant.

    Parameters
    ----------
    theta : float
    eta0 : ndarray, shape (n,)
        X beta + offset.
    z : ndarray, shape (n,)
        The term's column (1 for a random intercept).
    order, starts : ndarray of int, shapes (n,), (l + 1,)
        Observations sorted by group and where each group starts.
    y, wt : ndarray, shape (n,)
        Response (binomial: proportion) and prior weights (binomial: trials).
    family : int
        :data:`BINOMIAL_LOGIT` or :data:`POISSON_LOG`.
    u : ndarray, shape (l,)
        Starting modes; overwritten with the modes.

    Returns
    -------
    float
        +inf when Newton's method fails to converge.
    """
    nlev = starts.size - 1
    total = 0.0
    for g in range(nlev):
        ug = u[g]
        f, grad, hess, ll, s = _group_terms(theta, ug, eta0, z, order, starts[g],
                                            starts[g + 1], y, wt, family)
        ok = False
        for _ in range(200):
            step = -grad / hess
            # Newton's step, halved until the (concave) objective does not decrease
            for _ in range(60):
                f_new, g_new, h_new, ll_new, s_new = _group_terms(
                    theta, ug + step, eta0, z, order, starts[g], starts[g + 1], y, wt, family)
                if f_new >= f - 1e-12 * (1.0 + abs(f)):
                    break
                step *= 0.5
            ug += step
            f, grad, hess, ll, s = f_new, g_new, h_new, ll_new, s_new
            if abs(step) < 1e-11 * (1.0 + abs(ug)):
                ok = True
                break
        if not ok or not np.isfinite(f):
            return np.inf
        u[g] = ug
        total += -2.0 * ll + ug * ug + np.log(1.0 + theta * theta * s)
    return total
