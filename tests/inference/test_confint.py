"""``confint(method="wald")`` against lme4 1.1-31's ``confint(method = "Wald")``.

LMMs: the fixed-effect limits to 1e-4 of the width (the estimates of hiermix and lme4 agree to
about 1e-4 relative; the reference README). GLMMs: 1e-2 of the width: the engine's standard
errors come from its own Hessian of the Laplace criterion and agree with lme4's to about 1.3%
on cbpp (the engine's tests allow 1e-2 relative, tests/frequentist/test_glmm_reference.py),
and a limit moves by half that share of the width. lme4 leaves the variance parameters NA;
hiermix gives its log-scale Wald limits (checked for order and bounds here).
"""

from __future__ import annotations

import numpy as np
import pytest

from .references import inference_reference, reference_fit


@pytest.mark.parametrize(("ref_id", "tol"), [("sleepstudy_reml", 1e-4), ("dyestuff", 1e-4),
                                             ("penicillin_crossed", 1e-4),
                                             ("cbpp_laplace", 1e-2)])
def test_wald_limits(ref_id: str, tol: float) -> None:
    ref = inference_reference(ref_id)["wald"]
    fit = reference_fit(ref_id)
    ci = fit.confint(method="wald")
    assert list(ci.index) == list(ref)
    assert ci.attrs["method"] == "wald"
    for name, (lo, hi) in ref.items():
        if lo == "NA":
            row = ci.loc[name]
            assert row["lower"] < row["upper"]
            assert row["lower"] >= (-1 if name.startswith("cor_") else 0)
            continue
        width = hi - lo
        assert abs(ci.loc[name, "lower"] - lo) <= tol * width, name
        assert abs(ci.loc[name, "upper"] - hi) <= tol * width, name


def test_wald_boundary_rows_are_empty() -> None:
    from catalogue import load_data

    import hiermix as hm

    fit = hm.lmer("Yield ~ 1 + (1 | Batch)", load_data("Dyestuff2"))
    ci = fit.confint(method="wald")
    assert np.isnan(ci.loc["sd_(Intercept)|Batch"]).all()
    assert np.isfinite(ci.loc["sigma"]).all()


def test_dispersion_glmm_rows_line_up() -> None:
    """A Gamma GLMM has phi after the fixed effects; each interval holds its own estimate."""
    from catalogue import load_data

    import hiermix as hm

    fit = hm.glmer("y ~ x + (1 | grupo)", load_data("seed_gamma_intercept"), family="Gamma",
                   link="log")
    ci = fit.confint(method="wald")
    assert list(ci.index) == ["sd_(Intercept)|grupo", "(Intercept)", "x", "phi"]
    est = {"sd_(Intercept)|grupo": float(fit.varcorr["sdcor"].iat[0]), "phi": fit.phi,
           "(Intercept)": fit.beta[0], "x": fit.beta[1]}
    for name, value in est.items():
        assert ci.loc[name, "lower"] < value < ci.loc[name, "upper"], name


@pytest.mark.slow
def test_dispersion_glmm_profile_phi() -> None:
    from catalogue import load_data

    import hiermix as hm

    fit = hm.glmer("y ~ x + (1 | grupo)", load_data("seed_gamma_intercept"), family="Gamma",
                   link="log")
    prof = fit.confint(parm="phi")
    wald = fit.confint(method="wald", parm="phi")
    assert prof.loc["phi", "lower"] < fit.phi < prof.loc["phi", "upper"]
    # 200 observations: the profile and the log-scale Wald limits of phi agree to a few %
    np.testing.assert_allclose(prof.to_numpy(), wald.to_numpy(), rtol=0.05)
