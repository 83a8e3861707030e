"""The ``log_prior`` group: each prior class's density against PyMC's own ``logp``.

The reference for every density is PyMC (the distributions the model is built from), to 1e-7
absolute: PyMC's normal and half-normal constants are rounded (off by 2e-9 and 2e-8 in
PyMC 6.4), SciPy's are not. The LKJ density is checked against ``pm.LKJCorr`` for q = 2, 3, 4,
against the volume of the 3 x 3 correlation matrices, and for q = 2 against SciPy's beta.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import hiermix
from hiermix.bayes import (
    LKJ,
    Exponential,
    Flat,
    HalfNormal,
    HalfStudentT,
    InverseSqrt,
    Normal,
    StudentT,
    build_model,
    sample,
)
from hiermix.bayes.log_prior import lkj_logpdf, log_prior_terms, prior_logpdf
from hiermix.datasets import load
from hiermix.errors import ModelError

PRIORS = [Normal(1.5, 2.0), StudentT(3.0, -1.0, 0.5), HalfNormal(3.0), HalfStudentT(4.0, 2.5),
          Exponential(0.3)]


@pytest.mark.parametrize("prior", PRIORS, ids=str)
def test_prior_logpdf_equals_pymc(prior) -> None:
    x = np.array([[0.1, 0.7, 2.5], [4.0, 0.01, 1.2]])
    ours = prior_logpdf(prior, x)
    ref = pm.logp(prior.dist(shape=x.shape), x).eval()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)


def test_prior_logpdf_vector_scale_and_support() -> None:
    pr = HalfStudentT(3.0, np.array([10.0, 2.0]))
    x = np.array([[1.0, 3.0], [-1.0, 0.5]])
    ours = prior_logpdf(pr, x)
    assert ours[1, 0] == -np.inf
    ref = np.log(2.0) + stats.t.logpdf(x[0], 3.0, 0.0, [10.0, 2.0])
    np.testing.assert_allclose(ours[0], ref, rtol=1e-14)
    assert np.all(prior_logpdf(Flat(), x) == 0.0)
    with pytest.raises(ModelError, match="no log density"):
        prior_logpdf(LKJ(2.0), x)


@pytest.mark.parametrize("base", [Exponential(1.0), HalfNormal(2.0)], ids=str)
def test_inverse_sqrt_is_a_density_of_x(base) -> None:
    """The negative binomial's theta prior, InverseSqrt(base): the density of theta implied
    by base on 1 / sqrt(theta). References: it integrates to 1 over theta > 0
    (scipy.integrate.quad, 1e-8), and P(theta > 4) = P(1 / sqrt(theta) < 1/2) = the base's
    CDF at 1/2 (PyMC's logcdf), to 1e-8."""
    from scipy import integrate

    pr = InverseSqrt(base)

    def dens(t: float) -> float:
        return float(np.exp(prior_logpdf(pr, np.array([t]))[0]))

    total = integrate.quad(dens, 0, 1, limit=200)[0] + integrate.quad(dens, 1, np.inf,
                                                                     limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    tail = integrate.quad(dens, 4, np.inf, limit=200)[0]
    cdf = float(np.exp(pm.logcdf(base.dist(), 0.5).eval()))
    assert tail == pytest.approx(cdf, abs=1e-8)
    assert prior_logpdf(pr, np.array([0.0, -1.0]))[0] == -np.inf


@pytest.mark.parametrize(("q", "eta"), [(2, 0.7), (3, 1.0), (3, 2.0), (4, 1.5)])
def test_lkj_equals_pymc(q: int, eta: float) -> None:
    # PyMC 6.4's LKJCorr is a density of the Cholesky factor L of R (Stan's
    # lkj_corr_cholesky): log p(L) = log p(R) + sum_i (q - i) log L_ii (one-based i), the
    # Jacobian of L -> R.
    Ls = pm.draw(pm.LKJCorr.dist(n=q, eta=eta), draws=5, random_seed=q)
    R = Ls @ np.swapaxes(Ls, -1, -2)
    pairs = np.array([[m[i, j] for j in range(q) for i in range(j + 1, q)] for m in R])
    jac = np.log(np.diagonal(Ls, axis1=1, axis2=2)) @ (q - np.arange(1, q + 1))
    ref = pm.logp(pm.LKJCorr.dist(n=q, eta=eta, size=(5,)), Ls).eval()
    np.testing.assert_allclose(lkj_logpdf(pairs, q, eta) + jac, ref, rtol=0, atol=1e-7)


def test_lkj_volume_of_3x3_correlation_matrices() -> None:
    # eta = 1 is uniform: the density is one over the volume of the 3 x 3 correlation
    # matrices, pi^2 / 2 (Rousseeuw & Molenberghs 1994).
    np.testing.assert_allclose(lkj_logpdf(np.array([[0.1, 0.2, 0.3]]), 3, 1.0),
                               -np.log(np.pi**2 / 2), rtol=1e-14)


def test_lkj_q2_is_a_scaled_beta() -> None:
    r = np.array([[-0.3], [0.8]])
    ref = stats.beta.logpdf((r[:, 0] + 1) / 2, 2.5, 2.5) - np.log(2.0)
    np.testing.assert_allclose(lkj_logpdf(r, 2, 2.5), ref, rtol=1e-12)


def test_terms_on_the_centred_intercept(mock_sample) -> None:
    data = load("sleepstudy")
    design = hiermix.Model("Reaction ~ Days + (Days | Subject)", data).design
    post = sample(design, draws=20, tune=0, chains=2, random_seed=3, sampler="pymc",
                  marginal=False, warn=False)
    assert "log_prior" in post.datatree.children
    lp = post.datatree["log_prior"].to_dataset()
    assert set(lp.data_vars) == {"intercept", "coef", "sd_Subject", "corr_Subject", "sigma"}
    assert lp["sigma"].dims == ("chain", "draw")
    pri = post.priors
    pos = post.posterior
    # the mocked draws hold the free variable intercept_c: the term is its prior density
    ref = stats.norm.logpdf(pos["intercept_c"].values, pri.intercept.mu, pri.intercept.sigma)
    np.testing.assert_allclose(lp["intercept"].values, ref, rtol=1e-9)
    ref_sd = (np.log(2) + stats.t.logpdf(pos["sd_Subject"].values, 3.0, 0.0,
                                         pri.sd["Subject"].sigma)).sum(-1)
    np.testing.assert_allclose(lp["sd_Subject"].values, ref_sd, rtol=1e-12)
    ref_sigma = np.log(pri.sigma.lam) - pri.sigma.lam * pos["sigma"].values
    np.testing.assert_allclose(lp["sigma"].values, ref_sigma, rtol=1e-12)
    # LKJ(1) for q = 2 is uniform on (-1, 1)
    np.testing.assert_allclose(lp["corr_Subject"].values, -np.log(2.0), rtol=1e-12)


def test_terms_of_a_glmm_without_intercept_prior(mock_sample) -> None:
    data = load("cbpp")
    design = hiermix.Model("cbind(incidence, size - incidence) ~ 0 + period + (1 | herd)",
                           data, family="binomial").design
    built = build_model(design, {"coef": Normal(0, 2)})
    import pymc as pm_

    with built.model:
        idata = pm_.sample(draws=10, chains=1, random_seed=1)
    terms = log_prior_terms(idata["posterior"].to_dataset(), design, built.priors)
    assert set(terms) == {"coef", "sd_herd"}
    beta = idata["posterior"]["beta"].values
    np.testing.assert_allclose(terms["coef"], stats.norm.logpdf(beta, 0, 2).sum(-1), rtol=1e-12)
