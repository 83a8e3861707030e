# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Normal random intercept: 10 groups of 50
#
# The seed data `seed_normal_intercept` were drawn as
# y = 4 - 6 x + b0[grupo] + e, with b0 ~ N(0, 25^2) per group and e ~ N(0, 4^2).
# We fit `y ~ x + (1 | grupo)` by REML (as lme4 does by default) and by NUTS, and compare
# both with the truth and with lme4.

# %%
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hiermix as hm
from hiermix.datasets import load

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(HERE.resolve().parent))  # case_studies/results.py
from results import (POSTERIOR_COLUMNS, diagnostics, interval, num,  # noqa: E402
                     posterior_rows, sampler, summarise, table, write)
# CI runs every case study with few draws and writes elsewhere (tests/test_case_studies.py).
DRAWS = int(os.environ.get("HIERMIX_DRAWS", "1000"))
OUT = Path(os.environ.get("HIERMIX_OUT", HERE))
SEED = 20261121

# %% [markdown]
# lme4 1.1-31 printed (reference file `lme4/seed_normal_intercept.json` of the project's shared
# references): beta = (2.2378, -6.0264), sigma = 3.9354, SD(b0) = 25.369.

# %%
TRUE = {"Intercept": 4.0, "x": -6.0, "sd_grupo": 25.0, "sigma": 4.0}
LME4 = {"Intercept": 2.23776249525443, "x": -6.02639407100989, "sd_grupo": 25.3689736767585,
        "sigma": 3.93537941220961}

data = load("seed_normal_intercept")
model = hm.Model("y ~ x + (1 | grupo)", data)
fit = model.fit(REML=True)
print(fit.summary())

# %%
post = model.sample(draws=DRAWS, tune=DRAWS, chains=4, random_seed=SEED)
cmp = hm.compare(fit, post, ci=0.95)
cmp.fixef

# %% [markdown]
# ## Side by side
#
# Beside the true values, the "drawn" column holds what the ten groups actually realised: the
# intercept the data can estimate is 4 + mean(b0) (the mean of the ten drawn b0 is not 0), and
# the SD the data can estimate is that of the ten drawn b0.

# %%
b0 = data.groupby("grupo", observed=True)["b0"].first()
REALISED = {"Intercept": TRUE["Intercept"] + float(b0.mean()), "sd_grupo": float(b0.std())}
summary = summarise(cmp)
KEYS = {"Intercept": "Intercept", "x": "x", "sd_grupo": "sd_grupo_Intercept", "sigma": "sigma"}
LABELS = {"Intercept": "Intercept", "x": "x", "sd_grupo": "SD(b0)", "sigma": "sigma"}
ml = {k: summary[v]["ml"] for k, v in KEYS.items()}
ml_table = table(
    ["parameter", "true", "drawn (realised)", "lme4", "hiermix REML",
     "hiermix REML 95% Wald interval"],
    [[LABELS[k], num(TRUE[k]), num(REALISED.get(k)), num(LME4[k]), num(ml[k]),
      interval(summary[KEYS[k]]["ml_lower"], summary[KEYS[k]]["ml_upper"])] for k in TRUE])
post_table = table([c.replace("ML", "REML") for c in POSTERIOR_COLUMNS],
                   posterior_rows(summary, [(LABELS[k], KEYS[k]) for k in TRUE]))
pd.DataFrame(ml_table["rows"], columns=ml_table["columns"])

# %% [markdown]
# hiermix's ML must reproduce lme4 (it maximises the same REML criterion): to 1e-3 relative.

# %%
for name in TRUE:
    assert abs(ml[name] - LME4[name]) <= 1e-3 * abs(LME4[name]), (name, ml[name], LME4[name])
# the posterior interval of the slope covers the truth
assert cmp.fixef.loc["x", "post_lower"] < TRUE["x"] < cmp.fixef.loc["x", "post_upper"]

# %% [markdown]
# ## Predicted random intercepts against the true b0
#
# With 50 observations per group the conditional modes barely shrink (shrinkage
# condsd^2 / sd^2 is tiny), and both engines recover the true group effects up to a
# common shift: the intercept absorbs the mean of the ten drawn b0.

# %%
true_b0 = data.groupby("grupo", observed=True)["b0"].first()
re = cmp.ranef.set_index("level")
fig, ax = plt.subplots(figsize=(5, 4.5))
ax.errorbar(true_b0.values, re.loc[true_b0.index.astype(str), "ml_mode"], fmt="o",
            label="ML conditional mode", color="#1b6ca8")
ax.errorbar(true_b0.values, re.loc[true_b0.index.astype(str), "post_mean"],
            yerr=[re["post_mean"] - re["post_lower"], re["post_upper"] - re["post_mean"]],
            fmt="s", ms=4, label="posterior mean, 95%", color="#d1495b", alpha=0.7)
lim = [true_b0.min() - 5, true_b0.max() + 5]
ax.plot(lim, np.array(lim) - true_b0.mean(), "--", color="0.5",
        label="truth, shifted by mean(b0)")
ax.set_xlabel("true b0")
ax.set_ylabel("predicted b0")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "ranef_vs_truth.png", dpi=110)

# %%
ranef = cmp.ranef
results = {
    "settings": {"draws": DRAWS, "tune": DRAWS, "chains": 4, "seed": SEED},
    "true": TRUE, "realised": {**REALISED, "mean_b0": float(b0.mean())}, "lme4": LME4,
    "ml": ml, "post": summary, "sampler": sampler(post), "diagnostics": diagnostics(summary),
    "ranef": {"ml_shrinkage_mean": float(ranef["ml_shrinkage"].mean()),
              "ml_condsd_mean": float(ranef["ml_condsd"].mean()),
              "post_sd_mean": float(ranef["post_sd"].mean())},
    "tables": {"ml": ml_table, "posterior": post_table},
}
write(OUT, results)
print(json.dumps(results["tables"], indent=1))
