"""Power-scaling sensitivity: the glue to arviz_stats.psense and priorsense's diagnosis.

Plumbing tests run on the mocked sampler (prior draws shaped as a posterior). The two checks
of issue 13 sample sleepstudy for real and are marked slow: with the default priors no fixed
effect is flagged; with HalfNormal(1) on the SDs (whose ML estimates are 24.7 and 5.9)
sd(Intercept|Subject) is a prior-data conflict.
"""

from __future__ import annotations

import warnings

import arviz_stats as azs
import numpy as np
import pytest

import hiermix
from hiermix.bayes import HalfNormal, sample
from hiermix.datasets import load
from hiermix.errors import ModelError
from hiermix.sensitivity import diagnose
from hiermix.sensitivity.power_scaling import CONFLICT, NO_ISSUE, STRONG_PRIOR

FORMULA = "Reaction ~ Days + (Days | Subject)"
LABELS = ["Intercept", "Days", "sd(Intercept|Subject)", "sd(Days|Subject)",
          "cor(Intercept,Days|Subject)", "sigma"]


@pytest.mark.parametrize(("prior", "lik", "word"), [
    (0.06, 0.07, CONFLICT), (0.05, 0.05, CONFLICT), (0.06, 0.01, STRONG_PRIOR),
    (0.01, 0.30, NO_ISSUE), (0.01, 0.01, NO_ISSUE), (0.05, 0.01, NO_ISSUE),
])
def test_diagnosis_words(prior: float, lik: float, word: str) -> None:
    # priorsense: conflict when both are >= the threshold, strong prior when prior > t > lik
    assert diagnose(prior, lik, 0.05) == word


@pytest.fixture
def mocked_post(mock_sample):
    design = hiermix.Model(FORMULA, load("sleepstudy")).design
    return sample(design, draws=200, tune=0, chains=2, random_seed=5, sampler="pymc",
                  marginal=False, warn=False)


def test_table_is_psense_relabelled(mocked_post) -> None:
    post = mocked_post
    tab = post.sensitivity()
    assert list(tab.columns) == ["param", "prior", "likelihood", "diagnosis"]
    assert list(tab["param"]) == LABELS
    # the numbers are ArviZ's, on the DataTree as it is (log_prior and log_likelihood groups)
    ref = azs.psense(post.datatree, var_names=["beta", "sd_Subject", "corr_Subject", "sigma"],
                     group="prior")
    np.testing.assert_array_equal(tab["prior"].iloc[:2], ref["beta"].values)
    assert tab["prior"].iloc[4] == float(ref["corr_Subject"].values[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summ = azs.psense_summary(post.datatree, var_names=["beta", "sigma"])
    np.testing.assert_allclose(summ["likelihood"].iloc[-1], tab["likelihood"].iloc[-1],
                               atol=5e-4)  # psense_summary rounds to 3 decimals
    only = post.sensitivity(component="prior")
    assert list(only.columns) == ["param", "prior"]
    np.testing.assert_array_equal(only["prior"], tab["prior"])
    assert list(post.sensitivity(component="likelihood").columns) == ["param", "likelihood"]


def test_bad_arguments(mocked_post) -> None:
    with pytest.raises(ModelError, match="component"):
        mocked_post.sensitivity(component="posterior")
    with pytest.raises(ModelError, match="alphas"):
        mocked_post.sensitivity(alphas=(1.1, 1.2))
    with pytest.raises(ModelError, match="unknown parameter labels"):
        mocked_post.plot_sensitivity(["beta"])


def test_log_prior_recomputed_when_missing(mocked_post) -> None:
    import dataclasses

    dt = mocked_post.datatree.copy()
    del dt["log_prior"]
    older = dataclasses.replace(mocked_post, datatree=dt)
    np.testing.assert_array_equal(older.sensitivity(component="prior")["prior"],
                                  mocked_post.sensitivity(component="prior")["prior"])
    del dt["log_likelihood"]
    with pytest.raises(ModelError, match="log_likelihood=True"):
        dataclasses.replace(mocked_post, datatree=dt).sensitivity()


def test_plots(mocked_post) -> None:
    import matplotlib.pyplot as plt

    pc = mocked_post.plot_sensitivity(["Days", "sd(Intercept|Subject)"])
    assert pc is not None
    pc = mocked_post.plot_sensitivity(["sigma"], kind="quantities")
    assert pc is not None
    plt.close("all")


def _sampled(priors):
    m = hiermix.Model(FORMULA, load("sleepstudy"))
    return m.sample(draws=1000, tune=500, chains=2, random_seed=20261201, priors=priors,
                    warn=False)


@pytest.mark.slow
def test_default_priors_flag_no_fixed_effect() -> None:
    tab = _sampled(None).sensitivity().set_index("param")
    assert (tab.loc[["Intercept", "Days"], "diagnosis"] == NO_ISSUE).all()
    assert (tab.loc[["Intercept", "Days"], "prior"] < 0.05).all()


@pytest.mark.slow
def test_tight_sd_prior_is_a_prior_data_conflict() -> None:
    tab = _sampled({"sd_Subject": HalfNormal(1.0)}).sensitivity().set_index("param")
    assert tab.loc["sd(Intercept|Subject)", "diagnosis"] == CONFLICT
