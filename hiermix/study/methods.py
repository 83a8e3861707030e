"""Estimation methods compared in a study: a fit (or posterior) and intervals, per replicate.

Names understood by :func:`resolve_method`::

    "reml-wald"     REML; Wald intervals (variance components on the log-SD, atanh-correlation
                    and log-sigma scales, transformed back: :mod:`hiermix.frequentist.wald`)
    "ml-wald"       the same from the maximum-likelihood fit
    "reml-profile"  REML; likelihood-profile intervals (``fit.confint(method="profile")``)
    "ml-profile"    ML; profile intervals
    "reml-boot"     REML; parametric-bootstrap percentile intervals (``fit.confint("boot")``)
    "bayes"         NUTS with the default priors; posterior mean and equal-tailed interval

Anything else is a :class:`Method` object: :func:`ml_method` and :func:`bayes_method` build them
(a named prior set, nAGQ, an interval level, the posterior median as the point estimate).
A method returns one row per parameter label with its estimate, interval and the fit's flags;
a fit that raises gives rows with missing values and the error's message, never no rows.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..design import Design
from ..errors import ModelError
from ..naming import cor_label, corr_pairs, sd_label, varcorr_label
from .labels import confint_labels, design_labels, dispersion_name

INTERVALS = ("wald", "profile", "boot", "posterior")
RHAT_OK = 1.01  # Vehtari et al. (2021): R-hat below 1.01 before trusting a posterior


@dataclass(frozen=True)
class Method:
    """How one replicate is estimated.

    Attributes
    ----------
    name : str
        The method's name in every table.
    engine : {"ml", "bayes"}
    REML : bool
        Linear mixed models fitted by the frequentist engine.
    interval : {"wald", "profile", "boot", "posterior"}
    level : float
        Interval level.
    nAGQ : int
        Quadrature points (GLMMs).
    priors : None, str or mapping
        Bayes: ``None``/``"default"``, ``"flat"`` or a mapping (see
        :func:`hiermix.bayes.priors.resolve_priors`).
    point : {"mean", "median"}
        Bayes: the posterior summary used as the estimate.
    sample_kwargs : dict
        Bayes: passed to :func:`hiermix.bayes.sample` (draws, tune, chains, sampler ...);
        without a sampler, :func:`study_sampler` chooses.
    nboot : int
        Bootstrap replicates per fit (``interval="boot"``).
    """

    name: str
    engine: str = "ml"
    REML: bool = True
    interval: str = "wald"
    level: float = 0.95
    nAGQ: int = 1
    priors: Any = None
    point: str = "mean"
    sample_kwargs: dict[str, Any] = field(default_factory=dict)
    nboot: int = 200

    def __post_init__(self) -> None:
        if self.engine not in ("ml", "bayes"):
            raise ModelError(f"method {self.name!r}: engine must be 'ml' or 'bayes'; "
                             f"got {self.engine!r}")
        if self.interval not in INTERVALS:
            raise ModelError(f"method {self.name!r}: interval must be one of {INTERVALS}; "
                             f"got {self.interval!r}")
        if (self.engine == "bayes") != (self.interval == "posterior"):
            raise ModelError(f"method {self.name!r}: Bayes methods have posterior intervals, "
                             "ML methods wald, profile or boot")
        if not 0 < self.level < 1:
            raise ModelError(f"method {self.name!r}: level must be in (0, 1); got {self.level}")
        if self.point not in ("mean", "median"):
            raise ModelError(f"method {self.name!r}: point must be 'mean' or 'median'")

    @property
    def needs_confint(self) -> bool:
        """True when the intervals come from ``fit.confint`` (profile, bootstrap)."""
        return self.interval in ("profile", "boot")

    def run(self, design: Design, seed: int) -> tuple[dict[str, tuple[float, float, float]],
                                                       dict[str, Any]]:
        """Estimate one replicate.

        Parameters
        ----------
        design : Design
            The template's design with this replicate's response.
        seed : int
            Seeds the sampler or the bootstrap.

        Returns
        -------
        (estimates, flags)
            Label -> (estimate, lower, upper); flags converged, singular, divergences,
            rhat_max, seconds, error (None, or the message of the exception the fit raised)
            and interval_error (the fit stands but ``confint`` raised: no intervals).
        """
        t0 = time.perf_counter()
        try:
            if self.engine == "bayes":
                est, flags = self._bayes(design, seed)
            else:
                est, flags = self._ml(design, seed)
            flags["error"] = None
        except Exception as err:  # a failed fit is a result of the study, counted and reported
            est = {k: (np.nan, np.nan, np.nan) for k in design_labels(design)}
            flags = {"converged": False, "singular": False, "divergences": 0,
                     "rhat_max": np.nan, "interval_error": None,
                     "error": f"{type(err).__name__}: {err}"}
        flags["seconds"] = time.perf_counter() - t0
        return est, flags

    # -- maximum likelihood ----------------------------------------------------------------
    def _ml(self, design: Design, seed: int) -> tuple[dict[str, tuple[float, float, float]],
                                                      dict[str, Any]]:
        from ..frequentist import ConvergenceWarning, fit

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            res = fit(design, REML=self.REML, nAGQ=self.nAGQ)
            interval_error: str | None = None
            point = _ml_point(res, design)
            if self.interval == "wald":
                ci = _wald(res, design, self.level)
            else:
                if not hasattr(res, "confint"):
                    raise ModelError(f"method {self.name!r} needs fit.confint(method="
                                     f"{self.interval!r}), which this hiermix lacks")
                kw: dict[str, Any] = ({"nsim": self.nboot, "seed": seed, "n_jobs": 1}
                                      if self.interval == "boot" else {})
                try:
                    table = res.confint(method=self.interval, level=self.level, **kw)
                except Exception as err:  # the fit stands; its intervals are missing
                    table, interval_error = None, f"{type(err).__name__}: {err}"
                names = confint_labels(design)
                ci = {} if table is None else {
                    names[str(k)]: (float(r["lower"]), float(r["upper"]))
                    for k, r in table.iterrows() if str(k) in names}
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        est = {k: (v, *ci.get(k, (np.nan, np.nan))) for k, v in point.items()}
        return est, {"converged": converged, "singular": bool(res.is_singular),
                     "divergences": 0, "rhat_max": np.nan, "interval_error": interval_error}

    # -- Bayes ------------------------------------------------------------------------------
    def _bayes(self, design: Design, seed: int) -> tuple[dict[str, tuple[float, float, float]],
                                                         dict[str, Any]]:
        import arviz_stats as azs

        from ..bayes import sample

        kw = {"draws": 1000, "tune": 1000, "chains": 2, **self.sample_kwargs}
        kw.setdefault("sampler", study_sampler(design))
        # lean: the study reads the parameters' draws and the divergences only (no b, no
        # pointwise log-likelihood, no log prior, no diagnostics: R-hat is computed below).
        post = sample(design, random_seed=seed, priors=self.priors, warn=False,
                      progressbar=False, lean=True, **kw)
        ds = post.posterior
        names = post.parameter_names(with_b=False)
        lo, hi = (1 - self.level) / 2, 1 - (1 - self.level) / 2
        est: dict[str, tuple[float, float, float]] = {}
        for _var, label, draws in _posterior_scalars(ds, names, design):
            flat = draws.ravel()
            centre = float(flat.mean() if self.point == "mean" else np.median(flat))
            est[label] = (centre, float(np.quantile(flat, lo)), float(np.quantile(flat, hi)))
        rhat = azs.rhat(ds[names])
        rhat_max = float(max(np.nanmax(np.asarray(rhat[v])) for v in names))
        divergences = int(post.record.n_divergent)
        return est, {"converged": bool(rhat_max < RHAT_OK), "singular": False,
                     "divergences": divergences, "rhat_max": rhat_max, "interval_error": None}


def study_sampler(design: Design) -> str | None:
    """The sampler a study's Bayes method uses unless its ``sample_kwargs`` name one:
    ``"nutpie-numba"`` where the model is compiled once per worker and only fed each
    replicate's data (b integrated out of one term with q <= 2:
    :func:`hiermix.bayes.marginal_small.applies`), so that a replicate after the first costs
    sampling only; elsewhere the default sampler (None)."""
    import importlib.util

    from ..bayes.marginal_small import applies

    if importlib.util.find_spec("nutpie") is None or not applies(design):
        return None
    return "nutpie-numba"


def _posterior_scalars(ds: Any, names: list[str], design: Design
                       ) -> list[tuple[str, str, np.ndarray]]:
    """(variable, label, draws (chain, draw)) for every scalar parameter of the posterior."""
    out = []
    beta = np.asarray(ds["beta"])
    for j, name in enumerate(design.fixef_names):
        out.append(("beta", name, beta[..., j]))
    for t in design.reterms:
        sd = np.asarray(ds[f"sd_{t.label}"])
        for j, c in enumerate(t.cnames):
            out.append((f"sd_{t.label}", sd_label(t.label, c), sd[..., j]))
        if t.q > 1:
            corr = np.asarray(ds[f"corr_{t.label}"])
            for k, (a, b) in enumerate(corr_pairs(list(t.cnames))):
                out.append((f"corr_{t.label}", cor_label(t.label, a, b), corr[..., k]))
    disp = dispersion_name(design)
    if disp and disp in names:
        out.append((disp, disp, np.asarray(ds[disp])))
    elif disp == "sigma" and "phi" in names:  # a gaussian GLMM samples phi = sigma^2
        out.append(("phi", "sigma", np.sqrt(np.asarray(ds["phi"]))))
    return out


def _ml_point(res: Any, design: Design) -> dict[str, float]:
    """Label -> estimate of a frequentist fit."""
    out = {str(k): float(v) for k, v in res.fixef.items()}
    for r in res.varcorr.itertuples(index=False):
        if r.grp == "Residual":
            continue
        out[varcorr_label(r.grp, r.var1, r.var2)] = float(r.sdcor)
    if dispersion_name(design) == "phi":
        out["phi"] = float(res.phi)
    elif dispersion_name(design) == "sigma":
        out["sigma"] = float(res.sigma)
    return {k: out[k] for k in design_labels(design) if k in out}


def _wald(res: Any, design: Design, level: float) -> dict[str, tuple[float, float]]:
    """Wald intervals by label: beta +- z se; variance components from
    ``varcorr_intervals`` (empty on the boundary)."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    out = {}
    se = res.fixef_se
    for k, v in res.fixef.items():
        out[str(k)] = (float(v - z * se[k]), float(v + z * se[k]))
    disp = dispersion_name(design) or "sigma"
    vc = res.varcorr_intervals(level)
    for r in vc.itertuples(index=False):
        label = varcorr_label(r.grp, r.var1, r.var2, dispersion=disp)
        out[label] = (float(r.ml_lower), float(r.ml_upper))
    return out


_NAMED = {
    "reml-wald": dict(REML=True, interval="wald"),
    "ml-wald": dict(REML=False, interval="wald"),
    "reml-profile": dict(REML=True, interval="profile"),
    "ml-profile": dict(REML=False, interval="profile"),
    "reml-boot": dict(REML=True, interval="boot"),
}


def ml_method(REML: bool = True, interval: str = "wald", level: float = 0.95, nAGQ: int = 1,
              nboot: int = 200, name: str | None = None) -> Method:
    """A frequentist method; named like ``reml-wald`` (with ``-agq<k>``, ``-<level>`` when
    they differ from the defaults) unless ``name`` is given."""
    auto = f"{'reml' if REML else 'ml'}-{interval}"
    auto += f"-agq{nAGQ}" if nAGQ != 1 else ""
    auto += f"-{level:g}" if level != 0.95 else ""
    return Method(name=name or auto, engine="ml", REML=REML, interval=interval, level=level,
                  nAGQ=nAGQ, nboot=nboot)


def bayes_method(priors: Any = None, level: float = 0.95, point: str = "mean",
                 name: str | None = None, **sample_kwargs: Any) -> Method:
    """A Bayesian method under ``priors`` (``"default"``, ``"flat"``, a mapping); named
    ``bayes`` or ``bayes-<priors>`` unless ``name`` is given. ``sample_kwargs`` go to
    :func:`hiermix.bayes.sample`."""
    if name is None:
        name = "bayes" if priors in (None, "default") else (
            f"bayes-{priors}" if isinstance(priors, str) else "bayes-custom")
        name += f"-{point}" if point != "mean" else ""
        name += f"-{level:g}" if level != 0.95 else ""
    return Method(name=name, engine="bayes", interval="posterior", level=level, priors=priors,
                  point=point, sample_kwargs=dict(sample_kwargs))


def resolve_method(method: str | Method, sample_kwargs: dict[str, Any] | None = None) -> Method:
    """A :class:`Method` from a name in the module docstring's list, or the object itself.
    ``sample_kwargs`` are the study's defaults for Bayes methods given by name."""
    if isinstance(method, Method):
        return method
    if not isinstance(method, str):
        raise ModelError(f"a method is a name or a Method object; got {method!r}")
    key = method.lower()
    if key in _NAMED:
        return Method(name=key, engine="ml", **_NAMED[key])  # type: ignore[arg-type]
    if key == "bayes":
        return bayes_method(**dict(sample_kwargs or {}))
    raise ModelError(f"unknown method {method!r}; use one of {[*_NAMED, 'bayes']} or a "
                     "Method object (ml_method, bayes_method)")
