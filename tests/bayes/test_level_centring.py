"""Hierarchical centring of well-informed random intercepts in the joint sampler of a GLMM
(:mod:`hiermix.bayes.level_centring`).

References, computed here without the code under test:
* which columns each term carries, from the data's own structure (pandas: a column is carried
  by a term when it takes one value per level), for lme4's VerbAgg (tests/data, lme4 1.1-31),
  where ``btype`` and ``situ`` describe items and ``Anger`` and ``Gender`` respondents;
* the log density: the level-centred model at (alpha, beta, sd, a) equals the model with the
  same terms centred (b sampled directly, :func:`hiermix.bayes.build.build_model`) at
  b = a - m, with m = [alpha] + (x_level - mean x) beta computed here: a shift with unit
  Jacobian, so the two agree to rounding (1e-9), for binomial, Poisson with an offset, and
  Gamma (with its dispersion phi).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiermix
from hiermix.bayes import SamplingWarning
from hiermix.bayes.build import build_model
from hiermix.bayes.level_centring import build_model as build_levels
from hiermix.bayes.level_centring import constant_columns, plan_levels
from hiermix.datasets import read_csv_with_types

from .points import FAST

DATA = Path(__file__).parent.parent / "data"
VERBAGG = "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"


def _frame(family: str, seed: int = 5) -> pd.DataFrame:
    """30 well-informed groups g (a group-level covariate u and group-level factor kind),
    crossed with 6 little-informed groups h (SD 0.02), a row-level x, 1,200 rows."""
    rng = np.random.default_rng(seed)
    n, ng, nh = 1_200, 30, 6
    g = np.repeat(np.arange(ng), n // ng)
    h = rng.integers(0, nh, n)
    u = rng.normal(size=ng)
    kind = np.array(["a", "b", "c"])[np.arange(ng) % 3]
    x = rng.normal(size=n)
    eta = 0.3 + 0.4 * x + 0.5 * u[g] + rng.normal(0, 1.0, ng)[g] + rng.normal(0, 0.02, nh)[h]
    df = pd.DataFrame({"x": x, "u": u[g], "kind": kind[g], "g": pd.Categorical(g),
                       "h": pd.Categorical(h), "off": rng.uniform(-0.1, 0.1, n)})
    if family == "binomial":
        df["y"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    elif family == "poisson":
        df["y"] = rng.poisson(np.exp(0.5 + 0.5 * eta + df["off"]))
    else:
        df["y"] = rng.gamma(5.0, np.exp(0.5 * eta) / 5.0)
    return df


def _model(family: str) -> hiermix.Model:
    rhs = "x + u + kind + (1 | g) + (1 | h)" + (" + offset(off)" if family == "poisson" else "")
    return hiermix.Model(f"y ~ {rhs}", _frame(family), family=family,
                         link="log" if family == "gamma" else None)


def test_verbagg_items_and_respondents_carry_their_own_predictors() -> None:
    df = read_csv_with_types(DATA / "VerbAgg.csv")
    d = hiermix.Model(VERBAGG, df, family="binomial").design
    plan = plan_levels(d)
    assert plan is not None
    names = list(d.fixef_names)
    carried = {ct.label: {names[j] for j in ct.columns} for ct in plan.terms}
    expected = {}
    for term in ("item", "id"):
        per_level = df.groupby(term, observed=True)[["Anger", "Gender", "btype", "situ"]]
        const = [c for c in per_level.nunique().columns if per_level.nunique()[c].max() == 1]
        expected[term] = {n for n in names if n != "Intercept" and n.split("[")[0] in const}
    assert carried == expected
    assert expected["item"] == {"btype[T.scold]", "btype[T.shout]", "situ[T.self]"}
    # both informed (a few hundred binary responses per item, 24 per respondent)
    assert min(plan.information.values()) >= 1.0
    first = plan.terms[0]
    assert first.intercept and not plan.terms[1].intercept
    assert plan.information[first.label] == max(plan.information.values())


def test_constant_columns_finds_level_predictors() -> None:
    d = _model("binomial").design
    terms = {t.label: t for t in d.reterms}
    names = list(d.fixef_names)
    assert {names[j] for j in constant_columns(d, terms["g"])} == {
        "u", "kind[T.b]", "kind[T.c]"}
    assert constant_columns(d, terms["h"]) == []


@pytest.mark.parametrize("family", ["binomial", "poisson", "gamma"])
def test_log_density_is_the_centred_models_after_the_shift(family: str) -> None:
    import pymc as pm

    m = _model(family)
    d = m.design
    plan = plan_levels(d)
    assert plan is not None and [ct.label for ct in plan.terms] == ["g"]
    (ct,) = plan.terms
    lev = build_levels(d, None, plan)
    cen = build_model(d, None, centered=["g"])
    rng = np.random.default_rng(0)
    X = np.asarray(d.X)
    names = list(d.fixef_names)
    slope = [j for j in range(X.shape[1]) if names[j] != "Intercept"]
    alpha, bs = rng.normal(0.2, 0.1), rng.normal(0, 0.2, len(slope))
    g = {t.label: t for t in d.reterms}["g"]
    codes = np.asarray(g.codes)
    xlev = np.zeros((g.nlevels, len(ct.columns)))
    xlev[codes] = X[:, list(ct.columns)]
    ks = [slope.index(j) for j in ct.columns]
    mean_x = X[:, slope].mean(axis=0)
    m_g = alpha + (xlev - mean_x[ks]) @ bs[ks]
    b_g = rng.normal(0, 0.5, g.nlevels)
    common = {"intercept_c": alpha, "beta_slope": bs, "sd_g": np.array([0.7]),
              "sd_h": np.array([0.3]), "z_h": rng.normal(size=(6, 1))}
    if family == "gamma":
        common["phi"] = np.array(0.4)
    points = []
    for built, extra in ((lev, {"a_g": b_g + m_g}), (cen, {"b_g": b_g[:, None]})):
        model = built.model
        vals = {**common, **extra}
        point = {}
        for rv in model.free_RVs:
            vv = model.rvs_to_values[rv]
            tr = model.rvs_to_transforms.get(rv)
            v = np.asarray(vals[rv.name], dtype=float).reshape(tuple(rv.shape.eval()))
            point[vv.name] = tr.forward(v, *rv.owner.inputs).eval(mode=FAST) if tr else v
        points.append((model, point))
    lp = [float(model.compile_logp(mode=FAST)(point)) for model, point in points]
    assert np.isfinite(lp[0])
    assert abs(lp[0] - lp[1]) < 1e-9 * max(1.0, abs(lp[1]))
    outs = []
    for model, point in points:
        fn = pm.compile([model.rvs_to_values[rv] for rv in model.free_RVs],
                        model.replace_rvs_by_values([model["beta"], model["b_g"]]),
                        on_unused_input="ignore", mode=FAST)
        outs.append(fn(*[point[model.rvs_to_values[rv].name] for rv in model.free_RVs]))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=0, atol=1e-12)


def test_sample_says_what_it_centred_and_keeps_the_names() -> None:
    m = _model("binomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        r = m.sample(draws=20, tune=20, chains=1, random_seed=1, sampler="pymc")
        plain = m.sample(draws=20, tune=20, chains=1, random_seed=1, sampler="pymc",
                         centered=True)
    why = r.record.marginal_why
    assert "centred hierarchically: g (with Intercept, u, kind[T.b], kind[T.c])" in why
    assert r.posterior["b_g"].dims == plain.posterior["b_g"].dims
    assert r.posterior["beta"].dims == plain.posterior["beta"].dims
    # a user's own centring is kept: no level centring then
    assert "centred hierarchically" not in plain.record.marginal_why
    assert "a_g" not in plain.posterior and "a_g" in r.posterior
