"""Bounded derivative-free minimisation of the profiled criterion over theta, and its record.

lme4 minimises the profiled deviance with BOBYQA (Powell 2009) through nlopt
(``nloptwrap``: ``xtol_abs = ftol_abs = 1e-8``), starting from Lambda = identity. Through nloptr
lme4 also stops on nloptr's default ``xtol_rel = 1e-4``; hiermix does not by default
(``xtol_rel = 0``): that stop saves a few evaluations (InstEval: 115 -> 106) but can leave the
criterion about 1e-6 above lme4's own optimum, and matching or beating lme4's criterion comes
first. hiermix calls
the same algorithm from the same library (``nlopt.LN_BOBYQA``) with the same tolerances, so
the number of evaluations is comparable with lme4's. :class:`OptSummary` is the record that
travels with every fit (MixedModels.jl's ``OptSummary``, lme4's ``@optinfo``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nlopt
import numpy as np

from ..errors import ConvergenceError

_RESULTS = {
    nlopt.SUCCESS: "NLOPT_SUCCESS",
    nlopt.STOPVAL_REACHED: "NLOPT_STOPVAL_REACHED",
    nlopt.FTOL_REACHED: "NLOPT_FTOL_REACHED",
    nlopt.XTOL_REACHED: "NLOPT_XTOL_REACHED",
    nlopt.MAXEVAL_REACHED: "NLOPT_MAXEVAL_REACHED",
    nlopt.MAXTIME_REACHED: "NLOPT_MAXTIME_REACHED",
}


@dataclass(frozen=True)
class OptSummary:
    """Everything about one optimisation of the profiled criterion.

    Attributes
    ----------
    optimizer : str
        ``"nlopt BOBYQA"``.
    initial : ndarray, shape (n_theta,)
    lower : ndarray, shape (n_theta,)
    final : ndarray, shape (n_theta,)
    fmin : float
        Criterion at ``final``.
    feval : int
        Number of evaluations of the criterion.
    seconds : float
        Wall-clock time of the optimisation.
    xtol_abs, ftol_abs, xtol_rel : float
    return_code : str
        nlopt's result (``NLOPT_XTOL_REACHED`` ...).
    messages : tuple of str
        Convergence warnings and notes from the post-fit checks.
    restarts : int
        Restarts from the boundary (lme4's ``restart_edge``).
    """

    optimizer: str
    initial: np.ndarray
    lower: np.ndarray
    final: np.ndarray
    fmin: float
    feval: int
    seconds: float
    xtol_abs: float
    ftol_abs: float
    xtol_rel: float
    return_code: str
    messages: tuple[str, ...] = field(default=())
    restarts: int = 0

    def __str__(self) -> str:
        return (f"{self.optimizer}: {self.feval} evaluations in {self.seconds:.3g} s, "
                f"fmin = {self.fmin:.10g}, {self.return_code}"
                + (f", {self.restarts} restart(s) from the boundary" if self.restarts else "")
                + "".join(f"\n  {m}" for m in self.messages))


def bobyqa(fun: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray,
           xtol_abs: float = 1e-8, ftol_abs: float = 1e-8, xtol_rel: float = 0.0,
           maxeval: int = 100_000,
           initial_step: np.ndarray | None = None) -> OptSummary:
    """Minimise ``fun`` over the box ``x >= lower`` with BOBYQA, as lme4's ``nloptwrap``.

    Parameters
    ----------
    fun : callable
        theta (n_theta,) -> criterion (float); +inf where undefined.
    x0, lower : ndarray, shape (n_theta,)
    xtol_abs, ftol_abs, xtol_rel : float
        nlopt's stopping tolerances (lme4's nloptwrap settings; see the module docstring
        for ``xtol_rel``).
    maxeval : int
    initial_step : ndarray or None
        nlopt's default when None.

    Raises
    ------
    ConvergenceError
        nlopt failed without a usable point.
    """
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    n = x0.size
    count = 0
    best = (np.inf, x0.copy())

    def objective(x: np.ndarray, grad: np.ndarray) -> float:
        nonlocal count, best
        count += 1
        val = float(fun(x))
        if val < best[0]:
            best = (val, x.copy())
        return val if np.isfinite(val) else 1e300

    start = time.perf_counter()
    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    name = "nlopt BOBYQA"
    opt.set_min_objective(objective)
    opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
    opt.set_xtol_abs(xtol_abs)
    opt.set_ftol_abs(ftol_abs)
    if xtol_rel > 0:
        opt.set_xtol_rel(xtol_rel)
    opt.set_maxeval(maxeval)
    if initial_step is not None:
        opt.set_initial_step(initial_step)
    try:
        xopt = opt.optimize(x0.copy())
        code = _RESULTS.get(opt.last_optimize_result(), str(opt.last_optimize_result()))
    except nlopt.RoundoffLimited:
        xopt, code = best[1], "NLOPT_ROUNDOFF_LIMITED"
    except (RuntimeError, ValueError) as exc:
        if not np.isfinite(best[0]):
            raise ConvergenceError(f"the optimiser failed: {exc}") from exc
        xopt, code = best[1], f"NLOPT_FAILURE ({exc})"
    fmin = float(fun(xopt))
    if best[0] < fmin:
        xopt, fmin = best[1], best[0]
    return OptSummary(optimizer=name, initial=x0.copy(), lower=lower.copy(),
                      final=np.asarray(xopt, dtype=float), fmin=fmin, feval=count,
                      seconds=time.perf_counter() - start, xtol_abs=xtol_abs,
                      ftol_abs=ftol_abs, xtol_rel=xtol_rel, return_code=code)


def lbfgsb(fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
           lower: np.ndarray, ftol: float = 1e-12, gtol: float = 1e-6,
           maxiter: int = 1000) -> OptSummary:
    """Minimise with bounded quasi-Newton steps (scipy's L-BFGS-B) and an analytic gradient.

    Parameters
    ----------
    fun_grad : callable
        theta (n_theta,) -> (criterion, gradient (n_theta,)).
    x0, lower : ndarray, shape (n_theta,)
    ftol, gtol : float
        L-BFGS-B's relative reduction and projected-gradient tolerances.
    maxiter : int
    """
    from scipy.optimize import minimize

    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    count = 0

    def wrapped(x: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal count
        count += 1
        val, grad = fun_grad(x)
        if not np.isfinite(val):
            return 1e300, np.zeros_like(x)
        return val, grad

    start = time.perf_counter()
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    res = minimize(wrapped, x0.copy(), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"ftol": ftol, "gtol": gtol, "maxiter": maxiter})
    xopt = np.asarray(res.x, dtype=float)
    return OptSummary(optimizer="scipy L-BFGS-B (analytic gradient)", initial=x0.copy(),
                      lower=lower.copy(), final=xopt, fmin=float(res.fun), feval=count,
                      seconds=time.perf_counter() - start, xtol_abs=0.0, ftol_abs=ftol,
                      xtol_rel=0.0, return_code=str(res.message))
