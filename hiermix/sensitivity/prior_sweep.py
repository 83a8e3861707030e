"""Prior sweeps: one model sampled under several named prior sets, beside the ML estimate.

``prior_sweep(model, {"default": None, "flat": "flat", "tight": {"sd": HalfNormal(1)}})``
samples the model once per prior set (:func:`hiermix.bayes.sample`; each set is resolved by
:func:`hiermix.bayes.resolve_priors`) and fits it once by maximum likelihood. Its table has one
row per parameter label (:mod:`hiermix.naming`) and source:

``source``
    ``"ML"`` or the name of the prior set.
``estimate``, ``lower``, ``upper``
    ML: the estimate and its profile-likelihood interval (``fit.confint(method="profile")``
    where the fit has one) or else its Wald interval (fixed effects: estimate +- z se; SDs,
    correlations and sigma or phi: on the log, atanh and log scales, transformed back; empty
    on the boundary). Posterior: the mean and the equal-tailed interval at ``ci``.
``interval``
    ``"profile"``, ``"wald"`` or ``"eti"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..errors import HiermixError, ModelError
from ..naming import lme4_name, varcorr_label
from .power_scaling import parameter_cells

ML = "ML"
COLUMNS = ["param", "source", "estimate", "lower", "upper", "interval"]


@dataclass(frozen=True, eq=False)
class PriorSweep:
    """The result of :func:`prior_sweep`.

    Attributes
    ----------
    table : DataFrame
        Long format, columns ``param, source, estimate, lower, upper, interval`` (module
        docstring); ML rows first, then each prior set in the order given.
    posteriors : dict of str -> BayesResult
    fit : LmerResult or GlmerResult
    ci : float
    """

    table: pd.DataFrame
    posteriors: dict[str, Any] = field(repr=False)
    fit: Any = field(repr=False)
    ci: float = 0.95

    def wide(self, column: str = "estimate") -> pd.DataFrame:
        """One row per parameter, one column per source (``column`` of :attr:`table`)."""
        out = self.table.pivot(index="param", columns="source", values=column)
        params = list(dict.fromkeys(self.table["param"]))
        sources = list(dict.fromkeys(self.table["source"]))
        return out.loc[params, sources]

    def plot(self, path: str | Path | None = None, ncols: int = 3) -> Any:
        """Forest plot: one panel per parameter, one line per source (ML first), each with
        its interval; saved to ``path`` (PNG or SVG) when given. Returns the figure."""
        return plot_sweep(self.table, self.ci, path=path, ncols=ncols)

    def __repr__(self) -> str:
        return (f"<PriorSweep {', '.join(self.posteriors)} | "
                f"{self.table['param'].nunique()} parameters>")


def _wald_rows(fit: Any, ci: float) -> dict[str, tuple[float, float, float]]:
    z = float(ndtri(0.5 + ci / 2.0))
    out: dict[str, tuple[float, float, float]] = {}
    for name, est, se in zip(fit.design.fixef_names, fit.fixef, fit.fixef_se, strict=True):
        out[name] = (float(est), float(est - z * se), float(est + z * se))
    disp = "sigma" if fit.design.family.is_lmm else "phi"
    vc = fit.varcorr_intervals(ci)
    for _, r in vc.iterrows():
        v2 = r["var2"] if isinstance(r["var2"], str) else None
        v1 = r["var1"] if isinstance(r["var1"], str) else None
        lab = varcorr_label(str(r["grp"]), v1, v2, dispersion=disp)
        out[lab] = (float(r["ml"]), float(r["ml_lower"]), float(r["ml_upper"]))
    return out


def _lme4_names(fit: Any) -> dict[str, str]:
    """Parameter label -> lme4's ``confint(oldNames = FALSE)`` row name."""
    d = fit.design
    out = {c: lme4_name(c) for c in d.fixef_names}
    for t in d.reterms:
        for c in t.cnames:
            out[f"sd({c}|{t.label})"] = f"sd_{lme4_name(c)}|{t.label}"
        for i in range(t.q):
            for j in range(i):
                a, b = t.cnames[j], t.cnames[i]
                out[f"cor({a},{b}|{t.label})"] = f"cor_{lme4_name(b)}.{lme4_name(a)}|{t.label}"
    out["sigma"] = "sigma"
    return out


def ml_rows(fit: Any, ci: float, interval: str = "profile") -> pd.DataFrame:
    """The ML rows of the table: estimates with profile (where the fit offers
    ``confint(method="profile")``) or Wald intervals."""
    if interval not in ("profile", "wald"):
        raise ModelError(f"interval must be 'profile' or 'wald'; got {interval!r}")
    wald = _wald_rows(fit, ci)
    prof: pd.DataFrame | None = None
    if interval == "profile" and hasattr(fit, "confint"):
        try:
            prof = fit.confint(method="profile", level=ci)
        except HiermixError:
            prof = None  # the profile could not be traced: Wald intervals below say so
    names = _lme4_names(fit)
    rows = []
    for lab, (est, lo, hi) in wald.items():
        kind = "wald"
        key = names.get(lab, "")
        if prof is not None and key in prof.index:
            lo, hi = (float(v) for v in prof.loc[key, ["lower", "upper"]].to_numpy())
            kind = "profile"
        rows.append({"param": lab, "source": ML, "estimate": est, "lower": lo, "upper": hi,
                     "interval": kind})
    return pd.DataFrame(rows, columns=COLUMNS)


def posterior_rows(post: Any, source: str, ci: float) -> pd.DataFrame:
    """Posterior mean and equal-tailed interval of every parameter label."""
    lo, hi = (1.0 - ci) / 2.0, 1.0 - (1.0 - ci) / 2.0
    pos = post.posterior
    rows = []
    for var, sel, lab in parameter_cells(post):
        x = np.asarray(pos[var].sel(sel), dtype=float).ravel()
        rows.append({"param": lab, "source": source, "estimate": float(x.mean()),
                     "lower": float(np.quantile(x, lo)), "upper": float(np.quantile(x, hi)),
                     "interval": "eti"})
    return pd.DataFrame(rows, columns=COLUMNS)


def prior_sweep(model: Any, prior_sets: Mapping[str, Any], draws: int = 1000, tune: int = 1000,
                chains: int = 4, random_seed: int | None = None, ci: float = 0.95,
                fit: Any = None, interval: str = "profile", **sample_kwargs: Any) -> PriorSweep:
    """Sample ``model`` under each named prior set and tabulate every parameter beside the ML
    estimate.

    Parameters
    ----------
    model : hiermix.Model
    prior_sets : mapping of str -> None, "default", "flat", mapping or Priors
        Named prior sets, e.g. ``{"default": None, "flat": "flat", "weak": {...},
        "tight": {...}}`` (see :func:`hiermix.bayes.resolve_priors`).
    draws, tune, chains, random_seed
        Passed to :func:`hiermix.bayes.sample` for every set (one seed for all: the sets
        differ only in their priors).
    ci : float
        Interval level.
    fit : LmerResult or GlmerResult or None
        The ML fit; ``model.fit()`` (REML for LMMs, as lme4) when None.
    interval : {"profile", "wald"}
        ML intervals: profile where the fit has ``confint(method="profile")``, else Wald.
    **sample_kwargs
        Further arguments of :func:`hiermix.bayes.sample` (``sampler``, ``marginal`` ...).

    Returns
    -------
    PriorSweep

    Raises
    ------
    ModelError
        No prior sets, a name that is not text, or a bad ``ci``.
    """
    if not prior_sets:
        raise ModelError("prior_sweep needs at least one named prior set")
    bad = [k for k in prior_sets if not isinstance(k, str) or not k or k == ML]
    if bad:
        raise ModelError(f"prior set names must be non-empty text other than {ML!r}; got {bad}")
    if not 0 < ci < 1:
        raise ModelError(f"ci must lie in (0, 1); got {ci!r}")
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0])
    # Resolve every set before sampling any, so that a typo fails before minutes of NUTS.
    for name, pri in prior_sets.items():
        try:
            model.priors(pri)
        except ModelError as err:
            raise ModelError(f"prior set {name!r}: {err}") from None
    fit = model.fit() if fit is None else fit
    parts = [ml_rows(fit, ci, interval)]
    posteriors: dict[str, Any] = {}
    for name, pri in prior_sets.items():
        post = model.sample(draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                            priors=pri, **sample_kwargs)
        posteriors[name] = post
        parts.append(posterior_rows(post, name, ci))
    table = pd.concat(parts, ignore_index=True)
    # ML rows follow the posterior's parameter order.
    order = {p: i for i, p in enumerate(parts[-1]["param"])}
    table["_order"] = table["param"].map(order).fillna(len(order))
    table = table.sort_values(["_order"], kind="stable").drop(columns="_order")
    return PriorSweep(table=table.reset_index(drop=True), posteriors=posteriors, fit=fit, ci=ci)


def plot_sweep(table: pd.DataFrame, ci: float, path: str | Path | None = None,
               ncols: int = 3) -> Any:
    """The forest plot of :meth:`PriorSweep.plot`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    params = list(dict.fromkeys(table["param"]))
    sources = list(dict.fromkeys(table["source"]))
    ncols = max(1, min(ncols, len(params)))
    nrows = int(np.ceil(len(params) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 0.35 * len(sources) * nrows
                                                     + 1.2 * nrows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for k, p in enumerate(params):
        ax = axes[k // ncols][k % ncols]
        sub = table[table["param"] == p].set_index("source")
        for i, s in enumerate(sources):
            if s not in sub.index:
                continue
            r = sub.loc[s]
            y = len(sources) - 1 - i
            c = colours(i % 10)
            ax.hlines(y, r["lower"], r["upper"], color=c, lw=2.2)
            ax.plot([r["estimate"]], [y], "o" if s == ML else "s", color=c)
        ax.set_yticks(range(len(sources)))
        ax.set_yticklabels(list(reversed(sources)), fontsize=8)
        ax.set_title(p, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.6, len(sources) - 0.4)
    for k in range(len(params), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(f"Estimates and {ci:.0%} intervals: ML and each prior set", fontsize=10)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


__all__ = ["ML", "PriorSweep", "ml_rows", "plot_sweep", "posterior_rows", "prior_sweep"]
