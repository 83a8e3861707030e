"""Compiled kernels against direct numpy linear algebra (source: numpy.linalg; 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import block_diag

from hiermix.pls.kernels import subtract_schur_lower, term0_update, term0_update_q2


def _direct(lam: np.ndarray, D: np.ndarray, A: np.ndarray) -> tuple[float, ...]:
    q = lam.shape[0]
    M = np.einsum("ji,gjk,kl->gil", lam, D, lam) + np.eye(q)
    Minv = np.linalg.inv(M)
    W = lam @ Minv @ lam.T
    PW = np.einsum("cgi,gij->cgj", A.reshape(A.shape[0], -1, q), W).reshape(A.shape)
    return float(np.sum(np.linalg.slogdet(M)[1])), Minv, W, PW


@pytest.mark.parametrize("q", [2, 3, 4])
def test_term0_update(q: int) -> None:
    rng = np.random.default_rng(q)
    X = rng.standard_normal((50, 6, q))
    D = np.einsum("lni,lnj->lij", X, X)
    A = rng.standard_normal((3, 50 * q))
    lam = np.tril(rng.standard_normal((q, q)))
    lam[np.diag_indices(q)] = np.abs(lam[np.diag_indices(q)])
    want = _direct(lam, D, A)
    kernels = [term0_update] + ([term0_update_q2] if q == 2 else [])
    for kernel in kernels:
        got = kernel(lam, D, A)
        assert got[0] == pytest.approx(want[0], rel=1e-10)
        for g, w in zip(got[1:], want[1:], strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("q", [1, 2])
def test_subtract_schur_lower(q: int) -> None:
    rng = np.random.default_rng(10 + q)
    A = sp.random(40, 30 * q, density=0.2, random_state=rng, format="csc")
    A.sort_indices()
    W = rng.standard_normal((30, q, q))
    W = W @ W.transpose(0, 2, 1)
    S = np.zeros((40, 40))
    subtract_schur_lower(S, A.indptr, A.indices, A.data, W)
    Wfull = block_diag(*W)
    want = -(A @ Wfull @ A.T)
    np.testing.assert_allclose(np.tril(S), np.tril(want), atol=1e-12)
    assert np.all(np.triu(S, 1) == 0)
