"""lme4's post-fit checks (``checkConv``): singular fit, scaled gradient and Hessian at theta-hat.

* Singular fit (``isSingular``, tol 1e-4): a diagonal element of some Lambda_k, i.e. an entry of
  theta whose lower bound is 0, below 1e-4. The message is lme4's.
* Gradient (``check.conv.grad``, tol 2e-3): central finite differences of the criterion
  (lme4's ``deriv12``, step 1e-4) give the gradient g and Hessian H; the scaled gradient is
  solve(chol(H), g), and the check fails when max(min(|scaled|, |g|)) exceeds the tolerance.
* Hessian (``check.conv.hess``, tol 1e-6): a negative eigenvalue of H means a degenerate
  Hessian; a smallest/largest eigenvalue ratio below the tolerance, a nearly unidentifiable model.

Parameters on the boundary (a zero diagonal of Lambda_k) are left out of both derivative checks:
at a boundary optimum the gradient need not vanish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SINGULAR_TOL = 1e-4
GRAD_TOL = 2e-3
HESS_TOL = 1e-6
SINGULAR_MESSAGE = "boundary (singular) fit: see help('isSingular')"


class ConvergenceWarning(UserWarning):
    """A post-fit check of lme4's failed (gradient, Hessian)."""


def is_singular(theta: np.ndarray, lower: np.ndarray, tol: float = SINGULAR_TOL) -> bool:
    """lme4's ``isSingular``: any theta with lower bound 0 below ``tol``."""
    at_zero = lower == 0
    return bool(np.any(theta[at_zero] < tol))


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
