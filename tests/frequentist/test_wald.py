"""Wald inference on the unconstrained scale and the fit as a DataTree."""

from __future__ import annotations

import numpy as np
import pytest
from catalogue import load_data

import hiermix as hm
from hiermix.frequentist.datatree import fit_datatree
from hiermix.frequentist.wald import estimate_psi, lmm_criterion, varcorr_intervals
from hiermix.naming import b_var, corr_var, sd_var


@pytest.fixture(scope="module", params=[True, False], ids=["REML", "ML"])
def fit(request: pytest.FixtureRequest) -> object:
    return hm.lmer("Reaction ~ Days + (Days | Subject)", load_data("sleepstudy"),
                   REML=request.param)


def test_criterion_at_psi_hat_is_the_objective(fit: object) -> None:
    # The reparameterised criterion must reproduce the fitted objective (1e-9 relative):
    # this checks the mapping psi -> (theta, sigma) and the unprofiled sigma term.
    est = estimate_psi(fit)
    crit = lmm_criterion(fit)
    assert crit(est.psi) == pytest.approx(fit.objective, rel=1e-9)


def test_psi_hat_is_a_minimum(fit: object) -> None:
    est = estimate_psi(fit)
    crit = lmm_criterion(fit)
    h = 1e-5
    grad = [(crit(est.psi + h * e) - crit(est.psi - h * e)) / (2 * h)
            for e in np.eye(est.psi.size)]
    # the optimiser's tolerance leaves gradients of order 1e-3 on this scale
    assert np.max(np.abs(grad)) < 1e-2
    assert np.all(np.linalg.eigvalsh(est.cov) > 0)


def test_intervals_bracket_estimates_and_stay_in_range(fit: object) -> None:
    wald = varcorr_intervals(fit, ci=0.95)
    vc = fit.varcorr
    assert list(wald["grp"]) == list(vc["grp"])
    np.testing.assert_allclose(wald["ml"], vc["sdcor"], rtol=1e-10)
    assert (wald["ml_lower"] < wald["ml"]).all() and (wald["ml"] < wald["ml_upper"]).all()
    sd_rows = wald["var2"].isna()
    assert (wald.loc[sd_rows, "ml_lower"] > 0).all()
    corr = wald.loc[~sd_rows]
    assert ((corr["ml_lower"] > -1) & (corr["ml_upper"] < 1)).all()
    narrower = varcorr_intervals(fit, ci=0.5)
    assert (narrower["ml_upper"] - narrower["ml_lower"] < wald["ml_upper"] - wald["ml_lower"]).all()


def test_singular_fit_rows_are_flagged() -> None:
    fit = hm.lmer("Yield ~ 1 + (1 | Batch)", load_data("Dyestuff2"))
    wald = varcorr_intervals(fit)
    assert bool(wald.loc[0, "boundary"]) and np.isnan(wald.loc[0, "ml_lower"])
    assert not wald.loc[1, "boundary"] and wald.loc[1, "ml_lower"] > 0


def test_datatree_follows_the_naming_contract(fit: object) -> None:
    dt = fit_datatree(fit, draws=2000, seed=1, chains=1)
    post = dt["posterior"]
    for var in ("beta", sd_var("Subject"), corr_var("Subject"), b_var("Subject"), "sigma"):
        assert var in post
    assert post["beta"].dims == ("chain", "draw", "coef")
    assert list(post["beta"]["coef"].values) == ["Intercept", "Days"]
    # draws centre on the estimates (Monte Carlo error ~ se / sqrt(2000))
    se = np.sqrt(np.diag(fit.vcov))
    mean = post["beta"].mean(("chain", "draw")).values
    assert np.all(np.abs(mean - fit.fixef.to_numpy()) < 4 * se / np.sqrt(2000))
    b_mean = post[b_var("Subject")].mean(("chain", "draw")).values
    np.testing.assert_allclose(b_mean, fit.b[0], atol=2.0)
    assert float(post[sd_var("Subject")].min()) > 0
