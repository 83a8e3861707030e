"""Compiled kernels of the blocked Cholesky update: term 0 level by level, and A_Z0 W A_Z0'.

The Schur complement of term 0 needs, per evaluation, the dense lower triangle of

    A_Z0 W A_Z0',   A_Z0 sparse (m_z, l_0 q_0),  W = blockdiag_g(W_g),  W_g (q_0, q_0),

where W_g = Lambda_0 M_0g^{-1} Lambda_0'. Its sparsity pattern never changes, so a loop over the
levels g, accumulating w v_i v_j into the dense result for the pairs of rows that meet in
level g, does the work in sum_g nnz_g^2 / 2 multiply-adds with no symbolic phase and no
temporary sparse matrix. numba (already installed with PyMC's pytensor) compiles it once and
caches the machine code; small problems use scipy's sparse product instead.

Term 0's per-level work (a q_0 x q_0 Cholesky factor, inverse and products for each of l_0
levels) is a loop of tiny fixed-size operations: compiled, it costs microseconds where numpy's
per-call overhead on (l_0, q_0, q_0) stacks would dominate small models.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def subtract_schur_lower(S: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                         data: np.ndarray, W: np.ndarray) -> None:  # pragma: no cover - jit
    """S[i, j] -= sum_g sum_{a,b} A[i, (g,a)] W[g, a, b] A[j, (g,b)] for i >= j, in place.

    Parameters
    ----------
    S : ndarray, shape (m, m), C order; only its lower triangle (i >= j) is written.
    indptr, indices, data : CSC arrays of A_Z0 with sorted row indices, shapes
        (l_0 q_0 + 1,), (nnz,), (nnz,)
    W : ndarray, shape (l_0, q_0, q_0)
    """
    l0, q0 = W.shape[0], W.shape[1]
    for g in range(l0):
        for a in range(q0):
            ca = g * q0 + a
            for b in range(q0):
                cb = g * q0 + b
                wab = W[g, a, b]
                if wab == 0.0:
                    continue
                for p in range(indptr[ca], indptr[ca + 1]):
                    i = indices[p]
                    vi = wab * data[p]
                    for r in range(indptr[cb], indptr[cb + 1]):
                        j = indices[r]
                        if j > i:
                            break
                        S[i, j] -= vi * data[r]


@njit(cache=True, nogil=True)
def cholesky_lower(M: np.ndarray, L: np.ndarray, n: int) -> float:  # pragma: no cover - jit
    """Write the lower Cholesky factor of ``M[:n, :n]`` into ``L[:n, :n]`` (zeros above the
    diagonal) and return log det M = 2 sum log L_jj.

    The small dense factorisations inside the compiled kernels (one q x q block per level, the
    (p + 1) x (p + 1) fixed-effects block) all go through here. A pivot that is not positive
    stops the factorisation and returns nan, leaving ``L`` filled up to that column.
    """
    logdet = 0.0
    for j in range(n):
        s = M[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            return np.nan
        d = np.sqrt(s)
        L[j, j] = d
        logdet += 2.0 * np.log(d)
        for i in range(j + 1, n):
            s = M[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / d
        for i in range(j):
            L[i, j] = 0.0
    return logdet


@njit(cache=True, nogil=True)
def level_m_q2(D: np.ndarray, g: int, a: float, b: float,
               c: float) -> tuple[float, float, float, float]:  # pragma: no cover - jit
    """(m00, m01, m11, det) of M_g = Lambda' D_g Lambda + I for q = 2, Lambda = [[a, 0], [b, c]]
    and D_g symmetric: the closed form the q = 2 kernels share."""
    d00, d01, d11 = D[g, 0, 0], D[g, 1, 0], D[g, 1, 1]
    m00 = a * (d00 * a + d01 * b) + b * (d01 * a + d11 * b) + 1.0
    m01 = c * (a * d01 + b * d11)
    m11 = c * c * d11 + 1.0
    return m00, m01, m11, m00 * m11 - m01 * m01


@njit(cache=True, nogil=True)
def term0_update(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray) -> tuple[
        float, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - jit
    """Term 0 of the blocked factor, level by level, for any q_0.

    For each level g: M_g = Lambda_0' D_g Lambda_0 + I, its Cholesky factor (for log det M_g),
    M_g^{-1}, W_g = Lambda_0 M_g^{-1} Lambda_0' and the columns of PW = A_XY0 W.

    Parameters
    ----------
    lam : ndarray, shape (q, q)
        Lambda_0, lower triangular.
    D : ndarray, shape (l, q, q)
        A_00 per level.
    AXY0 : ndarray, shape (p + 1, l q)

    Returns
    -------
    logdet : float
        sum_g log det M_g.
    Minv, W : ndarray, shape (l, q, q)
    PW : ndarray, shape (p + 1, l q)
    """
    nl, q = D.shape[0], D.shape[1]
    c = AXY0.shape[0]
    Minv = np.empty((nl, q, q))
    W = np.empty((nl, q, q))
    PW = np.empty_like(AXY0)
    M = np.empty((q, q))
    DL = np.empty((q, q))
    L = np.empty((q, q))
    Li = np.empty((q, q))
    logdet = 0.0
    for g in range(nl):
        for i in range(q):
            for j in range(q):
                s = 0.0
                for k in range(j, q):
                    s += D[g, i, k] * lam[k, j]
                DL[i, j] = s
        for i in range(q):
            for j in range(q):
                s = 1.0 if i == j else 0.0
                for k in range(i, q):
                    s += lam[k, i] * DL[k, j]
                M[i, j] = s
        logdet += cholesky_lower(M, L, q)
        for j in range(q):
            for i in range(q):
                if i < j:
                    Li[i, j] = 0.0
                    continue
                s = 1.0 if i == j else 0.0
                for k in range(j, i):
                    s -= L[i, k] * Li[k, j]
                Li[i, j] = s / L[i, i]
        for i in range(q):
            for j in range(q):
                s = 0.0
                for k in range(max(i, j), q):
                    s += Li[k, i] * Li[k, j]
                Minv[g, i, j] = s
        for i in range(q):
            for j in range(q):
                s = 0.0
                for a in range(i + 1):
                    for b in range(j + 1):
                        s += lam[i, a] * Minv[g, a, b] * lam[j, b]
                W[g, i, j] = s
        for r in range(c):
            for j in range(q):
                s = 0.0
                for i in range(q):
                    s += AXY0[r, g * q + i] * W[g, i, j]
                PW[r, g * q + j] = s
    return logdet, Minv, W, PW


@njit(cache=True, nogil=True)
def term0_update_q2(lam: np.ndarray, D: np.ndarray, AXY0: np.ndarray) -> tuple[
        float, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - jit
    """:func:`term0_update` for q_0 = 2 in closed form (the common ``(1 + x | g)`` term).

    With Lambda_0 = [[a, 0], [b, c]]: M_g = Lambda_0' D_g Lambda_0 + I has entries
    m00 = a (d00 a + d01 b) + b (d01 a + d11 b) + 1, m01 = c (a d01 + b d11), m11 = c^2 d11 + 1.
    """
    nl = D.shape[0]
    nc = AXY0.shape[0]
    a, b, c = lam[0, 0], lam[1, 0], lam[1, 1]
    Minv = np.empty((nl, 2, 2))
    W = np.empty((nl, 2, 2))
    PW = np.empty_like(AXY0)
    logdet = 0.0
    for g in range(nl):
        m00, m01, m11, det = level_m_q2(D, g, a, b, c)
        logdet += np.log(det)
        i00, i01, i11 = m11 / det, -m01 / det, m00 / det
        Minv[g, 0, 0], Minv[g, 0, 1], Minv[g, 1, 0], Minv[g, 1, 1] = i00, i01, i01, i11
        w00 = a * a * i00
        w01 = a * (b * i00 + c * i01)
        w11 = b * (b * i00 + c * i01) + c * (b * i01 + c * i11)
        W[g, 0, 0], W[g, 0, 1], W[g, 1, 0], W[g, 1, 1] = w00, w01, w01, w11
        for r in range(nc):
            p0, p1 = AXY0[r, 2 * g], AXY0[r, 2 * g + 1]
            PW[r, 2 * g] = p0 * w00 + p1 * w01
            PW[r, 2 * g + 1] = p0 * w01 + p1 * w11
    return logdet, Minv, W, PW
