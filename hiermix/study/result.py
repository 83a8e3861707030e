"""``StudyResult``: the estimates of a simulation study and what they say about each method."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .performance import performance_table


@dataclass(frozen=True, eq=False)
class StudyResult:
    """The outcome of :func:`hiermix.simulation_study`. Immutable.

    Attributes
    ----------
    estimates : DataFrame
        The long table, one row per (condition, rep, method, param): the condition columns,
        cond, rep, method, param, truth, estimate, lower, upper, and the fit's flags
        converged, singular, divergences, rhat_max, seconds, error (None when the fit ran),
        interval_error (None unless the fit ran but its intervals could not be computed).
    conditions : tuple of str
        Names of the condition columns (empty for a single design).
    methods : tuple of str
    formula : str
    seed : int
    nsim : int
    family : str
    """

    estimates: pd.DataFrame
    conditions: tuple[str, ...]
    methods: tuple[str, ...]
    formula: str
    seed: int
    nsim: int
    family: str

    @cached_property
    def performance(self) -> pd.DataFrame:
        """One row per (condition, method, param): see :mod:`hiermix.study.performance`."""
        return performance_table(self.estimates, by=list(self.conditions))

    @cached_property
    def fits(self) -> pd.DataFrame:
        """Per (condition, method): replicates, failed fits, fits without intervals, and fits
        flagged as not converged, singular or with divergent transitions. Nothing is dropped:
        failed fits have no estimate and show here; flagged fits stay in every measure."""
        keys = [*self.conditions, "method"]
        one = self.estimates.drop_duplicates([*keys, "cond", "rep"]) if "cond" in \
            self.estimates else self.estimates.drop_duplicates([*keys, "rep"])
        failed = one["error"].notna()
        return (one.assign(failed=failed, no_interval=one["interval_error"].notna(),
                           not_converged=~failed & ~one["converged"].astype(bool),
                           singular=~failed & one["singular"].astype(bool),
                           divergent=~failed & (one["divergences"] > 0))
                .groupby(keys, sort=False)
                .agg(replicates=("rep", "size"), failed=("failed", "sum"),
                     no_interval=("no_interval", "sum"),
                     not_converged=("not_converged", "sum"), singular=("singular", "sum"),
                     divergent=("divergent", "sum"), seconds=("seconds", "mean"))
                .reset_index())

    def summary(self, digits: int = 3) -> str:
        """A text summary: the study, the fits' flags, and bias and coverage with MCSEs."""
        perf = self.performance
        lines = [f"Simulation study: {self.formula} ({self.family}), {self.nsim} replicates "
                 f"per condition, seed {self.seed}",
                 f"methods: {', '.join(self.methods)}"]
        if self.conditions:
            lines.append(f"conditions: {', '.join(self.conditions)} "
                         f"({self.estimates['cond'].nunique()} cells)")
        lines += ["", "fits (failed fits have no estimate; flagged fits are kept):",
                  self.fits.to_string(index=False), ""]
        cols = [*self.conditions, "method", "param", "truth", "n_ok", "bias", "bias_mcse",
                "rel_bias", "emp_se", "rmse", "coverage", "coverage_mcse", "mean_width",
                "median_width"]
        lines += ["performance (Monte Carlo standard errors as in Morris, White & Crowther "
                  "2019):", perf[cols].round(digits).to_string(index=False)]
        errors = self.estimates["error"].dropna().unique()
        if len(errors):
            lines += ["", f"{len(errors)} distinct error(s), e.g. {errors[0]}"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"StudyResult({self.formula!r}, nsim={self.nsim}, methods={list(self.methods)}, "
                f"{self.estimates['cond'].nunique()} condition(s))")

    def plot(self, params: Any = None, **kwargs: Any) -> Any:
        """Coverage and bias per method with Monte Carlo error bars; see
        :func:`hiermix.study.plots.plot_performance`."""
        from .plots import plot_performance

        return plot_performance(self, params=params, **kwargs)

    def zip_plot(self, param: str, **kwargs: Any) -> Any:
        """Morris et al.'s zip plot of the intervals for one parameter; see
        :func:`hiermix.study.plots.zip_plot`."""
        from .plots import zip_plot

        return zip_plot(self, param, **kwargs)

    def to_dataset(self) -> Any:
        """The estimates as an ``xarray.Dataset`` with dims (cond, rep, method, param)."""

        est = self.estimates
        idx = ["cond", "rep", "method", "param"]
        values = ["estimate", "lower", "upper"]
        ds = est.set_index(idx)[values].to_xarray()
        flags = est.drop_duplicates(["cond", "rep", "method"]).set_index(["cond", "rep", "method"])
        for f in ("converged", "singular"):
            ds[f] = flags[f].astype(np.int8).to_xarray()
        ds["divergences"] = flags["divergences"].astype(np.int64).to_xarray()
        ds["rhat_max"] = flags["rhat_max"].astype(float).to_xarray()
        ds["failed"] = flags["error"].notna().astype(np.int8).to_xarray()
        truth = est.drop_duplicates(["cond", "param"]).set_index(["cond", "param"])["truth"]
        ds["truth"] = truth.to_xarray()
        conds = est.drop_duplicates("cond").set_index("cond")
        for name in self.conditions:
            ds = ds.assign_coords({name: ("cond", conds[name].to_numpy())})
        ds.attrs.update(formula=self.formula, seed=self.seed, nsim=self.nsim,
                        family=self.family, methods=",".join(self.methods))
        return ds

    def to_netcdf(self, path: Any) -> None:
        """Write :meth:`to_dataset` as netCDF (scipy's writer, netCDF3: no extra package)."""
        ds = self.to_dataset()
        for k in ("method", "param"):
            ds[k] = ds[k].astype(str)
        ds.to_netcdf(path, engine="scipy")

    def to_zarr(self, path: Any) -> None:
        """Write :meth:`to_dataset` as a Zarr store (a new directory)."""
        ds = self.to_dataset()
        for k in ("method", "param"):
            ds[k] = ds[k].astype(str)
        ds.to_zarr(path, mode="w-", consolidated=False)
