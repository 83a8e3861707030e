"""lme4's post-fit checks (``checkConv``): singular fit, scaled gradient and Hessian at theta-hat.

* Singular fit (``isSingular``, tol 1e-4): a diagonal element of some Lambda_k, i.e. an entry of
  theta whose lower bound is 0, below 1e-4. It is warned at fit time, as lme4 does, with
  :class:`~hiermix.errors.SingularFitWarning`; the message starts as lme4's
  ("boundary (singular) fit") but names the term and column, and its advice is hiermix's.
* Gradient (``check.conv.grad``, tol 2e-3): central finite differences of the criterion
  (lme4's ``deriv12``, step 1e-4) give the gradient g and Hessian H; the scaled gradient is
  solve(chol(H), g), and the check fails when max(min(|scaled|, |g|)) exceeds the tolerance.
* Hessian (``check.conv.hess``, tol 1e-6): a negative eigenvalue of H means a degenerate
  Hessian; a smallest/largest eigenvalue ratio below the tolerance, a nearly unidentifiable model.

Parameters on the boundary (a zero diagonal of Lambda_k) are left out of both derivative checks:
at a boundary optimum the gradient need not vanish.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import PACKAGE_DIR, SingularFitWarning

SINGULAR_TOL = 1e-4
GRAD_TOL = 2e-3
HESS_TOL = 1e-6
SINGULAR_ADVICE = ("the data do not support that variance or correlation: consider removing "
                   "the term or its slopes, uncorrelated effects with '||', or the Bayesian "
                   "model (Model.sample()), whose priors keep it off the boundary; "
                   "fit.is_singular flags such fits")


class ConvergenceWarning(UserWarning):
    """A post-fit check of lme4's failed (gradient, Hessian)."""


def is_singular(theta: np.ndarray, lower: np.ndarray, tol: float = SINGULAR_TOL) -> bool:
    """lme4's ``isSingular``: any theta with lower bound 0 below ``tol``."""
    at_zero = lower == 0
    return bool(np.any(theta[at_zero] < tol))


def singular_message(reterms: Sequence[Any], theta: np.ndarray,
                     tol: float = SINGULAR_TOL) -> str:
    """lme4's "boundary (singular) fit" naming each term and column whose diagonal of
    Lambda_k is below ``tol``.

    For a term with one column that is a zero variance; for column j > 0 of a term with
    several, the column's effects are (nearly) a linear combination of the earlier columns'
    (a zero variance or a correlation of +-1).
    """
    parts, start = [], 0
    for t in reterms:
        block = theta[start:start + t.n_theta]
        start += t.n_theta
        pos = 0
        for j in range(t.q):
            if block[pos] < tol:
                if t.q == 1:
                    parts.append(f"term {t.label!r} ({t.cnames[0]}) has a zero variance")
                elif j == 0:
                    parts.append(f"term {t.label!r} has a zero variance for {t.cnames[0]}")
                else:
                    parts.append(f"term {t.label!r} has a singular covariance at "
                                 f"{t.cnames[j]} (a zero variance or a correlation of +-1)")
            pos += t.q - j
    return "boundary (singular) fit: " + "; ".join(parts)


def warn_singular(message: str) -> None:
    """Issue the singular-fit message with its advice as a :class:`SingularFitWarning`."""
    warnings.warn(f"{message}; {SINGULAR_ADVICE}", SingularFitWarning,
                  skip_file_prefixes=(PACKAGE_DIR,))


@dataclass(frozen=True)
class Derivatives:
    """Finite-difference gradient (k,) and Hessian (k, k) of the criterion at theta-hat."""

    gradient: np.ndarray
    hessian: np.ndarray


def deriv12(fun: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
            delta: float = 1e-4) -> Derivatives:
    """Central differences for the gradient and Hessian, as lme4's ``deriv12``."""
    k = x.size
    grad = np.empty(k)
    hess = np.empty((k, k))
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = delta
        fp, fm = fun(x + ei), fun(x - ei)
        grad[i] = (fp - fm) / (2 * delta)
        hess[i, i] = (fp - 2 * fx + fm) / delta**2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = delta
            hess[i, j] = hess[j, i] = (fun(x + ei + ej) - fun(x + ei - ej)
                                       - fun(x - ei + ej) + fun(x - ei - ej)) / (4 * delta**2)
    return Derivatives(grad, hess)


def convergence_messages(derivs: Derivatives, interior: np.ndarray) -> list[str]:
    """lme4's gradient and Hessian messages for the parameters flagged in ``interior`` (k,)."""
    idx = np.flatnonzero(interior)
    if idx.size == 0:
        return []
    g = derivs.gradient[idx]
    H = derivs.hessian[np.ix_(idx, idx)]
    out = []
    try:
        R = np.linalg.cholesky(H)
        scgrad = np.linalg.solve(R, g)
        mingrad = np.minimum(np.abs(scgrad), np.abs(g))
        if mingrad.max() > GRAD_TOL:
            comp = int(idx[np.argmax(mingrad)]) + 1
            out.append(f"Model failed to converge with max|grad| = {mingrad.max():.6g} "
                       f"(tol = {GRAD_TOL:g}, component {comp})")
    except np.linalg.LinAlgError:
        out.append("unable to evaluate scaled gradient")
    ev = np.linalg.eigvalsh(H)
    if ev.min() < -HESS_TOL:
        out.append("Model failed to converge: degenerate Hessian with "
                   f"{int(np.sum(ev < -HESS_TOL))} negative eigenvalues")
    elif ev.max() > 0 and ev.min() / ev.max() < HESS_TOL:
        out.append("Model is nearly unidentifiable: very large eigenvalue ratio "
                   "- Rescale variables?")
    return out
