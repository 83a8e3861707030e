"""Fitting a linear mixed model: the visible stages of lme4's ``lmer``.

::

    design -> build_gram -> LmmObjective (lme4's ``mkLmerDevfun``)
           -> bobyqa or lbfgsb, then restart_edge (``optimizeLmer``)
           -> post-fit checks (``checkConv``) -> LmerResult (``mkMerMod``)

BOBYQA (lme4's optimiser) is the default; when every term is scalar and the terms after the
first are large, L-BFGS-B with the analytic gradient (:mod:`hiermix.frequentist.gradient`)
reaches the same optimum in a quarter of the evaluations.

Parameterisation (Bates et al. 2015, JSS): theta gives Lambda(theta) (see
:mod:`hiermix.covariance`), b = Lambda u, beta and sigma are profiled out:

    beta-hat(theta), u-hat(theta)  from the blocked Cholesky L(theta)
    sigma-hat^2 = r^2(theta) / n        (ML)      or  r^2(theta) / (n - p)   (REML)

:class:`LmmObjective` is lme4's ``devFunOnly = TRUE``: the criterion as a function of theta.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import warnings
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from ..covariance import initial_theta, lower_bounds
from ..design import Design
from ..errors import PACKAGE_DIR, ModelError
from ..pls.blocked import BlockedCholesky, Factor, profiled_deviance
from ..pls.gram import build_gram
from .checks import (
    ConvergenceWarning,
    convergence_messages,
    deriv12,
    is_singular,
    singular_message,
    warn_singular,
)
from .gradient import gradient, scalar_terms_only
from .optimizer import OptSummary, bobyqa, lbfgsb
from .result import LmerResult

#: Above this many observations the finite-difference derivative checks are skipped unless
#: asked for, as lme4 skips them for large data (``calc.derivs``); they cost about
#: n_theta^2 extra evaluations.
DERIV_CHECK_MAX_NOBS = 10_000


class LmmObjective:
    """The profiled criterion of an LMM as a function of theta (lme4's deviance function).

    Parameters
    ----------
    design : Design
    REML : bool

    Attributes
    ----------
    chol : BlockedCholesky
    lower : ndarray, shape (n_theta,)
        lme4's bounds: 0 for diagonal entries of each Lambda_k, -inf otherwise.
    start : ndarray, shape (n_theta,)
        lme4's start: every Lambda_k the identity.
    """

    def __init__(self, design: Design, REML: bool = True) -> None:
        if design.family.name != "gaussian" or design.family.link.name != "identity":
            raise ModelError("a linear mixed model needs the gaussian family with the identity "
                             f"link; got {design.family.name}({design.family.link.name})")
        if REML and design.nobs <= design.p:
            raise ModelError(f"REML needs more observations ({design.nobs}) than fixed effects "
                             f"({design.p})")
        self.design = design
        self.REML = REML
        self.gram = build_gram(design)
        self.chol = BlockedCholesky(self.gram)
        self.lower = np.concatenate([lower_bounds(t.q) for t in design.reterms])
        self.start = np.concatenate([initial_theta(t.q) for t in design.reterms])

    def factor(self, theta: np.ndarray) -> Factor:
        return self.chol.update(theta)

    def __call__(self, theta: np.ndarray) -> float:
        g = self.gram
        return profiled_deviance(self.chol.update(theta), g.n, g.p, self.REML, g.sum_log_w)

    @property
    def has_gradient(self) -> bool:
        """True when the analytic gradient applies (every term scalar)."""
        return scalar_terms_only(self.chol)

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The criterion and its gradient (n_theta,) at theta; scalar terms only."""
        g = self.gram
        f = self.chol.update(theta)
        val = profiled_deviance(f, g.n, g.p, self.REML, g.sum_log_w)
        if not np.isfinite(val):
            return val, np.zeros_like(np.asarray(theta, dtype=float))
        return val, gradient(self.chol, f, self.REML)


def fit_lmm(design: Design, REML: bool = True, start: Any = None,
            check_derivs: bool | None = None, data_name: str | None = None,
            blas_threads: int | None = 1, optimizer: str = "auto") -> LmerResult:
    """Fit a linear mixed model to a design by (RE)ML, exactly as lme4's ``lmer``.

    Parameters
    ----------
    design : Design
        Gaussian family with the identity link.
    REML : bool
        Minimise the REML criterion (default) or the deviance.
    start : array-like or None
        Starting theta (n_theta,); lme4's start (Lambda = I) when None.
    check_derivs : bool or None
        Run the finite-difference gradient and Hessian checks; None runs them up to
        ``DERIV_CHECK_MAX_NOBS`` observations.
    data_name : str or None
        Shown on the ``Data:`` line of the summary.
    blas_threads : int or None
        BLAS threads while fitting (None leaves the library's setting).
    optimizer : {"auto", "bobyqa", "lbfgsb"}
        ``"bobyqa"``: lme4's BOBYQA. ``"lbfgsb"``: L-BFGS-B with the analytic gradient (every
        term scalar). ``"auto"`` (default) takes L-BFGS-B when the gradient applies and the
        terms after the first have at least ``GRADIENT_MIN_REST`` columns (evaluations are
        then expensive and the gradient saves most of them), BOBYQA otherwise.

    Returns
    -------
    LmerResult

    Warns
    -----
    ConvergenceWarning
        A gradient or Hessian check failed.
    """
    data_name = data_name or getattr(design, "data_name", "") or None
    obj = LmmObjective(design, REML)
    x0 = obj.start if start is None else np.asarray(start, dtype=float).ravel()
    if x0.shape != obj.start.shape:
        raise ModelError(f"start has {x0.size} values; theta has {obj.start.size}")
    # The dense blocks factored per evaluation are small; BLAS threads cost more than they
    # gain on them (measured: 25 ms single-threaded against 800 ms with two contending
    # threads for InstEval's 1,145 x 1,145 block on a shared 2-core machine).
    if optimizer not in ("auto", "bobyqa", "lbfgsb"):
        raise ModelError(f"unknown optimizer {optimizer!r}; use 'auto', 'bobyqa' or 'lbfgsb'")
    if optimizer == "lbfgsb" and not obj.has_gradient:
        raise ModelError("optimizer='lbfgsb' needs the analytic gradient, available when every "
                         "random-effects term has one column; use 'bobyqa'")
    use_gradient = optimizer == "lbfgsb" or (
        optimizer == "auto" and obj.has_gradient and obj.gram.m_z >= GRADIENT_MIN_REST)
    with _blas_limit(blas_threads):
        if use_gradient:
            opt = lbfgsb(obj.value_and_gradient, x0, obj.lower)
        else:
            opt = bobyqa(obj, x0, obj.lower)
        opt = restart_edge(obj, opt)
        return _finish(obj, design, opt, check_derivs, data_name)


#: Columns of the terms after the first from which ``optimizer="auto"`` uses the gradient.
GRADIENT_MIN_REST = 100


#: lme4's step for the one-sided derivative at a boundary (``optimizeLmer``, ``btol``).
EDGE_STEP = 1e-5


def restart_edge(obj: LmmObjective, opt: OptSummary) -> OptSummary:
    """lme4's ``restart_edge``: if a theta that ended on its bound 0 would lower the criterion
    by moving off it (one-sided difference, step 1e-5), optimise again from there.

    BOBYQA can stop on the boundary short of an interior optimum; lme4 restarts once.
    """
    at_edge = np.flatnonzero((obj.lower == 0) & (opt.final == 0))
    if at_edge.size == 0:
        return opt
    slopes = []
    for i in at_edge:
        th = opt.final.copy()
        th[i] = EDGE_STEP
        slopes.append((obj(th) - opt.fmin) / EDGE_STEP)
    if min(slopes) >= 0:
        return opt
    again = bobyqa(obj, opt.final, obj.lower)
    best = again if again.fmin <= opt.fmin else opt
    return dataclasses.replace(best, initial=opt.initial, feval=opt.feval + again.feval
                               + at_edge.size, seconds=opt.seconds + again.seconds,
                               restarts=opt.restarts + 1)


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager[Any]:
    if threads is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=threads, user_api="blas")


def _finish(obj: LmmObjective, design: Design, opt: OptSummary, check_derivs: bool | None,
            data_name: str | None) -> LmerResult:
    theta = opt.final
    messages: list[str] = []
    singular = is_singular(theta, obj.lower)
    if singular:
        messages.append(singular_message(design.reterms, theta))
        warn_singular(messages[-1])
    if check_derivs is None:
        check_derivs = design.nobs <= DERIV_CHECK_MAX_NOBS
    if check_derivs:
        derivs = deriv12(obj, theta, opt.fmin)
        interior = ~((obj.lower == 0) & (theta < 1e-4))
        conv = convergence_messages(derivs, interior)
        for msg in conv:
            warnings.warn(msg, ConvergenceWarning, skip_file_prefixes=(PACKAGE_DIR,))
        messages += conv
    opt = dataclasses.replace(opt, messages=tuple(messages))
    return LmerResult.from_factor(obj, obj.factor(theta), opt, singular, data_name)
