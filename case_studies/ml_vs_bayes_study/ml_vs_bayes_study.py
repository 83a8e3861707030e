# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # ML versus Bayes in repeated sampling (after Browne & Draper 2006)
#
# Browne & Draper (2006, Bayesian Analysis 1(3)) compared likelihood-based and Bayesian
# estimation of a two-level variance-components model by their bias and interval coverage over
# many simulated data sets. We repeat the design in one call of `hm.simulation_study`:
# `y ~ 1 + (1 | g)`, J in {6, 12, 48} groups of 5, ICC in {0.1, 0.3} (sigma = 1, so
# sd(Intercept|g) = sqrt(ICC / (1 - ICC))), intercept 0; methods REML-Wald, REML-profile
# (`fit.confint(method="profile")`), ML-Wald, and NUTS with hiermix's default priors and with a
# flat-ish prior in the spirit of Browne & Draper's diffuse priors (hiermix's `"flat"` preset,
# an improper uniform prior on the intercept, with HalfNormal(10) on sd(Intercept|g) and on
# sigma, nearly uniform over any value these data allow).
#
# `HIERMIX_NSIM` sets the replicates of the likelihood methods (default 500),
# `HIERMIX_NSIM_PROFILE` those of REML-profile (default: `HIERMIX_NSIM`; a warm profile fit
# costs a few hundredths of a second, and numba compiles the profile kernels once per process
# when its on-disk cache is cold), `HIERMIX_NSIM_BAYES` those of the Bayesian ones (default
# 100), `HIERMIX_DRAWS` the draws and tuning steps per chain (default 600, 2 chains);
# `HIERMIX_NSIM_BAYES=0` leaves the Bayesian methods out, `HIERMIX_JOBS` runs the blocks in
# that many local processes (default 1: this process), and `HIERMIX_STORE=DIR` keeps every
# finished block under DIR, so that a rerun (or one with a larger nsim) fits only what is
# missing. Every number the README quotes is
# written to `results.json`. CI runs it at a reduced nsim (`HIERMIX_DRAWS` set and
# `HIERMIX_NSIM` not: 4 likelihood replicates, 2 profile replicates and 2 Bayesian replicates
# per cell).

# %%
from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import hiermix as hm
from hiermix.bayes import HalfNormal
from hiermix.study import bayes_method, study_grid

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(HERE.resolve().parent))  # case_studies/results.py
from results import num, table, write  # noqa: E402

OUT = Path(os.environ.get("HIERMIX_OUT", HERE))
OUT.mkdir(parents=True, exist_ok=True)
REDUCED = "HIERMIX_DRAWS" in os.environ and "HIERMIX_NSIM" not in os.environ
NSIM = int(os.environ.get("HIERMIX_NSIM", "4" if REDUCED else "500"))
NSIM_PROFILE = int(os.environ.get("HIERMIX_NSIM_PROFILE", "2" if REDUCED else str(NSIM)))
NSIM_BAYES = int(os.environ.get("HIERMIX_NSIM_BAYES", "2" if REDUCED else "100"))
DRAWS = int(os.environ.get("HIERMIX_DRAWS", "600"))
JOBS = int(os.environ.get("HIERMIX_JOBS", "1"))
STORE = os.environ.get("HIERMIX_STORE")  # a directory: each study resumable from its blocks


def store(name: str) -> Path | None:
    """The store of one of the studies below, under ``HIERMIX_STORE`` (None: no store)."""
    return None if STORE is None else Path(STORE) / name
SEED = 20061201
FORMULA = "y ~ 1 + (1 | g)"
PARAMS = ["Intercept", "sd(Intercept|g)", "sigma"]

# %% [markdown]
# ## The likelihood methods

# %%
grid = study_grid(J=[6, 12, 48], n=5, icc=[0.1, 0.3])
ml = hm.simulation_study(FORMULA, grid, None, ["reml-wald", "ml-wald"], nsim=NSIM, seed=SEED,
                          n_jobs=JOBS, store=store("ml"))
print(ml.summary())

# %% [markdown]
# REML-profile runs on the first `NSIM_PROFILE` data sets (all of them by default; the same
# seed gives the same replicates).

# %%
prof = None if NSIM_PROFILE == 0 else hm.simulation_study(
    FORMULA, grid, None, ["reml-profile"], nsim=NSIM_PROFILE, seed=SEED, n_jobs=JOBS,
    store=store("profile"))
if prof is not None:
    print(prof.summary())

# %% [markdown]
# ## The Bayesian methods
#
# Same seed, so replicate i of each condition is the same data set for every method.

# %%
FLATISH = {"preset": "flat", "sd": HalfNormal(10.0), "sigma": HalfNormal(10.0)}
sample = {"draws": DRAWS, "tune": DRAWS, "chains": 2}
bayes = None if NSIM_BAYES == 0 else hm.simulation_study(
    FORMULA, grid, None,
    [bayes_method(name="bayes-default", **sample),
     bayes_method(priors=FLATISH, name="bayes-flatish", **sample)],
    nsim=NSIM_BAYES, seed=SEED, n_jobs=JOBS, store=store("bayes"), block_size=2)
if bayes is not None:
    print(bayes.summary())

# %%
cols = ["J", "icc", "method", "param", "truth", "n_ok", "bias", "bias_mcse", "rel_bias",
        "coverage", "coverage_mcse", "median_width", "mean_width"]
done = [r for r in (ml, prof, bayes) if r is not None]
perf = pd.concat([r.performance for r in done], ignore_index=True)
perf = perf[perf["param"].isin(PARAMS)][cols]
perf = perf.sort_values(["param", "icc", "J"], kind="stable")
fits = pd.concat([r.fits for r in done], ignore_index=True)
print(perf.to_string(index=False))

SHORT = {"Intercept": "Intercept", "sd(Intercept|g)": "sd", "sigma": "sigma"}


def cond(J: object, icc: object) -> str:
    """The results key of a condition: ``J6_icc0.1``."""
    return f"J{int(J)}_icc{float(icc):g}"  # type: ignore[call-overload]


def _f(x: object) -> float | None:
    return None if pd.isna(x) else float(x)  # type: ignore[arg-type]


performance: dict[str, dict] = {}
for _, r in perf.iterrows():
    performance.setdefault(str(r["method"]), {}).setdefault(SHORT[r["param"]], {})[
        cond(r["J"], r["icc"])] = {k: _f(r[k]) for k in cols[4:]}
fit_counts: dict[str, dict] = {}
for _, r in fits.iterrows():
    fit_counts.setdefault(str(r["method"]), {})[cond(r["J"], r["icc"])] = {
        k: int(r[k]) for k in ("replicates", "failed", "no_interval", "not_converged",
                               "singular", "divergent")}
wald_sd = perf[(perf["param"] == "sd(Intercept|g)") & perf["method"].str.endswith("-wald")]
wald_j6 = wald_sd[wald_sd["J"] == 6]["median_width"]


def perf_table(param: str) -> dict:
    """The performance rows of one parameter: bias, coverage and width with their MCSEs."""
    rows = perf[perf["param"] == param]
    return table(
        ["J", "ICC", "method", "truth", "n_ok", "bias (MCSE)", "rel. bias", "coverage (MCSE)",
         "median width"],
        [[str(int(r["J"])), num(r["icc"], 1), r["method"], num(r["truth"], 3),
          str(int(r["n_ok"])), f"{num(r['bias'], 3)} ({num(r['bias_mcse'], 3)})",
          num(r["rel_bias"], 3), f"{num(r['coverage'], 3)} ({num(r['coverage_mcse'], 3)})",
          num(r["median_width"], 3)] for _, r in rows.iterrows()],
        align="rrlrrrrrr")


fits_table = table(
    ["J", "ICC", "method", "replicates", "failed", "no interval", "not converged", "singular",
     "divergent", "seconds per fit"],
    [[str(int(r["J"])), num(r["icc"], 1), r["method"], str(int(r["replicates"])),
      str(int(r["failed"])), str(int(r["no_interval"])), str(int(r["not_converged"])),
      str(int(r["singular"])), str(int(r["divergent"])), num(r["seconds"], 3)]
     for _, r in fits.sort_values(["J", "icc"], kind="stable").iterrows()],
    align="rrlrrrrrrr")
# Same data sets for every method: in how many replicates is the flat-ish prior's posterior
# mean of the SD above the default prior's, and how far is each posterior mean from REML's
# estimate on the same data (mean difference and its MCSE)? With few Bayesian replicates this
# separates the priors' effect from the luck of the draw of those data sets.
paired: dict[str, dict] = {}
if bayes is not None:
    ests = pd.concat([bayes.estimates, ml.estimates[ml.estimates["rep"] < NSIM_BAYES]])
    sd = ests[ests["param"] == "sd(Intercept|g)"]
    wide = sd.pivot_table(index=["J", "icc", "rep"], columns="method", values="estimate")
    for (J, icc), g in wide.groupby(level=["J", "icc"]):
        row: dict[str, float | int] = {
            "flatish_above_default": int((g["bayes-flatish"] > g["bayes-default"]).sum()),
            "n": len(g)}
        for m in ("bayes-default", "bayes-flatish"):
            d = g[m] - g["reml-wald"]
            row[f"{m}_minus_reml"] = float(d.mean())
            row[f"{m}_minus_reml_mcse"] = float(d.std(ddof=1) / len(d) ** 0.5)
        paired[cond(J, icc)] = row
write(OUT, {
    "settings": {"nsim": NSIM, "nsim_profile": NSIM_PROFILE, "nsim_bayes": NSIM_BAYES,
                 "draws": DRAWS, "seed": SEED, "reduced": REDUCED},
    "performance": performance,
    "fits": fit_counts,
    "bayes_sd_paired": paired,
    "wald_sd_width": {"max_mean_width": float(wald_sd["mean_width"].max()),
                      "min_median_width_J6": float(wald_j6.min()),
                      "max_median_width_J6": float(wald_j6.max())},
    "tables": {"performance_sd": perf_table("sd(Intercept|g)"),
               "performance_intercept": perf_table("Intercept"),
               "performance_sigma": perf_table("sigma"), "fits": fits_table},
})

# %%
fig = ml.plot(params=["sd(Intercept|g)"])
fig.savefig(OUT / "sd_ml.png", dpi=110)
plt.close(fig)
if bayes is not None:
    fig = bayes.plot(params=["sd(Intercept|g)"])
    fig.savefig(OUT / "sd_bayes.png", dpi=110)
    plt.close(fig)
fig = ml.zip_plot("sd(Intercept|g)", cond=0)
fig.savefig(OUT / "zip_sd_J6_icc01.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Checks of the run
#
# Every replicate of every method is accounted for (failed fits counted, none dropped), and
# REML's bias of sd(Intercept|g) is smaller in absolute value than ML's in every condition
# (ML's SD estimate ignores the degree of freedom spent on the intercept), beyond Monte Carlo
# error once nsim is in the hundreds.

# %%
assert (ml.fits["replicates"] == NSIM).all()
assert prof is None or (prof.fits["replicates"] == NSIM_PROFILE).all()
assert bayes is None or (bayes.fits["replicates"] == NSIM_BAYES).all()
p = ml.performance.set_index(["J", "icc", "method", "param"])
for J in (6, 12, 48):
    for icc in (0.1, 0.3):
        reml = p.loc[(J, icc, "reml-wald", "sd(Intercept|g)"), "mean"]
        mlv = p.loc[(J, icc, "ml-wald", "sd(Intercept|g)"), "mean"]
        assert reml >= mlv - 1e-6, (J, icc)  # same data: REML's SD is never below ML's
