"""Performance measures of a simulation study and their Monte Carlo standard errors.

For n_ok replicates with finite estimates theta_i of a parameter whose true value is theta,
with mean theta_bar (Morris, White & Crowther 2019, Stat Med 38:2074, table 6)::

    bias      = theta_bar - theta              MCSE sqrt(sum (theta_i - theta_bar)^2 / (n (n-1)))
    rel_bias  = bias / theta                   MCSE bias_mcse / |theta|
    emp_se    = sqrt(sum (theta_i - theta_bar)^2 / (n - 1))     MCSE emp_se / sqrt(2 (n - 1))
    mse       = sum (theta_i - theta)^2 / n    MCSE sqrt(sum ((theta_i - theta)^2 - mse)^2
                                                          / (n (n-1)))
    rmse      = sqrt(mse)                      MCSE mse_mcse / (2 rmse)   (delta method)
    coverage  = share of intervals holding theta, over the n_ci replicates with an interval
                                               MCSE sqrt(coverage (1 - coverage) / n_ci)
    mean_width = mean of (upper - lower)       MCSE sd(width) / sqrt(n_ci)
    median_width                               (no MCSE; robust where a few intervals are
                                               unbounded in practice, as Wald intervals of an
                                               SD estimated near zero)

Replicates whose fit failed have no estimate and count in ``n_fail``; replicates with an
estimate but no interval (a Wald interval on the boundary) count in ``n`` but not ``n_ci``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["method", "param", "truth", "n_ok", "mean", "bias", "bias_mcse", "rel_bias",
           "rel_bias_mcse", "emp_se", "emp_se_mcse", "mse", "mse_mcse", "rmse", "rmse_mcse",
           "n_ci", "coverage", "coverage_mcse", "mean_width", "mean_width_mcse", "median_width",
           "n_fail", "n_flagged"]


def measures(est: np.ndarray, lower: np.ndarray, upper: np.ndarray, truth: float
             ) -> dict[str, float]:
    """The measures of the module docstring for one (method, parameter).

    Parameters
    ----------
    est, lower, upper : ndarray, shape (nsim,)
        Estimates and interval limits; NaN where missing.
    truth : float
    """
    ok = np.isfinite(est)
    x = est[ok]
    n = int(x.size)
    nan = float("nan")
    out: dict[str, float] = {"n_ok": n}
    mean = float(x.mean()) if n else nan
    dev2 = float(((x - mean) ** 2).sum()) if n else nan
    bias = mean - truth
    bias_mcse = np.sqrt(dev2 / (n * (n - 1))) if n > 1 else nan
    emp_se = np.sqrt(dev2 / (n - 1)) if n > 1 else nan
    sq = (x - truth) ** 2
    mse = float(sq.mean()) if n else nan
    mse_mcse = np.sqrt(((sq - mse) ** 2).sum() / (n * (n - 1))) if n > 1 else nan
    rmse = np.sqrt(mse)
    out.update(mean=mean, bias=bias, bias_mcse=bias_mcse,
               rel_bias=bias / truth if truth != 0 else nan,
               rel_bias_mcse=bias_mcse / abs(truth) if truth != 0 else nan,
               emp_se=emp_se, emp_se_mcse=emp_se / np.sqrt(2 * (n - 1)) if n > 1 else nan,
               mse=mse, mse_mcse=mse_mcse, rmse=rmse,
               rmse_mcse=mse_mcse / (2 * rmse) if rmse > 0 else nan)
    has = ok & np.isfinite(lower) & np.isfinite(upper)
    n_ci = int(has.sum())
    cover = (lower[has] <= truth) & (truth <= upper[has])
    cov = float(cover.mean()) if n_ci else nan
    width = upper[has] - lower[has]
    out.update(n_ci=n_ci, coverage=cov,
               coverage_mcse=np.sqrt(cov * (1 - cov) / n_ci) if n_ci else nan,
               mean_width=float(width.mean()) if n_ci else nan,
               mean_width_mcse=float(width.std(ddof=1) / np.sqrt(n_ci)) if n_ci > 1 else nan,
               median_width=float(np.median(width)) if n_ci else nan)
    return out


def performance_table(estimates: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (condition, method, param) of a long estimates table.

    Parameters
    ----------
    estimates : DataFrame
        Columns rep, method, param, truth, estimate, lower, upper, error, converged,
        singular, divergences (as :attr:`StudyResult.estimates`).
    by : sequence of str
        Condition columns, kept first.

    Returns
    -------
    DataFrame with the condition columns and :data:`COLUMNS`.
    """
    keys = [*by, "method", "param"]
    rows = []
    for key, g in estimates.groupby(keys, sort=False, dropna=False):
        values: tuple[Any, ...] = key if isinstance(key, tuple) else (key,)
        truth = float(g["truth"].to_numpy(float)[0])
        m = measures(g["estimate"].to_numpy(float), g["lower"].to_numpy(float),
                     g["upper"].to_numpy(float), truth)
        failed = g["error"].notna()
        flagged = ~failed & (~g["converged"].astype(bool) | g["singular"].astype(bool)
                             | (g["divergences"] > 0))
        rows.append({**dict(zip(keys, values, strict=True)), "truth": truth,
                     **m, "n_fail": int(failed.sum()), "n_flagged": int(flagged.sum())})
    return pd.DataFrame(rows, columns=[*by, *COLUMNS])
