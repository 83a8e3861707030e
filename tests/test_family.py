"""Families and links: log-densities against scipy.stats (the definitions, to 1e-12), links
against their definitions, and R's spellings.

Source of truth: scipy.stats densities with R's parameterisations (Gamma: shape 1/phi,
scale mu phi; inverse Gaussian: variance phi mu^3).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hiermix.errors import FamilyError
from hiermix.family import FAMILIES, LINKS, get_family, get_link

rng = np.random.default_rng(3)
N = 50
W = rng.uniform(0.5, 3.0, N)
PHI = 0.7


def test_gaussian_loglik_with_weights() -> None:
    y, mu = rng.normal(size=N), rng.normal(size=N)
    got = get_family("gaussian").loglik(y, mu, W, PHI)
    np.testing.assert_allclose(got, stats.norm.logpdf(y, mu, np.sqrt(PHI / W)), rtol=1e-12)


def test_binomial_loglik_counts() -> None:
    m = rng.integers(1, 20, N).astype(float)
    k = rng.binomial(m.astype(int), 0.3).astype(float)
    mu = rng.uniform(0.05, 0.95, N)
    got = get_family("binomial").loglik(k / m, mu, m)
    np.testing.assert_allclose(got, stats.binom.logpmf(k, m, mu), rtol=1e-12)


def test_poisson_loglik() -> None:
    y = rng.poisson(3.0, N).astype(float)
    mu = rng.uniform(0.5, 6, N)
    got = get_family("poisson").loglik(y, mu, np.ones(N))
    np.testing.assert_allclose(got, stats.poisson.logpmf(y, mu), rtol=1e-12)


def test_gamma_loglik_with_weights() -> None:
    y, mu = rng.gamma(2.0, size=N), rng.uniform(0.5, 4, N)
    got = get_family("Gamma").loglik(y, mu, W, PHI)
    shape = W / PHI
    np.testing.assert_allclose(got, stats.gamma.logpdf(y, shape, scale=mu / shape), rtol=1e-12)


def test_inverse_gaussian_loglik_with_weights() -> None:
    y, mu = rng.gamma(2.0, size=N), rng.uniform(0.5, 4, N)
    got = get_family("inverse.gaussian").loglik(y, mu, W, PHI)
    lam = W / PHI  # shape: variance mu^3 / lambda
    ref = stats.invgauss.logpdf(y, mu / lam, scale=lam)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("name", FAMILIES)
def test_deviance_is_twice_saturated_loglik_gap(name: str) -> None:
    """For unit weights: sum(dev_resids) = 2 phi (loglik(y, y) - loglik(y, mu))."""
    fam = get_family(name)
    if name == "binomial":
        m = np.full(N, 10.0)
        y = rng.binomial(10, 0.4, N) / 10.0
        mu = rng.uniform(0.1, 0.9, N)
        w = m
    else:
        y = rng.gamma(2.0, size=N) if name != "gaussian" else rng.normal(size=N)
        if name == "poisson":
            y = rng.poisson(3.0, N).astype(float)
        mu = rng.uniform(0.5, 4, N)
        w = np.ones(N)
    phi = 1.0
    gap = 2.0 * phi * (fam.loglik(y, y, w, phi) - fam.loglik(y, mu, w, phi))
    np.testing.assert_allclose(fam.dev_resids(y, mu, w), gap, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(LINKS))
def test_links_are_inverses_and_derivatives(name: str) -> None:
    link = get_link(name)
    mu = rng.uniform(0.1, 0.9, N)
    eta = link.linkfun(mu)
    np.testing.assert_allclose(link.linkinv(eta), mu, rtol=1e-10)
    h = 1e-6
    fd = (link.linkinv(eta + h) - link.linkinv(eta - h)) / (2 * h)
    np.testing.assert_allclose(link.mu_eta(eta), fd, rtol=1e-5)


def test_r_spellings_and_defaults() -> None:
    assert get_family("Gamma").link.name == "inverse"
    assert get_family("inverse.gaussian").link.name == "1/mu^2"
    assert get_family("binomial").link.name == "logit"
    assert get_family("poisson").link.name == "log"
    assert get_family("gaussian").is_lmm
    assert not get_family("gaussian", "log").is_lmm
    assert get_family("inverse_gaussian", "inverse_squared").link.name == "1/mu^2"
    assert get_family("Gamma", "log").r_name == "Gamma"
    assert get_family(get_family("poisson"), "sqrt").link.name == "sqrt"


def test_bad_family_or_link() -> None:
    with pytest.raises(FamilyError, match="'negbin'"):
        get_family("negbin")
    with pytest.raises(FamilyError, match="'cauchit'"):
        get_link("cauchit")
    with pytest.raises(FamilyError, match="not available for the gamma family"):
        get_family("gamma", "logit")


@pytest.mark.parametrize("name", FAMILIES)
def test_sample_has_the_right_mean(name: str) -> None:
    fam = get_family(name)
    mu = np.full(20000, 0.3 if name == "binomial" else 2.0)
    w = np.full(20000, 10.0 if name == "binomial" else 1.0)
    draws = fam.sample(mu, w, 0.5, np.random.default_rng(0))
    assert abs(draws.mean() - mu[0]) < 0.05 * mu[0]


def test_negative_binomial_loglik_with_weights() -> None:
    """w log NB2(y; mu, theta) against scipy's nbinom(n = theta, p = theta / (theta + mu))."""
    theta = 1.7
    y = rng.negative_binomial(theta, theta / (theta + 3.0), N).astype(float)
    mu = rng.uniform(0.2, 8.0, N)
    got = get_family("negative_binomial").loglik(y, mu, W, theta)
    want = W * stats.nbinom.logpmf(y, theta, theta / (theta + mu))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_negative_binomial_deviance_variance_and_poisson_limit() -> None:
    """dev_resids = 2 (loglik(y, y) - loglik(y, mu)) at theta != 1; V(mu) = mu + mu^2 / theta;
    at theta = 1e9 the log-density is the Poisson's (scipy) plus its first-order correction
    (y (y - 1) / 2 - y mu + mu^2 / 2) / theta to 1e-12 absolute (no cancellation error)."""
    fam = get_family("nbinom2")
    theta = 0.45
    y = rng.negative_binomial(theta, theta / (theta + 2.0), N).astype(float)
    mu = rng.uniform(0.2, 8.0, N)
    w = np.ones(N)
    gap = 2.0 * (fam.loglik(y, y, w, theta) - fam.loglik(y, mu, w, theta))
    np.testing.assert_allclose(fam.dev_resids(y, mu, w, theta), gap, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fam.variance(mu, theta), mu + mu**2 / theta, rtol=1e-15)
    assert fam.has_dispersion and not fam.has_scale and fam.deviance_scale(theta) == 1.0
    big = 1e9
    first_order = (y * (y - 1.0) / 2.0 - y * mu + mu**2 / 2.0) / big
    np.testing.assert_allclose(fam.loglik(y, mu, w, big),
                               stats.poisson.logpmf(y, mu) + first_order, rtol=0, atol=1e-12)


def test_negative_binomial_spellings_and_links() -> None:
    for name in ("negative_binomial", "nbinom2", "negative.binomial"):
        fam = get_family(name)
        assert fam.name == "negative_binomial" and fam.link.name == "log"
    assert get_family("nbinom2", "sqrt").link.name == "sqrt"
    assert get_family("nbinom2", "identity").link.name == "identity"
    assert str(get_family("nbinom2")) == "Negative Binomial  ( log )"
    with pytest.raises(FamilyError, match="not available for the negative_binomial family"):
        get_family("nbinom2", "logit")


def test_negative_binomial_sample_moments() -> None:
    """Draws have mean mu and variance mu + mu^2 / theta (within 3% at 200,000 draws)."""
    fam = get_family("nbinom2")
    mu, theta = np.full(200_000, 4.0), 1.5
    draws = fam.sample(mu, np.ones_like(mu), theta, np.random.default_rng(1))
    assert np.all(draws == np.round(draws))
    assert abs(draws.mean() - 4.0) < 0.03 * 4.0
    assert abs(draws.var() - (4.0 + 16.0 / 1.5)) < 0.03 * (4.0 + 16.0 / 1.5)


def test_negative_binomial_support() -> None:
    """Negative counts are refused naming the column; non-integer counts warn (as poisson)."""
    from hiermix.errors import ResponseSupportError

    fam = get_family("nbinom2")
    w = np.ones(3)
    with pytest.raises(ResponseSupportError, match=r"'TICKS'.*below zero.*Negative Binomial"):
        fam.validate(np.array([0.0, -1.0, 2.0]), w, "TICKS")
    with pytest.warns(UserWarning, match="non-integer counts in a Negative Binomial"):
        fam.validate(np.array([0.0, 1.5, 2.0]), w, "TICKS")
