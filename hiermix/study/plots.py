"""Plots of a study: coverage and bias per method with Monte Carlo error bars, and the zip
plot of Morris, White & Crowther (2019, fig. 5) for the coverage of one parameter."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

Z_MC = 1.96  # Monte Carlo error bars: estimate +- 1.96 MCSE


def plot_performance(result: Any, params: Any = None, level: float = 0.95) -> Any:
    """Two panels per parameter: coverage (nominal ``level`` dashed) and bias (zero dashed),
    one point per method and condition with +- 1.96 MCSE bars.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    perf = result.performance
    params = list(perf["param"].unique()) if params is None else (
        [params] if isinstance(params, str) else list(params))
    conds = list(result.conditions)
    perf = perf.assign(cell=perf[conds].astype(str).agg(", ".join, axis=1) if conds else "")
    cells = list(dict.fromkeys(perf["cell"]))
    methods = list(result.methods)
    fig, axes = plt.subplots(len(params), 2, figsize=(10, 2.6 * len(params) + 0.6),
                             squeeze=False)
    offsets = np.linspace(-0.25, 0.25, len(methods)) if len(methods) > 1 else np.zeros(1)
    for row, p in zip(axes, params, strict=True):
        sub = perf[perf["param"] == p]
        for k, m in enumerate(methods):
            s = sub[sub["method"] == m].set_index("cell").reindex(cells)
            x = np.arange(len(cells)) + offsets[k]
            row[0].errorbar(x, s["coverage"], yerr=Z_MC * s["coverage_mcse"], fmt="o",
                            capsize=3, label=m)
            row[1].errorbar(x, s["bias"], yerr=Z_MC * s["bias_mcse"], fmt="o", capsize=3,
                            label=m)
        row[0].axhline(level, ls="--", c="grey", lw=1)
        row[1].axhline(0.0, ls="--", c="grey", lw=1)
        row[0].set_ylabel(f"coverage\n{p}")
        row[1].set_ylabel(f"bias\n{p}")
        for ax in row:
            ax.set_xticks(np.arange(len(cells)), cells if conds else [""] * len(cells),
                          rotation=30 if conds else 0, fontsize=8)
    axes[0, 0].legend(fontsize=8)
    if conds:
        axes[-1, 0].set_xlabel(", ".join(conds))
    fig.suptitle(f"{result.formula}: {result.nsim} replicates, +- 1.96 Monte Carlo SE")
    fig.tight_layout()
    return fig


def zip_plot(result: Any, param: str, cond: int = 0, level: float = 0.95) -> Any:
    """Morris et al.'s zip plot: per method, every replicate's interval ranked by the
    fractional centile of |z| = |estimate - truth| / SE (SE from the interval's width),
    intervals that miss the truth in a second colour, with the nominal level and the
    Monte Carlo 95% interval of the coverage marked.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    est = result.estimates
    est = est[(est["param"] == param) & (est["cond"] == cond)]
    if est.empty:
        from ..errors import DataError

        raise DataError(f"no estimates of {param!r} in condition {cond}; parameters are "
                        f"{sorted(result.estimates['param'].unique())}")
    methods = list(result.methods)
    z = stats.norm.ppf(0.5 + level / 2)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 4), squeeze=False,
                             sharey=True)
    for ax, m in zip(axes[0], methods, strict=True):
        s = est[(est["method"] == m)].dropna(subset=["estimate", "lower", "upper"])
        truth = float(s["truth"].iat[0]) if len(s) else np.nan
        se = (s["upper"] - s["lower"]).to_numpy() / (2 * z)
        absz = np.abs(s["estimate"].to_numpy() - truth) / np.where(se > 0, se, np.nan)
        order = np.argsort(absz)
        n = len(order)
        rank = (np.arange(n) + 0.5) / max(n, 1) * 100
        lo, hi = s["lower"].to_numpy()[order], s["upper"].to_numpy()[order]
        cover = (lo <= truth) & (truth <= hi)
        ax.hlines(rank[cover], lo[cover], hi[cover], colors="tab:blue", lw=0.8, label="covers")
        ax.hlines(rank[~cover], lo[~cover], hi[~cover], colors="tab:red", lw=0.8,
                  label="misses")
        if n:
            # A few practically unbounded intervals (Wald, SD near zero) would squash the
            # rest into a line: show the bulk, from the 1st centile of the lower limits to
            # the 75th of the upper ones; the cut intervals run off the edge.
            left = min(float(np.quantile(lo, 0.01)), truth)
            right = max(float(np.quantile(hi, 0.75)), truth)
            pad = 0.05 * (right - left) if right > left else 1.0
            ax.set_xlim(left - pad, right + pad)
        ax.axvline(truth, c="k", lw=1)
        ax.axhline(level * 100, ls="--", c="grey", lw=1)
        if n:
            p = cover.mean()
            mc = Z_MC * np.sqrt(p * (1 - p) / n) * 100
            ax.axhspan(p * 100 - mc, p * 100 + mc, color="gold", alpha=0.3)
        ax.set_title(f"{m}", fontsize=9)
        ax.set_xlabel(param)
    axes[0, 0].set_ylabel("centile of |z|")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"zip plot, {param}: {level:.0%} intervals")
    fig.tight_layout()
    return fig
