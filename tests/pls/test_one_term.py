"""The one-term fast path of :mod:`hiermix.pls.one_term` against the general blocked path.

References, computed without the code under test:

* log p(y) against scipy's multivariate normal on the dense n x n covariance (tolerance 1e-10
  relative, as tests/pls/test_density.py);
* the gradient against :class:`~hiermix.pls.density.MarginalDensity`'s (itself checked against
  finite differences in tests/pls/test_density.py), 1e-9 relative to the largest entry: both are
  exact formulas, differing by rounding only;
* draws of b against ``MarginalDensity.draw_b`` with the same generator state: the same
  standard normals enter the same formula, so they agree to rounding (1e-12 absolute).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hiermix
from hiermix.pls.density import MarginalDensity
from hiermix.pls.gram import build_gram
from hiermix.pls.one_term import OneTermDensity, make_density

from .test_density import _dense, _design, _point

ONE_TERM = ["y ~ x + (1 | g)", "y ~ x + (x | g)", "y ~ x + u + (1 + x + u | g)"]


@pytest.mark.parametrize("formula", ONE_TERM)
@pytest.mark.parametrize("weights", [False, True])
def test_logp_equals_dense_mvn(formula: str, weights: bool) -> None:
    d = _design(formula, weights)
    beta, Ls, sigma = _point(d)
    got = OneTermDensity(build_gram(d)).logp(beta, Ls, sigma)
    _, _, V = _dense(d, Ls, sigma)
    expected = stats.multivariate_normal(d.X @ beta + d.offset, V).logpdf(d.y)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("formula", ONE_TERM)
@pytest.mark.parametrize("weights", [False, True])
def test_gradient_and_draws_equal_the_blocked_path(formula: str, weights: bool) -> None:
    d = _design(formula, weights)
    beta, Ls, sigma = _point(d, seed=11)
    gram = build_gram(d)
    fast, ref = OneTermDensity(gram), MarginalDensity(gram)
    lp, d_beta, d_L, d_sigma = fast.logp_and_grad(beta, Ls, sigma)
    lp0, d_beta0, d_L0, d_sigma0 = ref.logp_and_grad(beta, Ls, sigma)
    np.testing.assert_allclose(lp, lp0, rtol=1e-12)
    scale = max(np.abs(d_beta0).max(), np.abs(d_L0[0]).max(), abs(d_sigma0))
    np.testing.assert_allclose(d_beta, d_beta0, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(d_L[0], d_L0[0], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(d_sigma, d_sigma0, rtol=0, atol=1e-9 * scale)
    (b,) = fast.draw_b(beta, Ls, sigma, np.random.default_rng(5))
    (b0,) = ref.draw_b(beta, Ls, sigma, np.random.default_rng(5))
    np.testing.assert_allclose(b, b0, rtol=0, atol=1e-12)


def test_outside_the_support_is_minus_infinity() -> None:
    d = _design("y ~ x + (x | g)")
    beta, Ls, _ = _point(d)
    dens = OneTermDensity(build_gram(d))
    assert dens.logp(beta, Ls, 0.0) == -np.inf
    singular = [Ls[0].copy()]
    singular[0][1, 1] = 0.0
    lp, d_beta, d_L, d_sigma = dens.logp_and_grad(beta, singular, 0.8)
    assert lp == -np.inf and d_sigma == 0.0 and not np.any(d_beta) and not np.any(d_L[0])


def test_make_density_takes_the_fast_path_for_one_term_only() -> None:
    assert isinstance(make_density(build_gram(_design("y ~ x + (x | g)"))), OneTermDensity)
    crossed = make_density(build_gram(_design("y ~ x + (1 | g) + (1 | h)")))
    assert type(crossed) is MarginalDensity
    with pytest.raises(ValueError, match="one random-effects term"):
        OneTermDensity(build_gram(_design("y ~ x + (1 | g) + (1 | h)")))


def test_log_determinant_of_many_large_blocks() -> None:
    """det M_g ~ 1e20 on 300 levels: a running product of the determinants would overflow;
    reference MarginalDensity, which sums logs level by level, 1e-9 relative (with SDs 1e5
    times sigma, Q(beta) = e'We - sum_g r_g' u_g loses about 4 digits to cancellation)."""
    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame({"x": rng.normal(size=n),
                       "g": pd.Categorical(rng.integers(0, 300, n).astype(str))})
    df["y"] = 1.0 + df["x"] + rng.normal(size=n)
    d = hiermix.Model("y ~ x + (x | g)", df).design
    gram = build_gram(d)
    beta, Ls, sigma = np.array([1.0, 1.0]), [np.array([[1e5, 0.0], [2e4, 1e5]])], 1.0
    got = OneTermDensity(gram).logp(beta, Ls, sigma)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, MarginalDensity(gram).logp(beta, Ls, sigma), rtol=1e-9)
