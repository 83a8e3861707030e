"""lme4's ``glmer.nb``: theta of the negative binomial by a search over fixed-theta fits.

Here theta is the negative binomial's (Var(y) = mu + mu^2 / theta), held in ``phi``; the
random-effects parameters are not involved in the search. lme4 1.1-31 fits a negative binomial
GLMM in three steps, which ``lme4_compat=True`` reproduces:

1. a Poisson GLMM of the same formula;
2. a starting theta_0 from that fit's fitted means mu (random effects included) by MASS's
   ``theta.ml``: Newton's method on the score of the NB log-likelihood in theta with mu held
   fixed, from the moment value n / sum(w (y / mu - 1)^2), for at most 20 iterations and until
   a step is below 1e-4 (``glmer.nb``'s ``initCtrl``: limit 20, eps 2 tol);
3. ``optTheta``: R's ``optimize`` (Brent's golden-section and parabolic search; scipy's bounded
   ``minimize_scalar`` is the same algorithm) of -2 log L over log theta in
   [log theta_0 - 3, log theta_0 + 3] with tolerance 5e-5, where each evaluation is a whole
   ``glmer`` fit with theta fixed (R's ``negative.binomial(theta)`` family), started from the
   previous one's estimates.

Each inner fit uses lme4's criterion (``lme4_compat``): Fisher weights in log|L|^2, not the
exact Hessian of the maximum-likelihood fit (and glmmTMB's), so its approximate log-likelihood is
a different number (grouseticks: -905.86 against -905.66). The result is the fit at the theta
found, with derivatives as asked: its ``phi`` is theta-hat, its standard errors those of the
fit with theta fixed (as lme4's), and its df counts theta (as lme4's ``logLik``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize, special

from ..design import Design
from .glmm_result import GlmerResult

#: ``glmer.nb``'s defaults: tolerance of the search on log theta, half-width of its interval
#: around log theta_0, and ``theta.ml``'s iteration limit and step tolerance (2 tol).
TOL = 5e-5
HALF_WIDTH = 3.0
THETA_ML_LIMIT = 20
THETA_ML_EPS = 2.0 * TOL

#: Fits the model with theta fixed: (theta, start, check_derivs) -> result.
FixedThetaFit = Callable[[float, dict[str, Any], "bool | None"], GlmerResult]


def theta_ml(y: np.ndarray, mu: np.ndarray, wt: np.ndarray, limit: int = THETA_ML_LIMIT,
             eps: float = THETA_ML_EPS) -> float:
    """The maximum-likelihood theta of NB2 counts y (n,) with known means mu (n,) and prior
    weights wt (n,), by Newton's method as MASS's ``theta.ml``.

    The score of sum_i w_i log NB(y_i; mu_i, theta) in theta is
    sum w (psi(theta + y) - psi(theta) + log theta + 1 - log(theta + mu) - (y + theta) / (mu +
    theta)), and its negative derivative (the information) sum w (-psi'(theta + y) +
    psi'(theta) - 1 / theta + 2 / (mu + theta) - (y + theta) / (mu + theta)^2).
    """
    t0 = float(np.sum(wt) / np.sum(wt * (y / mu - 1.0) ** 2))
    it, step = 0, 1.0
    while True:
        it += 1
        if it >= limit or abs(step) <= eps:
            break
        t0 = abs(t0)
        score = np.sum(wt * (special.digamma(t0 + y) - special.digamma(t0) + np.log(t0) + 1.0
                             - np.log(t0 + mu) - (y + t0) / (mu + t0)))
        info = np.sum(wt * (-special.polygamma(1, t0 + y) + special.polygamma(1, t0) - 1.0 / t0
                            + 2.0 / (mu + t0) - (y + t0) / (mu + t0) ** 2))
        step = float(score / info)
        t0 += step
    return max(t0, 0.0)


def start_from_poisson(design: Design, poisson_fit: GlmerResult) -> float:
    """theta_0 of step 2: ``theta.ml`` at the fitted means of the Poisson fit (step 1)."""
    y, wt = np.asarray(design.y, dtype=float), np.asarray(design.weights, dtype=float)
    return theta_ml(y, np.asarray(poisson_fit.fitted), wt)


def fit_glmer_nb(fit_fixed: FixedThetaFit, th0: float, start: dict[str, Any],
                 check_derivs: bool | None) -> GlmerResult:
    """Step 3 of the module docstring: the search over log theta around log theta_0.

    Parameters
    ----------
    fit_fixed : callable
        (theta, start, check_derivs) -> the lme4-compatible fit with theta fixed; ``start``
        may hold ``theta`` and ``beta`` of the random effects and fixed effects.
    th0 : float
        theta_0, the centre of the search interval.
    start : dict
        Starting values for the first inner fit; later ones start from the previous fit.
    check_derivs : bool or None
        For the final fit (the inner fits skip the derivatives).
    """
    last = dict(start)

    def deviance(log_theta: float) -> float:
        fit = fit_fixed(float(np.exp(log_theta)), dict(last), False)
        last.update(theta=np.array(fit.theta), beta=np.array(fit.beta))
        return float(fit.objective)

    centre = np.log(th0)
    res = optimize.minimize_scalar(deviance, bounds=(centre - HALF_WIDTH, centre + HALF_WIDTH),
                                   method="bounded", options={"xatol": TOL})
    return fit_fixed(float(np.exp(res.x)), dict(last), check_derivs)
