"""Parametric bootstrap against lme4 1.1-31's ``bootMer`` (nsim = 2000, seed 20261201).

hiermix cannot draw R's random numbers, so the replicates differ; their quantiles must agree
within four Monte Carlo standard errors of the difference of two independent samples of 2000:
a quantile's standard error is sqrt(a (1 - a) / nsim) / f(q_a), about 0.03 SD at the median
and 0.06 SD at 2.5% and 97.5% for near-normal statistics (the reference README), so the
difference has sqrt(2) times that.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hiermix.errors import DataError
from hiermix.inference import bootstrap

from .references import inference_reference, reference_fit

#: Monte Carlo standard error of one quantile of 2000 replicates, in replicate SDs.
MCSE = {"q025": 0.06, "q50": 0.03, "q975": 0.06}
FIXEF = {"sleepstudy_reml": ["(Intercept)", "Days"], "dyestuff": ["(Intercept)"]}
VC = {"sleepstudy_reml": ["sd_(Intercept)|Subject", "sd_Days|Subject",
                          "cor_Days.(Intercept)|Subject", "sigma"],
      "dyestuff": ["sd_(Intercept)|Batch", "sigma"]}


def _check_quantiles(ref_id: str) -> None:
    ref = inference_reference(ref_id)["bootstrap"]
    fit = reference_fit(ref_id)
    boot = bootstrap(fit, ref["nsim"], seed=20261201)
    cols = FIXEF[ref_id] + VC[ref_id]  # lme4's order: fixef, then as.data.frame(VarCorr)
    assert len(cols) == len(ref["names"])
    for k, col in enumerate(cols):
        x = boot.replicates[col].to_numpy()
        sd = float(np.std(x, ddof=1))
        if ref["sd"][k] != "NA":
            # the replicates' SDs agree within about 4 standard errors (sd / sqrt(2 nsim))
            assert abs(sd - ref["sd"][k]) <= 4 * np.sqrt(2) * sd / np.sqrt(2 * ref["nsim"]), col
        for key, a in (("q025", 0.025), ("q50", 0.5), ("q975", 0.975)):
            got = float(np.quantile(x, a))
            tol = 4 * np.sqrt(2) * MCSE[key] * sd
            assert abs(got - ref[key][k]) <= tol, (col, key, got, ref[key][k], tol)


@pytest.mark.slow
def test_bootstrap_quantiles_dyestuff() -> None:
    _check_quantiles("dyestuff")


@pytest.mark.slow
def test_bootstrap_quantiles_sleepstudy() -> None:
    _check_quantiles("sleepstudy_reml")


def test_bootstrap_is_reproducible_and_parallel_safe() -> None:
    fit = reference_fit("sleepstudy_reml")
    a = fit.bootstrap(8, seed=5)
    b = bootstrap(fit, 8, seed=5, n_jobs=2)
    np.testing.assert_array_equal(a.replicates.to_numpy(), b.replicates.to_numpy())
    c = bootstrap(fit, 8, seed=6)
    assert not np.allclose(a.replicates.to_numpy(), c.replicates.to_numpy())
    assert list(a.replicates.columns) == [*fit.confint(method="wald").index, "objective"]
    # each replicate is the full fit of its simulated response
    y = fit.simulate(1, seed=np.random.default_rng(np.random.SeedSequence(5).spawn(8)[3]))
    refit = fit.refit(y.to_numpy()[:, 0])
    row = a.replicates.iloc[3]
    assert row["objective"] == pytest.approx(refit.objective, abs=1e-6)
    np.testing.assert_allclose(row[["(Intercept)", "Days"]].to_numpy(dtype=float), refit.beta,
                               rtol=1e-5)
    assert row["sigma"] == pytest.approx(refit.sigma, rel=1e-5)


def test_bootstrap_result_confint_pickle_and_datatree() -> None:
    fit = reference_fit("sleepstudy_reml")
    boot = fit.bootstrap(40, seed=1)
    ci = boot.confint(0.9)
    assert list(ci.index) == list(boot.estimate.index)
    reps = boot.replicates
    np.testing.assert_allclose(ci["lower"], reps.quantile(0.05)[ci.index], rtol=1e-12)
    np.testing.assert_allclose(ci["upper"], reps.quantile(0.95)[ci.index], rtol=1e-12)
    basic = boot.confint(0.9, method="basic", parm="sigma")
    assert basic.loc["sigma", "lower"] == pytest.approx(
        2 * fit.sigma - reps["sigma"].quantile(0.95))
    assert "boot" in ci.attrs["method"]
    again = pickle.loads(pickle.dumps(boot))
    assert again.replicates.equals(boot.replicates)
    assert again.confint(0.9).equals(ci)
    dt = boot.to_datatree()
    post = dt["posterior"]
    assert post["sd_Subject"].shape == (1, 40, 2)
    assert post["corr_Subject"].shape == (1, 40, 1)
    np.testing.assert_array_equal(post["sigma"].values[0], reps["sigma"].to_numpy())
    np.testing.assert_array_equal(post["beta"].sel(coef="Days").values[0], reps["Days"])
    with pytest.raises(DataError, match="unknown bootstrap interval"):
        boot.confint(method="bca")
    with pytest.raises(DataError, match="nsim"):
        bootstrap(fit, 0)


def test_glmm_bootstrap_refits() -> None:
    """cbpp's replicates go through the compiled Laplace criterion: each equals the engine's
    fit of the same simulated response (parameters to the optimisers' tolerance, about 1e-5;
    the criterion, constants included, to 1e-6)."""
    from hiermix.frequentist.glmm import fit_glmm

    fit = reference_fit("cbpp_laplace")
    boot = bootstrap(fit, 3, seed=2)
    assert list(boot.replicates.columns) == ["sd_(Intercept)|herd", "(Intercept)", "period2",
                                             "period3", "period4", "objective"]
    assert np.all(np.isfinite(boot.replicates.to_numpy()))
    for r, ss in enumerate(np.random.SeedSequence(2).spawn(3)):
        y = fit.simulate(1, seed=np.random.default_rng(ss)).to_numpy()[:, 0]
        rep = fit_glmm(fit.design.with_response(y), check_derivs=False)
        row = boot.replicates.iloc[r].to_numpy()
        np.testing.assert_allclose(row[:-1], np.concatenate([rep.theta, rep.beta]),
                                   atol=1e-4)
        assert row[-1] == pytest.approx(rep.objective, abs=1e-6)
    ci = fit.confint(method="boot", nsim=3, seed=2)
    np.testing.assert_allclose(ci.to_numpy(), boot.confint().to_numpy())
