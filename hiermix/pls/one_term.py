"""The marginal log density of a one-term Gaussian mixed model, level by level.

With a single random-effects term (l levels, q columns, Lambda = L / sigma) Z'WZ is block
diagonal, so every quantity :class:`~hiermix.pls.density.MarginalDensity` reads from the
blocked Cholesky factor separates over the levels g. With

    D_g = Z_g' W Z_g (q, q),   A_g = Z_g' W [X y] (q, p + 1)   (the :class:`Gram` blocks),
    M_g = Lambda' D_g Lambda + I,   e = y - X beta,
    r_g = Lambda' Z_g' W e = Lambda' (A_gy - A_gX beta),
    u_g = M_g^{-1} r_g              (the conditional mode of u_g at beta),

the penalised residual sum of squares at beta is, by the Woodbury identity,

    Q(beta) = e'We - sum_g r_g' u_g,   e'We = y'Wy - 2 beta'X'Wy + beta'X'WX beta,

and log|L_theta|^2 = sum_g log det M_g. (The difference loses digits when the SDs are many
orders of magnitude above sigma: about 4 at 1e5, where the blocked path's direct r^2 keeps
them.) The log density and its gradient are those of
:mod:`hiermix.pls.density` (same symbols):

    log p(y | beta, L, sigma) = -1/2 [n log(2 pi sigma^2) - sum log w + sum_g log det M_g
                                      + Q(beta) / sigma^2]
    d/d beta     = (X'We - sum_g (Lambda' A_gX)' u_g) / sigma^2
    d/d Lambda   = -Lambda^{-T} [(l I - sum_g M_g^{-1}) - sum_g u_g u_g' / sigma^2]

One compiled pass over the levels (:func:`one_term_pass`) gives all of it: no (p + 1) x (p + 1)
Schur complement, no temporary (l, q, q) arrays, O(l q^3) arithmetic and nothing per row. For
the 100,000-level ``(1 + x | g)`` model of issue 14 it costs about a millisecond where the
general blocked path, built for crossed terms, costs tens. b is drawn as in
:meth:`MarginalDensity.draw_b`: b_g = Lambda (u_g + sigma K_g z_g), K_g K_g' = M_g^{-1}, with
the same standard normals z (l, q) from the generator, so both classes give the same draws.

:func:`make_density` picks this class for one-term grams and ``MarginalDensity`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from .density import MarginalDensity
from .gram import Gram
from .kernels import cholesky_lower, level_m_q2

_LOG_2PI = float(np.log(2.0 * np.pi))


@njit(cache=True, nogil=True)
def _level_mode(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray, beta: np.ndarray, g: int,
                M: np.ndarray, K: np.ndarray, r: np.ndarray,
                u: np.ndarray) -> float:  # pragma: no cover - jit
    """For level g: M = M_g, K its lower Cholesky factor, r = r_g, u = u_g; returns
    log det M_g (nan when M_g is not positive definite)."""
    q = lam.shape[0]
    p = beta.shape[0]
    # M = Lambda' D_g Lambda + I, D_g symmetric
    for i in range(q):
        for j in range(i + 1):
            s = 0.0
            for a in range(q):
                la = lam[a, i]
                if la == 0.0:
                    continue
                t = 0.0
                for c in range(q):
                    t += D[g, a, c] * lam[c, j]
                s += la * t
            if i == j:
                s += 1.0
            M[i, j] = s
            M[j, i] = s
    # r = Lambda' (A_gy - A_gX beta), A_g[a, c] = AXY0[c, g q + a]
    for i in range(q):
        s = 0.0
        for a in range(q):
            col = g * q + a
            e = AXY0[p, col]
            for c in range(p):
                e -= AXY0[c, col] * beta[c]
            s += lam[a, i] * e
        r[i] = s
    # K K' = M, then u = M^{-1} r by two triangular solves
    logdet = cholesky_lower(M, K, q)
    if np.isnan(logdet):
        return np.nan
    _chol_solve(K, r, u)
    return logdet


@njit(cache=True, nogil=True)
def _chol_solve(K: np.ndarray, r: np.ndarray, x: np.ndarray) -> None:  # pragma: no cover - jit
    """x = (K K')^{-1} r for lower-triangular K (q, q): forward, then back substitution."""
    q = K.shape[0]
    for i in range(q):
        s = r[i]
        for k in range(i):
            s -= K[i, k] * x[k]
        x[i] = s / K[i, i]
    for i in range(q - 1, -1, -1):
        s = x[i]
        for k in range(i + 1, q):
            s -= K[k, i] * x[k]
        x[i] = s / K[i, i]


@njit(cache=True, nogil=True)
def _inverse_spd(K: np.ndarray, Minv: np.ndarray) -> None:  # pragma: no cover - jit
    """Minv = (K K')^{-1} for lower-triangular K (q, q), column by column."""
    q = K.shape[0]
    e = np.zeros(q)
    col = np.empty(q)
    for j in range(q):
        e[j] = 1.0
        _chol_solve(K, e, col)
        e[j] = 0.0
        for i in range(q):
            Minv[i, j] = col[i]


@njit(cache=True, nogil=True)
def one_term_pass(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray, beta: np.ndarray,
                  B: np.ndarray, U: np.ndarray, v: np.ndarray) -> tuple[
        float, float]:  # pragma: no cover - jit
    """One pass over the levels of a one-term model.

    Parameters
    ----------
    lam : ndarray, shape (q, q)
        Lambda, lower triangular.
    D : ndarray, shape (l, q, q)
    AXY0 : ndarray, shape (p + 1, l q)
    beta : ndarray, shape (p,)
    B, U : ndarray, shape (q, q)
        Overwritten with sum_g M_g^{-1} and sum_g u_g u_g'.
    v : ndarray, shape (p,)
        Overwritten with sum_g (Lambda' A_gX)' u_g = sum_g A_gX' Lambda u_g.

    Returns
    -------
    (sum_g log det M_g, sum_g r_g' u_g); nan when some M_g is not positive definite.
    """
    nl = D.shape[0]
    q = lam.shape[0]
    p = beta.shape[0]
    M = np.empty((q, q))
    K = np.empty((q, q))
    Minv = np.empty((q, q))
    r = np.empty(q)
    u = np.empty(q)
    lu = np.empty(q)
    B[:, :] = 0.0
    U[:, :] = 0.0
    v[:] = 0.0
    logdet = 0.0
    rMr = 0.0
    for g in range(nl):
        ld = _level_mode(lam, D, AXY0, beta, g, M, K, r, u)
        if np.isnan(ld):
            return np.nan, np.nan
        logdet += ld
        _inverse_spd(K, Minv)
        for i in range(q):
            rMr += r[i] * u[i]
            s = 0.0
            for j in range(q):
                B[i, j] += Minv[i, j]
                U[i, j] += u[i] * u[j]
                s += lam[i, j] * u[j]
            lu[i] = s
        for c in range(p):
            s = 0.0
            for a in range(q):
                s += AXY0[c, g * q + a] * lu[a]
            v[c] += s
    return logdet, rMr


@njit(cache=True, nogil=True, fastmath=False)
def one_term_pass_q2(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray, beta: np.ndarray,
                     B: np.ndarray, U: np.ndarray, v: np.ndarray) -> tuple[
        float, float]:  # pragma: no cover - jit
    """:func:`one_term_pass` for q = 2 in closed form (the ``(1 + x | g)`` term).

    With Lambda = [[a, 0], [b, c]], M_g has entries m00 = a (d00 a + d01 b) + b (d01 a + d11 b)
    + 1, m01 = c (a d01 + b d11), m11 = c^2 d11 + 1 (as :func:`kernels.term0_update_q2`). As
    det M_g >= 1, the determinants are multiplied together and their product's log taken only
    when it passes 1e200, so that one log serves many levels (a log costs more than the rest
    of a level's arithmetic).
    """
    nl = D.shape[0]
    p = beta.shape[0]
    a, b, c = lam[0, 0], lam[1, 0], lam[1, 1]
    b00 = b01 = b11 = u00 = u01 = u11 = 0.0
    v0 = np.zeros(p)
    logdet = 0.0
    rMr = 0.0
    prod = 1.0
    for g in range(nl):
        m00, m01, m11, det = level_m_q2(D, g, a, b, c)
        if not (det > 0.0 and m00 > 0.0):
            return np.nan, np.nan
        if det > 1e100:  # (det >= 1 as M_g >= I): a product could overflow
            logdet += np.log(det)
        else:
            prod *= det
            if prod > 1e200:
                logdet += np.log(prod)
                prod = 1.0
        i00, i01, i11 = m11 / det, -m01 / det, m00 / det
        e0 = AXY0[p, 2 * g]
        e1 = AXY0[p, 2 * g + 1]
        for k in range(p):
            e0 -= AXY0[k, 2 * g] * beta[k]
            e1 -= AXY0[k, 2 * g + 1] * beta[k]
        r0 = a * e0 + b * e1  # Lambda' e_g
        r1 = c * e1
        w0 = i00 * r0 + i01 * r1  # u_g = M_g^{-1} r_g
        w1 = i01 * r0 + i11 * r1
        rMr += r0 * w0 + r1 * w1
        b00 += i00
        b01 += i01
        b11 += i11
        u00 += w0 * w0
        u01 += w0 * w1
        u11 += w1 * w1
        l0 = a * w0  # Lambda u_g
        l1 = b * w0 + c * w1
        for k in range(p):
            v0[k] += AXY0[k, 2 * g] * l0 + AXY0[k, 2 * g + 1] * l1
    logdet += np.log(prod)
    B[0, 0], B[0, 1], B[1, 0], B[1, 1] = b00, b01, b01, b11
    U[0, 0], U[0, 1], U[1, 0], U[1, 1] = u00, u01, u01, u11
    v[:] = v0
    return logdet, rMr


@njit(cache=True, nogil=True)
def one_term_draw(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray, beta: np.ndarray,
                  sigma: float, z: np.ndarray, out: np.ndarray) -> bool:  # pragma: no cover - jit
    """b_g = Lambda (u_g + sigma chol(M_g^{-1}) z_g) for every level, into ``out`` (l, q);
    False when some M_g is not positive definite."""
    nl = D.shape[0]
    q = lam.shape[0]
    M = np.empty((q, q))
    K = np.empty((q, q))
    Minv = np.empty((q, q))
    R = np.empty((q, q))
    r = np.empty(q)
    u = np.empty(q)
    x = np.empty(q)
    for g in range(nl):
        ld = _level_mode(lam, D, AXY0, beta, g, M, K, r, u)
        if np.isnan(ld):
            return False
        _inverse_spd(K, Minv)
        # R R' = M^{-1} (lower), as numpy's cholesky of M_0^{-1} in MarginalDensity.draw_b
        for j in range(q):
            s = Minv[j, j]
            for k in range(j):
                s -= R[j, k] * R[j, k]
            R[j, j] = np.sqrt(s)
            for i in range(j + 1, q):
                s = Minv[i, j]
                for k in range(j):
                    s -= R[i, k] * R[j, k]
                R[i, j] = s / R[j, j]
        for i in range(q):
            s = u[i]
            for k in range(i + 1):
                s += sigma * R[i, k] * z[g, k]
            x[i] = s
        for i in range(q):
            s = 0.0
            for k in range(i + 1):
                s += lam[i, k] * x[k]
            out[g, i] = s
    return True


@njit(cache=True, nogil=True)
def one_term_draw_q2(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray, beta: np.ndarray,
                     sigma: float, z: np.ndarray,
                     out: np.ndarray) -> bool:  # pragma: no cover - jit
    """:func:`one_term_draw` for q = 2 in closed form."""
    nl = D.shape[0]
    p = beta.shape[0]
    a, b, c = lam[0, 0], lam[1, 0], lam[1, 1]
    for g in range(nl):
        m00, m01, m11, det = level_m_q2(D, g, a, b, c)
        if not (det > 0.0 and m00 > 0.0):
            return False
        i00, i01, i11 = m11 / det, -m01 / det, m00 / det
        e0 = AXY0[p, 2 * g]
        e1 = AXY0[p, 2 * g + 1]
        for k in range(p):
            e0 -= AXY0[k, 2 * g] * beta[k]
            e1 -= AXY0[k, 2 * g + 1] * beta[k]
        r0 = a * e0 + b * e1
        r1 = c * e1
        # x = u_g + sigma R z_g, R R' = M_g^{-1} (lower Cholesky factor in closed form)
        k00 = np.sqrt(i00)
        k10 = i01 / k00
        k11 = np.sqrt(i11 - k10 * k10)
        x0 = i00 * r0 + i01 * r1 + sigma * k00 * z[g, 0]
        x1 = i01 * r0 + i11 * r1 + sigma * (k10 * z[g, 0] + k11 * z[g, 1])
        out[g, 0] = a * x0
        out[g, 1] = b * x0 + c * x1
    return True


class OneTermDensity:
    """log p(y | beta, L, sigma), its gradient and draws of b for a one-term :class:`Gram`.

    The interface of :class:`~hiermix.pls.density.MarginalDensity` (``logp``,
    ``logp_and_grad``, ``draw_b``, ``theta``), computed by :func:`one_term_pass`.

    Parameters
    ----------
    gram : Gram
        One random-effects term, all prior weights positive.
    """

    def __init__(self, gram: Gram) -> None:
        if len(gram.terms) != 1:
            raise ValueError("OneTermDensity needs a Gram of exactly one random-effects term")
        self.gram = gram
        t = gram.terms[0]
        self._q, self._l = t.q, t.nlevels
        self._tril = (np.array([i for j in range(t.q) for i in range(j, t.q)], dtype=np.intp),
                      np.array([j for j in range(t.q) for _ in range(j, t.q)], dtype=np.intp))
        p = gram.p
        self._XWX = np.ascontiguousarray(gram.ARR[:p, :p])
        self._XWy = np.ascontiguousarray(gram.ARR[:p, p])
        self._yWy = float(gram.ARR[p, p])
        self._D = np.ascontiguousarray(gram.D0)
        self._AXY0 = np.ascontiguousarray(gram.AXY0)
        self._last: tuple[bytes, tuple[float, np.ndarray, tuple[np.ndarray, ...], float]] | None
        self._last = None

    def theta(self, Ls: Sequence[np.ndarray], sigma: float) -> np.ndarray:
        """lme4's theta (n_theta,) of Lambda = L / sigma."""
        return np.asarray(Ls[0], dtype=float)[self._tril] / sigma

    def logp(self, beta: np.ndarray, Ls: Sequence[np.ndarray], sigma: float) -> float:
        """log p(y | beta, L, sigma); -inf where some M_g is not positive definite."""
        return self.logp_and_grad(beta, Ls, sigma)[0]

    def logp_and_grad(self, beta: np.ndarray, Ls: Sequence[np.ndarray], sigma: float) -> tuple[
            float, np.ndarray, tuple[np.ndarray, ...], float]:
        """log p(y | beta, L, sigma) and its gradient in (beta, L, sigma), as
        :meth:`MarginalDensity.logp_and_grad`; the last call's result is kept."""
        beta = np.ascontiguousarray(beta, dtype=float)
        sigma = float(sigma)
        L = np.ascontiguousarray(Ls[0], dtype=float)
        key = beta.tobytes() + np.float64(sigma).tobytes() + L.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        out = self._logp_and_grad(beta, L, sigma)
        self._last = (key, out)
        return out

    def _logp_and_grad(self, beta: np.ndarray, L: np.ndarray, sigma: float) -> tuple[
            float, np.ndarray, tuple[np.ndarray, ...], float]:
        g = self.gram
        q, p, n = self._q, g.p, g.n
        zeros = (np.zeros(p), (np.zeros_like(L),), 0.0)
        lam = np.tril(L) / sigma if sigma > 0 else L
        if not sigma > 0 or not np.all(np.diag(lam) != 0):
            return (-np.inf, *zeros)
        B, U, v = np.empty((q, q)), np.empty((q, q)), np.empty(p)
        kernel = one_term_pass_q2 if q == 2 else one_term_pass
        logdet, rMr = kernel(lam, self._D, self._AXY0, beta, B, U, v)
        XWe = self._XWy - self._XWX @ beta  # X'W(y - X beta), (p,)
        eWe = self._yWy - 2.0 * float(beta @ self._XWy) + float(beta @ self._XWX @ beta)
        Q = eWe - rMr
        s2 = sigma * sigma
        logp = -0.5 * (n * (_LOG_2PI + np.log(s2)) - g.sum_log_w + logdet + Q / s2)
        if not np.isfinite(logp):
            return (-np.inf, *zeros)
        d_beta = (XWe - v) / s2
        inner = self._l * np.eye(q) - B - U / s2  # (q, q)
        d_lam = np.tril(-np.linalg.solve(lam.T, inner))
        d_sigma = -n / sigma + Q / (s2 * sigma) - float(np.sum(d_lam * lam)) / sigma
        if not np.isfinite(d_sigma):
            return (-np.inf, *zeros)
        return float(logp), d_beta, (d_lam / sigma,), float(d_sigma)

    def draw_b(self, beta: np.ndarray, Ls: Sequence[np.ndarray], sigma: float,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """One exact draw of b (l, q) from p(b | y, beta, L, sigma), as a 1-tuple."""
        sigma = float(sigma)
        lam = np.tril(np.asarray(Ls[0], dtype=float)) / sigma
        z = rng.standard_normal((self._l, self._q))
        out = np.empty((self._l, self._q))
        kernel = one_term_draw_q2 if self._q == 2 else one_term_draw
        if not kernel(lam, self._D, self._AXY0,
                             np.ascontiguousarray(beta, dtype=float), sigma, z, out):
            raise FloatingPointError("M_g is not positive definite at this draw")
        return (out,)


def make_density(gram: Gram) -> OneTermDensity | MarginalDensity:
    """:class:`OneTermDensity` for a one-term gram, else :class:`MarginalDensity`."""
    return OneTermDensity(gram) if len(gram.terms) == 1 else MarginalDensity(gram)
