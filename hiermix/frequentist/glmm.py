"""Fitting a generalised linear mixed model: the visible stages of lme4's ``glmer``.

::

    design -> GLM start (IRLS, theta = 0) -> stage 0: bobyqa over (theta, [log phi]),
              beta inside PIRLS (lme4's nAGQ = 0) -> joint stage: bobyqa over
              (theta, beta, [log phi]) on the Laplace / AGQ criterion -> finite-difference
              Hessian (standard errors, convergence checks) -> GlmerResult

Model and criterion: :mod:`hiermix.frequentist.pirls` and :mod:`hiermix.frequentist.laplace`.
theta gives Lambda(theta), the Cholesky factor of each term's random-effects covariance (not
relative to a residual scale); b = Lambda u; phi is the dispersion, a parameter of the
likelihood, estimated jointly with theta and beta for the families that have one (the true
maximum likelihood of glmmTMB, not lme4's moment estimate).

Standard errors of beta come from the Hessian H of -2 log L over (theta, beta, [log phi]) by
central differences (lme4's ``use.hessian = TRUE``): vcov(beta) is the beta block of
2 H^{-1}. When H is not positive definite, or the derivatives are skipped, lme4's fallback is
used: (R_X' R_X)^{-1} from the PIRLS system with X at the estimates.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.linalg as sla

from ..design import Design
from ..errors import PACKAGE_DIR, ConvergenceError, ModelError, SeparationError
from ..family import get_family
from ..pls.blocked import BlockedCholesky
from .agq import check_agq
from .checks import (
    ConvergenceWarning,
    Derivatives,
    convergence_messages,
    is_singular,
    singular_message,
    warn_singular,
)
from .glmer_nb import fit_glmer_nb, start_from_poisson
from .glmm_result import GlmerResult
from .laplace import GlmmObjective
from .lmm import _blas_limit
from .optimizer import OptSummary, bobyqa
from .pirls import PirlsError, PirlsState
from .separation import separating_columns, separation_message

#: As for lmer: the finite-difference Hessian (and so the Hessian-based standard errors) is
#: skipped above this many observations unless asked for, as lme4's ``calc.derivs``.
DERIV_CHECK_MAX_NOBS = 10_000

#: Finite-difference step for the Hessian, in the whitened coordinates of the joint stage
#: (beta in units of its standard error): large enough that rounding in the criterion
#: (about 1e-10 absolute) stays far below the second differences.
DERIV_DELTA = 1e-3


def _initial_mu(design: Design) -> np.ndarray:
    """R's ``family$initialize`` starting means, shape (n,)."""
    return design.family.initialize(design.y, design.weights)


def glm_start(obj: GlmmObjective) -> tuple[np.ndarray, float]:
    """beta and phi of the GLM without random effects (IRLS from R's starting means).

    phi is the Pearson estimate sum(a (y - mu)^2 / V(mu)) / (n - p), 1 without dispersion.
    For the negative binomial the GLM is fitted with theta = 1 and theta started from the
    moments, 1 / theta = sum((y - mu)^2 - mu) / sum(mu^2) (E (y - mu)^2 = mu + mu^2 / theta),
    kept within [1e-3, 1e3].

    Raises
    ------
    ConvergenceError
        The GLM's IRLS failed.
    """
    d = obj.design
    fam = d.family
    eta0 = fam.linkfun(_initial_mu(d))
    try:
        st = obj.pirls.fit(np.zeros(obj.n_theta), np.zeros(obj.p), 1.0, with_beta=True,
                           eta0=eta0)
    except PirlsError as exc:
        _raise_if_separated(d, exc)
        raise ConvergenceError(f"the GLM fit that provides starting values failed: {exc}; "
                               "give starting values with start=") from exc
    phi = 1.0
    if obj.dispersion and fam.name == "negative_binomial":
        mu = st.mu
        inv = float(np.sum(d.weights * ((d.y - mu) ** 2 - mu)) / np.sum(d.weights * mu**2))
        phi = float(np.clip(1.0 / inv, 1e-3, 1e3)) if inv > 0 else 1e3
    elif obj.dispersion:
        r2 = d.weights * (d.y - st.mu) ** 2 / fam.variance(st.mu)
        phi = float(np.sum(r2) / max(d.nobs - d.p, 1))
    return st.beta, phi


def _raise_if_separated(design: Design, cause: BaseException | None = None) -> None:
    """After PIRLS failed: a :class:`SeparationError` naming the columns, if any separate."""
    columns = separating_columns(design)
    if columns:
        raise SeparationError(separation_message(design, columns), columns) from cause


def rx_vcov(obj: GlmmObjective, st: PirlsState) -> np.ndarray:
    """lme4's fallback vcov of beta, (R_X' R_X)^{-1} (p, p), from PIRLS with X at a state."""
    fam = obj.family
    me = fam.mu_eta(st.eta)
    w = obj.pirls.wt * me**2 / (fam.deviance_scale(st.phi) * fam.variance(st.mu, st.phi))
    chol = BlockedCholesky(obj.pirls.wgram.build(w, w, True))
    f = chol.update(st.theta)
    if not f.ok:
        return np.full((obj.p, obj.p), np.nan)
    mz, p = chol.gram.m_z, obj.p
    RXinv = sla.solve_triangular(f.LR[mz:mz + p, mz:mz + p], np.eye(p), lower=True)
    return RXinv.T @ RXinv


def _hessian_vcov(H: np.ndarray, beta_idx: slice) -> np.ndarray | None:
    """The beta block of 2 H^{-1}, or None when H is not positive definite."""
    try:
        c = sla.cho_factor(0.5 * (H + H.T))
    except (np.linalg.LinAlgError, ValueError):
        return None
    V = 2.0 * sla.cho_solve(c, np.eye(H.shape[0]))
    return V[beta_idx, beta_idx]


def fit_glmm(design: Design, nAGQ: int = 1, start: dict[str, Any] | None = None,
             check_derivs: bool | None = None, use_hessian: bool = True, lme4_compat: bool = False,
             data_name: str | None = None, blas_threads: int | None = 1) -> GlmerResult:
    """Fit a GLMM by maximum likelihood (Laplace, AGQ, or lme4's nAGQ = 0).

    Parameters
    ----------
    design : Design
    nAGQ : int
        0: stage 0 only (beta from PIRLS); 1: Laplace; 2..25: adaptive Gauss-Hermite
        quadrature (one scalar random-effects term).
    start : dict or None
        Optional ``theta`` (n_theta,), ``beta`` (p,), ``phi`` (float; the negative
        binomial's theta, and with ``lme4_compat`` the centre of glmer.nb's search) to start
        from.
    check_derivs : bool or None
        Compute the finite-difference Hessian (standard errors, convergence checks); None
        does so up to ``DERIV_CHECK_MAX_NOBS`` observations.
    use_hessian : bool
        Standard errors from the Hessian (lme4's default) or from R_X.
    lme4_compat : bool
        Reproduce lme4's numbers: Fisher weights in log|L|^2 for non-canonical links and,
        for Gamma, inverse Gaussian and gaussian with a non-identity link, lme4's plug-in
        dispersion instead of the maximum-likelihood one (see
        :mod:`hiermix.frequentist.laplace`); for the negative binomial, ``glmer.nb``'s search
        over theta (:mod:`hiermix.frequentist.glmer_nb`).
    data_name : str or None
    blas_threads : int or None
        BLAS threads while fitting (None leaves the library's setting); the dense blocks
        are small, and threads cost more than they gain on them.

    Returns
    -------
    GlmerResult

    Raises
    ------
    ModelError
        Bad nAGQ or start.
    ConvergenceError
        PIRLS fails at the estimates.

    Warns
    -----
    ConvergenceWarning
        A gradient or Hessian check failed, or the Hessian is not positive definite.
    """
    data_name = data_name or getattr(design, "data_name", "") or None
    with _blas_limit(blas_threads):
        return _fit(design, nAGQ, start, check_derivs, use_hessian, lme4_compat, data_name)


def _fit(design: Design, nAGQ: int, start: dict[str, Any] | None, check_derivs: bool | None,
         use_hessian: bool, lme4_compat: bool, data_name: str | None,
         fixed_phi: float | None = None) -> GlmerResult:
    check_agq(design, nAGQ)
    nAGQ = int(nAGQ)
    if lme4_compat and design.family.name == "negative_binomial" and fixed_phi is None:
        return _fit_glmer_nb(design, nAGQ, start, check_derivs, use_hessian, data_name)
    if lme4_compat and design.family.has_scale and nAGQ > 1:
        raise ModelError("lme4_compat with nAGQ > 1 is not available for families with a "
                         "dispersion: lme4's plug-in dispersion has no quadrature counterpart "
                         "here; use nAGQ = 1 or the maximum-likelihood fit (lme4_compat=False)")
    obj = GlmmObjective(design, nAGQ=max(nAGQ, 1), lme4_compat=lme4_compat,
                        fixed_phi=fixed_phi)
    start = dict(start or {})
    unknown = set(start) - {"theta", "beta", "phi"}
    if unknown:
        raise ModelError(f"unknown entries in start: {sorted(unknown)}; use theta, beta, phi")
    beta0, phi0 = glm_start(obj)
    if "beta" in start:
        beta0 = _vector(start["beta"], obj.p, "beta")
    if "phi" in start:
        phi0 = float(start["phi"])
        if not phi0 > 0:
            raise ModelError(f"start phi must be positive; got {phi0!r}")
    theta0 = (_vector(start["theta"], obj.n_theta, "theta") if "theta" in start
              else obj.start_theta)
    obj.beta0 = beta0
    tail = [np.log(phi0)] if obj.dispersion else []

    x0 = np.concatenate([theta0, tail])
    opt0 = bobyqa(obj.stage0, x0, obj.lower(False))
    obj.state = None
    if not np.isfinite(obj.stage0(opt0.final)):
        _raise_if_separated(design)
        raise ConvergenceError("PIRLS failed at the nAGQ = 0 estimates")
    st0 = obj.state
    if st0 is None:
        raise ConvergenceError("PIRLS left no conditional modes at the nAGQ = 0 estimates")
    theta, beta, phi = opt0.final[:obj.n_theta], st0.beta, st0.phi
    opt = opt0
    k, p = obj.n_theta, obj.p
    # The joint stage works in whitened coordinates for beta, beta = beta_0 + C z with
    # C C' the R_X covariance at the nAGQ = 0 estimates: the criterion is then about equally
    # curved in every direction, which BOBYQA and the finite differences both need (an
    # uncentred covariate such as VerbAgg's Anger otherwise leaves a long, flat valley).
    # nAGQ = 0 stops at stage 0, whose vector is (theta, [log phi]) without beta: the
    # coordinates below must be sized for the stage that produced the estimates.
    scale = np.eye(x0.size if nAGQ == 0 else k + p + (1 if obj.dispersion else 0))
    origin = np.zeros(scale.shape[0])
    if nAGQ != 0:
        V0 = rx_vcov(obj, st0)
        try:
            C = np.linalg.cholesky(0.5 * (V0 + V0.T))
        except np.linalg.LinAlgError:
            C = np.diag(np.sqrt(np.clip(np.abs(np.diag(V0)), 1e-12, None)))
        if not np.all(np.isfinite(C)):
            C = np.eye(p)
        scale[k:k + p, k:k + p] = C
        origin[k:k + p] = beta

        def joint(xz: np.ndarray) -> float:
            return obj(origin + scale @ xz)

        z0 = np.concatenate([theta, np.zeros(p), [np.log(phi)] if obj.dispersion else []])
        step = np.concatenate([np.maximum(0.1 * np.abs(theta), 0.05), np.full(p, 0.5),
                               [0.1] if obj.dispersion else []])
        opt = bobyqa(joint, z0, obj.lower(True), initial_step=step)
        opt = replace(opt, feval=opt.feval + opt0.feval, seconds=opt.seconds + opt0.seconds,
                      optimizer=f"nlopt BOBYQA (nAGQ = 0 stage: {opt0.feval} evaluations; "
                                "joint stage, beta whitened)",
                      initial=origin + scale @ opt.initial, final=origin + scale @ opt.final)
        fun_z = joint
    else:
        fun_z = obj.stage0
    xf = opt.final
    zf = np.linalg.solve(scale, xf - origin)
    theta = xf[:k]
    fun = obj if nAGQ != 0 else obj.stage0
    messages: list[str] = []
    singular = is_singular(theta, obj.lower_theta)
    if singular:
        messages.append(singular_message(design.reterms, theta))
        warn_singular(messages[-1])
    if check_derivs is None:
        check_derivs = design.nobs <= DERIV_CHECK_MAX_NOBS
    vcov_beta = None
    if check_derivs:
        fz = fun_z(zf)
        obj.anchor = obj.state  # each difference point starts PIRLS from the optimum's modes
        try:
            dz = derivatives(fun_z, zf, fz, delta=DERIV_DELTA)
        finally:
            obj.anchor = None
        # Back to (theta, beta, [log phi]): g = S^{-T} g_z, H = S^{-T} H_z S^{-1}.
        Sinv = np.linalg.inv(scale)
        derivs = Derivatives(Sinv.T @ dz.gradient, Sinv.T @ dz.hessian @ Sinv)
        interior = np.concatenate([~((obj.lower_theta == 0) & (theta < 1e-4)),
                                   np.ones(xf.size - k, dtype=bool)])
        if np.all(np.isfinite(derivs.hessian)) and np.all(np.isfinite(derivs.gradient)):
            conv = convergence_messages(derivs, interior)
        else:
            conv = ["unable to evaluate the Hessian: the criterion is undefined next to "
                    "the estimates"]
            derivs = None
        if nAGQ != 0 and use_hessian and derivs is not None:
            vcov_beta = _hessian_vcov(derivs.hessian, slice(k, k + p))
            if vcov_beta is None:
                conv.append("Hessian of the Laplace criterion is not positive definite: "
                            "standard errors from R_X (PIRLS) instead")
        for msg in conv:
            warnings.warn(msg, ConvergenceWarning, skip_file_prefixes=(PACKAGE_DIR,))
        messages += conv
    obj.state = None
    fmin = fun(xf)
    if not np.isfinite(fmin):
        _raise_if_separated(design)
        raise ConvergenceError("PIRLS failed at the estimates")
    st = obj.state
    if st is None:
        raise ConvergenceError("PIRLS left no conditional modes at the estimates")
    vcov_source = "hessian"
    if vcov_beta is None:
        vcov_beta, vcov_source = rx_vcov(obj, st), "pirls"
    opt = replace(opt, fmin=fmin, messages=tuple(messages))
    return GlmerResult.from_state(obj, st, opt, singular, vcov_beta, vcov_source, nAGQ,
                                  data_name)


def _fit_glmer_nb(design: Design, nAGQ: int, start: dict[str, Any] | None,
                  check_derivs: bool | None, use_hessian: bool,
                  data_name: str | None) -> GlmerResult:
    """lme4's ``glmer.nb`` (:mod:`hiermix.frequentist.glmer_nb`): a Poisson fit for theta_0
    (or theta_0 = ``start["phi"]``, lme4's ``initCtrl$theta``), then a search over theta of
    lme4-compatible fits with theta fixed."""
    if nAGQ > 1:
        raise ModelError("lme4_compat with nAGQ > 1 is not available for the negative binomial "
                         "family; use nAGQ = 1, or the maximum-likelihood fit "
                         "(lme4_compat=False), which estimates theta under quadrature too")
    start = dict(start or {})

    def fixed(theta: float, st: dict[str, Any], derivs: bool | None) -> GlmerResult:
        return _fit(design, nAGQ, st, derivs, use_hessian, True, data_name, fixed_phi=theta)

    if "phi" in start:
        th0 = float(start.pop("phi"))
        if not th0 > 0:
            raise ModelError(f"start phi (theta) must be positive; got {th0!r}")
    else:
        poisson = get_family("poisson", design.family.link)
        pois = _fit(replace(design, family=poisson), nAGQ, start, False, use_hessian, True,
                    data_name)
        th0 = start_from_poisson(design, pois)
        start = {"theta": np.array(pois.theta), "beta": np.array(pois.beta)}
    return fit_glmer_nb(fixed, th0, start, check_derivs)


def derivatives(fun: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
                delta: float) -> Derivatives:
    """Central-difference gradient (k,) and Hessian (k, k) in k (k + 1) evaluations.

    lme4's ``deriv12`` spends four evaluations on each off-diagonal entry; two suffice with
    the same O(delta^2) error, from f(x + a) + f(x - a) - 2 f(x) = a' H a + O(delta^4) along
    a = delta (e_i + e_j):

        H_ij = (f_{++} + f_{--} - f_{+i} - f_{-i} - f_{+j} - f_{-j} + 2 f) / (2 delta^2).
    """
    k = x.size
    plus, minus = np.empty(k), np.empty(k)
    eye = np.eye(k) * delta
    for i in range(k):
        plus[i], minus[i] = fun(x + eye[i]), fun(x - eye[i])
    grad = (plus - minus) / (2.0 * delta)
    hess = np.diag((plus - 2.0 * fx + minus) / delta**2)
    for i in range(k):
        for j in range(i):
            fpp, fmm = fun(x + eye[i] + eye[j]), fun(x - eye[i] - eye[j])
            hess[i, j] = hess[j, i] = (fpp + fmm - plus[i] - minus[i] - plus[j] - minus[j]
                                       + 2.0 * fx) / (2.0 * delta**2)
    return Derivatives(grad, hess)


def _vector(x: Any, size: int, name: str) -> np.ndarray:
    v = np.asarray(x, dtype=float).ravel()
    if v.size != size:
        raise ModelError(f"start {name} has {v.size} values; the model has {size}")
    return v


__all__ = ["DERIV_CHECK_MAX_NOBS", "OptSummary", "fit_glmm", "glm_start", "rx_vcov"]
