"""Performance measures against Morris, White & Crowther (2019, Stat Med 38:2074, table 6),
evaluated term by term on a fixed table of five replicates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hiermix.study.performance import measures, performance_table

# Five replicates of one parameter with truth 2.0 (made-up numbers; the last interval misses)
EST = [1.5, 2.5, 2.25, 1.75, 3.0]
LOW = [1.0, 1.8, 1.9, 1.0, 2.5]
UPP = [2.1, 3.1, 2.6, 2.4, 3.4]
TRUTH = 2.0


def test_measures_equal_closed_forms() -> None:
    """Each formula written out in plain Python (tolerance: 1e-12 relative)."""
    n = len(EST)
    mean = sum(EST) / n                                          # 2.2
    ss = sum((x - mean) ** 2 for x in EST)                       # 1.025
    emp_se = math.sqrt(ss / (n - 1))
    mse = sum((x - TRUTH) ** 2 for x in EST) / n
    mse_mcse = math.sqrt(sum(((x - TRUTH) ** 2 - mse) ** 2 for x in EST) / (n * (n - 1)))
    cover = [lo <= TRUTH <= hi for lo, hi in zip(LOW, UPP, strict=True)]
    cov = sum(cover) / n                                         # 0.8
    widths = [hi - lo for lo, hi in zip(LOW, UPP, strict=True)]
    wbar = sum(widths) / n
    expected = {
        "n_ok": n, "mean": mean, "bias": mean - TRUTH,
        "bias_mcse": math.sqrt(ss / (n * (n - 1))),
        "rel_bias": (mean - TRUTH) / TRUTH,
        "rel_bias_mcse": math.sqrt(ss / (n * (n - 1))) / TRUTH,
        "emp_se": emp_se, "emp_se_mcse": emp_se / math.sqrt(2 * (n - 1)),
        "mse": mse, "mse_mcse": mse_mcse, "rmse": math.sqrt(mse),
        "rmse_mcse": mse_mcse / (2 * math.sqrt(mse)),
        "n_ci": n, "coverage": cov, "coverage_mcse": math.sqrt(cov * (1 - cov) / n),
        "mean_width": wbar,
        "mean_width_mcse": math.sqrt(sum((w - wbar) ** 2 for w in widths) / (n - 1) / n),
        "median_width": sorted(widths)[2],
    }
    got = measures(np.array(EST), np.array(LOW), np.array(UPP), TRUTH)
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    # two numbers by hand: bias 0.2, coverage 4/5
    assert got["bias"] == pytest.approx(0.2, rel=1e-12)
    assert got["coverage"] == 0.8


def test_missing_estimates_and_intervals_are_counted() -> None:
    est = np.array([*EST, np.nan])
    low = np.array([*LOW[:-1], np.nan, 0.0])
    upp = np.array([*UPP, 1.0])
    got = measures(est, low, upp, TRUTH)
    assert got["n_ok"] == 5 and got["n_ci"] == 4
    assert got["coverage"] == 1.0


def test_performance_table_counts_failed_and_flagged_fits() -> None:
    rows = []
    for rep, (e, lo, hi) in enumerate(zip(EST, LOW, UPP, strict=True)):
        rows.append({"rep": rep, "method": "m", "param": "x", "truth": TRUTH, "estimate": e,
                     "lower": lo, "upper": hi, "converged": rep != 1, "singular": False,
                     "divergences": 0, "error": None})
    rows.append({"rep": 5, "method": "m", "param": "x", "truth": TRUTH, "estimate": np.nan,
                 "lower": np.nan, "upper": np.nan, "converged": False, "singular": False,
                 "divergences": 0, "error": "ModelError: boom"})
    perf = performance_table(pd.DataFrame(rows))
    r = perf.iloc[0]
    assert (r["n_ok"], r["n_fail"], r["n_flagged"]) == (5, 1, 1)
    assert r["bias"] == pytest.approx(0.2, rel=1e-12)
