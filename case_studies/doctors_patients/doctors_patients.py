# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Doctors and patients: within-doctor and between-doctor effects
#
# The classic two-level design: J = 407 doctors, N = 8,525 patients, a continuous mobility
# score, the patient-level predictors Age, Married, Sex, WBC and RBC, and a random intercept
# per doctor. The original data are not available, so we simulate a data set with this design
# (fixed seed; the generating model is below) in which age acts in opposite directions at the
# two levels: within a doctor, older patients score lower; between doctors, those whose
# patients are older on average have the higher mean mobility.
#
# A single age slope in `y ~ age + ... + (1 | doctor)` mixes the two. Group-mean centring,
# `y ~ age_within + age_between + ... + (1 | doctor)` with `age_between` the doctor's mean age
# and `age_within` the patient's deviation from it, separates them. We fit both models with
# both engines (maximum likelihood and NUTS).

# %%
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hiermix as hm

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(HERE.resolve().parent))  # case_studies/results.py
from results import (diagnostics, interval, num, sampler, summarise,  # noqa: E402
                     table, with_mcse, write)

# CI runs every case study with few draws and writes elsewhere (tests/test_case_studies.py).
DRAWS = int(os.environ.get("HIERMIX_DRAWS", "1000"))
OUT = Path(os.environ.get("HIERMIX_OUT", HERE))
SEED = 20261123

# %% [markdown]
# ## The simulated data
#
# Doctor j has n_j >= 5 patients (5 plus a multinomial share of the rest, so the sizes sum to
# 8,525; mean 20.9). Patient i of doctor j has
#
# * age_ij = a_j + N(0, 10^2), with the doctor's typical age a_j ~ N(55, 8^2);
# * married_ij ~ Bernoulli(0.6), sex_ij ~ Bernoulli(0.5) (1 = female);
# * wbc_ij ~ N(6.5, 1.5^2) (white cells, 10^9/l), rbc_ij ~ N(4.7, 0.5^2) (red cells, 10^12/l);
#
# and mobility
#
# $$
# y_{ij} = 40 - 0.20\,(\mathrm{age}_{ij} - \overline{\mathrm{age}}_j)
#   + 0.30\,\overline{\mathrm{age}}_j + 2.0\,\mathrm{married}_{ij} - 1.5\,\mathrm{sex}_{ij}
#   - 0.8\,\mathrm{wbc}_{ij} + 1.2\,\mathrm{rbc}_{ij} + u_j + e_{ij},
# $$
#
# u_j ~ N(0, 4^2), e_ij ~ N(0, 8^2), where agebar_j is the *sample* mean age of doctor j's
# patients, so that the group-mean-centred model is exactly the generating model.

# %%
TRUE = {"Intercept": 40.0, "age_within": -0.20, "age_between": 0.30, "married": 2.0,
        "sex": -1.5, "wbc": -0.8, "rbc": 1.2, "sd_doctor": 4.0, "sigma": 8.0}
J, N = 407, 8525


def simulate(seed: int) -> pd.DataFrame:
    """One data set of the design above; columns doctor, y, age, married, sex, wbc, rbc."""
    rng = np.random.default_rng(seed)
    sizes = 5 + rng.multinomial(N - 5 * J, np.full(J, 1.0 / J))
    doctor = np.repeat(np.arange(1, J + 1), sizes)
    age = rng.normal(55.0, 8.0, J)[doctor - 1] + rng.normal(0.0, 10.0, N)
    df = pd.DataFrame({
        "doctor": pd.Categorical(doctor.astype(str), categories=[str(j) for j in
                                                                 range(1, J + 1)]),
        "age": age,
        "married": rng.binomial(1, 0.6, N).astype(float),
        "sex": rng.binomial(1, 0.5, N).astype(float),
        "wbc": rng.normal(6.5, 1.5, N),
        "rbc": rng.normal(4.7, 0.5, N),
    })
    df["age_between"] = df.groupby("doctor", observed=True)["age"].transform("mean")
    df["age_within"] = df["age"] - df["age_between"]
    u = rng.normal(0.0, TRUE["sd_doctor"], J)[doctor - 1]
    eta = (TRUE["Intercept"] + TRUE["age_within"] * df["age_within"]
           + TRUE["age_between"] * df["age_between"]
           + sum(TRUE[k] * df[k] for k in ("married", "sex", "wbc", "rbc")))
    df["y"] = eta + u + rng.normal(0.0, TRUE["sigma"], N)
    return df


data = simulate(SEED)
assert data["doctor"].nunique() == J and len(data) == N
data.describe().T[["mean", "std", "min", "max"]]

# %% [markdown]
# ## Both models, both engines

# %%
COVARIATES = "married + sex + wbc + rbc"
naive = hm.Model(f"y ~ age + {COVARIATES} + (1 | doctor)", data)
centred = hm.Model(f"y ~ age_within + age_between + {COVARIATES} + (1 | doctor)", data)
fit_naive = naive.fit(REML=False)
fit_centred = centred.fit(REML=False)
print(fit_centred.summary())

# %%
seconds: dict[str, float] = {}
posts = {}
for name, model in (("naive", naive), ("centred", centred)):
    t0 = time.perf_counter()
    posts[name] = model.sample(draws=DRAWS, tune=DRAWS, chains=4, random_seed=SEED)
    seconds[name] = time.perf_counter() - t0
cmp_naive = hm.compare(fit_naive, posts["naive"], ci=0.95)
cmp_centred = hm.compare(fit_centred, posts["centred"], ci=0.95)
print({k: round(v, 1) for k, v in seconds.items()}, posts["centred"].record)
cmp_centred.fixef

# %% [markdown]
# ## Side by side
#
# The naive model's age slope has no true value of its own. In a random-intercept model the
# GLS slope is a precision-weighted average of the within-doctor slope and the between-doctor
# slope, with precisions computed under *the model's own* variance components:
# P_W = sum_ij (age_ij - agebar_j)^2 / sigma^2 and
# P_B = sum_j (agebar_j - abar)^2 / (tau^2 + sigma^2 / n_j) (abar the mean of the agebar_j
# weighted by 1 / (tau^2 + sigma^2 / n_j)). The naive model puts the between-doctor age effect
# it cannot fit into the doctor intercepts, so its tau is inflated, P_B is small, and the
# average leans to the within slope. We compute both weights and check that the average of the
# centred model's two slopes reproduces the naive slope.

# %%
sum_naive, sum_centred = summarise(cmp_naive), summarise(cmp_centred)


def precision_weights(fit: Any) -> dict[str, float]:
    """P_W, P_B, the weight P_W / (P_W + P_B) and the slopes' SEs, under fit's tau and sigma."""
    tau, sigma = float(fit.varcorr["sdcor"].iloc[0]), float(fit.sigma)
    by = data.groupby("doctor", observed=True)
    n, agebar = by.size().to_numpy(), by["age"].mean().to_numpy()
    p_w = float(((data["age"] - data["age_between"]) ** 2).sum()) / sigma**2
    v = tau**2 + sigma**2 / n
    abar = np.sum(agebar / v) / np.sum(1 / v)
    p_b = float(np.sum((agebar - abar) ** 2 / v))
    return {"tau": tau, "sigma": sigma, "P_W": p_w, "P_B": p_b, "weight": p_w / (p_w + p_b),
            "se_within": p_w**-0.5, "se_between": p_b**-0.5}


b_w, b_b = fit_centred.fixef["age_within"], fit_centred.fixef["age_between"]
weights = {"naive": precision_weights(fit_naive), "centred": precision_weights(fit_centred)}
for w in weights.values():
    w["average"] = w["weight"] * b_w + (1 - w["weight"]) * b_b
implied_weight = (fit_naive.fixef["age"] - b_b) / (b_w - b_b)
weights["naive"]["average"], fit_naive.fixef["age"], weights["centred"]["average"]

# %%
ROWS = [  # (label, truth, key in the naive model, key in the centred model)
    ("Age, single slope (naive)", None, "age", None),
    ("Age within doctor", TRUE["age_within"], None, "age_within"),
    ("Age between doctors", TRUE["age_between"], None, "age_between"),
    ("Married", TRUE["married"], "married", "married"),
    ("Sex (female)", TRUE["sex"], "sex", "sex"),
    ("WBC", TRUE["wbc"], "wbc", "wbc"),
    ("RBC", TRUE["rbc"], "rbc", "rbc"),
    ("Intercept", TRUE["Intercept"], "Intercept", "Intercept"),
    ("SD(doctor)", TRUE["sd_doctor"], "sd_doctor_Intercept", "sd_doctor_Intercept"),
    ("sigma", TRUE["sigma"], "sigma", "sigma"),
]


def cells(summary: dict[str, dict[str, float]], key: str | None, full: bool) -> list[str]:
    """ML (and Wald), posterior mean (MCSE) (and median, interval) of one parameter."""
    if key is None:
        return ["", "", "", "", ""] if full else ["", ""]
    s = summary[key]
    if not full:
        return [num(s["ml"]), with_mcse(s["post_mean"], s["mcse_mean"], 4)]
    return [num(s["ml"]), interval(s["ml_lower"], s["ml_upper"]),
            with_mcse(s["post_mean"], s["mcse_mean"], 4),
            with_mcse(s["post_median"], s["mcse_median"], 4),
            interval(s["post_lower"], s["post_upper"])]


side_by_side = table(
    ["parameter", "true", "naive: ML", "naive: posterior mean (MCSE)", "centred: ML",
     "centred: ML 95% Wald interval", "centred: posterior mean (MCSE)",
     "centred: posterior median (MCSE)", "centred: posterior 95% interval"],
    [[label, num(truth), *cells(sum_naive, kn, False), *cells(sum_centred, kc, True)]
     for label, truth, kn, kc in ROWS])
pd.DataFrame(side_by_side["rows"], columns=side_by_side["columns"])

# %% [markdown]
# The centred model recovers both true age slopes (each inside its 95% Wald interval, and the
# posterior intervals too), the naive slope lies between the two, and the precision-weighted
# average under the naive model's variance components reproduces it (to 1e-3).

# %%
fx = cmp_centred.fixef
for key in ("age_within", "age_between"):
    assert fx.loc[key, "ml_lower"] < TRUE[key] < fx.loc[key, "ml_upper"], (key, fx.loc[key])
    assert fx.loc[key, "post_lower"] < TRUE[key] < fx.loc[key, "post_upper"], key
naive_slope = cmp_naive.fixef.loc["age", "ml"]
assert fx.loc["age_within", "ml"] < naive_slope < fx.loc["age_between", "ml"], naive_slope
assert cmp_naive.fixef.loc["age", "ml_upper"] < fx.loc["age_between", "ml_lower"]
assert abs(weights["naive"]["average"] - naive_slope) < 1e-3, weights["naive"]
# both engines agree on every parameter of both models (n = 8,525) to a fraction of a
# posterior SD
std_diff = {name: float(max(cmp.fixef["std_diff"].abs().max(),
                            cmp.varcorr["std_diff"].abs().max()))
            for name, cmp in (("naive", cmp_naive), ("centred", cmp_centred))}
assert max(std_diff.values()) < 0.5, std_diff

# %% [markdown]
# ## The two slopes, and where each estimate lands
#
# Left: each grey point is a doctor (mean age against mean mobility of their patients, after
# removing the other predictors' fitted effects); the between-doctor line rises. For twelve
# doctors their patients are drawn in colour with the fitted within-doctor line, which falls.
# Right: the age slopes with ML 95% Wald intervals and posterior 95% intervals.

# %%
beta = fit_centred.fixef
adj = data["y"] - sum(beta[k] * data[k] for k in ("married", "sex", "wbc", "rbc"))
by_doc = pd.DataFrame({"age": data["age_between"], "y": adj, "doctor": data["doctor"]}).groupby(
    "doctor", observed=True).mean()
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1.35, 1]})
ax.scatter(by_doc["age"], by_doc["y"], s=6, color="0.7", label="doctor means")
grid = np.linspace(by_doc["age"].min(), by_doc["age"].max(), 2)
ax.plot(grid, beta["Intercept"] + beta["age_between"] * grid, color="k", lw=2.5,
        label=f"between doctors: {beta['age_between']:+.3f} per year")
rng = np.random.default_rng(1)
shown = rng.choice(by_doc.index[by_doc["age"].between(40, 70)], 12, replace=False)
colors = plt.cm.tab20(np.linspace(0, 1, len(shown)))
for doc, col in zip(shown, colors):
    d = data[data["doctor"] == doc]
    ax.scatter(d["age"], adj[d.index], s=5, color=col, alpha=0.6)
    xs = np.array([d["age"].min(), d["age"].max()])
    mean_y = by_doc.loc[doc, "y"]
    ax.plot(xs, mean_y + beta["age_within"] * (xs - d["age"].mean()), color=col, lw=1.5)
ax.plot([], [], color="0.3", lw=1.5,
        label=f"within a doctor: {beta['age_within']:+.3f} per year")
ax.set_xlabel("age (years)")
ax.set_ylabel("mobility, other predictors removed")
ax.legend(fontsize=8, loc="upper left")

slopes = [("naive", cmp_naive.fixef.loc["age"], None),
          ("within", fx.loc["age_within"], TRUE["age_within"]),
          ("between", fx.loc["age_between"], TRUE["age_between"])]
for i, (_, r, truth) in enumerate(slopes):
    ax2.errorbar(r["ml"], i + 0.12, xerr=[[r["ml"] - r["ml_lower"]], [r["ml_upper"] - r["ml"]]],
                 fmt="o", color="#1b6ca8", label="ML, 95% Wald" if i == 0 else None)
    ax2.errorbar(r["post_mean"], i - 0.12,
                 xerr=[[r["post_mean"] - r["post_lower"]], [r["post_upper"] - r["post_mean"]]],
                 fmt="s", ms=4, color="#d1495b", label="posterior, 95%" if i == 0 else None)
    if truth is not None:
        ax2.plot([truth, truth], [i - 0.35, i + 0.35], color="k", ls=":",
                 label="truth" if i == 1 else None)
ax2.axvline(0, color="0.8", lw=0.8)
ax2.set_yticks(range(len(slopes)), [s[0] for s in slopes])
ax2.set_xlabel("age slope (mobility per year)")
ax2.legend(fontsize=8, loc="lower right")
fig.tight_layout()
fig.savefig(OUT / "within_between.png", dpi=100)

# %%
timing = table(
    ["model", "chains x (tune + draws)", "sampler", "marginal", "seconds (wall, incl. compile)",
     "divergences", "min bulk ESS"],
    [[name, f"{posts[name].record.chains} x ({DRAWS} + {DRAWS})", posts[name].record.sampler,
      str(posts[name].record.marginal), f"{seconds[name]:.1f}", str(posts[name].record.n_divergent),
      f"{diagnostics(s)['min_ess_bulk']:.0f}"]
     for name, s in (("naive", sum_naive), ("centred", sum_centred))], align="llllrrr")
results = {
    "settings": {"draws": DRAWS, "tune": DRAWS, "chains": 4, "seed": SEED, "J": J, "N": N,
                 "mean_size": N / J},
    "post": {"naive": sum_naive, "centred": sum_centred},
    "sampler": {name: sampler(p) for name, p in posts.items()},
    "diagnostics": {"naive": diagnostics(sum_naive), "centred": diagnostics(sum_centred)},
    "weights": {**weights, "implied": implied_weight},
    "std_diff_max": std_diff,
    "seconds": seconds,
    "tables": {"side_by_side": side_by_side, "timing": timing},
}
write(OUT, results)
print(json.dumps(results["tables"], indent=1))
