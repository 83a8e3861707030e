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
# (when `fit.confint` is available), ML-Wald, and NUTS with hiermix's default priors and with a
# flat-ish prior (flat on the intercept, HalfNormal(10) on the SD).
#
# `HIERMIX_NSIM` sets the replicates of the likelihood methods (default 500),
# `HIERMIX_NSIM_BAYES` those of the Bayesian ones (default 100), `HIERMIX_DRAWS` the draws and
# tuning steps per chain (default 600, 2 chains); `HIERMIX_NSIM_BAYES=0` leaves the Bayesian
# methods out. CI runs it at a reduced nsim.

# %%
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import hiermix as hm
from hiermix.bayes import HalfNormal
from hiermix.frequentist import LmerResult
from hiermix.study import bayes_method, study_grid

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
OUT = Path(os.environ.get("HIERMIX_OUT", HERE))
OUT.mkdir(parents=True, exist_ok=True)
REDUCED = "HIERMIX_DRAWS" in os.environ and "HIERMIX_NSIM" not in os.environ
NSIM = int(os.environ.get("HIERMIX_NSIM", "4" if REDUCED else "500"))
NSIM_BAYES = int(os.environ.get("HIERMIX_NSIM_BAYES", "1" if REDUCED else "100"))
DRAWS = int(os.environ.get("HIERMIX_DRAWS", "600"))
SEED = 20061201
FORMULA = "y ~ 1 + (1 | g)"
PARAMS = ["Intercept", "sd(Intercept|g)", "sigma"]

# %% [markdown]
# ## The likelihood methods

# %%
grid = study_grid(J=[6, 12, 48], n=5, icc=[0.1, 0.3])
ml_methods = ["reml-wald", "ml-wald"]
if hasattr(LmerResult, "confint"):
    ml_methods.insert(1, "reml-profile")
ml = hm.simulation_study(FORMULA, grid, None, ml_methods, nsim=NSIM, seed=SEED)
print(ml.summary())

# %% [markdown]
# ## The Bayesian methods
#
# Same seed, so replicate i of each condition is the same data set for every method.

# %%
sample = {"draws": DRAWS, "tune": DRAWS, "chains": 2}
bayes = None if NSIM_BAYES == 0 else hm.simulation_study(
    FORMULA, grid, None,
    [bayes_method(name="bayes-default", **sample),
     bayes_method(priors={"preset": "flat", "sd": HalfNormal(10.0)}, name="bayes-flatish",
                  **sample)],
    nsim=NSIM_BAYES, seed=SEED)
if bayes is not None:
    print(bayes.summary())

# %%
cols = ["J", "icc", "method", "param", "truth", "n_ok", "bias", "bias_mcse", "rel_bias",
        "coverage", "coverage_mcse", "median_width"]
done = [ml] if bayes is None else [ml, bayes]
perf = pd.concat([r.performance for r in done], ignore_index=True)
perf = perf[perf["param"].isin(PARAMS)][cols]
table = perf.sort_values(["param", "icc", "J"], kind="stable")
(OUT / "table.md").write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n")
fits = pd.concat([r.fits for r in done], ignore_index=True)
(OUT / "fits.md").write_text(fits.to_markdown(index=False, floatfmt=".3f") + "\n")
print(table.to_string(index=False))

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
assert bayes is None or (bayes.fits["replicates"] == NSIM_BAYES).all()
p = ml.performance.set_index(["J", "icc", "method", "param"])
for J in (6, 12, 48):
    for icc in (0.1, 0.3):
        reml = p.loc[(J, icc, "reml-wald", "sd(Intercept|g)"), "mean"]
        mlv = p.loc[(J, icc, "ml-wald", "sd(Intercept|g)"), "mean"]
        assert reml >= mlv - 1e-6, (J, icc)  # same data: REML's SD is never below ML's
