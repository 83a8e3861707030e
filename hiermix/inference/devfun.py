"""The deviance as a function of one parameter held fixed, the others optimised (lme4's
``devfun2``): what a likelihood profile evaluates.

Linear mixed models (lme4's ``profile.merMod``)
    The profile is always of the ML deviance: a REML fit is refitted by ML first (lme4's
    ``refitML``), so ``base`` is the ML deviance at the ML estimates. For the variance
    parameters v = (SDs and correlations in theta's order, sigma), beta is profiled out:

        d(v) = log|L_theta|^2 + r^2(theta) / sigma^2 + n log(2 pi sigma^2) - sum log w,

    with theta = chol(Sigma) / sigma (:class:`~hiermix.inference.parameters.ParameterLayout`).
    Holding v_i fixed, BOBYQA minimises d over the other entries within their bounds. A fixed
    effect beta_j is held at c through an offset c x_j (lme4 drops column j of X and refits):
    the criterion of :meth:`LmmCriterion.with_fixef` is minimised over theta, with sigma and
    the other fixed effects profiled out.

Generalised linear mixed models
    -2 log L (Laplace, or adaptive quadrature for nAGQ > 1) over (theta, beta, [log phi])
    from the engine's :class:`~hiermix.frequentist.laplace.GlmmObjective`; every other
    parameter, fixed effects included, is optimised (lme4 does the same with ``d0``). SDs and
    correlations are those of Sigma_k = Lambda_k Lambda_k' (theta is not relative to a scale).
    For one scalar term with a binomial-logit or poisson-log model (cbpp, Contraception) the
    compiled :class:`ScalarLaplace` replaces the engine's criterion: it differs from it by a
    constant only, and zeta takes differences.

Each fixed value starts its optimisation from the nearest point already profiled (lme4's
``startmethod = "prev"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import nlopt
import numpy as np

from ..errors import ModelError
from .criterion import LmmCriterion
from .kernel import BINOMIAL_LOGIT, POISSON_LOG, scalar_laplace
from .parameters import ParameterLayout

#: Deviance this far below the fit's (in units of -2 log L) means the fit had not converged.
LOWER_DEVIANCE_TOL = 1e-3


class ProfileWarning(UserWarning):
    """Profiling found a lower deviance than the fit's: the estimates were not the optimum."""


def minimize_box(fun: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray, step: np.ndarray, tol: float = 1e-7
                 ) -> tuple[np.ndarray, float]:
    """Minimise ``fun`` over a box with nlopt's BOBYQA; returns (x, f).

    Parameters
    ----------
    fun : callable
        x (k,) -> float (+inf where undefined).
    x0, lower, upper, step : ndarray, shape (k,)
        Start, bounds (infinite allowed) and initial step.
    tol : float
        Absolute tolerance on f and x. A deviance off by 1e-7 moves zeta = sqrt(2 x 1.92)
        by about 3e-8 at a 95% limit, far below what any interval reports.
    """
    k = x0.size
    best_f, best_x = [np.inf], [x0.copy()]
    if k == 0:
        return x0, float(fun(x0))

    def f(x: np.ndarray, grad: np.ndarray) -> float:
        val = float(fun(x))
        if val < best_f[0]:
            best_f[0], best_x[0] = val, x.copy()
        return val if np.isfinite(val) else 1e300

    x0 = np.clip(x0, lower, upper)
    opt = nlopt.opt(nlopt.LN_BOBYQA, k)
    opt.set_min_objective(f)
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(upper)
    opt.set_xtol_abs(tol)
    opt.set_ftol_abs(tol)
    opt.set_maxeval(10_000)
    # BOBYQA needs its initial trust region inside the box on both sides of x0
    room = np.minimum(x0 - lower, upper - x0)
    s = np.where(room > 0, np.minimum(step, 0.5 * room), step)
    opt.set_initial_step(np.where(s > 0, s, step))
    try:
        opt.optimize(x0.copy())
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        pass
    return best_x[0], float(best_f[0])


class Devfun:
    """Common interface: ``layout``, ``estimate`` (all parameters at the optimum), ``base``
    (the deviance there) and :meth:`fix`."""

    layout: ParameterLayout
    estimate: np.ndarray
    base: float
    scale: np.ndarray

    def fix(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """The deviance with parameter i held at ``value``, minimised over the others from
        ``start`` (all parameters), and the minimiser (all parameters)."""
        raise NotImplementedError

    def zeta(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """Signed square root of the deviance difference, sign(value - estimate) sqrt(dev -
        base), and the parameters at the conditional optimum."""
        dev, pars = self.fix(i, value, start)
        diff = dev - self.base
        if diff < -LOWER_DEVIANCE_TOL:
            warnings.warn(f"profiling {self.layout.names[i]} found a deviance {-diff:.3g} below "
                          "the fit's: the fit had not reached the optimum", ProfileWarning,
                          stacklevel=3)
        return float(np.sign(value - self.estimate[i]) * np.sqrt(max(diff, 0.0))), pars


class LmmDevfun(Devfun):
    """lme4's ``devfun2`` for a linear mixed model (see the module docstring)."""

    def __init__(self, fit: Any) -> None:
        from ..frequentist.lmm import fit_lmm

        ml = fit if not fit.REML else fit_lmm(fit.design, REML=False, start=np.asarray(
            fit.theta), check_derivs=False, data_name=fit.data_name)
        self.fit_ml = ml
        self.layout = ParameterLayout.of(fit.design, has_sigma=True)
        gram = ml.objective_function().gram
        self.crit = LmmCriterion(gram)
        self.n = gram.n
        self.sum_log_w = gram.sum_log_w
        self.lower_theta = np.asarray(ml.objective_function().lower)
        self.theta_hat = np.asarray(ml.theta, dtype=float)
        self.estimate = np.concatenate([self.layout.sdcor(self.theta_hat, ml.sigma),
                                        [ml.sigma], ml.beta])
        self.base = float(ml.objective)
        se = np.asarray(ml.fixef_se)
        nv = self.layout.n_vc
        vc = self.estimate[:nv]
        kinds = np.array(self.layout.kinds[:nv])
        vscale = np.where(kinds == "cor", 0.5, np.maximum(np.abs(vc), 1e-2 * ml.sigma))
        self.scale = np.concatenate([vscale, se])

    def vc_deviance(self, v: np.ndarray) -> float:
        """d(v) for the variance parameters v (n_vc,) with beta profiled out."""
        sigma = v[-1]
        if not sigma > 0:
            return float("inf")
        theta = self.layout.theta(v[:-1], sigma)
        ld, _, r2, _ = self.crit.parts(theta)
        if not r2 > 0:
            return float("inf")
        return float(ld + r2 / sigma**2 + self.n * np.log(2.0 * np.pi * sigma**2)
                     - self.sum_log_w)

    def fix(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        lay = self.layout
        nv = lay.n_vc
        if i < nv:
            others = np.array([k for k in range(nv) if k != i])
            s = self.scale[others]

            def f(x: np.ndarray) -> float:
                v = np.empty(nv)
                v[i] = value
                v[others] = x * s
                return self.vc_deviance(v)

            x, dev = minimize_box(f, start[others] / s, lay.lower[others] / s,
                                  lay.upper[others] / s, np.full(others.size, 0.1))
            v = np.empty(nv)
            v[i] = value
            v[others] = x * s
            _, _, _, factor = self.crit.parts(lay.theta(v[:-1], v[-1]))
            beta = (self.crit.beta(factor) if factor is not None
                    else np.full(self.estimate.size - nv, np.nan))
            return dev, np.concatenate([v, beta])
        j = i - nv
        crit = self.crit.with_fixef(j, value)
        th0 = lay.theta(start[:nv - 1], start[nv - 1]) if start[nv - 1] > 0 else self.theta_hat
        step = np.maximum(0.1 * np.abs(th0), 0.05)
        th, dev = minimize_box(lambda t: crit.deviance(t, False), th0, self.lower_theta,
                               np.full(th0.size, np.inf), step)
        _, _, r2, factor = crit.parts(th)
        sigma = float(np.sqrt(r2 / self.n))
        beta = np.insert(crit.beta(factor), j, value)
        return dev, np.concatenate([lay.sdcor(th, sigma), [sigma], beta])


class GlmmDevfun(Devfun):
    """-2 log L of a GLMM over (SDs and correlations, beta, [phi]) (see the module docstring)."""

    def __init__(self, fit: Any) -> None:
        from ..frequentist.laplace import GlmmObjective

        if getattr(fit, "lme4_compat", False) and fit.design.family.has_dispersion:
            raise ModelError("profiles need a likelihood: a fit with lme4's plug-in dispersion "
                             "(lme4_compat=True) has none; refit with lme4_compat=False")
        self.obj = GlmmObjective(fit.design, nAGQ=max(int(fit.nAGQ), 1),
                                 lme4_compat=bool(getattr(fit, "lme4_compat", False)))
        self.compiled = ScalarLaplace.for_design(fit.design, int(fit.nAGQ))
        if int(fit.nAGQ) == 0:
            raise ModelError("profiles need the Laplace or quadrature likelihood; this fit "
                             "used nAGQ = 0 (beta from PIRLS): refit with nAGQ = 1")
        self.dispersion = self.obj.dispersion
        lay = ParameterLayout.of(fit.design, has_sigma=False)
        self.layout = lay.with_phi() if self.dispersion else lay
        self.theta_hat = np.asarray(fit.theta, dtype=float)
        tail = [float(fit.phi)] if self.dispersion else []
        self.estimate = np.concatenate([self.layout.sdcor(self.theta_hat), fit.beta, tail])
        self.base = self.deviance(self.estimate)
        if not np.isfinite(self.base):
            raise ModelError("the Laplace criterion is undefined at the estimates")
        nv = self.layout.n_vc
        kinds = np.array(self.layout.kinds)
        vc = self.estimate[:nv]
        se = np.sqrt(np.clip(np.diag(np.asarray(fit.vcov_beta)), 1e-12, None))
        vscale = np.where(kinds[:nv] == "cor", 0.5, np.maximum(np.abs(vc), 0.05))
        self.scale = np.concatenate([vscale, se, [max(0.1 * tail[0], 1e-3)] if tail else []])

    def _x(self, pars: np.ndarray) -> np.ndarray:
        """The engine's parameter vector (theta, beta, [log phi]) from ours."""
        lay = self.layout
        nv, p = lay.n_vc, self.obj.p
        theta = lay.theta(pars[:nv])
        tail = [np.log(pars[-1])] if self.dispersion else []
        return np.concatenate([theta, pars[nv:nv + p], tail])

    def deviance(self, pars: np.ndarray) -> float:
        if self.dispersion and not pars[-1] > 0:
            return float("inf")
        if self.compiled is not None:
            return self.compiled(pars[0], pars[1:])
        return float(self.obj(self._x(pars)))

    def fix(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        lay = self.layout
        k = len(lay.names)
        others = np.array([m for m in range(k) if m != i])
        s = self.scale[others]
        x0 = start[others]

        def f(x: np.ndarray) -> float:
            pars = np.empty(k)
            pars[i] = value
            pars[others] = x0 + x * s
            return self.deviance(pars)

        x, dev = minimize_box(f, np.zeros(others.size), (lay.lower[others] - x0) / s,
                              (lay.upper[others] - x0) / s, np.full(others.size, 0.1))
        pars = np.empty(k)
        pars[i] = value
        pars[others] = x0 + x * s
        return dev, pars


class ScalarLaplace:
    """The compiled Laplace deviance (:func:`hiermix.inference.kernel.scalar_laplace`) of a
    GLMM with one scalar random-effects term, binomial-logit or poisson-log, Laplace
    (nAGQ = 1), as a function of (theta, beta); it differs from the engine's criterion by a
    constant, which zeta never sees. The modes of the last evaluation start the next."""

    def __init__(self, design: Any, family: int) -> None:
        t = design.reterms[0]
        self.X = np.asarray(design.X, dtype=float)
        self.offset = np.asarray(design.offset, dtype=float)
        self.z = np.ascontiguousarray(t.X[:, 0], dtype=float)
        codes = np.asarray(t.codes, dtype=np.int64)
        self.order = np.argsort(codes, kind="stable").astype(np.int64)
        self.starts = np.searchsorted(codes[self.order], np.arange(t.nlevels + 1)).astype(
            np.int64)
        self.y = np.asarray(design.y, dtype=float)
        self.wt = np.asarray(design.weights, dtype=float)
        self.family = family
        self.u = np.zeros(t.nlevels)

    @classmethod
    def for_design(cls, design: Any, nAGQ: int) -> ScalarLaplace | None:
        """The compiled criterion when it applies (else None: the engine's is used)."""
        fam = design.family
        kind = {("binomial", "logit"): BINOMIAL_LOGIT, ("poisson", "log"): POISSON_LOG}.get(
            (fam.name, fam.link.name))
        terms = design.reterms
        if kind is None or nAGQ != 1 or len(terms) != 1 or terms[0].q != 1:
            return None
        if np.any(np.asarray(terms[0].codes) < 0):
            return None
        return cls(design, kind)

    def __call__(self, theta: float, beta: np.ndarray) -> float:
        eta0 = self.X @ beta + self.offset
        u = self.u.copy()
        val = scalar_laplace(float(theta), eta0, self.z, self.order, self.starts, self.y,
                             self.wt, self.family, u)
        if np.isfinite(val):
            self.u = u
        return float(val)


def devfun_for(fit: Any) -> Devfun:
    """The profile's deviance function of a fitted LMM or GLMM."""
    fam = fit.design.family
    if fam.name == "gaussian" and fam.link.name == "identity" and not hasattr(fit, "nAGQ"):
        return LmmDevfun(fit)
    return GlmmDevfun(fit)
