"""The compiled one-term criterion and the rebuilt Gram blocks against the engine."""

from __future__ import annotations

import numpy as np
import pytest

from hiermix.covariance import theta_from_sd_corr
from hiermix.frequentist.gram import build_gram
from hiermix.frequentist.lmm import fit_lmm
from hiermix.inference.bootstrap import ResponseSimulator
from hiermix.inference.criterion import LmmCriterion
from hiermix.inference.parameters import ParameterLayout

from .references import reference_fit


@pytest.mark.parametrize("ref_id", ["sleepstudy_reml", "penicillin_crossed"])
def test_criterion_matches_engine(ref_id: str) -> None:
    fit = reference_fit(ref_id)
    crit = LmmCriterion(fit.objective_function().gram)
    theta = np.asarray(fit.theta)
    # the engine's objective at its optimum, to rounding
    assert crit.deviance(theta, True) == pytest.approx(fit.objective, rel=1e-12)
    _, _, _, factor = crit.parts(theta)
    np.testing.assert_allclose(crit.beta(factor), fit.beta, rtol=1e-10)
    # a new response: the same as building the Gram matrix from scratch
    rng = np.random.default_rng(1)
    y = fit.design.y + rng.standard_normal(fit.nobs)
    fresh = LmmCriterion(build_gram(fit.design.with_response(y)))
    swapped = crit.with_response(fit.design, y)
    for th in (theta, theta * 1.3 + 0.01):
        assert swapped.deviance(th, True) == pytest.approx(fresh.deviance(th, True), rel=1e-11)
        assert swapped.deviance(th, False) == pytest.approx(fresh.deviance(th, False),
                                                             rel=1e-11)


def test_fixing_a_fixed_effect_is_an_offset() -> None:
    fit = reference_fit("sleepstudy_reml")
    d = fit.design
    crit = LmmCriterion(fit.objective_function().gram)
    c = 9.0
    held = crit.with_fixef(1, c)  # Days held at 9
    # the same model with X = intercept only and offset 9 * Days, built from the data
    from dataclasses import replace

    reduced = replace(d, X=d.X[:, :1].copy(), offset=d.offset + c * d.X[:, 1],
                      fixef_names=d.fixef_names[:1])
    ml = fit_lmm(reduced, REML=False, check_derivs=False)
    assert held.deviance(np.asarray(ml.theta), False) == pytest.approx(ml.objective,
                                                                        rel=1e-11)


def test_theta_from_sdcor_matches_covariance_module() -> None:
    rng = np.random.default_rng(3)
    lay = ParameterLayout(names=(), kinds=(), n_vc=0, lower=np.zeros(0), upper=np.zeros(0),
                          qs=(3, 1))
    for case in range(20):
        sd = rng.uniform(0, 3, 3)
        if case % 4 == 0:
            sd[1] = 0.0  # singular
        a = rng.standard_normal((3, 3))
        cov = a @ a.T
        corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        if case % 5 == 0:
            corr[0, 1] = corr[1, 0] = 1.0
        v = np.array([sd[0], corr[1, 0], corr[2, 0], sd[1], corr[2, 1], sd[2], 1.7])
        expect = np.concatenate([theta_from_sd_corr(sd, corr, scale=2.5),
                                 theta_from_sd_corr(np.array([1.7]), None, scale=2.5)])
        np.testing.assert_allclose(lay.theta(v, 2.5), expect, rtol=1e-12, atol=1e-14)


def test_response_simulator_is_the_fits_simulate() -> None:
    fit = reference_fit("penicillin_crossed")
    sim = ResponseSimulator(fit)
    for s in range(3):
        got = sim.draw(np.random.default_rng(s))
        expect = fit.simulate(1, seed=np.random.default_rng(s)).to_numpy()[:, 0]
        np.testing.assert_allclose(got, expect, rtol=1e-13)


@pytest.mark.parametrize(("formula", "data", "family"), [
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
    ("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks", "poisson"),
])
def test_scalar_laplace_is_the_engines_criterion_plus_a_constant(formula: str, data: str,
                                                                 family: str) -> None:
    from catalogue import load_data

    import hiermix as hm
    from hiermix.inference.devfun import GlmmDevfun

    fit = hm.glmer(formula, load_data(data), family=family)
    dev = GlmmDevfun(fit)
    assert dev.compiled is not None
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(10):
        pars = dev.estimate + 0.05 * rng.standard_normal(dev.estimate.size)
        pars[0] = abs(pars[0])
        diffs.append(dev.compiled(pars[0], pars[1:]) - dev.obj(dev._x(pars)))
    # the engine's PIRLS stops at its own tolerance: the constant agrees to about 1e-9
    assert np.ptp(diffs) < 1e-8
