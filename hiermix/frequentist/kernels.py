"""Compiled kernel for the one sparse product of the blocked Cholesky update.

The Schur complement of term 0 needs, per evaluation, the dense lower triangle of

    A_Z0 W A_Z0',   A_Z0 sparse (m_z, l_0 q_0),  W = blockdiag_g(W_g),  W_g (q_0, q_0),

where W_g = Lambda_0 M_0g^{-1} Lambda_0'. Its sparsity pattern never changes, so a loop over the
levels g, accumulating w v_i v_j into the dense result for the pairs of rows that meet in
level g, does the work in sum_g nnz_g^2 / 2 multiply-adds with no symbolic phase and no
temporary sparse matrix. numba (already installed with PyMC's pytensor) compiles it once and
caches the machine code; small problems use scipy's sparse product instead and never import it.
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
