"""Figures of a :class:`~hiermix.compare.tables.Comparison`, drawn with matplotlib.

Each function returns its ``matplotlib.figure.Figure`` and, given a path, saves it (PNG or SVG,
from the suffix). ML is drawn in one colour with its Wald interval, the posterior in another
with its equal-tailed interval, at the comparison's ``ci``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ML_COLOUR = "#1b6ca8"
POST_COLOUR = "#d1495b"


def _figure(nrows: int, ncols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def _save(fig: Any, path: Any) -> Any:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _varcorr_label(row: Any) -> str:
    if row["param"] == "corr":
        return f"corr({row['var1']}, {row['var2']}) | {row['grp']}"
    if row["param"] in ("sigma", "phi"):
        return "residual SD (sigma)" if row["param"] == "sigma" else "dispersion (phi)"
    return f"SD({row['var1']}) | {row['grp']}"


def _forest_row(ax: Any, label: str, row: Any, ci: float, first: bool) -> None:
    """One parameter on its own x-axis: ML (Wald) above, posterior (median, ETI) below."""
    ax.hlines(0.6, row["ml_lower"], row["ml_upper"], color=ML_COLOUR, lw=2.5)
    ax.plot([row["ml"]], [0.6], "o", color=ML_COLOUR, label=f"ML, Wald {ci:.0%}")
    ax.hlines(0.2, row["post_lower"], row["post_upper"], color=POST_COLOUR, lw=2.5)
    ax.plot([row["post_median"]], [0.2], "s", color=POST_COLOUR,
            label=f"posterior median, {ci:.0%} ETI")
    if bool(row.get("boundary", False)):
        note = "" if pd.notna(row["ml_lower"]) else ": no Wald interval"
        ax.annotate("ML on the boundary" + note, (row["ml"], 0.6), xytext=(6, 2),
                    textcoords="offset points", fontsize=7, color=ML_COLOUR)
    ax.set_ylim(-0.1, 0.9)
    ax.set_yticks([0.4])
    ax.set_yticklabels([label])
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    if first:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def plot_forest(cmp: Any, path: Any = None) -> Any:
    """Fixed effects and variance components: ML interval beside the posterior interval.

    Each parameter has its own x-axis, so coefficients and SDs on different scales stay
    readable; groups (fixed effects, SDs, correlations) are titled.
    """
    vc = cmp.varcorr
    groups = [("fixed effects", [(str(n), r) for n, r in cmp.fixef.iterrows()])]
    sds = vc[vc["param"].isin(["sd", "sigma", "phi"])]
    if len(sds):
        groups.append(("standard deviations and dispersion",
                       [(_varcorr_label(r), r) for _, r in sds.iterrows()]))
    cors = vc[vc["param"] == "corr"]
    if len(cors):
        groups.append(("correlations", [(_varcorr_label(r), r) for _, r in cors.iterrows()]))
    n = sum(len(rows) for _, rows in groups)
    fig, axes = _figure(n, 1, (9.0, 0.62 * n + 0.5 * len(groups) + 0.6))
    i = 0
    for title, rows in groups:
        for j, (label, row) in enumerate(rows):
            ax = axes[i, 0]
            _forest_row(ax, label, row, cmp.ci, first=i == 0)
            if j == 0:
                ax.set_title(title, fontsize=10, loc="left")
            i += 1
    fig.suptitle(str(cmp.fit.design.spec), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_ranef(cmp: Any, path: Any = None) -> Any:
    """Conditional modes (x) against posterior means (y) per level, one panel per term.

    Intervals: ML conditional mode +- z condsd horizontally, posterior interval vertically.
    Points on the diagonal agree; the spread of both shows how much each level is shrunk.
    """
    from scipy import stats

    z = stats.norm.ppf(1.0 - (1.0 - cmp.ci) / 2.0)
    keys = list(dict.fromkeys(zip(cmp.ranef["grp"], cmp.ranef["term"], strict=True)))
    ncols = min(3, max(1, len(keys)))
    nrows = int(np.ceil(len(keys) / ncols)) if keys else 1
    fig, axes = _figure(nrows, ncols, (4.2 * ncols, 4.0 * nrows))
    for ax, (grp, term) in zip(axes.ravel(), keys, strict=False):
        t = cmp.ranef[(cmp.ranef["grp"] == grp) & (cmp.ranef["term"] == term)]
        x, y = t["ml_mode"].to_numpy(float), t["post_mean"].to_numpy(float)
        ax.errorbar(x, y, xerr=z * t["ml_condsd"].to_numpy(float),
                    yerr=[y - t["post_lower"].to_numpy(float), t["post_upper"].to_numpy(float) - y],
                    fmt="o", ms=3, color=POST_COLOUR, ecolor="0.7", elinewidth=0.8)
        lim = [min(x.min(), y.min()), max(x.max(), y.max())]
        ax.plot(lim, lim, "--", color=ML_COLOUR, lw=1)
        ax.set_xlabel("ML conditional mode")
        ax.set_ylabel("posterior mean")
        ax.set_title(f"{term} | {grp}", fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def plot_varcorr(cmp: Any, path: Any = None) -> Any:
    """Posterior density of each SD, correlation and dispersion with the ML estimate marked."""
    from scipy.stats import gaussian_kde

    from ..naming import corr_var, pair_label, sd_var
    from .tables import _draws

    vc = cmp.varcorr
    n = len(vc)
    ncols = min(3, max(1, n))
    nrows = int(np.ceil(n / ncols)) if n else 1
    fig, axes = _figure(nrows, ncols, (4.0 * ncols, 3.0 * nrows))
    for ax, (_, row) in zip(axes.ravel(), vc.iterrows(), strict=False):
        if row["param"] == "sd":
            da = _draws(cmp.post, sd_var(row["grp"]))
            x = np.asarray(da.sel({da.dims[-1]: row["var1"]}).values).ravel()
        elif row["param"] == "corr":
            da = _draws(cmp.post, corr_var(row["grp"]))
            x = np.asarray(da.sel({da.dims[-1]: pair_label(row["var1"], row["var2"])}).values)
            x = x.ravel()
        else:
            x = np.asarray(_draws(cmp.post, row["param"]).values).ravel()
        if np.ptp(x) > 0:
            grid = np.linspace(x.min(), x.max(), 256)
            ax.fill_between(grid, gaussian_kde(x)(grid), color=POST_COLOUR, alpha=0.35,
                            label="posterior")
        ax.axvline(row["ml"], color=ML_COLOUR, lw=2, label="ML")
        if np.isfinite(row["ml_lower"]):
            ax.axvspan(row["ml_lower"], row["ml_upper"], color=ML_COLOUR, alpha=0.08)
        ax.set_title(_varcorr_label(row), fontsize=9)
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    if n:
        axes.ravel()[0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
