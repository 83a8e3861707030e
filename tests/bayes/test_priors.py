"""Default priors follow the formulas of hiermix/bayes/priors.py; overrides and presets.

Reference numbers are recomputed here from the data with NumPy (tolerance 1e-12 relative).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

import hiermix
from hiermix.bayes import (
    LKJ,
    Exponential,
    Flat,
    HalfNormal,
    HalfStudentT,
    Normal,
    build_model,
    resolve_priors,
)
from hiermix.datasets import load
from hiermix.errors import ModelError

from .points import model_for


@pytest.fixture(scope="module")
def sleep() -> hiermix.Model:
    return hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))


def test_sleepstudy_defaults_follow_the_formulas(sleep: hiermix.Model) -> None:
    y = sleep.design.y
    days = sleep.design.X[:, 1]
    sy, sx = np.std(y), np.std(days)
    p = resolve_priors(sleep.design)
    assert p.preset == "default"
    assert isinstance(p.intercept, Normal) and isinstance(p.coef, Normal)
    np.testing.assert_allclose([p.intercept.mu, p.intercept.sigma], [np.mean(y), 2.5 * sy],
                               rtol=1e-12)
    np.testing.assert_allclose(p.coef.sigma, [2.5 * sy / sx], rtol=1e-12)
    sd = p.sd["Subject"]
    assert isinstance(sd, HalfStudentT) and sd.nu == 3.0
    np.testing.assert_allclose(sd.sigma, [2.5 * sy, 2.5 * sy / sx], rtol=1e-12)
    assert p.corr["Subject"] == LKJ(1.0)
    assert isinstance(p.sigma, Exponential)
    np.testing.assert_allclose(p.sigma.lam, 1 / sy, rtol=1e-12)
    assert p.phi is None
    report = p.report()
    for key in ("Intercept", "coefficients", "sd_Subject", "corr_Subject", "sigma"):
        assert key in report


def test_glmm_and_dispersion_defaults() -> None:
    pois = resolve_priors(model_for("poisson", "log").design)
    assert (pois.location, pois.scale) == (0.0, 1.0)  # rstanarm's link-scale default
    assert pois.sigma is None and pois.phi is None
    gam = model_for("gamma", "log").design
    pg = resolve_priors(gam)
    ybar, var = np.mean(gam.y), np.var(gam.y)
    # the log link: m = mean(log y), s = 1 (rstanarm's link-scale default; log is unitless)
    np.testing.assert_allclose([pg.location, pg.scale], [np.mean(np.log(gam.y)), 1.0],
                               rtol=1e-12)
    # the inverse link has units: delta method, s = |d(1/mu)/dmu| sd(y) = sd(y) / ybar^2
    gi = resolve_priors(model_for("gamma", "inverse").design)
    np.testing.assert_allclose([gi.location, gi.scale], [1 / ybar, np.sqrt(var) / ybar**2],
                               rtol=1e-10)
    assert isinstance(pg.phi, HalfStudentT)
    np.testing.assert_allclose(pg.phi.sigma, 2.5 * var / ybar**2, rtol=1e-12)


def test_overrides_per_class_and_per_term(sleep: hiermix.Model) -> None:
    p = resolve_priors(sleep.design, {"intercept": Normal(300, 50), "coef": Normal(0, 5),
                                      "sd_Subject": HalfNormal(20), "corr": LKJ(2.0),
                                      "sigma": HalfNormal(30)})
    assert p.intercept == Normal(300, 50) and p.coef == Normal(0, 5)
    assert p.sd["Subject"] == HalfNormal(20) and p.corr["Subject"] == LKJ(2.0)
    assert p.sigma == HalfNormal(30)
    built = build_model(sleep.design, p)
    assert isinstance(built.model["intercept_c"].owner.op, type(pm.Normal.dist().owner.op))
    # the overridden sigma prior is the model's
    assert isinstance(built.model["sigma"].owner.op, type(pm.HalfNormal.dist(1.0).owner.op))


def test_flat_preset_puts_flat_priors_on_beta_only(sleep: hiermix.Model) -> None:
    p = resolve_priors(sleep.design, "flat")
    assert isinstance(p.intercept, Flat) and isinstance(p.coef, Flat)
    assert isinstance(p.sd["Subject"], HalfStudentT)
    built = build_model(sleep.design, "flat")
    logp = built.model.compile_logp(vars=[built.model["beta_slope"]], mode="FAST_COMPILE")
    point = built.model.initial_point()
    assert logp(point) == 0.0
    point["beta_slope"] = np.array([1e6])
    assert logp(point) == 0.0  # improper uniform: the same density everywhere


@pytest.mark.parametrize("bad", [
    {"nonsense": Normal(0, 1)},
    {"sd": Normal(0, 1)},
    {"corr": HalfNormal(1)},
    {"sigma": Normal(0, 1)},
    {"coef": HalfNormal(1)},
    {"intercept": 3.0},
    "uniform",
])
def test_bad_priors_are_refused(sleep: hiermix.Model, bad: object) -> None:
    with pytest.raises(ModelError):
        resolve_priors(sleep.design, bad)  # type: ignore[arg-type]


def test_hand_built_priors_missing_a_class_raise_model_error() -> None:
    """A Priors object without a class the model needs is refused with a hiermix error."""
    import hiermix as hm
    from hiermix.bayes import Priors, build_model
    from hiermix.datasets import load
    from hiermix.errors import ModelError

    design = hm.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy")).design
    with pytest.raises(ModelError, match="'intercept'"):
        build_model(design, Priors(intercept=None, coef=None))


def test_negative_binomial_theta_prior() -> None:
    """theta's default: Exponential(1) on kappa = 1 / sqrt(theta), the free variable
    ``phi_inv_sqrt``, with theta the deterministic ``phi`` = 1 / kappa^2. Its documented
    quantiles (priors.py): median theta = 1 / log(2)^2, P(theta < 0.25) = e^-2, checked on
    4,000 prior draws within Monte Carlo error; an override on theta itself is accepted."""
    from hiermix.bayes import InverseSqrt

    d = model_for("negative_binomial", "log").design
    p = resolve_priors(d)
    assert p.phi == InverseSqrt(Exponential(1.0))
    assert (p.location, p.scale) == (0.0, 1.0)
    assert "phi" in p.report() and "InverseSqrt" in p.report()
    built = build_model(d)
    assert "phi_inv_sqrt" in built.free_names and "phi" not in built.free_names
    theta = pm.draw(built.model["phi"], draws=4000, random_seed=5)
    assert np.median(theta) == pytest.approx(1.0 / np.log(2.0) ** 2, rel=0.08)
    assert np.mean(theta < 0.25) == pytest.approx(np.exp(-2.0), abs=0.02)
    assert resolve_priors(d, {"phi": HalfNormal(10.0)}).phi == HalfNormal(10.0)
    with pytest.raises(ModelError, match="InverseSqrt needs a prior on the positive"):
        InverseSqrt(Normal(0.0, 1.0))
