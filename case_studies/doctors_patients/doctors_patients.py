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

import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hiermix as hm

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
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
#     y_ij = 40 - 0.20 (age_ij - agebar_j) + 0.30 agebar_j + 2.0 married_ij - 1.5 sex_ij
#            - 0.8 wbc_ij + 1.2 rbc_ij + u_j + e_ij,
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
# The naive model's age slope has no true value of its own: it is a precision-weighted mix of
# the within and between slopes (with these data mostly the within one, which 8,525 patients
# estimate far more precisely than 407 doctor means estimate the between one).

# %%
def interval(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


def fixef_cells(cmp: hm.Comparison, key: str) -> dict[str, object]:
    r = cmp.fixef.loc[key]
    return {"ml": r["ml"], "wald": interval(r["ml_lower"], r["ml_upper"]),
            "post": r["post_mean"], "post_ci": interval(r["post_lower"], r["post_upper"])}


def varcorr_cells(cmp: hm.Comparison, param: str) -> dict[str, object]:
    r = cmp.varcorr.set_index("param").loc[param]
    return {"ml": r["ml"], "wald": interval(r["ml_lower"], r["ml_upper"]),
            "post": r["post_mean"], "post_ci": interval(r["post_lower"], r["post_upper"])}


ROWS = [  # (label, truth, key in the naive model, key in the centred model)
    ("Age, single slope (naive)", None, "age", None),
    ("Age within doctor", TRUE["age_within"], None, "age_within"),
    ("Age between doctors", TRUE["age_between"], None, "age_between"),
    ("Married", TRUE["married"], "married", "married"),
    ("Sex (female)", TRUE["sex"], "sex", "sex"),
    ("WBC", TRUE["wbc"], "wbc", "wbc"),
    ("RBC", TRUE["rbc"], "rbc", "rbc"),
    ("Intercept", TRUE["Intercept"], "Intercept", "Intercept"),
    ("SD(doctor)", TRUE["sd_doctor"], "sd", "sd"),
    ("sigma", TRUE["sigma"], "sigma", "sigma"),
]


def cells(cmp: hm.Comparison, key: str | None) -> dict[str, object]:
    if key is None:
        return {"ml": None, "wald": "", "post": None, "post_ci": ""}
    return varcorr_cells(cmp, key) if key in ("sd", "sigma") else fixef_cells(cmp, key)


rows = []
for label, truth, key_n, key_c in ROWS:
    n, c = cells(cmp_naive, key_n), cells(cmp_centred, key_c)
    rows.append({"parameter": label, "true": truth, "ML naive": n["ml"],
                 "ML centred": c["ml"], "ML centred 95% Wald": c["wald"],
                 "posterior naive": n["post"], "posterior centred": c["post"],
                 "centred 95% interval": c["post_ci"]})
table = pd.DataFrame(rows)
table

# %% [markdown]
# The centred model recovers both true age slopes (each inside its 95% Wald interval, and the
# posterior intervals too), and the naive slope lies between the two.

# %%
fx = cmp_centred.fixef
for key in ("age_within", "age_between"):
    assert fx.loc[key, "ml_lower"] < TRUE[key] < fx.loc[key, "ml_upper"], (key, fx.loc[key])
    assert fx.loc[key, "post_lower"] < TRUE[key] < fx.loc[key, "post_upper"], key
naive_slope = cmp_naive.fixef.loc["age", "ml"]
assert fx.loc["age_within", "ml"] < naive_slope < fx.loc["age_between", "ml"], naive_slope
assert cmp_naive.fixef.loc["age", "ml_upper"] < fx.loc["age_between", "ml_lower"]
# both engines agree on every fixed effect of the centred model (flat-ish priors, n = 8,525)
assert (fx["std_diff"].abs() < 0.5).all(), fx["std_diff"]

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
timing = pd.DataFrame([{
    "model": name, "chains x (tune + draws)": f"4 x ({DRAWS} + {DRAWS})",
    "sampler": posts[name].record.sampler, "marginal": posts[name].record.marginal,
    "seconds (wall, incl. compile)": seconds[name],
    "divergences": posts[name].record.n_divergent,
    "min bulk ESS": float(cmp.fixef["ess_bulk"].min()),
} for name, cmp in (("naive", cmp_naive), ("centred", cmp_centred))])
shown_table = table.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                        else f"{v:.4f}" if isinstance(v, float) else v)
text = (shown_table.to_markdown(index=False, disable_numparse=True) + "\n\nSampling time (benchmark goal: "
        "under 30 s for this size)\n\n" + timing.to_markdown(index=False, floatfmt=".1f") + "\n")
(OUT / "table.md").write_text(text)
print(text)
