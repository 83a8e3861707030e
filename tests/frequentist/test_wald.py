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


# (reference id, lme4_compat): every GLMM family with and without lme4's plug-in dispersion,
# whose theta is relative to sigma (GlmerResult.re_scale), and one LMM.
FAMILY_CASES = [
    ("sleepstudy_reml", False),
    ("cbpp_laplace", False), ("cbpp_laplace", True),
    ("grouseticks_poisson_index", False),
    ("seed_gamma_intercept", False), ("seed_gamma_intercept", True),
    ("seed_invgauss_slope", False), ("seed_invgauss_slope", True),
]


def _wald_matches_varcorr(fit: object) -> None:
    """Each row of varcorr_intervals holds varcorr's estimate: sdcor for SDs and
    correlations, sigma (sdcor) for an LMM's Residual row, phi (vcov) for a GLMM's; the
    negative binomial's extra Residual row holds theta = fit.phi."""
    vc = fit.varcorr  # type: ignore[attr-defined]
    w = fit.varcorr_intervals()  # type: ignore[attr-defined]
    gaussian = fit.design.family.name == "gaussian"  # type: ignore[attr-defined]
    for i, row in vc.iterrows():
        assert w.grp.iat[i] == row.grp
        want = row.vcov if row.grp == "Residual" and not gaussian else row.sdcor
        # exact but for exp(log(sd)) and tanh(atanh(rho)) round trips
        assert w.ml.iat[i] == pytest.approx(want, rel=1e-12, abs=1e-14), (row.grp, row.var1)
    extra = w.iloc[len(vc):]
    if fit.design.family.has_dispersion and not fit.design.family.has_scale:  # type: ignore
        assert list(extra.grp) == ["Residual"]
        assert extra.ml.iat[0] == pytest.approx(fit.phi, rel=1e-12)  # type: ignore
    else:
        assert extra.empty


@pytest.mark.parametrize(("ref_id", "compat"), FAMILY_CASES,
                         ids=[f"{r}-{'compat' if c else 'ml'}" for r, c in FAMILY_CASES])
def test_wald_estimates_are_varcorr(ref_id: str, compat: bool) -> None:
    """The Wald table's point estimates are varcorr's for every family and lme4_compat
    setting. lme4_compat Gamma fits once reported SD(b0) = 3.03 for varcorr's 2.08:
    theta there is relative to sigma = sqrt(phi) (lme4's moment estimate)."""
    from catalogue import model_args

    if ref_id == "grouseticks_poisson_index":  # one term of lme4's three: cheap
        args = {"formula": "TICKS ~ YEAR + cHEIGHT + (1 | INDEX)",
                "data": load_data("grouseticks"), "family": "poisson", "link": "log"}
    else:
        args = model_args(ref_id)
    if ref_id == "sleepstudy_reml":
        fit = hm.lmer(args["formula"], args["data"])
    else:
        fit = hm.glmer(args["formula"], args["data"], family=args["family"], link=args["link"],
                       lme4_compat=compat, check_derivs=False)
    _wald_matches_varcorr(fit)
    if compat and fit.family.has_scale:
        # the fix is visible: SD = sigma * theta, not theta
        assert fit.varcorr_intervals().ml.iat[0] == pytest.approx(
            fit.sigma * fit.theta[0], rel=1e-12)
        assert fit.sigma != pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("compat", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["ml", "compat"])
def test_wald_estimates_are_varcorr_negative_binomial(compat: bool) -> None:
    """The negative binomial (grouseticks, tests/data): no Residual row in varcorr, theta's
    row after it. lme4_compat (glmer.nb's search over theta) takes about 20 s: slow."""
    fit = hm.glmer("TICKS ~ YEAR + cHEIGHT + (1 | INDEX)", load_data("grouseticks"),
                   family="negative_binomial", lme4_compat=compat, check_derivs=False)
    _wald_matches_varcorr(fit)
