"""The Gaussian mixed model's marginal log density, its gradient, and exact draws of b.

For a linear mixed model with prior weights w (all positive), fixed effects beta, residual SD
sigma and random-effects covariances Sigma_k = L_k L_k' (L_k lower triangular, absolute scale)

    y ~ N(X beta + offset, sigma^2 W^{-1} + Z Sigma Z'),   Sigma = blockdiag(I_{l_k} (x) Sigma_k).

With Lambda_k = L_k / sigma (lme4's relative factor, theta its lower triangle) the blocked
Cholesky factor of :mod:`hiermix.pls.blocked` gives, at a cost that does not depend on n,

    log p(y | beta, L, sigma) = -1/2 [n log(2 pi sigma^2) - sum log w + log|L_theta|^2
                                      + Q(beta) / sigma^2],
    Q(beta) = r^2 + ||R_X' beta - c_X||^2

(Bates et al. 2015, JSS, eq. 33 before beta is profiled out; R_X and c_X are the fixed-effects
rows of the factor, r^2 the penalised residual sum of squares at beta-hat). The gradient, with
M = Lambda' Z'WZ Lambda + I, B_k = sum_j (M^{-1})_jj over the levels j of term k, u-hat(beta)
the spherical conditional mode at beta and U_k = sum_j u_j u_j'::

    d/d beta      = R_X (c_X - R_X' beta) / sigma^2
    d/d Lambda_k  = -Lambda_k^{-T} [(l_k I - B_k) - U_k / sigma^2]
    d/d sigma     = -n / sigma + Q / sigma^3            (Lambda held fixed)

from d log|M| = 2 tr(Lambda' Z'WZ Lambda M^{-1} Lambda^{-1} dLambda) and the envelope theorem
on Q; then the chain rule through Lambda_k = L_k / sigma gives the derivatives in (L_k, sigma).
Lambda_k must be invertible (every SD positive), which holds almost surely under the priors
of the Bayesian engine. B_k needs the diagonal blocks of M^{-1} only: for terms 1.. they are
those of S_Z^{-1} (LAPACK ``potri`` on the factor), for term 0 they are
M_0^{-1} + (C M_0^{-1})' S_Z^{-1} (C M_0^{-1}) per level, C = Lambda_Z' A_Z0 Lambda_0.

Given (beta, L, sigma), b = Lambda u with u ~ N(u-hat(beta), sigma^2 M^{-1}); a draw of
x ~ N(0, M^{-1}) follows the block LDL' factorisation of M: x_Z = L_Z^{-T} e_Z, then
x_0 = chol(M_0^{-1}) e_0 - M_0^{-1} C' x_Z level by level.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from .blocked import BlockedCholesky, Factor
from .gram import Gram

_LOG_2PI = float(np.log(2.0 * np.pi))

#: BLAS threads while a log density and gradient are evaluated. The samplers run chains in
#: parallel threads, each factoring its own dense block; BLAS threads on top oversubscribe the
#: cores (InstEval on 2 cores: one evaluation 0.35 s single-threaded, 0.7 to 3.9 s with two
#: BLAS threads under load, /tmp profiling of 2026-12-01, benchmarks/bayes.py --model insteval).
BLAS_THREADS = 1

_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None
_blas_controller: Any = None


@contextmanager
def _single_thread_blas() -> Iterator[None]:
    """BLAS limited to :data:`BLAS_THREADS` threads while any evaluation runs.

    OpenBLAS's thread count is process-wide: the first evaluation to enter sets it and the
    last to leave restores it, so concurrent chains never restore it under each other.
    """
    global _blas_users, _blas_limiter, _blas_controller
    with _blas_lock:
        if _blas_users == 0:
            if _blas_controller is None:  # finding the libraries costs ~1 ms; once
                from threadpoolctl import ThreadpoolController

                _blas_controller = ThreadpoolController()
            _blas_limiter = _blas_controller.limit(limits=BLAS_THREADS, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


class MarginalDensity:
    """log p(y | beta, L, sigma) with b integrated out, from a fixed :class:`Gram`.

    Parameters
    ----------
    gram : Gram
        Built with all prior weights positive.
    """

    def __init__(self, gram: Gram) -> None:
        self.chol = BlockedCholesky(gram)
        self.gram = gram
        self._last: tuple[bytes, tuple[float, np.ndarray, tuple[np.ndarray, ...], float]] | None
        self._last = None

    # ---------------------------------------------------------------- parameters
    def theta(self, Ls: Sequence[np.ndarray], sigma: float) -> np.ndarray:
        """lme4's theta (n_theta,) of the relative factors Lambda_k = L_k / sigma."""
        return np.concatenate([np.asarray(L, dtype=float)[idx] / sigma
                               for L, idx in zip(Ls, self.chol._tril, strict=True)])

    def _factor(self, Ls: Sequence[np.ndarray], sigma: float) -> Factor:
        return self.chol.update(self.theta(Ls, sigma))

    # ---------------------------------------------------------------- density
    def logp(self, beta: np.ndarray, Ls: Sequence[np.ndarray], sigma: float) -> float:
        """log p(y | beta, L, sigma); -inf where the factor fails."""
        return self.logp_and_grad(beta, Ls, sigma)[0]

    def logp_and_grad(self, beta: np.ndarray, Ls: Sequence[np.ndarray], sigma: float) -> tuple[
            float, np.ndarray, tuple[np.ndarray, ...], float]:
        """log p(y | beta, L, sigma) and its gradient in (beta, L_k, sigma).

        The last call's result is kept, so that a log density and its gradient asked for
        separately at the same point cost one factorisation.

        Returns
        -------
        logp : float
        d_beta : ndarray, shape (p,)
        d_L : tuple of ndarray, shape (q_k, q_k) each, lower triangular
        d_sigma : float
        """
        beta = np.asarray(beta, dtype=float)
        sigma = float(sigma)
        key = beta.tobytes() + np.float64(sigma).tobytes() + b"".join(
            np.ascontiguousarray(L, dtype=float).tobytes() for L in Ls)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        with _single_thread_blas():
            out = self._logp_and_grad(beta, [np.asarray(L, dtype=float) for L in Ls], sigma)
        self._last = (key, out)
        return out

    def _logp_and_grad(self, beta: np.ndarray, Ls: list[np.ndarray], sigma: float) -> tuple[
            float, np.ndarray, tuple[np.ndarray, ...], float]:
        g = self.gram
        mz, p, n = g.m_z, g.p, g.n
        zeros = (np.zeros(p), tuple(np.zeros_like(L) for L in Ls), 0.0)
        if not sigma > 0:
            return (-np.inf, *zeros)
        f = self._factor(Ls, sigma)
        if not f.ok or not np.all(np.isfinite(f.LR)):
            return (-np.inf, *zeros)
        LR = f.LR
        LX = np.tril(LR[mz:mz + p, mz:mz + p])  # the factor leaves junk above its diagonal
        cX = LR[-1, mz:mz + p]
        res = LX.T @ beta - cX  # (p,)
        Q = f.pwrss + float(res @ res)
        s2 = sigma * sigma
        logp = -0.5 * (n * (_LOG_2PI + np.log(s2)) - g.sum_log_w + f.ldL2 + Q / s2)
        d_beta = -(LX @ res) / s2

        _, us, _ = self.chol.solve(f, beta)
        B = self.inverse_diag_sums(f)
        d_sigma = -n / sigma + Q / (s2 * sigma)
        d_L = []
        for t, lam, u, Bk in zip(g.terms, f.lambdas, us, B, strict=True):
            inner = t.nlevels * np.eye(t.q) - Bk - (u.T @ u) / s2  # (q_k, q_k)
            if not np.all(np.diag(lam) != 0):
                return (-np.inf, *zeros)
            # numpy's solver: scipy's triangular one costs milliseconds on these tiny blocks
            d_lam = np.tril(-np.linalg.solve(lam.T, inner))
            d_L.append(d_lam / sigma)
            # Lambda_k = L_k / sigma: d Lambda_k / d sigma = -Lambda_k / sigma
            d_sigma -= float(np.sum(d_lam * lam)) / sigma
        if not (np.isfinite(logp) and np.isfinite(d_sigma)):
            return (-np.inf, *zeros)
        return float(logp), d_beta, tuple(d_L), float(d_sigma)

    def inverse_diag_sums(self, f: Factor) -> tuple[np.ndarray, ...]:
        """B_k = sum over levels of the diagonal blocks of M^{-1}, shape (q_k, q_k) per term.

        Terms 1..: the diagonal blocks of S_Z^{-1} (LAPACK ``potri``, lower triangle only).
        Term 0: B_0 = sum_g M_0g^{-1} + sum_g (C M_0^{-1})_g' S_Z^{-1} (C M_0^{-1})_g, whose
        entry (i, j) is tr(S_Z^{-1} K_ij), K_ij = Lambda_Z' A_Z0 G_ij A_Z0' Lambda_Z with
        G_ij = blockdiag_g(sym(P_g e_i e_j' P_g')), P_g = Lambda_0 M_0g^{-1}: an m_z x m_z
        product formed by the factor's own A_Z0 W A_Z0' kernel (q_0 (q_0 + 1) / 2 of them)
        instead of the l_0 q_0 dense columns of S_Z^{-1} C M_0^{-1}.
        """
        g = self.gram
        mz = g.m_z
        q0 = g.terms[0].q
        B0 = f.M0inv.sum(axis=0)
        if not mz:
            return (B0,)
        # lower triangle of S_Z^{-1}; potri leaves the strict upper one as the factor's junk
        Sinv, _ = lapack.dpotri(f.LR[:mz, :mz], lower=1)
        Sinv = np.tril(Sinv)
        dS = np.diag(Sinv)
        P = f.lambdas[0][None, :, :] @ f.M0inv  # (l_0, q_0, q_0): Lambda_0 M_0g^{-1}
        B0 = B0.copy()
        for i in range(q0):
            for j in range(i + 1):
                # G_g = sym(P_g e_i e_j' P_g'), (l_0, q_0, q_0)
                G = 0.5 * (P[:, :, i, None] * P[:, None, :, j]
                           + P[:, :, j, None] * P[:, None, :, i])
                K = self._rest_sandwich(f, self._schur_lower(G))
                # tr(S_Z^{-1} K) for symmetric S_Z^{-1} and K from their lower triangles
                val = 2.0 * float(np.sum(Sinv * K)) - float(np.sum(dS * np.diag(K)))
                B0[i, j] += val
                if i != j:
                    B0[j, i] += val
        out = [B0]
        for t in g.terms[1:]:
            blk = Sinv[t.offset:t.offset + t.size, t.offset:t.offset + t.size]
            if t.q == 1:
                out.append(np.array([[float(np.sum(np.diag(blk)))]]))
                continue
            r = blk.reshape(t.nlevels, t.q, t.nlevels, t.q)
            idx = np.arange(t.nlevels)
            lower = r[idx, :, idx, :].sum(axis=0)  # (q, q), lower triangle per level block
            out.append(np.tril(lower) + np.tril(lower, -1).T)
        return tuple(out)

    def _schur_lower(self, G: np.ndarray) -> np.ndarray:
        """Lower triangle of A_Z0 G A_Z0', shape (m_z, m_z), zeros above, G (l_0, q_0, q_0)
        symmetric per level; the factor update's own code path, with W = -G so that it adds."""
        mz = self.gram.m_z
        K = np.zeros((mz, mz))
        self.chol._subtract_zz(K, -G)
        return np.tril(K) if self.chol._csc is None else K

    def _rest_sandwich(self, f: Factor, K: np.ndarray) -> np.ndarray:
        """Lower triangle of Lambda_Z' K Lambda_Z for symmetric K given by its lower triangle."""
        g = self.gram
        if all(t.q == 1 for t in g.terms[1:]):
            s = np.empty(g.m_z)
            for t, lam in zip(g.terms[1:], f.lambdas[1:], strict=True):
                s[t.offset:t.offset + t.size] = lam[0, 0]
            K *= s[:, None]
            K *= s[None, :]
            return K
        full = K + np.tril(K, -1).T
        # rest_scale acts on the rows of an (m, c) array; pad to its m = m_z + p + 1 rows
        pad = np.zeros((g.m, g.m_z))
        pad[:g.m_z] = full
        half = self.chol.rest_scale(f.lambdas, pad)[:g.m_z]  # Lambda_Z' K
        pad[:g.m_z] = half.T
        return np.tril(self.chol.rest_scale(f.lambdas, pad)[:g.m_z])  # (Lambda_Z' K Lambda_Z)'

    # ---------------------------------------------------------------- conditional draws
    def draw_b(self, beta: np.ndarray, Ls: Sequence[np.ndarray], sigma: float,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """One exact draw of b_k (l_k, q_k) per term from p(b | y, beta, L, sigma)."""
        g = self.gram
        mz = g.m_z
        t0 = g.terms[0]
        l0, q0 = t0.nlevels, t0.q
        f = self._factor(Ls, float(sigma))
        _, us, _ = self.chol.solve(f, np.asarray(beta, dtype=float))
        xs: list[np.ndarray] = [np.empty(0)] * len(g.terms)
        if mz:
            xZ = sla.solve_triangular(f.LR[:mz, :mz], rng.standard_normal(mz), lower=True,
                                      trans="T")
            bZ = np.empty(mz)  # Lambda_Z x_Z, term by term
            for k, t in enumerate(g.terms[1:], start=1):
                xs[k] = xZ[t.offset:t.offset + t.size].reshape(t.nlevels, t.q)
                bZ[t.offset:t.offset + t.size] = (xs[k] @ f.lambdas[k].T).ravel()
            v0 = (self.chol._AZ0T @ bZ).reshape(l0, q0) @ f.lambdas[0]  # rows (C' x_Z)_g
            shift = np.einsum("gij,gj->gi", f.M0inv, v0)
        else:
            shift = np.zeros((l0, q0))
        root = np.linalg.cholesky(f.M0inv)  # (l_0, q_0, q_0), K K' = M_0^{-1}
        xs[0] = np.einsum("gij,gj->gi", root, rng.standard_normal((l0, q0))) - shift
        return tuple((u + sigma * x) @ lam.T
                     for u, x, lam in zip(us, xs, f.lambdas, strict=True))
