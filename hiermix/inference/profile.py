"""Likelihood profiles and profile confidence intervals (lme4's ``profile`` and
``confint(method = "profile")``).

For parameter i with estimate v-hat_i, the profile is

    zeta_i(x) = sign(x - v-hat_i) sqrt(d_i(x) - d(v-hat)),

d_i(x) the deviance minimised over every other parameter with v_i = x
(:mod:`hiermix.inference.devfun`). zeta is close to linear in x where the likelihood is close
to quadratic, so its shape shows how far a Wald interval can be trusted. The 100 (1 - alpha)%
profile interval is {x: |zeta_i(x)| <= z_{1 - alpha/2}}.

lme4 evaluates zeta on a grid and inverts an interpolating spline; hiermix finds each limit by
root-finding on zeta itself (secant steps until the root is bracketed, then Brent's method), so
the limits are exact to the optimiser's tolerance. The limit at a bound of the parameter space
(an SD at 0, a correlation at +-1) is that bound when zeta does not reach the critical value
before it; an SD estimated at 0 (a singular fit) has lower limit 0, as in lme4.

:func:`profile` walks each zeta out to lme4's cut-off, sqrt(chi^2_{0.99, k}) for k parameters,
in steps of an eighth of it (lme4's ``delta.cutoff``), for the plot and the trace table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .devfun import Devfun, devfun_for

#: lme4's defaults: the walk stops past sqrt(qchisq(1 - ALPHAMAX, k)), in steps of
#: DELTA_CUTOFF times that, with at most MAXPTS points a side.
ALPHAMAX = 0.01
DELTA_CUTOFF = 1 / 8
MAXPTS = 100
#: A step of the walk or the search is at most this multiple of the previous one (lme4's
#: ``maxmult``).
MAXMULT = 10.0
#: Relative tolerance of a limit, in units of the parameter's scale.
XTOL = 1e-7


class Profiler:
    """Evaluates zeta for one fit, remembering every point (value, zeta, all parameters).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    """

    def __init__(self, fit: Any) -> None:
        self.dev: Devfun = devfun_for(fit)
        self.layout = self.dev.layout
        self.estimate = self.dev.estimate
        self.points: dict[int, list[tuple[float, float, np.ndarray]]] = {}

    def zeta(self, i: int, x: float) -> float:
        """zeta_i(x), starting the optimisation from the nearest point already profiled."""
        pts = self.points.setdefault(i, [])
        start = self.estimate
        if pts:
            near = min(pts, key=lambda p: abs(p[0] - x))
            if abs(near[0] - x) < abs(self.estimate[i] - x) and np.all(np.isfinite(near[2])):
                start = near[2]
        z, pars = self.dev.zeta(i, float(x), start)
        pts.append((float(x), z, pars))
        return z

    def _first_step(self, i: int) -> float:
        if self.layout.kinds[i] == "beta":
            return float(self.dev.scale[i])  # one standard error
        est = self.estimate[i]
        return 0.01 * abs(est) if est != 0 else 1e-3

    def limit(self, i: int, side: int, z: float) -> float:
        """The value where zeta_i reaches side * z (side = -1 or +1), or the bound."""
        lay = self.layout
        est = float(self.estimate[i])
        bound = float(lay.lower[i] if side < 0 else lay.upper[i])
        if side * (bound - est) <= 0:
            return bound
        target = side * z
        scale = float(self.dev.scale[i])
        xtol = XTOL * max(scale, abs(est))
        # what is already known on this side: (x, zeta), nearest the estimate first
        known = sorted([(x, zz) for x, zz, _ in self.points.get(i, [])
                        if side * (x - est) > 0 and np.isfinite(zz)],
                       key=lambda p: side * (p[0] - est))
        inside = [(est, 0.0)] + [p for p in known if side * p[1] < z]
        outside = [p for p in known if side * p[1] >= z]
        a: tuple[float, float] = inside[-1]
        b: tuple[float, float] | None = outside[0] if outside else None
        if b is None:
            if len(inside) > 1:
                prev = inside[-2]
            else:
                x = est + side * self._first_step(i)
                if lay.kinds[i] == "beta":
                    x = est + side * z * self._first_step(i)
                x = float(np.clip(x, lay.lower[i], lay.upper[i]))
                zz = self.zeta(i, x)
                prev, a = a, (x, zz)
            for _ in range(60):
                if side * a[1] >= z:
                    b, a = a, prev
                    break
                if a[0] == bound:
                    return bound
                dz = a[1] - prev[1]
                dx = a[0] - prev[0]
                if not np.isfinite(a[1]) or dz * side <= 0:
                    step = 2.0 * dx
                else:
                    step = (target - a[1]) * dx / dz * 1.02  # aim just past the root
                    step = side * min(abs(step), MAXMULT * abs(dx))
                x = float(np.clip(a[0] + step, lay.lower[i], lay.upper[i]))
                zz = self.zeta(i, x)
                if not np.isfinite(zz):
                    x = 0.5 * (a[0] + x)
                    zz = self.zeta(i, x)
                prev, a = a, (x, zz)
            if b is None:
                return float("nan")
        return self._root(i, a, b, bound, side, z, xtol)

    def _root(self, i: int, a: tuple[float, float], b: tuple[float, float], bound: float,
              side: int, z: float, xtol: float) -> float:
        """Brent's method on zeta_i - side z between a (inside) and b (at or past it)."""
        target = side * z
        if b[0] == bound and side * b[1] <= z:
            return bound
        known = {a[0]: a[1], b[0]: b[1]}

        def f(x: float) -> float:
            # zeta_i(x) is an inner optimum, good to the optimiser's tolerance and dependent
            # on its starting point; re-evaluated at the bracket's ends it can land on the
            # other side of the target when the root lies within that noise (a flat GLMM
            # optimum), and Brent's method then refuses the bracket. The ends keep the
            # values that made them a bracket.
            return (known[x] if x in known else self.zeta(i, x)) - target

        return float(optimize.brentq(f, a[0], b[0], xtol=xtol, rtol=4 * np.finfo(float).eps))

    def walk(self, i: int, cutoff: float, delta: float) -> None:
        """lme4's profile grid for parameter i: steps of about ``delta`` in zeta out to
        ``cutoff`` on both sides, or to the bound."""
        lay = self.layout
        est = float(self.estimate[i])
        for side in (-1, 1):
            bound = float(lay.lower[i] if side < 0 else lay.upper[i])
            if side * (bound - est) <= 0:
                continue
            prev = (est, 0.0)
            x = float(np.clip(est + side * self._first_step(i) * (
                delta if lay.kinds[i] == "beta" else 1.0), lay.lower[i], lay.upper[i]))
            cur = (x, self.zeta(i, x))
            for _ in range(MAXPTS):
                if not np.isfinite(cur[1]) or abs(cur[1]) > cutoff or cur[0] == bound:
                    break
                dx, dz = cur[0] - prev[0], cur[1] - prev[1]
                step = delta * dx / dz if dz * side > 0 else dx
                step = side * min(abs(step), MAXMULT * abs(dx))
                x = float(np.clip(cur[0] + step, lay.lower[i], lay.upper[i]))
                prev, cur = cur, (x, self.zeta(i, x))

    def table(self, which: list[int]) -> pd.DataFrame:
        """Every profiled point of the parameters in ``which``: param, value, zeta, then all
        parameters at the conditional optimum, sorted by param and value."""
        names = list(self.layout.names)
        rows = []
        for i in which:
            rows.append((names[i], self.estimate[i], 0.0, *self.estimate))
            for x, z, pars in self.points.get(i, []):
                rows.append((names[i], x, z, *pars))
        out = pd.DataFrame(rows, columns=["param", "value", "zeta", *names])
        out["param"] = pd.Categorical(out["param"], categories=[names[i] for i in which])
        return (out.drop_duplicates(subset=["param", "value"]).sort_values(["param", "value"])
                .reset_index(drop=True))


def _critical(level: float) -> float:
    from ..errors import DataError

    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1; got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2))


def profile_confint(fit: Any, parm: Any = None, level: float = 0.95,
                    profiler: Profiler | None = None) -> pd.DataFrame:
    """Profile confidence intervals (lme4's ``confint(method = "profile")``).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    parm : None, str, int or list
        Parameters by lme4's name (``"sd_(Intercept)|Subject"``, ``"sigma"``, ``"Days"``),
        position, ``"theta_"`` or ``"beta_"``; all when None.
    level : float
    profiler : Profiler or None
        Reuses the points of an earlier profile.

    Returns
    -------
    DataFrame
        Index: lme4's row names; columns ``lower``, ``upper``.
    """
    z = _critical(level)
    prof = profiler if profiler is not None else Profiler(fit)
    which = prof.layout.select(parm)
    rows = {prof.layout.names[i]: (prof.limit(i, -1, z), prof.limit(i, 1, z)) for i in which}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])
    out.attrs["method"] = "profile"
    out.attrs["level"] = level
    return out


@dataclass(frozen=True, eq=False)
class ProfileResult:
    """The zeta traces of a fit (lme4's ``thpr`` object).

    Attributes
    ----------
    table : DataFrame
        One row per profiled point: ``param`` (the parameter held fixed), ``value``,
        ``zeta``, then every parameter (lme4's names) at the conditional optimum.
    estimate : Series
        The (ML) estimates the profile is centred on, by lme4's names.
    cutoff : float
        |zeta| the walk went out to.
    """

    table: pd.DataFrame
    estimate: pd.Series
    cutoff: float
    fit: Any = field(repr=False)
    _profiler: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_profiler"] = None  # rebuilt on demand; holds compiled objectives
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def confint(self, level: float = 0.95, parm: Any = None) -> pd.DataFrame:
        """Profile intervals, the limits found by root-finding from the traced points."""
        prof = self._profiler
        if prof is None:
            prof = Profiler(self.fit)
            names = list(prof.layout.names)
            for name, grp in self.table.groupby("param", observed=True):
                i = names.index(str(name))
                prof.points[i] = [(r.value, r.zeta, r[names].to_numpy(dtype=float))
                                  for _, r in grp.iterrows() if r.zeta != 0]
            object.__setattr__(self, "_profiler", prof)
        if parm is None:
            parm = list(self.table["param"].cat.categories)
        return profile_confint(self.fit, parm=parm, level=level, profiler=prof)

    def plot(self, levels: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95, 0.99),
             absolute: bool = False, path: Any = None) -> Any:
        """zeta against each parameter, one panel each (lme4's ``xyplot(profile)``), with
        horizontal lines at the critical values of ``levels`` and the linear reference
        (the Wald approximation would be a straight line).

        Returns
        -------
        matplotlib Figure
        """
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        params = list(self.table["param"].cat.categories)
        ncol = min(3, len(params))
        nrow = -(-len(params) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
        zs = sorted(_critical(lv) for lv in levels)
        for ax, name in zip(axes.ravel(), params, strict=False):
            grp = self.table[self.table["param"] == name]
            y = grp["zeta"].abs() if absolute else grp["zeta"]
            ax.plot(grp["value"], y, "-", color="C0")
            ax.plot(grp["value"], y, ".", color="C0", ms=3)
            for z in zs:
                ax.axhline(z, color="0.8", lw=0.6)
                if not absolute:
                    ax.axhline(-z, color="0.8", lw=0.6)
            ax.axvline(self.estimate[name], color="0.6", lw=0.6, ls=":")
            ax.set_title(name, fontsize=9)
            ax.set_ylabel("|zeta|" if absolute else "zeta")
        for ax in axes.ravel()[len(params):]:
            ax.set_visible(False)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


def profile(fit: Any, parm: Any = None, alphamax: float = ALPHAMAX,
            delta_cutoff: float = DELTA_CUTOFF) -> ProfileResult:
    """The likelihood profile of every parameter on lme4's scales (lme4's ``profile``).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    parm : None, str, int or list
        As in :func:`profile_confint`.
    alphamax : float
        The walk goes out to |zeta| = sqrt(chi^2_{1 - alphamax, k}), k the number of
        parameters (lme4's cut-off).
    delta_cutoff : float
        Steps of about this fraction of the cut-off in zeta.

    Returns
    -------
    ProfileResult
    """
    prof = Profiler(fit)
    which = prof.layout.select(parm)
    cutoff = float(np.sqrt(stats.chi2.ppf(1 - alphamax, len(prof.layout.names))))
    for i in which:
        prof.walk(i, cutoff, cutoff * delta_cutoff)
    est = pd.Series(prof.estimate, index=list(prof.layout.names), name="estimate")
    return ProfileResult(table=prof.table(which), estimate=est, cutoff=cutoff, fit=fit,
                         _profiler=prof)
