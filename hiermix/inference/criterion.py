"""The profiled LMM criterion rebuilt cheaply for a new response or a fixed-effect offset.

Everything after a fit (profiles, parametric bootstrap) evaluates the criterion of the *same*
model many times with one thing changed: the response (a bootstrap replicate) or one fixed
effect held at a value (a profile over beta_j, lme4's offset trick). Neither touches Z or the
Gram blocks of Z: with [X y] the last columns of the Gram matrix A = [Z X y]' W [Z X y]
(:mod:`hiermix.frequentist.gram`),

* a new response y* changes only the y row and column: Z'Wy*, X'Wy*, y*'Wy* (O(n) once);
* holding beta_j = c replaces [X y] by [X_{-j}, y - c x_j] = [X y] T with a (p + 1, p) matrix
  T, so every block that involves [X y] is multiplied by T (no pass over the data at all).

:class:`LmmCriterion` holds the blocks and returns log|L_theta|^2, log|R_X|^2 and r^2(theta);
with one random-effects term it runs the compiled kernel of :mod:`hiermix.inference.kernel`,
otherwise the engine's blocked Cholesky.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ..design import Design
from ..frequentist.blocked import BlockedCholesky
from ..frequentist.gram import Gram
from .kernel import one_term_beta, one_term_deviance, one_term_factor


class LmmCriterion:
    """log|L_theta|^2, log|R_X|^2 and r^2(theta) for one set of Gram blocks.

    Parameters
    ----------
    gram : Gram
    """

    def __init__(self, gram: Gram) -> None:
        self.gram = gram
        self.n, self.p = gram.n, gram.p
        self.one_term = len(gram.terms) == 1
        self._q0 = gram.terms[0].q
        self._chol = None if self.one_term else BlockedCholesky(gram)
        self._D0 = np.ascontiguousarray(gram.D0)
        self._AXY0 = np.array(gram.AXY0, order="C")  # own copies: set_response writes them
        self._ARR = np.array(gram.ARR, order="C")

    def parts(self, theta: np.ndarray) -> tuple[float, float, float, Any]:
        """(log|L_theta|^2, log|R_X|^2, r^2(theta), factor); r^2 is nan where L fails.

        ``factor`` is L_R (one term) or the engine's :class:`Factor`, for :meth:`beta`.
        """
        if self._chol is None:
            ld, ldrx, r2, LR = one_term_factor(np.asarray(theta, dtype=float), self._q0,
                                               self._D0, self._AXY0, self._ARR)
            return ld, ldrx, r2, (LR if r2 > 0 else None)
        f = self._chol.update(np.asarray(theta, dtype=float))
        if not f.ok:
            return np.nan, np.nan, np.nan, None
        return f.ldL2, f.ldRX2, f.pwrss, f

    def beta(self, factor: Any) -> np.ndarray:
        """beta-hat(theta), shape (p,), from the factor :meth:`parts` returned."""
        if self._chol is None:
            return one_term_beta(factor)
        return self._chol.solve(factor)[0]

    def deviance(self, theta: np.ndarray, REML: bool) -> float:
        """The profiled criterion (JSS eq. 35, ML; eq. 42, REML); +inf where undefined."""
        if self._chol is None:
            return one_term_deviance(np.asarray(theta, dtype=float), self._q0, self._D0,
                                     self._AXY0, self._ARR, self.n, REML, self.gram.sum_log_w)
        ld, ldrx, r2, _ = self.parts(theta)
        if not r2 > 0:
            return float("inf")
        g = self.gram
        nu = self.n - self.p if REML else self.n
        out = ld + nu * (1.0 + np.log(2.0 * np.pi * r2 / nu)) - g.sum_log_w
        return float(out + ldrx) if REML else float(out)

    def deviance_function(self, REML: bool) -> Callable[[np.ndarray], float]:
        """theta -> :meth:`deviance` with the blocks bound (what an optimiser calls; saves
        the method's dispatch on every evaluation of a one-term model)."""
        if self._chol is not None:
            return lambda theta: self.deviance(theta, REML)
        q, D0, AXY0, ARR, n, slw = (self._q0, self._D0, self._AXY0, self._ARR, self.n,
                                    self.gram.sum_log_w)

        def dev(theta: np.ndarray) -> float:
            return one_term_deviance(theta, q, D0, AXY0, ARR, n, REML, slw)

        return dev

    # -- the same model with one thing changed -------------------------------------------
    def with_response(self, design: Design, y: np.ndarray) -> LmmCriterion:
        """The criterion for a new response y (n,) (offset not yet removed)."""
        return LmmCriterion(gram_with_response(self.gram, design, y))

    def set_response(self, design: Design, y: np.ndarray) -> None:
        """Replace the response in place, rewriting only the y parts of the blocks (one-term
        models, the bootstrap's inner loop; others use :meth:`with_response`)."""
        if self._chol is not None:
            raise ValueError("set_response is for one-term models; use with_response")
        yv = np.asarray(y, dtype=float) - design.offset
        wy = design.weights * yv
        t0 = design.reterms[0]
        c0 = t0.codes
        for j in range(self._q0):
            self._AXY0[-1, j::self._q0] = np.bincount(c0, weights=t0.X[:, j] * wy,
                                                      minlength=t0.nlevels)
        self._ARR[:-1, -1] = design.X.T @ wy
        self._ARR[-1, -1] = float(yv @ wy)
        self._ARR[-1, :-1] = self._ARR[:-1, -1]

    def with_fixef(self, j: int, value: float) -> LmmCriterion:
        """The criterion with beta_j held at ``value`` (X loses column j, y becomes
        y - value x_j)."""
        return LmmCriterion(gram_fixing(self.gram, j, value))


def _xy_transform(p: int, j: int, value: float) -> np.ndarray:
    """T (p + 1, p) with [X_{-j}, y - value x_j] = [X y] T."""
    keep = [k for k in range(p) if k != j]
    T = np.zeros((p + 1, p))
    for col, k in enumerate(keep):
        T[k, col] = 1.0
    T[p, p - 1] = 1.0
    T[j, p - 1] = -value
    return T


def gram_fixing(gram: Gram, j: int, value: float) -> Gram:
    """The Gram blocks of the model with beta_j held at ``value`` (an offset value x_j)."""
    p, mz = gram.p, gram.m_z
    T = _xy_transform(p, j, value)
    ARR = gram.ARR
    m_new = mz + p
    new = np.empty((m_new, m_new))
    new[:mz, :mz] = ARR[:mz, :mz]
    new[:mz, mz:] = ARR[:mz, mz:] @ T
    new[mz:, :mz] = new[:mz, mz:].T
    new[mz:, mz:] = T.T @ ARR[mz:, mz:] @ T
    return dataclasses.replace(gram, AXY0=T.T @ gram.AXY0, ARR=new, p=p - 1)


def gram_with_response(gram: Gram, design: Design, y: np.ndarray) -> Gram:
    """The Gram blocks with the y row and column recomputed for a new response y (n,)."""
    yv = np.asarray(y, dtype=float) - design.offset
    w = design.weights
    wy = w * yv
    terms = design.reterms
    t0 = terms[0]
    l0, q0 = t0.nlevels, t0.q
    c0 = t0.codes.astype(np.intp)
    AXY0 = gram.AXY0.copy()
    for j in range(q0):
        AXY0[-1, j::q0] = np.bincount(c0, weights=t0.X[:, j] * wy, minlength=l0)
    ARR = gram.ARR.copy()
    mz = gram.m_z
    for t, lay in zip(terms[1:], gram.terms[1:], strict=True):
        ck = t.codes.astype(np.intp)
        col = np.empty(lay.size)
        for i in range(t.q):
            col[i::t.q] = np.bincount(ck, weights=t.X[:, i] * wy, minlength=t.nlevels)
        ARR[lay.offset:lay.offset + lay.size, -1] = col
    xy = design.X.T @ wy
    ARR[mz:mz + gram.p, -1] = xy
    ARR[-1, -1] = float(yv @ wy)
    ARR[-1, :-1] = ARR[:-1, -1]
    return dataclasses.replace(gram, AXY0=AXY0, ARR=ARR)
