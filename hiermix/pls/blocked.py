"""The blocked Cholesky factor L(theta) of the penalised least-squares system of an LMM.

Model (Bates, Maechler, Bolker & Walker 2015, JSS, eqs. 2-4 and 10-11)::

    y | b ~ N(X beta + Z b + offset, sigma^2 W^{-1}),   b = Lambda(theta) u,  u ~ N(0, sigma^2 I)

Lambda(theta) is block diagonal: term k contributes l_k copies of the lower-triangular
q_k x q_k factor Lambda_k (theta in lme4's order; see :mod:`hiermix.covariance`). For given
theta, beta and u minimise the penalised residual sum of squares

    r^2(theta) = min_{u, beta} ||W^{1/2}(y - X beta - Z Lambda u)||^2 + ||u||^2,

solved through the Cholesky factor of the augmented system [Z Lambda, X, y] with the identity
added on the u part. With the terms in lme4's order, L is built by blocks (MixedModels.jl's
"blocked Cholesky", Bates, Alday & Kokandakar 2025) from the Gram blocks of
:mod:`hiermix.pls.gram`:

1. term 0 is block diagonal: M_0 = Lambda_0' A_00 Lambda_0 + I, one q_0 x q_0 matrix per level,
   factored level by level (vectorised numpy for q_0 = 1, compiled loops otherwise, see
   :mod:`hiermix.pls.kernels`);
2. the rest R = [Z_1 .. Z_{K-1}, X, y] gets the Schur complement
   S = Lambda_R' (A_RR - A_R0 Lambda_0 M_0^{-1} Lambda_0' A_R0') Lambda_R + [I_z 0; 0 0],
   with Lambda_R = blockdiag(Lambda_1 .. Lambda_{K-1}, I_{p+1}), and a dense Cholesky
   S = L_R L_R'.

L_R's diagonal holds, in order, the factors of terms 1..K-1, then R_X (the Cholesky factor of
the fixed-effects Schur complement, lme4's ``RX``), and last sqrt(r^2). So

    log|L_theta|^2 = sum_g log det M_0g + 2 sum log diag(L_R)[:m_z]
    log|R_X|^2     = 2 sum log diag(L_R)[m_z:m_z+p]

and the profiled criteria (JSS eqs. 35 and 42) follow in :func:`profiled_deviance`. Each
update costs O(l_0 q_0^3 + nnz(A_Z0) + m^3), never O(n). :class:`BlockedCholesky` is the
reusable "update L for theta (and the weights inside the Gram matrix)" step that the GLMM's
PIRLS iterations call with new working weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg import lapack

from .gram import Gram

#: Up to this many entries A_Z0 is kept dense: scipy.sparse's per-call overhead (~0.3 ms)
#: outweighs the arithmetic on small problems such as Penicillin or Pastes.
DENSE_MAX_ENTRIES = 250_000
#: Entries of the dense pieces of L_Z^{-1} C M_0^{-1} formed at once for conditional variances.
CONDVAR_CHUNK = 4_000_000
#: From this many non-zeros in A_Z0 on, the compiled kernel forms A_Z0 W A_Z0'; below it,
#: scipy's sparse product is as fast and avoids compiling.
KERNEL_MIN_NNZ = 20_000


@dataclass(frozen=True, eq=False)
class Factor:
    """L(theta) in blocks, and what the criteria read from it.

    Attributes
    ----------
    theta : ndarray, shape (n_theta,)
    lambdas : tuple of ndarray, shape (q_k, q_k) each
    M0inv : ndarray, shape (l_0, q_0, q_0)
        Inverses of M_0 = Lambda_0' A_00 Lambda_0 + I, per level.
    LR : ndarray, shape (m, m)
        Lower Cholesky factor of the rest's Schur complement S.
    ldL2 : float
        log|L_theta|^2 = log det(Lambda' Z'WZ Lambda + I).
    ldRX2 : float
        log|R_X|^2.
    pwrss : float
        r^2(theta), the penalised weighted residual sum of squares.
    ok : bool
        False when S was not positive definite (criteria are then +inf).
    """

    theta: np.ndarray
    lambdas: tuple[np.ndarray, ...]
    M0inv: np.ndarray
    LR: np.ndarray
    ldL2: float
    ldRX2: float
    pwrss: float
    ok: bool


class BlockedCholesky:
    """Updates the blocked factor L(theta) from a fixed :class:`Gram`.

    Parameters
    ----------
    gram : Gram
    """

    def __init__(self, gram: Gram) -> None:
        self.gram = gram
        t0 = gram.terms[0]
        self._l0, self._q0 = t0.nlevels, t0.q
        self._theta_slices = []
        start = 0
        for t in gram.terms:
            k = t.q * (t.q + 1) // 2
            self._theta_slices.append(slice(start, start + k))
            start += k
        self.n_theta = start
        # where theta_k goes in Lambda_k: the lower triangle column by column (lme4's order)
        self._tril = [(np.array([i for j in range(t.q) for i in range(j, t.q)], dtype=np.intp),
                       np.array([j for j in range(t.q) for _ in range(j, t.q)], dtype=np.intp))
                      for t in gram.terms]
        self._mz = gram.m_z
        self._scalar_rest = all(t.q == 1 for t in gram.terms[1:])
        self._bsr_indptr = np.arange(self._l0 + 1, dtype=np.int32)
        self._bsr_indices = np.arange(self._l0, dtype=np.int32)
        self._csc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._AZ0_dense: np.ndarray | None = None
        if gram.AZ0.shape[0] * gram.AZ0.shape[1] <= DENSE_MAX_ENTRIES:
            self._AZ0_dense = gram.AZ0.toarray()
        elif gram.AZ0.nnz >= KERNEL_MIN_NNZ:
            csc = gram.AZ0.tocsc()
            csc.sort_indices()
            self._csc = (csc.indptr, csc.indices, csc.data)

    @cached_property
    def _AZ0T(self) -> sp.csr_matrix:
        """A_Z0' (l_0 q_0, m_z), built when first read: a one-term model never reads it, and
        on small data its conversion cost more than the rest of a PIRLS step's arithmetic."""
        return self.gram.AZ0.T.tocsr()

    def lambdas(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        """Lambda_k (q_k, q_k) for each term, from theta in lme4's order."""
        out = []
        for s, t, idx in zip(self._theta_slices, self.gram.terms, self._tril, strict=True):
            lam = np.zeros((t.q, t.q))
            lam[idx] = theta[s]
            out.append(lam)
        return tuple(out)

    def rest_scale(self, lams: tuple[np.ndarray, ...], S: np.ndarray) -> np.ndarray:
        """Lambda_R' S, shape (m, c), for S of shape (m, c) (rows of the rest scaled)."""
        out = S.copy()
        for t, lam in zip(self.gram.terms[1:], lams[1:], strict=True):
            rows = slice(t.offset, t.offset + t.size)
            if t.q == 1:
                out[rows] *= lam[0, 0]
            else:
                blk = S[rows].reshape(t.nlevels, t.q, -1)
                out[rows] = np.einsum("ji,ljc->lic", lam, blk).reshape(t.size, -1)
        return out

    def _rest_scale_sym(self, lams: tuple[np.ndarray, ...], S: np.ndarray) -> np.ndarray:
        """Lambda_R' S Lambda_R for symmetric S (m, m)."""
        if self._scalar_rest:
            s = np.ones(S.shape[0])
            for t, lam in zip(self.gram.terms[1:], lams[1:], strict=True):
                s[t.offset:t.offset + t.size] = lam[0, 0]
            S *= s[:, None]
            S *= s[None, :]
            return S
        return self.rest_scale(lams, self.rest_scale(lams, S).T.copy()).T.copy()

    def update(self, theta: np.ndarray) -> Factor:
        """The factor at ``theta`` (n_theta,).

        Only the lower triangle of S is formed; the dense Cholesky reads nothing else.
        """
        g = self.gram
        theta = np.asarray(theta, dtype=float)
        lams = self.lambdas(theta)
        lam0 = lams[0]
        q0 = self._q0
        mz = self._mz
        if q0 == 1:
            l2 = lam0[0, 0] ** 2
            M0 = g.D0[:, 0, 0] * l2 + 1.0  # (l_0,): M_0 per level
            logdet0 = float(np.sum(np.log(M0)))
            M0inv = (1.0 / M0)[:, None, None]
            W = M0inv * l2  # (l_0, 1, 1): Lambda_0 M_0^{-1} Lambda_0'
            PW = g.AXY0 * W[:, 0, 0][None, :]
        else:
            from .kernels import term0_update, term0_update_q2

            kernel = term0_update_q2 if q0 == 2 else term0_update
            logdet0, M0inv, W, PW = kernel(lam0, g.D0, g.AXY0)
        S = g.ARR.copy()
        S[mz:, mz:] -= PW @ g.AXY0.T
        if mz:
            AZ0 = g.AZ0 if self._AZ0_dense is None else self._AZ0_dense
            S[mz:, :mz] -= (AZ0 @ PW.T).T  # (p + 1, m_z)
            self._subtract_zz(S, W)
            if not self._scalar_rest:
                S = np.tril(S) + np.tril(S, -1).T
        S = self._rest_scale_sym(lams, S)
        if mz:
            idx = np.arange(mz)
            S[idx, idx] += 1.0
        # S is C-ordered with its lower triangle set: S.T is Fortran-ordered with that
        # triangle as its upper one, so LAPACK factors it in place, U' U = S, L = U'.
        U, info = lapack.dpotrf(S.T, lower=0, clean=0, overwrite_a=1)
        LR = U.T
        if info != 0:
            nan = float("nan")
            return Factor(theta, lams, M0inv, LR, nan, nan, nan, ok=False)
        d = np.diag(LR)
        ldL2 = float(logdet0 + 2.0 * np.sum(np.log(d[:mz])))
        ldRX2 = float(2.0 * np.sum(np.log(d[mz:mz + g.p])))
        return Factor(theta, lams, M0inv, LR, ldL2, ldRX2, float(d[-1] ** 2), ok=True)

    def _subtract_zz(self, S: np.ndarray, W: np.ndarray) -> None:
        """Lower triangle of S[:m_z, :m_z] -= A_Z0 W A_Z0', in place."""
        g = self.gram
        mz = g.m_z
        if self._csc is not None:
            from .kernels import subtract_schur_lower

            subtract_schur_lower(S, *self._csc, W)
            return
        if self._AZ0_dense is not None:
            A = self._AZ0_dense
            if self._q0 == 1:
                S[:mz, :mz] -= (A * W[:, 0, 0]) @ A.T
            else:
                l0, q0 = self._l0, self._q0
                AW = np.einsum("agi,gij->agj", A.reshape(mz, l0, q0), W).reshape(mz, l0 * q0)
                S[:mz, :mz] -= AW @ A.T
            return
        if self._q0 == 1:
            AZ0W = g.AZ0 @ sp.diags(W[:, 0, 0])
        else:
            l0, q0 = self._l0, self._q0
            AZ0W = g.AZ0 @ sp.bsr_matrix((W, self._bsr_indices, self._bsr_indptr),
                                         shape=(l0 * q0, l0 * q0))
        S[:mz, :mz] -= (AZ0W @ self._AZ0T).toarray()

    def solve(self, f: Factor, beta: np.ndarray | None = None) -> tuple[
            np.ndarray, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """beta (p,), spherical u_k (l_k, q_k) and b_k = Lambda_k u_k (l_k, q_k) at a factor.

        Back-substitution through L: first [u_1 .. u_{K-1}, beta] from L_R, then
        u_0 = M_0^{-1} Lambda_0' (A_0y - A_0R' [b_rest; beta]) level by level. With ``beta``
        given, u is the conditional mode at that beta instead of at beta-hat:
        u_rest = L_Z^{-T} (c_Z - L_XZ' beta).
        """
        g = self.gram
        mz, p = g.m_z, g.p
        LR = f.LR
        c = LR[-1, :-1]
        if beta is None:
            x = sla.solve_triangular(LR[:-1, :-1], c, lower=True, trans="T")
            beta = x[mz:mz + p]
        else:
            beta = np.asarray(beta, dtype=float)
            x = np.empty(mz + p)
            x[mz:] = beta
            if mz:
                x[:mz] = sla.solve_triangular(LR[:mz, :mz], c[:mz] - LR[mz:mz + p, :mz].T @ beta,
                                              lower=True, trans="T")
        K = len(g.terms)
        us: list[np.ndarray] = [np.empty((0, 0))] * K
        bs: list[np.ndarray] = [np.empty((0, 0))] * K
        b_rest = np.zeros(mz)
        for k, (t, lam) in enumerate(zip(g.terms[1:], f.lambdas[1:], strict=True), start=1):
            u = x[t.offset:t.offset + t.size].reshape(t.nlevels, t.q)
            b = u @ lam.T  # (l_k, q_k) @ (q_k, q_k) -> (l_k, q_k)
            us[k], bs[k] = u, b
            b_rest[t.offset:t.offset + t.size] = b.ravel()
        r0 = g.AXY0[-1] - g.AXY0[:p].T @ beta  # (l_0 q_0,)
        if mz:
            r0 = r0 - self._AZ0T @ b_rest
        lam0 = f.lambdas[0]
        r0 = r0.reshape(self._l0, self._q0) @ lam0  # rows: Lambda_0' r_g
        u0 = np.einsum("gij,gj->gi", f.M0inv, r0)
        us[0], bs[0] = u0, u0 @ lam0.T
        return beta, tuple(us), tuple(bs)

    def inverse_diag_blocks(self, f: Factor) -> tuple[np.ndarray, ...]:
        """Diagonal blocks of (Lambda' Z'WZ Lambda + I)^{-1}, shape (l_k, q_k, q_k) per term.

        lme4's ``condVar`` multiplies them by sigma^2 and Lambda_k on both sides. The term-0
        blocks are M_0^{-1} + V_g' V_g with V = L_Z^{-1} C M_0^{-1}, C = Lambda_Z' A_Z0 Lambda_0.
        """
        g = self.gram
        mz = g.m_z
        l0, q0 = self._l0, self._q0
        out: list[np.ndarray] = []
        if not mz:
            return (f.M0inv.copy(),)
        LZ = f.LR[:mz, :mz]
        Linv = sla.solve_triangular(LZ, np.eye(mz), lower=True)
        lamZt = sp.block_diag([sp.kron(sp.identity(t.nlevels), sp.csr_matrix(lam.T))
                               for t, lam in zip(g.terms[1:], f.lambdas[1:], strict=True)],
                              format="csr")
        right = sp.bsr_matrix((f.lambdas[0] @ f.M0inv, self._bsr_indices, self._bsr_indptr),
                              shape=(l0 * q0, l0 * q0))
        CM = (lamZt @ g.AZ0 @ right).tocsc()  # C M_0^{-1}, C = Lambda_Z' A_Z0 Lambda_0
        B0 = f.M0inv.copy()
        step = max(1, CONDVAR_CHUNK // max(mz, 1) // q0)  # levels per chunk, bounded memory
        for start in range(0, l0, step):
            stop = min(l0, start + step)
            V = Linv @ CM[:, start * q0:stop * q0].toarray()  # (m_z, chunk q_0)
            V = V.reshape(mz, stop - start, q0)
            B0[start:stop] += np.einsum("agi,agj->gij", V, V)
        out.append(B0)
        for t in g.terms[1:]:
            cols = Linv[:, t.offset:t.offset + t.size].reshape(mz, t.nlevels, t.q)
            out.append(np.einsum("ali,alj->lij", cols, cols))
        return tuple(out)


def profiled_deviance(f: Factor, n: int, p: int, REML: bool, sum_log_w: float = 0.0) -> float:
    """The profiled criterion at a factor (JSS eq. 35 for ML, eq. 42 for REML).

    ML:   log|L|^2 + n (1 + log(2 pi r^2 / n))
    REML: log|L|^2 + log|R_X|^2 + (n - p) (1 + log(2 pi r^2 / (n - p)))

    minus sum(log w) for prior weights, as lme4 does.
    """
    if not f.ok or not f.pwrss > 0:
        return float("inf")
    if REML:
        nmp = n - p
        return f.ldL2 + f.ldRX2 + nmp * (1.0 + np.log(2.0 * np.pi * f.pwrss / nmp)) - sum_log_w
    return f.ldL2 + n * (1.0 + np.log(2.0 * np.pi * f.pwrss / n)) - sum_log_w
