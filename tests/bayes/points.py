"""Helpers shared by the Bayesian engine's tests: simulated designs and model points."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

import hiermix
from hiermix.covariance import lambda_from_theta, theta_from_sd_corr

#: PyTensor's quickest-compiling mode: these checks evaluate each graph once or twice.
FAST = "FAST_COMPILE"


def simulated_frame(family: str, link: str, seed: int = 0, n: int = 60) -> pd.DataFrame:
    """A small data set with a continuous x, a 6-level factor g crossed with a 4-level h,
    and a response in the family's support (successes/failures for binomial)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 6, n)
    h = rng.integers(0, 4, n)
    x = rng.uniform(0.0, 1.0, n)
    df = pd.DataFrame({"x": x, "g": pd.Categorical([f"g{i}" for i in g]),
                       "h": pd.Categorical([f"h{i}" for i in h]),
                       "off": rng.uniform(-0.05, 0.05, n),
                       "w": rng.uniform(0.5, 2.0, n)})
    if family == "gaussian":
        df["y"] = 2.0 + x + rng.normal(0.0, 0.3, n)
    elif family == "binomial":
        trials = rng.integers(1, 12, n)
        df["succ"] = rng.binomial(trials, 0.4)
        df["fail"] = trials - df["succ"]
        df["yb"] = rng.integers(0, 2, n)
        df["wi"] = rng.integers(1, 4, n).astype(float)
    elif family == "poisson":
        df["y"] = rng.poisson(3.0, n).astype(float)
    elif family == "negative_binomial":
        df["y"] = rng.negative_binomial(2.0, 2.0 / (2.0 + 3.0), n).astype(float)
    else:
        df["y"] = rng.gamma(4.0, 0.5, n)
    return df


def natural_values(built: Any, rng: np.random.Generator, family: str) -> dict[str, Any]:
    """Random natural-scale values for every free variable of a built model, chosen so that
    the linear predictor stays inside every link's domain (eta in about (0.5, 1.7))."""
    values: dict[str, Any] = {}
    design = built.design
    for rv in built.model.free_RVs:
        name = rv.name
        shape = tuple(int(s) for s in rv.shape.eval())
        if name == "intercept_c":
            values[name] = np.array(rng.uniform(0.9, 1.2))
        elif name in ("beta_slope", "beta"):
            values[name] = rng.uniform(-0.2, 0.2, shape)
        elif name.startswith("sd_"):
            values[name] = rng.uniform(0.03, 0.1, shape)
        elif name.startswith("chol_"):
            q = (math.isqrt(8 * shape[0] + 1) - 1) // 2
            sd = rng.uniform(0.03, 0.1, q)
            corr = np.eye(q)
            for i in range(q):
                for j in range(i):
                    corr[i, j] = corr[j, i] = rng.uniform(-0.6, 0.6)
            lam = lambda_from_theta(theta_from_sd_corr(sd, corr), q)
            values[name] = lam[np.tril_indices(q)]  # PyMC packs the lower triangle by rows
            values[f"_sd_{name[5:]}"] = sd
            values[f"_corr_{name[5:]}"] = corr
        elif name.startswith("z_"):
            values[name] = rng.normal(0.0, 1.0, shape)
        elif name.startswith("b_"):
            values[name] = rng.normal(0.0, 0.08, shape)
        elif name == "sigma":
            values[name] = np.array(rng.uniform(0.5, 1.5))
        elif name == "phi":
            values[name] = np.array(rng.uniform(0.2, 0.8))
        elif name == "phi_inv_sqrt":  # the negative binomial's theta = 1 / kappa^2
            values[name] = np.array(rng.uniform(0.3, 1.5))
        else:
            raise AssertionError(f"no test value for free variable {name!r}")
    assert design is not None
    return values


def to_point(model: Any, values: dict[str, Any]) -> dict[str, np.ndarray]:
    """Natural-scale values -> a point on the value variables (transforms applied)."""
    point = {}
    for rv in model.free_RVs:
        vv = model.rvs_to_values[rv]
        tr = model.rvs_to_transforms.get(rv)
        val = np.asarray(values[rv.name], dtype=float)
        point[vv.name] = (tr.forward(pt.as_tensor(val), *rv.owner.inputs).eval(mode=FAST)
                          if tr else val)
    return point


def evaluate(model: Any, names: list[str], point: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Values of model variables (deterministics included) at ``point``."""
    outs = model.replace_rvs_by_values([model[n] for n in names])
    fn = pm.compile([model.rvs_to_values[rv] for rv in model.free_RVs], outs,
                    on_unused_input="ignore", mode=FAST)
    return fn(*[point[model.rvs_to_values[rv].name] for rv in model.free_RVs])


def model_for(family: str, link: str, variant: str = "basic", seed: int = 0) -> hiermix.Model:
    """A hiermix.Model of the simulated data for one family, link and variant."""
    df = simulated_frame(family, link, seed)
    formula_rhs = "x + (x | g) + (1 | h)"
    kw: dict[str, Any] = {}
    if family == "binomial":
        if variant == "cbind":
            lhs = "cbind(succ, fail)"
        else:
            lhs = "yb"
            if variant == "weights":
                kw["weights"] = "wi"
    else:
        lhs = "y"
        if variant == "weights":
            kw["weights"] = "w"
        if variant == "offset":
            formula_rhs += " + offset(off)"
    return hiermix.Model(f"{lhs} ~ {formula_rhs}", df, family=family, link=link, **kw)


def assert_same_quantiles(a: Any, b: Any, names: list[str], label: str = "",
                          k: float = 4.5) -> None:
    """Two posteriors of one model agree: for every variable in ``names``, the 10%, 50% and
    90% quantiles differ by less than ``k`` times the combined Monte Carlo SE of the two
    quantile estimates (``arviz_stats.mcse(method="quantile")``)."""
    import arviz_stats as azs

    for prob in (0.1, 0.5, 0.9):
        q = [r.posterior[names].quantile(prob, dim=("chain", "draw")) for r in (a, b)]
        se = [azs.mcse(r.datatree, var_names=names, method="quantile", prob=prob)
              for r in (a, b)]
        for name in names:
            diff = np.abs(np.asarray(q[0][name]) - np.asarray(q[1][name]))
            tol = k * np.sqrt(np.asarray(se[0][name]) ** 2 + np.asarray(se[1][name]) ** 2)
            assert np.all(diff < tol), (label, name, prob, diff, tol)
