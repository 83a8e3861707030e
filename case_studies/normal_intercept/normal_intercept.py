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

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hiermix as hm
from hiermix.datasets import load

HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
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

# %%
def row(name: str, ml: float, table: pd.DataFrame, key: object) -> dict[str, object]:
    r = table.loc[key]
    return {"parameter": name, "true": TRUE[name], "lme4": LME4[name], "hiermix ML": ml,
            "posterior mean": r["post_mean"],
            "95% interval": f"[{r['post_lower']:.3f}, {r['post_upper']:.3f}]"}


vc = cmp.varcorr.set_index("param")
rows = [row("Intercept", fit.fixef["Intercept"], cmp.fixef, "Intercept"),
        row("x", fit.fixef["x"], cmp.fixef, "x"),
        row("sd_grupo", vc.loc["sd", "ml"], vc, "sd"),
        row("sigma", fit.sigma, vc, "sigma")]
table = pd.DataFrame(rows)
table

# %% [markdown]
# hiermix's ML must reproduce lme4 (it maximises the same REML criterion): to 1e-3 relative.

# %%
for name in ("Intercept", "x", "sd_grupo", "sigma"):
    ml = table.set_index("parameter").loc[name, "hiermix ML"]
    assert abs(ml - LME4[name]) <= 1e-3 * abs(LME4[name]), (name, ml, LME4[name])
# the posterior interval of the slope covers the truth
assert cmp.fixef.loc["x", "post_lower"] < TRUE["x"] < cmp.fixef.loc["x", "post_upper"]

# %% [markdown]
# ## Predicted random intercepts against the true b0
#
# With 50 observations per group the conditional modes barely shrink (shrinkage
# condsd^2 / sd^2 is about 0.0005), and both engines recover the true group effects up to a
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
(OUT / "table.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
print(table.to_markdown(index=False, floatfmt=".4f"))
