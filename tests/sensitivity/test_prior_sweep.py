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
from hiermix.bayes import LKJ, Exponential, HalfNormal, HalfStudentT, Normal
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


# -- compile once -------------------------------------------------------------------------
#: Prior sets of the default priors' families (Normal, HalfStudentT, LKJ, Exponential) with
#: other parameters, written as users write them: integers, floats that float32 represents
#: exactly (1.0, 50.0) and scalars where the defaults are per-coefficient vectors.
SAME_FAMILIES = {
    "default": None,
    "weak": {"sd": HalfStudentT(3, 50.0), "coef": Normal(0, 100), "sigma": Exponential(0.01)},
    "tight": {"sd_Subject": HalfStudentT(3, 1.0), "corr": LKJ(2), "intercept": Normal(250, 10),
              "sigma": Exponential(1)},
}


def _constant_signature(built) -> list[tuple]:
    """(dtype, shape, and the value of integers) of every constant of the log density: what
    the compile cache's key sees of them (floats are lifted to inputs and keyed by type and
    shape only; integers stay in the graph)."""
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    out = []
    for c in ancestors([built.model.logp()]):
        if isinstance(c, TensorConstant):
            value = c.data.tolist() if c.dtype.startswith("int") else None
            out.append((c.dtype, c.data.shape, repr(value)))
    return sorted(out)


@pytest.mark.parametrize("builder", ["joint", "marginal"])
def test_prior_parameters_do_not_change_the_graph_structure(model, builder) -> None:
    """The constants of the log density have the same types and shapes under each set of
    SAME_FAMILIES (before prior parameters were passed as float64 arrays of the variable's
    shape, HalfStudentT(3, 1.0) put a float32 scalar where the default has a float64 (2,)
    vector, and Normal(0, 100) an int8 mu)."""
    if builder == "joint":
        from hiermix.bayes.build import build_model
    else:
        from hiermix.bayes.marginal import build_model
    sigs = [_constant_signature(build_model(model.design, pri))
            for pri in SAME_FAMILIES.values()]
    assert sigs[1] == sigs[0] and sigs[2] == sigs[0]


@pytest.mark.slow
def test_sweep_of_three_prior_sets_compiles_once(model) -> None:
    """A sweep over SAME_FAMILIES compiles the log density once (nutpie backend's counter,
    its cache emptied first); a set with another family for the SDs compiles once more."""
    from hiermix.bayes import nutpie_backend as nb

    nb._CACHE.clear()
    fit = model.fit()
    kw = {"draws": 10, "tune": 10, "chains": 1, "random_seed": 1, "fit": fit,
          "interval": "wald", "sampler": "nutpie", "warn": False}
    before = nb.COMPILATIONS
    sw = hiermix.prior_sweep(model, SAME_FAMILIES, **kw)
    assert nb.COMPILATIONS - before == 1
    assert list(sw.posteriors) == list(SAME_FAMILIES)
    tight = sw.posteriors["tight"].priors
    assert tight.sd["Subject"] == HalfStudentT(3, 1.0) and tight.corr["Subject"] == LKJ(2.0)
    before = nb.COMPILATIONS
    hiermix.prior_sweep(model, {"halfnormal": {"sd": HalfNormal(1.0)},
                                "halfnormal wide": {"sd": HalfNormal(30.0)}}, **kw)
    assert nb.COMPILATIONS - before == 1
