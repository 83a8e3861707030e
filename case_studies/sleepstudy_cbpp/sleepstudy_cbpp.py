# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # sleepstudy and cbpp: lme4's standard examples, and priors on variance components
#
# Two models every lme4 user knows:
#
# * sleepstudy, `Reaction ~ Days + (Days | Subject)`: 18 subjects x 10 days, a correlated random
#   intercept and slope, fitted by REML;
# * cbpp, `cbind(incidence, size - incidence) ~ period + (1 | herd)`: binomial, 15 herds x 4
#   periods, fitted by maximum likelihood (Laplace).
#
# hiermix's frequentist engine must reproduce lme4. The posterior adds what lme4 cannot: with
# 18 subjects and 15 herds the variance components are weakly identified, so their posteriors
# depend on the prior. We sample each model under three priors on the random-effect SDs and
# put them side by side.

# %%
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

import hiermix as hm
from hiermix.bayes.priors import LKJ, Exponential, HalfNormal, HalfStudentT, Prior
from hiermix.datasets import load
from hiermix.naming import coef_dim

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
# CI runs every case study with few draws and writes elsewhere (tests/test_case_studies.py).
DRAWS = int(os.environ.get("HIERMIX_DRAWS", "1000"))
OUT = Path(os.environ.get("HIERMIX_OUT", HERE))
SEED = 20261121

# %% [markdown]
# ## lme4's numbers
#
# lme4 1.1-31, copied from the project's reference fits (`tests/reference/lme4/sleepstudy_reml.json`
# and `cbpp_laplace.json`, written by R); the names are hiermix's.

# %%
LME4_SLEEP = {"Intercept": 251.405104848485, "Days": 10.467285959596,
              "sd_Intercept": 24.7406579949841, "sd_Days": 5.92213765889808,
              "corr": 0.0655512382381282, "sigma": 25.5917957216753}
LME4_CBPP = {"Intercept": -1.39834286447115, "period[T.2]": -0.991924974975739,
             "period[T.3]": -1.12821621594334, "period[T.4]": -1.57974541364919,
             "sd_herd": 0.642069927729179}

# %% [markdown]
# ## The prior settings
#
# For each model: hiermix's default (brms's half-Student-t(3) scaled to the data: scales 140
# and 49 ms for sleepstudy, 2.5 on the logit scale for cbpp, and a uniform LKJ(1) on the
# correlation), a weakly informative exponential (means 50 and 10 ms; 1 on the logit scale),
# and a deliberately tight half-normal whose scale sits well below the ML estimates (10 and
# 2 ms; 0.25). For sleepstudy a fourth setting keeps the default SDs and puts LKJ(4) on the
# correlation, which favours correlations near 0. Each setting changes one thing from the
# default, so that what moves can be attributed.

# %%
SLEEP_PRIORS: dict[str, dict[str, Prior] | None] = {
    "default": None,
    "Exponential": {"sd": Exponential(lam=np.array([1 / 50.0, 1 / 10.0]))},
    "tight HalfNormal": {"sd": HalfNormal(sigma=np.array([10.0, 2.0]))},
    "LKJ(4)": {"corr": LKJ(4.0)},
}
CBPP_PRIORS: dict[str, dict[str, Prior] | None] = {
    "default": None,
    "Exponential": {"sd": Exponential(lam=1.0)},
    "tight HalfNormal": {"sd": HalfNormal(sigma=0.25)},
}

# %% [markdown]
# ## sleepstudy

# %%
sleep = hm.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy"))
fit_sleep = sleep.fit(REML=True)
print(fit_sleep.summary())
cmp_sleep = {name: hm.compare(fit_sleep, sleep.sample(draws=DRAWS, tune=DRAWS, chains=4,
                                                      random_seed=SEED, priors=pr), ci=0.95)
             for name, pr in SLEEP_PRIORS.items()}

# %% [markdown]
# ## cbpp

# %%
cbpp = hm.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", load("cbpp"),
                family="binomial")
fit_cbpp = cbpp.fit()
print(fit_cbpp.summary())
cmp_cbpp = {name: hm.compare(fit_cbpp, cbpp.sample(draws=DRAWS, tune=DRAWS, chains=4,
                                                   random_seed=SEED, priors=pr), ci=0.95)
            for name, pr in CBPP_PRIORS.items()}

# %% [markdown]
# ## Side by side
#
# One row per parameter: lme4, hiermix's ML, and the posterior mean with its 95% equal-tailed
# interval under each prior.

# %%
def rows_of(cmp: hm.Comparison) -> dict[str, pd.Series]:
    """Parameter name -> the comparison row holding it (fixed effects, then varcorr)."""
    out = {k: r for k, r in cmp.fixef.iterrows()}
    for _, r in cmp.varcorr.iterrows():
        if r["param"] == "sd":
            out[f"sd_{r['grp'] if r['grp'] == 'herd' else r['var1']}"] = r
        else:
            out[str(r["param"])] = r
    return out


def side_by_side(lme4: dict[str, float], cmps: dict[str, hm.Comparison]) -> pd.DataFrame:
    ml_rows = rows_of(next(iter(cmps.values())))
    rows = []
    for key in lme4:
        row: dict[str, object] = {"parameter": key, "lme4": lme4[key],
                                  "hiermix ML": ml_rows[key]["ml"]}
        for name, cmp in cmps.items():
            r = rows_of(cmp)[key]
            row[f"{name}: mean [95%]"] = (f"{r['post_mean']:.3f} "
                                          f"[{r['post_lower']:.3f}, {r['post_upper']:.3f}]")
        rows.append(row)
    return pd.DataFrame(rows)


table_sleep = side_by_side(LME4_SLEEP, cmp_sleep)
table_cbpp = side_by_side(LME4_CBPP, cmp_cbpp)
table_sleep

# %%
table_cbpp

# %% [markdown]
# hiermix's ML reproduces lme4 to 1e-3 relative on the fixed effects and SDs (the REML
# criterion is the same function; cbpp's Laplace optimum differs from lme4's by lme4's
# optimiser tolerance, a few 1e-4). Whatever the prior on the SDs, the posterior intervals of
# the fixed effects cover the ML estimates, and the tight prior pulls every SD below its
# default-prior posterior mean.

# %%
for table, lme4 in ((table_sleep, LME4_SLEEP), (table_cbpp, LME4_CBPP)):
    for _, r in table.iterrows():
        ref = lme4[r["parameter"]]
        if r["parameter"] != "corr":
            assert abs(r["hiermix ML"] - ref) <= 1e-3 * abs(ref), r
assert abs(table_sleep.set_index("parameter").loc["corr", "hiermix ML"] - LME4_SLEEP["corr"]) < 1e-3
for cmps in (cmp_sleep, cmp_cbpp):
    for name, cmp in cmps.items():
        fx = cmp.fixef
        assert ((fx["post_lower"] < fx["ml"]) & (fx["ml"] < fx["post_upper"])).all(), (name, fx)
    for key in ([k for k in rows_of(cmps["default"]) if k.startswith("sd_")]):
        assert (rows_of(cmps["tight HalfNormal"])[key]["post_mean"]
                < rows_of(cmps["default"])[key]["post_mean"]), key

# %% [markdown]
# ## The variance components under each prior
#
# Posterior (solid) and prior (dashed) densities of each setting, with the ML estimate.

# %%
COLOURS = {"default": "#d1495b", "Exponential": "#2e933c", "tight HalfNormal": "#7d4e9f",
           "LKJ(4)": "#edae49"}


def prior_pdf(prior: Prior, x: np.ndarray, j: int = 0) -> np.ndarray:
    """Density of column j of a positive prior, or of the correlation under LKJ (2 x 2)."""
    def pick(v: object) -> float:
        a = np.atleast_1d(np.asarray(v, dtype=float))
        return float(a[j] if a.size > 1 else a[0])

    if isinstance(prior, HalfNormal):
        return 2 * stats.norm.pdf(x, scale=pick(prior.sigma))
    if isinstance(prior, HalfStudentT):
        return 2 * stats.t.pdf(x, df=pick(prior.nu), scale=pick(prior.sigma))
    if isinstance(prior, Exponential):
        return stats.expon.pdf(x, scale=1 / pick(prior.lam))
    if isinstance(prior, LKJ):
        # the correlation of a 2 x 2 LKJ(eta) matrix is 2 Beta(eta, eta) - 1
        return stats.beta.pdf((x + 1) / 2, prior.eta, prior.eta) / 2
    raise TypeError(prior)


def draws_of(cmp: hm.Comparison, var: str, **sel: object) -> np.ndarray:
    da = cmp.post.datatree["posterior"][var]
    return np.asarray(da.sel(**sel) if sel else da).ravel()


panels = [  # (title, comparisons, posterior variable, selection, ML key, prior getter)
    ("sleepstudy: SD(Intercept)", cmp_sleep, "sd_Subject", {coef_dim("Subject"): "Intercept"},
     "sd_Intercept", lambda p: (p.sd["Subject"], 0), (0, 90)),
    ("sleepstudy: SD(Days)", cmp_sleep, "sd_Subject", {coef_dim("Subject"): "Days"}, "sd_Days",
     lambda p: (p.sd["Subject"], 1), (0, 16)),
    ("sleepstudy: corr(Intercept, Days)", cmp_sleep, "corr_Subject", {}, "corr",
     lambda p: (p.corr["Subject"], 0), (-1, 1)),
    ("cbpp: SD(herd)", cmp_cbpp, "sd_herd", {}, "sd_herd", lambda p: (p.sd["herd"], 0),
     (0, 2)),
]
fig, axes = plt.subplots(2, 2, figsize=(9, 6))
for ax, (title, cmps, var, sel, key, get_prior, xlim) in zip(axes.ravel(), panels):
    x = np.linspace(*xlim, 400)[1:-1]
    for name, cmp in cmps.items():
        d = draws_of(cmp, var, **sel)
        ax.hist(d, bins=np.linspace(*xlim, 61), density=True, histtype="step", lw=1.6,
                color=COLOURS[name], label=name)
        prior, j = get_prior(cmp.post.priors)
        ax.plot(x, prior_pdf(prior, x, j), ls="--", lw=1, color=COLOURS[name])
    ml = rows_of(next(iter(cmps.values())))[key]["ml"]
    ax.axvline(ml, color="#1b6ca8", lw=2, label=f"ML ({ml:.3g})")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(*xlim)
fig.tight_layout()
fig.savefig(OUT / "prior_sensitivity.png", dpi=100)

# %%
text = ("sleepstudy, `Reaction ~ Days + (Days | Subject)` (REML)\n\n"
        + table_sleep.to_markdown(index=False, floatfmt=".4f")
        + "\n\ncbpp, `cbind(incidence, size - incidence) ~ period + (1 | herd)` (binomial, "
        "Laplace)\n\n" + table_cbpp.to_markdown(index=False, floatfmt=".4f") + "\n")
(OUT / "table.md").write_text(text)
print(text)
