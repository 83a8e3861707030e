"""Proof of equivalence 1: the PyMC model's conditional log-likelihood of y is the frequentist
engine's, ``design.family.loglik`` (hiermix/family/families.py), at random parameter values.

Tolerance: 1e-8 relative on the sum (issue 5), and pointwise with an absolute slack of 1e-10
times the size of the sum; the two sides differ only by floating-point rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from hiermix.bayes import build_model
from hiermix.naming import b_var, corr_var, sd_var

from .points import FAST, evaluate, model_for, natural_values, to_point

CASES = [
    ("gaussian", "identity", "basic"), ("gaussian", "identity", "weights"),
    ("gaussian", "identity", "offset"), ("gaussian", "log", "basic"),
    ("gaussian", "inverse", "basic"),
    ("binomial", "logit", "cbind"), ("binomial", "logit", "weights"),
    ("binomial", "logit", "basic"), ("binomial", "probit", "cbind"),
    ("binomial", "cloglog", "cbind"), ("binomial", "probit", "weights"),
    ("poisson", "log", "basic"), ("poisson", "log", "offset"), ("poisson", "sqrt", "basic"),
    ("poisson", "identity", "weights"),
    ("gamma", "log", "basic"), ("gamma", "inverse", "weights"), ("gamma", "identity", "basic"),
    ("inverse_gaussian", "log", "basic"), ("inverse_gaussian", "1/mu^2", "weights"),
    ("inverse_gaussian", "inverse", "basic"), ("inverse_gaussian", "identity", "offset"),
    ("negative_binomial", "log", "basic"), ("negative_binomial", "log", "weights"),
    ("negative_binomial", "sqrt", "offset"), ("negative_binomial", "identity", "basic"),
]


def conditional_check(family: str, link: str, variant: str, centered: bool, seed: int) -> None:
    m = model_for(family, link, variant, seed)
    d = m.design
    built = build_model(d, centered=centered)
    model = built.model
    rng = np.random.default_rng(100 + seed)
    values = natural_values(built, rng, family)
    point = to_point(model, values)

    names = ["beta"] + [b_var(t.label) for t in d.reterms]
    beta, *bs = evaluate(model, names, point)
    eta = d.X @ beta + d.offset
    for t, b in zip(d.reterms, bs, strict=True):
        eta = eta + np.sum(b[t.codes] * t.X, axis=1)
    mu = d.family.linkinv(eta)
    phi = (values["sigma"] ** 2 if family == "gaussian"
           else 1.0 / values["phi_inv_sqrt"] ** 2 if family == "negative_binomial"
           else values.get("phi", 1.0))
    expected = d.family.loglik(d.y, mu, d.weights, phi)
    assert np.all(np.isfinite(expected))

    obs = model["y"]
    pointwise = model.compile_logp(vars=[obs], jacobian=False, sum=False,
                                  mode=FAST)(point)[0]
    total = model.compile_logp(vars=[obs], jacobian=False, mode=FAST)(point)
    np.testing.assert_allclose(total, expected.sum(), rtol=1e-8)
    np.testing.assert_allclose(pointwise, expected, rtol=1e-8,
                               atol=1e-10 * abs(expected.sum()))

    # The reported variance components are the ones the point was built from.
    for t in d.reterms:
        if t.q > 1:
            sd, corr = evaluate(model, [sd_var(t.label), corr_var(t.label)], point)
            np.testing.assert_allclose(sd, values[f"_sd_{t.label}"], rtol=1e-12)
            # lme4's pair order: (1, 0), (2, 0), ..., (2, 1), ...
            expect = [values[f"_corr_{t.label}"][i, j]
                      for j in range(t.q) for i in range(j + 1, t.q)]
            np.testing.assert_allclose(corr, expect, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("family", "link", "variant"), CASES)
def test_conditional_loglik_matches_family_loglik(family: str, link: str, variant: str) -> None:
    conditional_check(family, link, variant, centered=False, seed=len(family) + len(link))


@pytest.mark.parametrize(("family", "link", "variant"),
                         [("gaussian", "identity", "basic"), ("binomial", "logit", "cbind"),
                          ("gamma", "log", "weights"), ("inverse_gaussian", "1/mu^2", "basic")])
def test_conditional_loglik_matches_centred(family: str, link: str, variant: str) -> None:
    conditional_check(family, link, variant, centered=True, seed=3)


def test_binomial_zero_trial_rows_contribute_nothing() -> None:
    """A binomial row with weight 0 has log-density 0 in Family.loglik; so in the model."""
    import pandas as pd

    import hiermix

    df = pd.DataFrame({"yb": [0, 1, 1, 0, 1, 0, 1, 1], "g": list("aabbccdd"),
                       "w0": [1.0, 0.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0]})
    d = hiermix.Model("yb ~ 1 + (1 | g)", df, family="binomial", weights="w0").design
    built = build_model(d)
    point = to_point(built.model, {"intercept_c": np.array(0.3), "sd_g": np.array([0.5]),
                                   "z_g": np.linspace(-1, 1, 4)[:, None]})
    pointwise = built.model.compile_logp(vars=[built.model["y"]], jacobian=False,
                                         sum=False)(point)[0]
    assert pointwise[1] == 0.0
    eta = 0.3 + 0.5 * np.linspace(-1, 1, 4)[d.reterms[0].codes]
    np.testing.assert_allclose(pointwise, d.family.loglik(d.y, d.family.linkinv(eta), d.weights),
                               rtol=1e-10)
