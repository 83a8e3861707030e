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

from .tables import _draws, varcorr_label

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


def _forest_row(ax: Any, label: str, row: Any) -> None:
    """One parameter on its own x-axis: ML (Wald) above, posterior (mean, ETI) below."""
    ax.hlines(0.6, row["ml_lower"], row["ml_upper"], color=ML_COLOUR, lw=2.5)
    ax.plot([row["ml"]], [0.6], "o", color=ML_COLOUR)
    ax.hlines(0.2, row["post_lower"], row["post_upper"], color=POST_COLOUR, lw=2.5)
    ax.plot([row["post_mean"]], [0.2], "s", color=POST_COLOUR)
    if "param" in row.index:
        ax.plot([row["post_median"]], [0.2], "|", color="black", ms=11, mew=1.5)
    if bool(row.get("boundary", False)):
        note = "" if pd.notna(row["ml_lower"]) else ": no Wald interval"
        ax.annotate("ML on the boundary" + note, (row["ml"], 0.6), xytext=(6, 2),
                    textcoords="offset points", fontsize=7, color=ML_COLOUR)
    ax.set_ylim(-0.1, 0.9)
    ax.set_yticks([0.4])
    ax.set_yticklabels([label])
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)


def _forest_legend(fig: Any, ci: float, medians: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=ML_COLOUR, marker="o", lw=2.5,
                      label=f"ML estimate and {ci:.0%} Wald interval"),
               Line2D([], [], color=POST_COLOUR, marker="s", lw=2.5,
                      label=f"posterior mean and {ci:.0%} equal-tailed interval")]
    if medians:
        handles.append(Line2D([], [], color="black", marker="|", ms=11, mew=1.5, lw=0,
                              label="posterior median (SDs, correlations)"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.995),
               ncol=1 if medians else 2, fontsize=8, frameon=False)


def plot_forest(cmp: Any, path: Any = None) -> Any:
    """Fixed effects and variance components: ML interval beside the posterior interval.

    Each parameter has its own x-axis, so coefficients and SDs on different scales stay
    readable; groups (fixed effects, SDs, correlations) are titled. The posterior is marked at
    its mean, the summary the tables use (``post_mean``, ``std_diff``); variance components
    also carry a tick at the median, since their posteriors are skewed.
    """
    vc = cmp.varcorr
    groups = [("fixed effects", [(str(n), r) for n, r in cmp.fixef.iterrows()])]
    sds = vc[vc["param"].isin(["sd", "sigma", "phi"])]
    if len(sds):
        groups.append(("standard deviations and dispersion",
                       [(varcorr_label(r), r) for _, r in sds.iterrows()]))
    cors = vc[vc["param"] == "corr"]
    if len(cors):
        groups.append(("correlations", [(varcorr_label(r), r) for _, r in cors.iterrows()]))
    n = sum(len(rows) for _, rows in groups)
    legend_h = 0.75 if len(vc) else 0.45
    height = 0.62 * n + 0.5 * len(groups) + 0.6 + legend_h
    fig, axes = _figure(n, 1, (8.0, height))
    i = 0
    for title, rows in groups:
        for j, (label, row) in enumerate(rows):
            ax = axes[i, 0]
            _forest_row(ax, label, row)
            if j == 0:
                ax.set_title(title, fontsize=10, loc="left")
            i += 1
    _forest_legend(fig, cmp.ci, medians=len(vc) > 0)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - legend_h / height))
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
        ax.errorbar(x, y, xerr=z * t["ml_condsd"].to_numpy(float), fmt="none", ecolor=ML_COLOUR,
                    alpha=0.45, elinewidth=0.9,
                    label=f"ML mode \u00b1 {z:.2f} conditional SD (horizontal)")
        ax.errorbar(x, y, yerr=[y - t["post_lower"].to_numpy(float),
                                t["post_upper"].to_numpy(float) - y],
                    fmt="o", ms=3, color=POST_COLOUR, ecolor=POST_COLOUR, alpha=0.8,
                    elinewidth=0.9, label=f"posterior mean, {cmp.ci:.0%} interval (vertical)")
        lim = [min(x.min(), y.min()), max(x.max(), y.max())]
        ax.plot(lim, lim, "--", color="0.4", lw=1, label="equal (y = x)")
        ax.set_xlabel("ML conditional mode")
        ax.set_ylabel("posterior mean")
        ax.set_title(f"{term} | {grp}", fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    if keys:
        axes.ravel()[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def _prior_density(prior: Any, j: int, q: int, grid: np.ndarray) -> np.ndarray | None:
    """Density of a variance-component prior on ``grid``; None for a prior not drawn here.

    ``j`` picks the column's scale from per-column scales; ``q`` is the dimension of an LKJ
    prior, whose marginal for one correlation r is Beta(a, a) on (-1, 1) with
    a = eta - 1 + q / 2 (Lewandowski, Kurowicka and Joe 2009).
    """
    from scipy import stats

    from ..bayes.priors import LKJ, Exponential, HalfNormal, HalfStudentT

    def pick(v: Any) -> float:
        a = np.ravel(np.asarray(v, dtype=float))
        return float(a[j] if a.size > 1 else a[0])

    x = np.asarray(grid, dtype=float)
    if isinstance(prior, HalfNormal):
        return np.where(x >= 0, 2.0 * stats.norm.pdf(x, scale=pick(prior.sigma)), 0.0)
    if isinstance(prior, HalfStudentT):
        s = pick(prior.sigma)
        return np.where(x >= 0, 2.0 * stats.t.pdf(x / s, pick(prior.nu)) / s, 0.0)
    if isinstance(prior, Exponential):
        return stats.expon.pdf(x, scale=1.0 / pick(prior.lam))
    if isinstance(prior, LKJ):
        a = float(prior.eta) - 1.0 + q / 2.0
        return stats.beta.pdf((x + 1.0) / 2.0, a, a) / 2.0
    return None


def _row_prior(cmp: Any, row: Any) -> tuple[Any, int, int]:
    priors = getattr(cmp.post, "priors", None)
    if priors is None:
        return None, 0, 1
    if row["param"] in ("sigma", "phi"):
        return getattr(priors, row["param"], None), 0, 1
    term = next((t for t in cmp.fit.design.reterms if t.label == row["grp"]), None)
    if term is None:
        return None, 0, 1
    if row["param"] == "sd":
        return priors.sd.get(row["grp"]), list(term.cnames).index(row["var1"]), term.q
    return priors.corr.get(row["grp"]), 0, term.q


def _row_draws(cmp: Any, row: Any) -> np.ndarray:
    from ..naming import corr_var, pair_label, sd_var

    if row["param"] == "sd":
        da = _draws(cmp.post, sd_var(row["grp"]))
        return np.asarray(da.sel({da.dims[-1]: row["var1"]}).values).ravel()
    if row["param"] == "corr":
        da = _draws(cmp.post, corr_var(row["grp"]))
        return np.asarray(da.sel({da.dims[-1]: pair_label(row["var1"], row["var2"])}).values
                          ).ravel()
    return np.asarray(_draws(cmp.post, row["param"]).values).ravel()


def plot_varcorr(cmp: Any, path: Any = None) -> Any:
    """Posterior density of each SD, correlation and dispersion against its prior and ML.

    Each panel: the posterior density (kernel estimate) with its mean marked, the prior
    density (dashed) over the same range, the ML estimate (solid line) and the ML Wald
    interval (shaded band).
    """
    from scipy.stats import gaussian_kde

    vc = cmp.varcorr
    n = len(vc)
    ncols = min(2, max(1, n))
    nrows = int(np.ceil(n / ncols)) if n else 1
    fig, axes = _figure(nrows, ncols, (4.2 * ncols, 3.0 * nrows + 0.6))
    for ax, (_, row) in zip(axes.ravel(), vc.iterrows(), strict=False):
        x = _row_draws(cmp, row)
        lo, hi = float(x.min()), float(x.max())
        if np.isfinite(row["ml_lower"]):
            lo, hi = min(lo, float(row["ml_lower"])), max(hi, float(row["ml_upper"]))
        lo, hi = min(lo, float(row["ml"])), max(hi, float(row["ml"]))
        if row["param"] == "corr":
            lo, hi = max(lo, -1.0), min(hi, 1.0)
        else:
            lo = max(lo, 0.0)
        grid = np.linspace(lo, hi, 256)
        if np.ptp(x) > 0:
            ax.fill_between(grid, gaussian_kde(x)(grid), color=POST_COLOUR, alpha=0.35,
                            label="posterior density")
        ax.axvline(float(row["post_mean"]), color=POST_COLOUR, lw=1.5, ls=":",
                   label="posterior mean")
        prior, j, q = _row_prior(cmp, row)
        dens = _prior_density(prior, j, q, grid) if prior is not None else None
        if dens is not None:
            ax.plot(grid, dens, "--", color="0.3", lw=1.2, label="prior density")
        ax.axvline(row["ml"], color=ML_COLOUR, lw=2, label="ML estimate")
        if np.isfinite(row["ml_lower"]):
            ax.axvspan(row["ml_lower"], row["ml_upper"], color=ML_COLOUR, alpha=0.10,
                       label=f"ML {cmp.ci:.0%} Wald interval")
        ax.set_title(varcorr_label(row), fontsize=9)
        ax.set_ylim(bottom=0.0)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=8)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    legend_h = 0.0
    if n:
        handles, labels = [], []
        for ax in axes.ravel()[:n]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 0.995))
        legend_h = 0.6
    height = 3.0 * nrows + 0.6
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - legend_h / height))
    return _save(fig, path)
