"""Influence of groups and observations: equal to direct leave-one-out refits.

The reference of every group-level number is the same model fitted from scratch (lme4's start,
nlopt's default step) to the data frame without the level, through the public API; the
definitions are influence.ME's (Nieuwenhuis et al. 2012): dfbeta = beta-hat - beta_(-j),
dfbetas = dfbeta / se_(-j), Cook's D = dfbeta' V^{-1} dfbeta / p with the full fit's V.
Tolerance 1e-6 relative for Cook's D and dfbeta, 1e-5 for dfbetas (the refits of the references
stop at ftol_abs = 1e-14; influence()'s at 1e-12, which fixes theta only to about
sqrt(1e-12) = 1e-6 relative, and se_(-j) moves with theta to first order: 1.9e-6 was seen on
Pastes with numpy 2.5 / scipy 1.18). Hat values are
checked against the linear map y -> fitted at fixed theta, built by the engine's own penalised
least squares solver, to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catalogue import load_data

import hiermix
from hiermix.datasets import load
from hiermix.errors import ModelError
from hiermix.frequentist.blocked import BlockedCholesky
from hiermix.frequentist.gram import build_gram
from hiermix.frequentist.lmm import LmmObjective
from hiermix.frequentist.optimizer import bobyqa
from hiermix.frequentist.result import LmerResult
from hiermix.inference.influence import drop_rows

SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _without(data: pd.DataFrame, col: str, level: str) -> pd.DataFrame:
    sub = data[data[col].astype(str) != level].copy()
    sub[col] = sub[col].cat.remove_unused_categories()
    return sub


def _check_against_refits(fit, inf, refits) -> None:
    names = list(fit.design.fixef_names)
    V = fit.vcov.to_numpy()
    for level, ref in refits.items():
        d = fit.beta - ref.beta
        se = ref.fixef_se.to_numpy()
        row = inf.loc[level]
        np.testing.assert_allclose(row[[f"dfbeta_{n}" for n in names]].to_numpy(float), d,
                                   rtol=1e-6)
        np.testing.assert_allclose(row[[f"dfbetas_{n}" for n in names]].to_numpy(float),
                                   d / se, rtol=1e-5)
        np.testing.assert_allclose(row["cooks_distance"], d @ np.linalg.solve(V, d) / len(d),
                                   rtol=1e-6)


def _tight_lmer(data: pd.DataFrame, formula: str = SLEEP):
    """A direct fit from lme4's start, converged to ftol_abs 1e-14 (lme4's 1e-8 leaves the
    standard errors uncertain in the fifth digit)."""
    obj = LmmObjective(hiermix.Model(formula, data).design, REML=True)
    opt = bobyqa(obj, obj.start, obj.lower, xtol_abs=1e-12, ftol_abs=1e-14)
    return LmerResult.from_factor(obj, obj.factor(opt.final), opt, False)


def test_sleepstudy_equals_direct_refits() -> None:
    data = load("sleepstudy")
    fit = hiermix.lmer(SLEEP, data)
    inf = fit.influence()
    assert inf.index.name == "Subject" and len(inf) == 18
    assert list(inf.columns) == [
        "cooks_distance", "dfbeta_Intercept", "dfbeta_Days", "dfbetas_Intercept",
        "dfbetas_Days", "delta_sd(Intercept|Subject)", "delta_sd(Days|Subject)",
        "delta_cor(Intercept,Days|Subject)", "delta_sigma"]
    refits = {lv: _tight_lmer(_without(data, "Subject", lv)) for lv in inf.index}
    _check_against_refits(fit, inf, refits)
    full = fit.varcorr
    for lv, ref in refits.items():
        vc = ref.varcorr
        # SDs and sigma of the deleted fit, recovered from the deltas, to 1e-5: the REML
        # criterion is flat to its rounding (1e-12) over theta +- 1e-6, so two optimisers
        # that both converge agree on theta, and the SDs, to about 1e-6 relative only.
        sd0 = full["sdcor"].iloc[0] - inf.loc[lv, "delta_sd(Intercept|Subject)"]
        np.testing.assert_allclose(sd0, vc["sdcor"].iloc[0], rtol=1e-5)
        np.testing.assert_allclose(fit.sigma - inf.loc[lv, "delta_sigma"], ref.sigma, rtol=1e-5)
    # threads give the same numbers
    pd.testing.assert_frame_equal(fit.influence(group="Subject", n_jobs=2), inf)


def test_nested_second_term_equals_direct_refits() -> None:
    """Deleting a batch of Pastes (the second term of ``(1 | batch/cask)``) empties three
    levels of batch:cask: the refit keeps them at weight 0, the reference drops them."""
    data = load_data("Pastes")
    formula = "strength ~ 1 + (1 | batch/cask)"
    fit = hiermix.lmer(formula, data)
    inf = fit.influence(group="batch")
    assert inf.index.name == "batch" and len(inf) == 10
    refits = {lv: _tight_lmer(_without(data, "batch", lv), formula) for lv in ["A", "E", "J"]}
    _check_against_refits(fit, inf, refits)
    for lv, ref in refits.items():
        np.testing.assert_allclose(fit.sigma - inf.loc[lv, "delta_sigma"], ref.sigma, rtol=1e-5)


def test_cbpp_glmm_equals_direct_refits() -> None:
    data = load("cbpp")
    fit = hiermix.glmer(CBPP, data, family="binomial")
    inf = fit.influence()
    assert inf.index.name == "herd" and len(inf) == 15
    assert "delta_sd(Intercept|herd)" in inf.columns and "delta_sigma" not in inf.columns
    levels = ["1", "7", "14"]
    refits = {lv: hiermix.glmer(CBPP, _without(data, "herd", lv), family="binomial")
              for lv in levels}
    _check_against_refits(fit, inf, refits)
    for lv, ref in refits.items():
        np.testing.assert_allclose(fit.varcorr["sdcor"].iloc[0]
                                   - inf.loc[lv, "delta_sd(Intercept|herd)"],
                                   ref.varcorr["sdcor"].iloc[0], rtol=1e-6)


def test_hat_values_are_the_linear_map_of_y() -> None:
    data = load("sleepstudy")
    data = data[data["Subject"].astype(str).isin(["308", "309", "310", "330"])].copy()
    data["Subject"] = data["Subject"].cat.remove_unused_categories()
    fit = hiermix.lmer(SLEEP, data)
    obs = fit.influence(obs=True)
    d = fit.design
    n = d.nobs
    # column i of the hat matrix: the fitted values for y = e_i, theta fixed
    hat = np.empty(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        chol = BlockedCholesky(build_gram(d.with_response(e)))
        beta, _, b = chol.solve(chol.update(fit.theta))
        fitted = d.X @ beta + sum(np.einsum("nq,nq->n", bk[t.codes], t.X)
                                  for bk, t in zip(b, d.reterms, strict=True))
        hat[i] = fitted[i]
    np.testing.assert_allclose(obs["hat"].to_numpy(), hat, rtol=0, atol=1e-9)
    r = fit.residuals("pearson")
    h = hat
    cooks = (r / (1 - h)) ** 2 * h / (fit.sigma**2 * 2)
    np.testing.assert_allclose(obs["cooks_distance"].to_numpy(), cooks, rtol=1e-9)
    assert list(obs.index) == list(d.rows)


def test_bad_input() -> None:
    data = load("sleepstudy")
    fit = hiermix.lmer(SLEEP, data)
    with pytest.raises(ModelError, match="unknown grouping factor 'Days'"):
        fit.influence(group="Days")
    with pytest.raises(ModelError, match="n_jobs"):
        fit.influence(n_jobs=0)
    with pytest.raises(ModelError, match="not both"):
        fit.influence(group="Subject", obs=True)
    glmm = hiermix.glmer(CBPP, load("cbpp"), family="binomial")
    with pytest.raises(ModelError, match="linear mixed models only"):
        glmm.influence(obs=True)


def test_drop_rows_rank_deficiency() -> None:
    data = load("cbpp")
    design = hiermix.Model(CBPP, data, family="binomial").design
    period4 = design.X[:, list(design.fixef_names).index("period[T.4]")] == 1
    with pytest.raises(ModelError, match="rank deficient"):
        drop_rows(design, ~period4)
