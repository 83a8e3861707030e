"""The path design -> model -> DataTree -> result, with the mocked sampler (prior draws).

These tests check names, dims, groups and the arithmetic of derived quantities against NumPy
recomputations from the same draws (exact up to rounding, tolerance 1e-10); posterior values
are never checked here (see test_sampling.py and test_slow.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hiermix
from hiermix.bayes import BayesResult, SamplingWarning
from hiermix.datasets import load
from hiermix.naming import (
    b_var,
    coef_dim,
    corr_pairs,
    corr_var,
    level_dim,
    pair_dim,
    pair_label,
    sd_var,
)

from .points import model_for


def _sample(m: hiermix.Model, **kw) -> BayesResult:
    with warnings.catch_warnings():
        # Prior draws are not converged chains; the diagnostics are tested separately.
        warnings.simplefilter("ignore", SamplingWarning)
        return m.sample(draws=50, chains=2, random_seed=1, **kw)


@pytest.mark.parametrize("marginal", [True, False])
def test_sleepstudy_names_dims_and_groups(mock_sample: None, marginal: bool) -> None:
    m = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
    r = _sample(m, marginal=marginal)
    assert r.record.marginal is marginal
    assert r.record.marginal_why.startswith("b integrated out" if marginal
                                            else "b sampled jointly: marginal=False")
    assert r.record.marginal_why in str(r)
    dt = r.datatree
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data",
                  "constant_data"):
        assert group in dt.children, group
    post = r.posterior
    assert post["beta"].dims == ("chain", "draw", "coef")
    assert list(post["coef"].values) == ["Intercept", "Days"]
    assert post[sd_var("Subject")].dims == ("chain", "draw", coef_dim("Subject"))
    assert post[corr_var("Subject")].dims == ("chain", "draw", pair_dim("Subject"))
    assert list(post[pair_dim("Subject")].values) == [pair_label("Intercept", "Days")]
    assert post[b_var("Subject")].dims == ("chain", "draw", level_dim("Subject"),
                                           coef_dim("Subject"))
    assert list(post[level_dim("Subject")].values) == list(m.design.reterms[0].levels)
    assert post["sigma"].dims == ("chain", "draw")
    assert dt["log_likelihood"]["y"].shape == (2, 50, 180)
    vc = r.varcorr_summary()
    assert list(zip(vc["grp"], vc["var1"], vc["var2"].fillna(""), strict=True)) == [
        ("Subject", "Intercept", ""), ("Subject", "Days", ""),
        ("Subject", "Intercept", "Days"), ("Residual", "sigma", "")]
    s = r.summary()
    assert "beta[Days]" in s.index
    assert set(r.fixef_summary().index) == {"Intercept", "Days"}
    assert "Variance components" in str(r)


def test_log_likelihood_group_is_family_loglik_of_draws(mock_sample: None) -> None:
    m = model_for("gamma", "log", "weights")
    r = _sample(m)
    d = m.design
    beta = r.posterior["beta"].values[1, 7]
    eta = d.X @ beta + d.offset
    for t in d.reterms:
        eta = eta + np.sum(r.posterior[b_var(t.label)].values[1, 7][t.codes] * t.X, axis=1)
    phi = float(r.posterior["phi"].values[1, 7])
    expected = d.family.loglik(d.y, d.family.linkinv(eta), d.weights, phi)
    np.testing.assert_allclose(r.datatree["log_likelihood"]["y"].values[1, 7], expected,
                               rtol=1e-10)


def test_correlation_pairs_follow_lme4_order(mock_sample: None) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=60), "a": rng.normal(size=60),
                       "c": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    r = _sample(hiermix.Model("y ~ a + c + (a + c | g)", df))
    assert list(r.posterior[pair_dim("g")].values) == [
        pair_label(a, b) for a, b in corr_pairs(("Intercept", "a", "c"))]
    assert r.posterior[corr_var("g")].shape == (2, 50, 3)


def test_predict_known_and_new_levels(mock_sample: None) -> None:
    m = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
    r = _sample(m)
    new = pd.DataFrame({"Days": [0.0, 5.0, 5.0, 2.0], "Subject": ["308", "999", "999", "998"]})
    pred = r.predict(new, kind="link", random_seed=3)
    assert pred.dims == ("chain", "draw", "obs") and pred.shape == (2, 50, 4)
    beta = r.posterior["beta"].values
    b = r.posterior[b_var("Subject")].values
    i308 = m.design.reterms[0].levels.index("308")
    np.testing.assert_allclose(pred.values[..., 0], beta[..., 0] + b[..., i308, 0], rtol=1e-10)
    # rows of one new level share one population draw of b: their difference is fixed effects
    # plus that level's slope times the difference in Days (here 0)
    np.testing.assert_allclose(pred.values[..., 1], pred.values[..., 2], rtol=1e-12)
    assert not np.allclose(pred.values[..., 1], beta[..., 0] + 5 * beta[..., 1])
    fixed_only = r.predict(new, include_random=False, kind="link")
    np.testing.assert_allclose(fixed_only.values[..., 1], beta[..., 0] + 5 * beta[..., 1],
                               rtol=1e-10)
    with pytest.raises(hiermix.errors.NewLevelError):
        r.predict(new, allow_new_levels=False)


def test_posterior_predictive_shape_and_support(mock_sample: None) -> None:
    # binomial: prior draws of heavy-tailed SDs stay inside the support (a poisson rate
    # from such draws can overflow NumPy's sampler)
    m = model_for("binomial", "logit", "cbind")
    r = _sample(m)
    yrep = r.posterior_predictive(random_seed=0)
    assert yrep.shape == (2, 50, m.design.nobs)
    counts = yrep.values * m.design.weights
    assert np.all((yrep.values >= 0) & (yrep.values <= 1))
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)


def test_prior_predictive_draws() -> None:
    from hiermix.bayes import sample_prior_predictive

    m = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
    pp = sample_prior_predictive(m.design, draws=20, random_seed=1)
    assert pp["prior_predictive"]["y"].shape == (1, 20, 180)
    assert pp["prior"]["beta"].shape == (1, 20, 2)


def test_diagnostics_warn_with_advice() -> None:
    import xarray as xr

    from hiermix.bayes.diagnostics import diagnose

    rng = np.random.default_rng(0)
    # two chains stuck in different places: R-hat far above 1.01 and a tiny ESS
    x = np.concatenate([rng.normal(0, 1, (1, 200)), rng.normal(5, 1, (1, 200))])
    post = xr.Dataset({"beta": (("chain", "draw"), x)})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.eye(2, 200, dtype=bool))})
    kinds = {d.kind: d for d in diagnose(post, stats, ["beta"], chains=2, centered=True,
                                         target_accept=0.8)}
    assert set(kinds) == {"divergences", "rhat", "ess_bulk", "ess_tail"}
    assert "target_accept" in kinds["divergences"].message
    assert "centered=False" in kinds["divergences"].message
    good = xr.Dataset({"beta": (("chain", "draw"), rng.normal(size=(2, 400)))})
    assert diagnose(good, None, ["beta"], chains=2, centered=False, target_accept=0.8) == []


@pytest.mark.parametrize("kw", [{"marginal": True}, {"sampler": "gibbs"}, {"draws": 0},
                                {"marginal": "sometimes"}])
def test_bad_sampling_arguments_are_refused(kw: dict) -> None:
    m = model_for("poisson", "log")  # no closed-form marginal likelihood
    with pytest.raises(hiermix.errors.ModelError):
        m.sample(**kw)


@pytest.mark.parametrize("marginal", [True, False])
def test_arviz_summary_labels_b_by_coordinate(mock_sample: None, marginal: bool) -> None:
    """``az.summary`` over the whole posterior, and ``summary(with_b=True)``, put each entry of
    b under its own level and column (issue 14); references from ``.sel`` by label."""
    from arviz_labels import check_summary_labels

    m = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
    r = _sample(m, marginal=marginal, sampler="pymc")
    assert list(r.posterior.dims)[:5] == ["chain", "draw", "coef", "Subject_level",
                                          "Subject_coef"]
    assert check_summary_labels(r.datatree) > 36
    s = r.summary(with_b=True)
    b = r.posterior[b_var("Subject")]
    for level in ("308", "309"):
        for coef in ("Intercept", "Days"):
            expected = float(b.sel(Subject_level=level, Subject_coef=coef).mean())
            np.testing.assert_allclose(s.loc[f"b_Subject[{level}, {coef}]", "mean"], expected,
                                       rtol=1e-12)
    assert list(s.index[:2]) == ["beta[Intercept]", "beta[Days]"]


@pytest.mark.parametrize("marginal", [True, False])
def test_store_ranef_summary_and_none(mock_sample: None, marginal: bool) -> None:
    """"summary" keeps the mean and SD of b's draws per level (reference: the same seed with
    store_ranef="all", mean and SD over (chain, draw) by xarray; 1e-10 relative for the joint
    sampler, where the same draws are summarised; for the marginal one, b's draws are made in
    the same order from the same generator, so the same tolerance holds)."""
    m = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
    full = _sample(m, marginal=marginal, store_ranef="all", sampler="pymc")
    summ = _sample(m, marginal=marginal, store_ranef="summary", sampler="pymc")
    none = _sample(m, marginal=marginal, store_ranef="none", sampler="pymc")
    b = full.posterior[b_var("Subject")]
    rs = summ.datatree["ranef_summary"].to_dataset()
    np.testing.assert_allclose(rs["b_Subject_mean"], b.mean(("chain", "draw")), rtol=1e-10)
    np.testing.assert_allclose(rs["b_Subject_sd"], b.std(("chain", "draw"), ddof=1),
                               rtol=1e-10)
    for r in (summ, none):
        assert b_var("Subject") not in r.posterior
        assert "log_likelihood" not in r.datatree.children
        with pytest.raises(hiermix.errors.ModelError, match="store_ranef"):
            r.fitted()
        assert "random effects stored" in str(r)
    assert "ranef_summary" not in none.datatree.children
    with pytest.raises(hiermix.errors.ModelError, match="store_ranef"):
        _sample(m, store_ranef="some", sampler="pymc")


def test_store_ranef_default_switches_to_summary_above_threshold(
        mock_sample: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sample_mod = sys.modules["hiermix.bayes.sample"]

    m = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
    # 2 chains x 50 draws x 36 effects = 3,600 numbers
    monkeypatch.setattr(sample_mod, "RANEF_DRAWS_MAX", 3_599)
    r = _sample(m, sampler="pymc")
    assert r.record.store_ranef.startswith("summary: b would take 3,600 stored numbers")
    assert "ranef_summary" in r.datatree.children
    monkeypatch.setattr(sample_mod, "RANEF_DRAWS_MAX", 3_600)
    assert _sample(m, sampler="pymc").record.store_ranef == "all"
