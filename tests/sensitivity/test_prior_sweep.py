"""Prior sweeps: the table's rows are the posterior summaries and the ML estimates.

On the mocked sampler (prior draws shaped as a posterior; the table test compiles two
models, about 20 s, and is marked slow), so the numbers checked are the
glue's: each posterior row is the mean and the 2.5 / 97.5 % quantiles of its draws, each ML
row lme4's Wald interval (estimate +- 1.959964 se) or, where the fit offers
``confint(method="profile")``, that interval.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

import hiermix
from hiermix.bayes import HalfNormal
from hiermix.datasets import load
from hiermix.errors import ModelError
from hiermix.sensitivity.prior_sweep import ml_rows

FORMULA = "Reaction ~ Days + (Days | Subject)"
LABELS = ["Intercept", "Days", "sd(Intercept|Subject)", "sd(Days|Subject)",
          "cor(Intercept,Days|Subject)", "sigma"]


@pytest.fixture
def model():
    return hiermix.Model(FORMULA, load("sleepstudy"))


@pytest.mark.slow
def test_sweep_table(model, mock_sample) -> None:
    sets = {"default": None, "tight": {"sd_Subject": HalfNormal(1.0)}}
    sw = hiermix.prior_sweep(model, sets, draws=100, tune=0, chains=2, random_seed=1,
                             interval="wald", sampler="pymc", marginal=False, warn=False)
    assert list(sw.posteriors) == ["default", "tight"]
    wide = sw.wide()
    assert list(wide.index) == LABELS and list(wide.columns) == ["ML", "default", "tight"]
    post = sw.posteriors["tight"]
    x = post.posterior["sd_Subject"].sel(Subject_coef="Intercept").values.ravel()
    row = sw.table.query("source == 'tight' and param == 'sd(Intercept|Subject)'").iloc[0]
    assert row["estimate"] == pytest.approx(x.mean(), rel=1e-14)
    assert row["lower"] == pytest.approx(np.quantile(x, 0.025), rel=1e-14)
    assert row["upper"] == pytest.approx(np.quantile(x, 0.975), rel=1e-14)
    assert post.priors.sd["Subject"] == HalfNormal(1.0)
    ml = sw.table.query("source == 'ML' and param == 'Days'").iloc[0]
    fit = sw.fit
    se = float(fit.fixef_se["Days"])
    assert ml["lower"] == pytest.approx(fit.fixef["Days"] - 1.959963984540054 * se, rel=1e-12)
    again = pickle.loads(pickle.dumps(sw))
    pd.testing.assert_frame_equal(again.table, sw.table)
    assert again.posteriors["tight"].priors == post.priors
    fig = sw.plot()
    assert len([a for a in fig.axes if a.get_visible()]) == len(LABELS)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_ml_profile_intervals_are_used_where_offered(model) -> None:
    fit = model.fit()
    prof = pd.DataFrame(
        {"lower": [1.0, 2.0], "upper": [3.0, 4.0]},
        index=["Days", "sd_(Intercept)|Subject"])

    @dataclasses.dataclass(frozen=True, eq=False)
    class WithConfint:
        inner: object

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def confint(self, method: str, level: float):
            assert method == "profile" and level == 0.9
            return prof

    rows = ml_rows(WithConfint(fit), 0.9).set_index("param")
    assert tuple(rows.loc["Days", ["lower", "upper", "interval"]]) == (1.0, 3.0, "profile")
    assert tuple(rows.loc["sd(Intercept|Subject)", ["lower", "upper"]]) == (2.0, 4.0)
    assert rows.loc["sigma", "interval"] == "wald"


def test_ml_rows_use_the_fits_profile_confint() -> None:
    fit = hiermix.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        load("cbpp"), family="binomial")
    rows = ml_rows(fit, 0.95).set_index("param")
    assert (rows["interval"] == "profile").all()
    prof = fit.confint(method="profile")
    assert tuple(rows.loc["period[T.2]", ["lower", "upper"]]) == tuple(
        prof.loc["period2", ["lower", "upper"]])
    assert tuple(rows.loc["sd(Intercept|herd)", ["lower", "upper"]]) == tuple(
        prof.loc["sd_(Intercept)|herd", ["lower", "upper"]])


def test_bad_sets(model) -> None:
    with pytest.raises(ModelError, match="at least one"):
        hiermix.prior_sweep(model, {})
    with pytest.raises(ModelError, match=r"'typo'.*unknown prior class"):
        hiermix.prior_sweep(model, {"typo": {"sd_Subjet": HalfNormal(1.0)}})
    with pytest.raises(ModelError, match="other than 'ML'"):
        hiermix.prior_sweep(model, {"ML": None})
