"""The integrated-out gaussian model (hiermix/bayes/marginal.py) against dense linear algebra.

References, computed here without the code under test:
* log p(y) = log N(y; X beta + offset, sigma^2 W^{-1} + Z Sigma Z^T) with scipy's
  multivariate normal on the dense n x n covariance (tolerance 1e-9 relative);
* b | y ~ N(m, V) with V = (Sigma_b^{-1} + Z^T W Z / sigma^2)^{-1} and
  m = V Z^T W r / sigma^2 (the textbook Gaussian conditional), checked on 20,000 draws:
  means within 4 Monte Carlo SEs and covariances within 5%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import linalg, stats

import hiermix
from hiermix.bayes.marginal import (
    build_model,
    can_marginalize,
    draw_b,
    marginal_loglik_graph,
    sufficient_stats,
)

from .points import FAST


def _design(q: int, weights: bool):
    rng = np.random.default_rng(q)
    n = 40
    df = pd.DataFrame({"x": rng.normal(size=n), "u": rng.uniform(size=n),
                       "g": pd.Categorical(rng.integers(0, 5, n).astype(str)),
                       "w": rng.uniform(0.5, 2.0, n), "off": rng.normal(0, 0.1, n)})
    df["y"] = 1.0 + df["x"] + rng.normal(size=n)
    rhs = "x + u + (x | g)" if q == 2 else "x + u + (1 | g)"
    return hiermix.Model(f"y ~ {rhs} + offset(off)", df,
                         weights="w" if weights else None).design


def _dense(d, beta, L, sigma):
    t = d.reterms[0]
    Z = t.Z().toarray()
    # Z's columns are level-major (all q columns of level 1 first), so Sigma_b = I_l (x) L L^T
    G = np.kron(np.eye(t.nlevels), L @ L.T)
    V = sigma**2 * np.diag(1.0 / d.weights) + Z @ G @ Z.T
    return Z, G, V


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("weights", [False, True])
def test_marginal_loglik_equals_dense_mvn(q: int, weights: bool) -> None:
    d = _design(q, weights)
    rng = np.random.default_rng(5)
    beta = rng.normal(size=d.p)
    L = np.tril(rng.uniform(0.2, 1.0, (q, q)))
    sigma = 0.8
    got = marginal_loglik_graph(sufficient_stats(d), beta, L, sigma, q).eval(mode=FAST)
    _, _, V = _dense(d, beta, L, sigma)
    expected = stats.multivariate_normal(d.X @ beta + d.offset, V).logpdf(d.y)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("q", [1, 2])
def test_b_drawn_from_exact_conditional(q: int) -> None:
    d = _design(q, weights=True)
    built = build_model(d)
    t = d.reterms[0]
    beta = np.array([0.5, 1.0, -0.3])
    sd = np.array([0.7, 0.4])[:q]
    corr = np.array([0.3])
    sigma = 0.9
    S = 20_000
    post = xr.Dataset({
        "beta": (("chain", "draw", "coef"), np.broadcast_to(beta, (1, S, 3))),
        "sigma": (("chain", "draw"), np.full((1, S), sigma)),
        f"sd_{t.label}": (("chain", "draw", "c"), np.broadcast_to(sd, (1, S, q))),
    }, coords={"chain": [0], "draw": np.arange(S)})
    if q == 2:
        post[f"corr_{t.label}"] = (("chain", "draw", "p"), np.broadcast_to(corr, (1, S, 1)))
    b = draw_b(built, post, np.random.default_rng(0))[f"b_{t.label}"].values[0]  # (S, l, q)

    Sig = np.diag(sd) @ (np.array([[1, corr[0]], [corr[0], 1]])[:q, :q]) @ np.diag(sd)
    L = np.linalg.cholesky(Sig)
    Z, G, _ = _dense(d, beta, L, sigma)
    W = np.diag(d.weights)
    r = d.y - d.offset - d.X @ beta
    V = linalg.inv(linalg.inv(G) + Z.T @ W @ Z / sigma**2)
    m = V @ Z.T @ W @ r / sigma**2
    flat = b.reshape(S, -1)  # level-major, as Z's columns
    se = np.sqrt(np.diag(V) / S)
    assert np.all(np.abs(flat.mean(0) - m) < 4 * se)
    np.testing.assert_allclose(np.cov(flat.T), V, rtol=0.05, atol=0.05 * np.max(np.diag(V)))


def test_can_marginalize_only_one_term_gaussian_identity() -> None:
    from .points import model_for

    assert not can_marginalize(model_for("gaussian", "identity").design)  # two terms
    assert not can_marginalize(model_for("poisson", "log").design)
    assert can_marginalize(_design(2, weights=False))
