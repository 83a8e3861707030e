"""``compare(fit, post)``: the maximum-likelihood fit and the posterior, joined on one naming.

Three tables, each a join on the names of :mod:`hiermix.naming`:

``fixef``
    index = coefficient names; ``ml``, ``ml_se``, ``ml_lower``, ``ml_upper`` (Wald, at ``ci``;
    column ``ml_interval`` says so),
    ``post_mean``, ``post_median``, ``post_sd``, ``post_lower``, ``post_upper`` (equal-tailed at
    ``ci``), ``mcse_mean`` (Monte Carlo standard error of ``post_mean``), ``rhat``,
    ``ess_bulk``, ``ess_tail`` (the tail ESS of the interval's two quantiles) and
    ``std_diff = (ml - post_mean) / post_sd``.
``varcorr``
    keyed by ``grp``, ``var1``, ``var2`` exactly as the frequentist ``varcorr``; ``param`` says
    what the row is (``sd``, ``corr``, ``sigma`` or ``phi``). ML intervals are, by
    ``ml_interval`` (column ``ml_interval``): ``"profile"`` (default) likelihood-profile
    intervals (:mod:`hiermix.inference.profile`; an SD on the boundary gets lower limit 0),
    ``"boot"`` parametric-bootstrap percentile intervals, or ``"wald"`` Wald intervals on the
    log-SD, atanh-correlation and log-dispersion scales from the Hessian of the ML objective,
    transformed back (so never below zero), left empty on the boundary. ``ml_se`` is always the
    Wald (delta-method) standard error; ``boundary`` flags estimates on the boundary of the
    parameter space (singular fits). The negative binomial's theta, which lme4's ``VarCorr``
    does not list, is a last row (``Residual``, ``phi``) as the dispersion of the other
    families is, with a Wald interval whatever ``ml_interval`` says. The posterior columns
    and ``std_diff`` are those of ``fixef``.
``ranef``
    long format (``grp``, ``level``, ``term``): conditional mode and conditional SD against
    posterior mean, SD and interval. ``ml_shrinkage = condsd^2 / sd^2`` and
    ``post_shrinkage = post_sd^2 / E[sd^2]`` are the fractions of the population variance that
    remain after seeing the group's data: 1 means fully shrunk to zero (no information), 0
    means no pooling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..errors import CompareError
from ..naming import RESIDUAL, b_var, corr_var, pair_label, sd_var

POST_COLUMNS = ["post_mean", "post_median", "post_sd", "post_lower", "post_upper", "mcse_mean",
                "rhat", "ess_bulk", "ess_tail"]


def _draws(post: Any, var: str) -> Any:
    posterior = post.datatree["posterior"]
    if var not in posterior:
        raise CompareError(f"the posterior has no variable {var!r}; was it sampled by hiermix?")
    return posterior[var]


def _post_stats(x: np.ndarray, ci: float) -> dict[str, float]:
    """Summaries of draws of shape (chain, draw)."""
    import arviz as az

    lo, hi = (1.0 - ci) / 2.0, 1.0 - (1.0 - ci) / 2.0
    flat = x.reshape(-1)
    out = {
        "post_mean": float(flat.mean()),
        "post_median": float(np.median(flat)),
        "post_sd": float(flat.std(ddof=1)),
        "post_lower": float(np.quantile(flat, lo)),
        "post_upper": float(np.quantile(flat, hi)),
    }
    if x.shape[0] * x.shape[1] >= 8 and np.ptp(flat) > 0:
        out["rhat"] = float(az.rhat(x))
        out["ess_bulk"] = float(az.ess(x))
        out["ess_tail"] = float(az.ess(x, method="tail", prob=(lo, hi)))
        out["mcse_mean"] = float(az.mcse(x))
    else:
        out.update(rhat=np.nan, ess_bulk=np.nan, ess_tail=np.nan, mcse_mean=np.nan)
    return out


def _kind(result: Any) -> str | None:
    """``"fit"`` for a frequentist result, ``"posterior"`` for a Bayesian one, else None.

    By their attributes, so that comparing does not import either engine."""
    if hasattr(result, "optsummary") and hasattr(result, "design"):
        return "fit"
    if hasattr(result, "datatree") and hasattr(result, "design"):
        return "posterior"
    return None


def _check_arguments(fit: Any, post: Any) -> None:
    """Refuse anything but (frequentist fit, posterior), naming what was given instead."""
    kf, kp = _kind(fit), _kind(post)
    if kf == "fit" and kp == "posterior":
        return
    given = f"got a {type(fit).__name__} and a {type(post).__name__}"
    if kf == "posterior" and kp == "fit":
        raise CompareError(f"compare(fit, post) takes the maximum-likelihood fit first and the "
                           f"posterior second; the two are swapped ({given}): call "
                           "compare(fit, post)")
    if kf == kp == "fit":
        raise CompareError(f"compare(fit, post) compares a maximum-likelihood fit with a "
                           f"posterior, not two fits ({given}); sample the posterior of the "
                           "same model with Model(...).sample()")
    if kf == kp == "posterior":
        raise CompareError(f"compare(fit, post) compares a maximum-likelihood fit with a "
                           f"posterior, not two posteriors ({given}); fit the model by "
                           "maximum likelihood with Model(...).fit()")
    if kf != "fit":
        raise CompareError(f"the first argument of compare(fit, post) must be a frequentist "
                           f"fit (Model.fit(), hiermix.lmer, hiermix.glmer); {given}")
    raise CompareError(f"the second argument of compare(fit, post) must be a posterior "
                       f"(Model.sample()); {given}")


def _check_same_model(fit: Any, post: Any) -> None:
    _check_arguments(fit, post)
    fd, pd_ = fit.design, post.design
    if fd.fingerprint != pd_.fingerprint:
        raise CompareError(
            "the fit and the posterior come from different models or data: "
            f"fit of {fd.spec} on {fd.nobs} rows vs posterior of {pd_.spec} on {pd_.nobs} rows "
            f"(design fingerprints {fd.fingerprint} and {pd_.fingerprint})")


def fixef_table(fit: Any, post: Any, ci: float) -> pd.DataFrame:
    """Fixed effects: ML with Wald intervals against posterior summaries."""
    z = ndtri(1.0 - (1.0 - ci) / 2.0)
    names = list(fit.design.fixef_names)
    ml = np.asarray(fit.fixef.loc[names], dtype=float)
    se = np.sqrt(np.diag(np.asarray(fit.vcov.loc[names, names], dtype=float)))
    beta = _draws(post, "beta")
    rows = []
    for j, name in enumerate(names):
        x = np.asarray(beta.sel({beta.dims[-1]: name}).values)
        rows.append({"ml": ml[j], "ml_se": se[j], "ml_lower": ml[j] - z * se[j],
                     "ml_upper": ml[j] + z * se[j], **_post_stats(x, ci)})
    out = pd.DataFrame(rows, index=pd.Index(names, name="coef"))
    out["std_diff"] = (out["ml"] - out["post_mean"]) / out["post_sd"]
    out["ml_interval"] = "wald"
    return out


def _residual_param(fit: Any) -> str | None:
    fam = fit.design.family
    if fam.name == "gaussian":
        return "sigma"
    if fam.has_dispersion:
        return "phi"
    return None


def varcorr_table(fit: Any, post: Any, ci: float, ml_interval: str = "wald",
                  intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Variance components keyed by (grp, var1, var2) as the frequentist ``varcorr``.

    ``intervals``: profile or bootstrap limits by lme4's names (``confint``), which replace
    the Wald limits; ``ml_interval`` names them.
    """
    keyed: dict[tuple[Any, Any, Any], tuple[float, float]] = {}
    if intervals is not None:
        from ..inference.bootstrap import layout_of

        lay = layout_of(fit)
        limits = dict(zip(intervals.index, intervals[["lower", "upper"]].to_numpy(dtype=float),
                          strict=True))
        for name, key in lay.varcorr_keys(fit.design).items():
            if name in limits:
                keyed[key] = (float(limits[name][0]), float(limits[name][1]))
    vc = fit.varcorr
    if hasattr(fit, "varcorr_intervals"):
        wald = fit.varcorr_intervals(ci)
    else:
        from ..frequentist.wald import varcorr_intervals

        wald = varcorr_intervals(fit, ci)
    rows = []
    for i in range(len(vc)):
        grp, var1, var2 = vc["grp"].iat[i], vc["var1"].iat[i], vc["var2"].iat[i]
        var1 = None if pd.isna(var1) else var1
        var2 = None if pd.isna(var2) else var2
        if grp == "Residual":
            param = _residual_param(fit)
            if param is None:
                continue
            x = np.asarray(_draws(post, param).values)
            ml = float(vc["vcov"].iat[i] if param == "phi" else vc["sdcor"].iat[i])
        elif var2 is None:
            param = "sd"
            da = _draws(post, sd_var(grp))
            x = np.asarray(da.sel({da.dims[-1]: var1}).values)
            ml = float(vc["sdcor"].iat[i])
        else:
            param = "corr"
            da = _draws(post, corr_var(grp))
            x = np.asarray(da.sel({da.dims[-1]: pair_label(str(var1), var2)}).values)
            ml = float(vc["sdcor"].iat[i])
        w = wald.iloc[i]
        lower, upper = keyed.get((grp, var1, var2), (w["ml_lower"], w["ml_upper"]))
        rows.append({"grp": grp, "var1": var1, "var2": var2, "param": param, "ml": ml,
                     "ml_se": w["ml_se"], "ml_lower": lower, "ml_upper": upper,
                     "boundary": bool(w["boundary"]), **_post_stats(x, ci)})
    if fit.design.family.has_dispersion and not fit.design.family.has_scale:
        # theta (the negative binomial): no varcorr row, a last row in the Wald intervals
        w = wald.iloc[len(vc)]
        rows.append({"grp": RESIDUAL, "var1": None, "var2": None, "param": "phi",
                     "ml": float(fit.phi), "ml_se": w["ml_se"], "ml_lower": w["ml_lower"],
                     "ml_upper": w["ml_upper"], "boundary": False,
                     **_post_stats(np.asarray(_draws(post, "phi").values), ci)})
    out = pd.DataFrame(rows)
    out["std_diff"] = (out["ml"] - out["post_mean"]) / out["post_sd"]
    out["ml_interval"] = ml_interval
    if fit.design.family.has_dispersion and not fit.design.family.has_scale:
        out.loc[out.index[-1], "ml_interval"] = "wald"
    return out


def ranef_table(fit: Any, post: Any, ci: float) -> pd.DataFrame:
    """Random effects per (grp, level, term): conditional modes against posterior draws."""
    lo, hi = (1.0 - ci) / 2.0, 1.0 - (1.0 - ci) / 2.0
    modes, condsd = fit.ranef, fit.ranef_condsd
    frames = []
    for t in fit.design.reterms:
        b = _draws(post, b_var(t.label))
        sd = _draws(post, sd_var(t.label))
        bx = np.asarray(b.values)  # (chain, draw, level, coef)
        flat = bx.reshape(-1, t.nlevels, t.q)
        sd2 = np.asarray(sd.values).reshape(-1, t.q) ** 2
        ml_sd = _ml_sd(fit, t.label)
        for j, cname in enumerate(t.cnames):
            mode = np.asarray(modes[t.group].loc[list(t.levels), cname], dtype=float)
            csd = np.asarray(condsd[t.group].loc[list(t.levels), cname], dtype=float)
            draws = flat[:, :, j]
            post_sd = draws.std(axis=0, ddof=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ml_shrink = np.where(ml_sd[j] > 0, csd**2 / ml_sd[j] ** 2, np.nan)
            frames.append(pd.DataFrame({
                "grp": t.group, "level": list(t.levels), "term": cname,
                "ml_mode": mode, "ml_condsd": csd,
                "post_mean": draws.mean(axis=0), "post_sd": post_sd,
                "post_lower": np.quantile(draws, lo, axis=0),
                "post_upper": np.quantile(draws, hi, axis=0),
                "ml_shrinkage": ml_shrink,
                "post_shrinkage": post_sd**2 / sd2[:, j].mean(),
            }))
    if not frames:
        return pd.DataFrame(columns=["grp", "level", "term", "ml_mode", "ml_condsd",
                                     "post_mean", "post_sd", "post_lower", "post_upper",
                                     "ml_shrinkage", "post_shrinkage"])
    return pd.concat(frames, ignore_index=True)


def varcorr_label(row: Any) -> str:
    """Reader's name of a ``varcorr`` row: ``SD(Days) | Subject``, ``corr(Intercept, Days) |
    Subject``, ``residual SD (sigma)`` or ``dispersion (phi)``."""
    if row["param"] == "corr":
        return f"corr({row['var1']}, {row['var2']}) | {row['grp']}"
    if row["param"] == "sigma":
        return "residual SD (sigma)"
    if row["param"] == "phi":
        return "dispersion (phi)"
    return f"SD({row['var1']}) | {row['grp']}"


def _ml_sd(fit: Any, label: str) -> np.ndarray:
    vc = fit.varcorr
    rows = vc[(vc["grp"] == label) & vc["var2"].isna()]
    return np.asarray(rows["sdcor"], dtype=float)


@dataclass(frozen=True, eq=False)
class Comparison:
    """The ML fit and the posterior side by side. Build with :func:`compare`.

    Attributes
    ----------
    fixef, varcorr, ranef : pandas.DataFrame
        See the module docstring for their columns.
    fit, post
        The two results compared.
    ci : float
        Interval level of every interval in the tables.
    """

    fixef: pd.DataFrame
    varcorr: pd.DataFrame
    ranef: pd.DataFrame
    fit: Any
    post: Any
    ci: float
    ml_interval: str = "wald"

    def plot_forest(self, path: Any = None) -> Any:
        """Forest plot of fixed effects and variance components; see :mod:`.plots`."""
        from .plots import plot_forest

        return plot_forest(self, path)

    def plot_ranef(self, path: Any = None) -> Any:
        """Conditional modes against posterior means per level (shrinkage); see :mod:`.plots`."""
        from .plots import plot_ranef

        return plot_ranef(self, path)

    def plot_varcorr(self, path: Any = None) -> Any:
        """Posterior densities of each SD and correlation with the ML estimate marked."""
        from .plots import plot_varcorr

        return plot_varcorr(self, path)

    def __repr__(self) -> str:
        return (f"<Comparison of {self.fit.design.spec}: {len(self.fixef)} fixed effects, "
                f"{len(self.varcorr)} variance components, {len(self.ranef)} random effects, "
                f"ci={self.ci}>")

    def _repr_html_(self) -> str:
        from .report import tables_html

        return tables_html(self)


#: Interval methods for the ML variance components in :func:`compare`.
ML_INTERVALS = ("profile", "wald", "boot")


def compare(fit: Any, post: Any, ci: float = 0.95, ml_interval: str = "profile",
            nsim: int = 1000, seed: Any = None) -> Comparison:
    """Compare a maximum-likelihood fit with a posterior of the same model.

    Parameters
    ----------
    fit
        A frequentist result (``Model.fit()``, ``hiermix.lmer``, ``hiermix.glmer``).
    post
        A Bayesian result (``Model.sample()``) of the same formula on the same data.
    ci : float
        Interval level for ML and posterior intervals (default 0.95; ArviZ's own default
        would be 0.89).
    ml_interval : {"profile", "wald", "boot"}
        ML intervals for the variance components: likelihood profile (default), Wald on the
        log / atanh scales, or parametric-bootstrap percentiles (``nsim`` replicates from
        ``seed``). Fixed effects keep their Wald intervals. The tables' ``ml_interval``
        column says which.

    Returns
    -------
    Comparison

    Raises
    ------
    CompareError
        Two fits, two posteriors, the two in the wrong order, results of different models or
        data, or a ``ci`` outside (0, 1).
    """
    if isinstance(ci, bool) or not isinstance(ci, int | float) or not 0.0 < ci < 1.0:
        raise CompareError(f"ci must be a number in (0, 1), not {ci!r}")
    if ml_interval not in ML_INTERVALS:
        raise CompareError(f"ml_interval must be one of {ML_INTERVALS}, not {ml_interval!r}")
    _check_same_model(fit, post)
    intervals = None
    if ml_interval != "wald":
        from ..inference import confint

        intervals = confint(fit, parm="theta_", level=ci, method=ml_interval, nsim=nsim,
                            seed=seed)
    return Comparison(fixef=fixef_table(fit, post, ci),
                      varcorr=varcorr_table(fit, post, ci, ml_interval, intervals),
                      ranef=ranef_table(fit, post, ci), fit=fit, post=post, ci=ci,
                      ml_interval=ml_interval)
