"""Proof of equivalence 2: the density of b under the PyMC model is N(0, Sigma(theta)), with
Sigma built by hiermix.covariance from the frequentist parameterisation, and theta <-> (SDs,
correlations) round-trips.

Reference: scipy.stats.multivariate_normal on Sigma = s^2 Lambda(theta) Lambda(theta)^T.
Tolerance: 1e-10 relative (both sides are exact formulas; only rounding differs).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hiermix.bayes import build_model
from hiermix.covariance import cov_from_theta, sd_corr_from_theta, theta_from_sd_corr
from hiermix.naming import b_var

from .points import FAST, evaluate, model_for, natural_values, to_point


def _sigma_theta(values: dict, label: str, q: int, scale: float) -> np.ndarray:
    """Sigma_k from the values via theta (the frequentist parameterisation)."""
    if q == 1:
        sd, corr = np.atleast_1d(values[f"sd_{label}"]), None
    else:
        sd, corr = values[f"_sd_{label}"], values[f"_corr_{label}"]
    theta = theta_from_sd_corr(sd, corr, scale=scale)
    return cov_from_theta(theta, q, scale=scale)


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
def test_centred_b_density_is_normal_sigma_theta(family: str) -> None:
    link = "identity" if family == "gaussian" else "log"
    d = model_for(family, link).design
    built = build_model(d, centered=True)
    model = built.model
    values = natural_values(built, np.random.default_rng(7), family)
    point = to_point(model, values)
    # theta is relative to sigma for LMMs (scale = sigma) and absolute for GLMMs (scale = 1).
    scale = float(values["sigma"]) if family == "gaussian" else 1.0
    for t in d.reterms:
        cov = _sigma_theta(values, t.label, t.q, scale)
        b = values[b_var(t.label)]
        expected = stats.multivariate_normal(np.zeros(t.q), cov).logpdf(b).sum()
        got = model.compile_logp(vars=[model[b_var(t.label)]], jacobian=False,
                                 mode=FAST)(point)
        np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_noncentred_b_is_cholesky_of_sigma_theta_times_z() -> None:
    """b_k = z_k L_k^T with L_k L_k^T = Sigma(theta), so b_k has density N(0, Sigma(theta)):
    log N(b; 0, Sigma) = log N(z; 0, I) - l_k log det L_k."""
    d = model_for("gaussian", "identity").design
    built = build_model(d, centered=False)
    model = built.model
    values = natural_values(built, np.random.default_rng(11), "gaussian")
    point = to_point(model, values)
    scale = float(values["sigma"])
    for t in d.reterms:
        cov = _sigma_theta(values, t.label, t.q, scale)
        (b,) = evaluate(model, [b_var(t.label)], point)
        z = values[f"z_{t.label}"]
        L = np.linalg.cholesky(cov)
        np.testing.assert_allclose(b, z @ L.T, rtol=1e-10, atol=1e-14)
        dens_b = stats.multivariate_normal(np.zeros(t.q), cov).logpdf(b).sum()
        dens_z = stats.norm.logpdf(z).sum() - t.nlevels * np.log(np.diag(L)).sum()
        np.testing.assert_allclose(dens_z, dens_b, rtol=1e-10)


@pytest.mark.parametrize("q", [1, 2, 3, 4])
@pytest.mark.parametrize("scale", [1.0, 2.7])
def test_theta_sd_corr_round_trip(q: int, scale: float) -> None:
    rng = np.random.default_rng(q)
    A = rng.normal(size=(q, q))
    cov = A @ A.T + 0.1 * np.eye(q)
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    theta = theta_from_sd_corr(sd, corr, scale=scale)
    sd2, corr2 = sd_corr_from_theta(theta, q, scale=scale)
    np.testing.assert_allclose(sd2, sd, rtol=1e-12)
    np.testing.assert_allclose(corr2, corr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(theta_from_sd_corr(sd2, corr2, scale=scale), theta, rtol=1e-10)
