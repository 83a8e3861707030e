"""The marginal log density of :mod:`hiermix.pls.density` against dense linear algebra.

References, computed here without the code under test:

* log p(y) = log N(y; X beta + offset, sigma^2 W^{-1} + Z Sigma Z') with scipy's multivariate
  normal on the dense n x n covariance (tolerance 1e-10 relative);
* the gradient against central finite differences of the same log density (step 1e-6,
  tolerance 1e-5 relative to the largest entry: the differences' own error is ~1e-8);
* b | y ~ N(m, V), V = (Sigma_b^{-1} + Z'WZ / sigma^2)^{-1}, m = V Z'W r / sigma^2 (the
  textbook Gaussian conditional), on 8,000 draws: means within 4.5 Monte Carlo SEs, covariances
  within 6% of the largest variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import linalg, stats

import hiermix
from hiermix.pls.density import MarginalDensity
from hiermix.pls.gram import build_gram

FORMULAS = [
    "y ~ x + (1 | g)",
    "y ~ x + (x | g)",
    "y ~ x + (1 | g) + (1 | h)",          # crossed
    "y ~ x + (x | g) + (x | h)",          # crossed, q = 2 in both
    "y ~ x + (1 | g) + (x | h)",          # q_0 = 1 with a q = 2 term after it
    "y ~ x + (1 | h) + (1 | h:g)",        # nested
    "y ~ x + u + (1 + x + u | g)",        # q = 3
]


def _design(formula: str, weights: bool = True) -> hiermix.design.Design:
    rng = np.random.default_rng(len(formula))
    n = 48
    df = pd.DataFrame({"x": rng.normal(size=n), "u": rng.uniform(size=n),
                       "g": pd.Categorical(rng.integers(0, 6, n).astype(str)),
                       "h": pd.Categorical(rng.integers(0, 3, n).astype(str)),
                       "w": rng.uniform(0.5, 2.0, n), "off": rng.normal(0, 0.1, n)})
    df["y"] = 1.0 + df["x"] + rng.normal(size=n)
    return hiermix.Model(f"{formula} + offset(off)", df,
                         weights="w" if weights else None).design


def _point(d: hiermix.design.Design, seed: int = 3) -> tuple[np.ndarray, list[np.ndarray], float]:
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=d.p)
    Ls = []
    for t in d.reterms:
        L = np.tril(rng.uniform(-0.5, 0.5, (t.q, t.q)))
        L[np.diag_indices(t.q)] = rng.uniform(0.3, 1.2, t.q)
        Ls.append(L)
    return beta, Ls, 0.8


def _dense(d: hiermix.design.Design, Ls: list[np.ndarray], sigma: float) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    # Z's columns are level-major per term, so Sigma_b = blockdiag_k(I_l (x) L_k L_k')
    Z = np.hstack([t.Z().toarray() for t in d.reterms])
    G = linalg.block_diag(*[np.kron(np.eye(t.nlevels), L @ L.T)
                            for t, L in zip(d.reterms, Ls, strict=True)])
    V = sigma**2 * np.diag(1.0 / d.weights) + Z @ G @ Z.T
    return Z, G, V


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("weights", [False, True])
def test_logp_equals_dense_mvn(formula: str, weights: bool) -> None:
    d = _design(formula, weights)
    beta, Ls, sigma = _point(d)
    got = MarginalDensity(build_gram(d)).logp(beta, Ls, sigma)
    _, _, V = _dense(d, Ls, sigma)
    expected = stats.multivariate_normal(d.X @ beta + d.offset, V).logpdf(d.y)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("formula", FORMULAS)
def test_gradient_equals_finite_differences(formula: str) -> None:
    d = _design(formula)
    beta, Ls, sigma = _point(d)
    md = MarginalDensity(build_gram(d))
    _, d_beta, d_L, d_sigma = md.logp_and_grad(beta, Ls, sigma)
    h = 1e-6

    def diff(shift_beta: np.ndarray, shift_L: list[np.ndarray], shift_sigma: float) -> float:
        up = md.logp(beta + shift_beta, [L + s for L, s in zip(Ls, shift_L, strict=True)],
                     sigma + shift_sigma)
        down = md.logp(beta - shift_beta, [L - s for L, s in zip(Ls, shift_L, strict=True)],
                       sigma - shift_sigma)
        return (up - down) / (2 * h)

    none = [np.zeros_like(L) for L in Ls]
    got, ref = [], []
    for i in range(d.p):
        got.append(d_beta[i])
        ref.append(diff(h * np.eye(d.p)[i], none, 0.0))
    for k, L in enumerate(Ls):
        for i, j in zip(*np.tril_indices(L.shape[0]), strict=True):
            shift = [np.zeros_like(x) for x in Ls]
            shift[k][i, j] = h
            got.append(d_L[k][i, j])
            ref.append(diff(np.zeros(d.p), shift, 0.0))
        assert np.all(np.triu(d_L[k], 1) == 0)
    got.append(d_sigma)
    ref.append(diff(np.zeros(d.p), none, h))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * np.max(np.abs(ref)))


@pytest.mark.parametrize("formula", ["y ~ x + (x | g) + (1 | h)", "y ~ x + (1 | h) + (1 | h:g)"])
def test_draw_b_from_exact_conditional(formula: str) -> None:
    d = _design(formula)
    beta, Ls, sigma = _point(d)
    md = MarginalDensity(build_gram(d))
    rng = np.random.default_rng(0)
    S = 8_000
    draws = np.array([np.concatenate([b.ravel() for b in md.draw_b(beta, Ls, sigma, rng)])
                      for _ in range(S)])
    Z, G, _ = _dense(d, Ls, sigma)
    W = np.diag(d.weights)
    r = d.y - d.offset - d.X @ beta
    V = linalg.inv(linalg.inv(G) + Z.T @ W @ Z / sigma**2)
    m = V @ Z.T @ W @ r / sigma**2
    se = np.sqrt(np.diag(V) / S)
    assert np.all(np.abs(draws.mean(0) - m) < 4.5 * se)
    np.testing.assert_allclose(np.cov(draws.T), V, rtol=0, atol=0.06 * np.max(np.diag(V)))


def test_bad_points_give_minus_infinity() -> None:
    d = _design(FORMULAS[1])
    beta, Ls, _ = _point(d)
    md = MarginalDensity(build_gram(d))
    assert md.logp(beta, Ls, 0.0) == -np.inf
    assert md.logp(beta, [np.zeros((2, 2))], 1.0) == -np.inf


@pytest.mark.parametrize("formula", [f for f in FORMULAS if "(1 | h)" in f or "(x | h)" in f])
@pytest.mark.parametrize("storage", ["dense", "sparse", "kernel"])
def test_inverse_diag_sums_equal_dense_inverse(formula: str, storage: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """B_k, the per-term sums of the diagonal blocks of M^{-1}, against M = Lambda' Z'WZ Lambda
    + I formed and inverted densely (1e-10 relative), with A_Z0 in each of the factor's three
    storages (dense, scipy.sparse, the compiled kernel's CSC)."""
    from hiermix.pls import blocked

    if storage != "dense":
        monkeypatch.setattr(blocked, "DENSE_MAX_ENTRIES", 0)
        monkeypatch.setattr(blocked, "KERNEL_MIN_NNZ", 0 if storage == "kernel" else 10**9)
    d = _design(formula)
    _, Ls, sigma = _point(d)
    md = MarginalDensity(build_gram(d))
    assert (md.chol._csc is not None) == (storage == "kernel")
    assert (md.chol._AZ0_dense is not None) == (storage == "dense")
    f = md._factor(Ls, sigma)
    got = md.inverse_diag_sums(f)
    Z = np.hstack([t.Z().toarray() for t in d.reterms])
    Lam = linalg.block_diag(*[np.kron(np.eye(t.nlevels), lam)
                              for t, lam in zip(d.reterms, f.lambdas, strict=True)])
    ZL = Z @ Lam
    Minv = linalg.inv(ZL.T @ (d.weights[:, None] * ZL) + np.eye(Z.shape[1]))
    start = 0
    for t, Bk in zip(d.reterms, got, strict=True):
        blk = Minv[start:start + t.ncols, start:start + t.ncols]
        r = blk.reshape(t.nlevels, t.q, t.nlevels, t.q)
        idx = np.arange(t.nlevels)
        np.testing.assert_allclose(Bk, r[idx, :, idx, :].sum(axis=0), rtol=1e-10)
        start += t.ncols
