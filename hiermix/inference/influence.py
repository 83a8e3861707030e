"""Influence of single groups and single observations on a maximum-likelihood fit.

Groups (influence.ME: Nieuwenhuis, te Grotenhuis & Pelzer 2012, The R Journal 4/2, 38-47).
For each level j of a grouping factor the model is refitted without j's rows, warm-started
from the full fit (theta, and beta and phi for GLMMs), giving beta_(-j), its covariance
V_(-j) and the variance components. With beta-hat and V the full fit's, and p fixed effects::

    dfbeta_j   = beta-hat - beta_(-j)                                   (p,)
    dfbetas_j  = (beta-hat - beta_(-j)) / sqrt(diag V_(-j))             (p,)
    cooks_j    = (beta-hat - beta_(-j))' V^{-1} (beta-hat - beta_(-j)) / p

as influence.ME's ``dfbetas.estex`` (standard errors of the fit without the group) and
``cooks.distance.estex`` (the full fit's covariance). ``delta_<label>`` is the change in each
SD, correlation and sigma or phi (labels of :mod:`hiermix.naming`), full minus deleted, the
same sign as dfbeta.

An LMM's refit builds no new design: the Gram blocks of [Z X y] are formed with the group's
rows at weight 0 (a level left without rows then contributes log det I = 0 and nothing to
r^2, so the profiled criterion is that of the data without the rows once n counts the rows
kept), the compiled criterion of :mod:`hiermix.inference.criterion` is minimised from
theta-hat, and beta, sigma and V_(-j) are read off the factor at the optimum.

Observations (lme4's ``cooks.distance.merMod``, LMMs only). With theta fixed at its estimate
the fitted values are linear in y: for A = [Z Lambda, X] and P = diag(I_q, 0_p), the
penalised least squares solution gives fitted = A (A' W A + P)^{-1} A' W y, and the hat
values of the Pearson residuals are h_i = w_i a_i' (A' W A + P)^{-1} a_i (lme4's
``hatvalues``). Cook's distance is

    D_i = (r_i / (1 - h_i))^2 h_i / (sigma^2 rank(X)),   r_i = sqrt(w_i) (y_i - fitted_i).

(A' W A + P) is formed densely, (q + p)^2 numbers: meant for models of up to a few thousand
random effects.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.linalg as sla

from ..covariance import cov_from_theta, lambda_from_theta
from ..design import Design
from ..errors import ModelError
from ..naming import cor_label, corr_pairs, sd_label


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.flags.writeable = False
    return a


def drop_rows(design: Design, keep: np.ndarray) -> Design:
    """The design restricted to the rows where ``keep`` is True; levels left without rows are
    dropped from every term (as R drops unused factor levels when lme4 rebuilds the frame).

    Raises
    ------
    ModelError
        The remaining X is rank deficient (a fixed effect that only the dropped rows inform).
    """
    keep = np.asarray(keep, dtype=bool)
    X = design.X[keep]
    if X.shape[1] and np.linalg.matrix_rank(X) < X.shape[1]:
        raise ModelError("without these rows the fixed-effects matrix is rank deficient: "
                         "a fixed effect is informed by the dropped rows only")
    terms = []
    for t in design.reterms:
        codes = t.codes[keep]
        used = np.unique(codes)
        remap = np.full(t.nlevels, -1, dtype=t.codes.dtype)
        remap[used] = np.arange(used.size, dtype=t.codes.dtype)
        terms.append(replace(t, codes=_frozen(remap[codes]),
                             levels=tuple(t.levels[i] for i in used), X=_frozen(t.X[keep])))
    return replace(design, y=_frozen(design.y[keep]), X=_frozen(X),
                   weights=_frozen(design.weights[keep]), offset=_frozen(design.offset[keep]),
                   rows=_frozen(design.rows[keep]), reterms=tuple(terms))


def _is_glmm(fit: Any) -> bool:
    from ..frequentist.glmm_result import GlmerResult

    return isinstance(fit, GlmerResult)


#: BOBYQA's initial trust-region radius for a warm-started LMM refit, relative to |theta|
#: (with a floor of WARM_STEP_MIN): deleting one group moves theta by a few per cent, and
#: nlopt's default radius spends most evaluations coming back from far away.
WARM_STEP = 0.02
WARM_STEP_MIN = 0.005
#: nlopt's tolerances for an LMM refit. lme4's (ftol_abs = xtol_abs = 1e-8) stop BOBYQA
#: where the criterion is flat to 1e-8, which leaves theta, and so the standard errors in
#: dfbetas, uncertain in the fifth digit; ftol_abs = 1e-12 pins them to the seventh
REFIT_FTOL_ABS = 1e-12
REFIT_XTOL_ABS = 1e-8


@dataclass(frozen=True)
class DeletedFit:
    """What a refit without some rows gives the influence measures.

    Attributes
    ----------
    beta : ndarray, shape (p,)
    se : ndarray, shape (p,)
        Standard errors of beta, sqrt(diag V_(-j)).
    varcorr : dict of str to float
        SDs, correlations and sigma or phi by label (:mod:`hiermix.naming`).
    theta : ndarray, shape (n_theta,)
    feval : int
        Evaluations of the criterion (LMMs: of the profiled criterion; GLMMs: of the
        Laplace or AGQ deviance in the engine's final stage).
    """

    beta: np.ndarray
    se: np.ndarray
    varcorr: dict[str, float]
    theta: np.ndarray
    feval: int


class _ZeroWeightCriterion:
    """The profiled criterion of an LMM fitted to the rows where ``keep`` is True, with the
    others given weight 0 (the layout of Z, and so the Gram blocks, stay those of the full
    design).

    A level left without rows has a zero block in Z'WZ: its block of
    Lambda' Z'WZ Lambda + I is the identity, adding 0 to log|L_theta|^2 and nothing to
    r^2(theta), so the criterion equals that of the model refitted to the remaining rows with
    the level dropped, once n counts the kept rows only. Evaluated by the compiled one-term
    kernel where the model has one term (:class:`~hiermix.inference.criterion.LmmCriterion`).
    """

    def __init__(self, design: Design, keep: np.ndarray, REML: bool) -> None:
        from ..covariance import lower_bounds
        from ..pls.gram import build_gram
        from .criterion import LmmCriterion

        gram = build_gram(design, weights=design.weights * keep)
        self.crit = LmmCriterion(replace(gram, n=int(np.count_nonzero(keep))))
        self.REML = REML
        self.lower = np.concatenate([lower_bounds(t.q) for t in design.reterms])
        self._dev = self.crit.deviance_function(REML)

    def __call__(self, theta: np.ndarray) -> float:
        return float(self._dev(theta))


def _lmm_refit(fit: Any, keep: np.ndarray) -> DeletedFit:
    """BOBYQA from theta-hat with a small first step (``WARM_STEP``) and lme4's boundary
    restart; beta, sigma and the standard errors from the factor at the optimum. No
    derivative checks, no result object: the influence measures need none of them."""
    from ..frequentist.lmm import restart_edge
    from ..frequentist.optimizer import bobyqa

    design = fit.design
    X = design.X[keep]
    if X.shape[1] and np.linalg.matrix_rank(X) < X.shape[1]:
        raise ModelError("without these rows the fixed-effects matrix is rank deficient: "
                         "a fixed effect is informed by the dropped rows only")
    obj = _ZeroWeightCriterion(design, keep, fit.REML)
    theta0 = np.asarray(fit.theta, dtype=float)
    step = np.maximum(WARM_STEP * np.abs(theta0), WARM_STEP_MIN)
    # restart_edge reads the objective's lower bounds and calls it: all this one has
    opt = restart_edge(cast(Any, obj),
                       bobyqa(obj, theta0, obj.lower, xtol_abs=REFIT_XTOL_ABS,
                              ftol_abs=REFIT_FTOL_ABS, initial_step=step))
    crit, theta = obj.crit, opt.final
    _, _, r2, factor = crit.parts(theta)
    if factor is None:
        raise ModelError("the refit without these rows has no positive definite factor")
    g = crit.gram
    p, mz = g.p, g.m_z
    sigma = float(np.sqrt(r2 / (g.n - p if fit.REML else g.n)))
    LR = factor if isinstance(factor, np.ndarray) else factor.LR
    # V_(-j) = sigma^2 (R_X' R_X)^{-1}: its diagonal is sigma^2 times the squared column
    # norms of R_X^{-1}, R_X = L_R[m_z:m_z + p, m_z:m_z + p] lower triangular
    RXinv = sla.solve_triangular(LR[mz:mz + p, mz:mz + p], np.eye(p), lower=True)
    se = sigma * np.sqrt(np.einsum("ij,ij->j", RXinv, RXinv))
    return DeletedFit(beta=np.asarray(crit.beta(factor), dtype=float), se=se,
                      varcorr=_varcorr_values(design.reterms, theta, sigma, sigma=sigma),
                      theta=theta, feval=opt.feval)


def _glmm_refit(fit: Any, keep: np.ndarray) -> DeletedFit:
    """:func:`~hiermix.frequentist.glmm.fit_glmm` on the remaining rows from (theta-hat,
    beta-hat, phi-hat), with its Hessian, from which the standard errors come."""
    from ..frequentist.glmm import fit_glmm

    design = drop_rows(fit.design, keep)
    start = {"theta": fit.theta, "beta": fit.beta}
    if fit.family.has_dispersion:
        start["phi"] = fit.phi
    with warnings.catch_warnings():
        # A refit's convergence messages belong to the refit, which is not kept.
        warnings.simplefilter("ignore")
        sub = fit_glmm(design, nAGQ=fit.nAGQ, start=start, lme4_compat=fit.lme4_compat,
                       blas_threads=None)
    phi = float(sub.phi) if fit.family.has_dispersion else None
    return DeletedFit(beta=np.asarray(sub.beta, dtype=float),
                      se=np.asarray(sub.fixef_se, dtype=float),
                      varcorr=_varcorr_values(design.reterms, np.asarray(sub.theta), 1.0,
                                              phi=phi),
                      theta=np.asarray(sub.theta, dtype=float), feval=sub.optsummary.feval)


def refit_without(fit: Any, keep: np.ndarray) -> DeletedFit:
    """The fit's model refitted to the rows where ``keep`` (n,) is True, warm-started from
    ``fit``: what the influence measures read of it.

    LMMs: the profiled criterion with the dropped rows at weight 0 (no new design, the Gram
    blocks rebuilt once), BOBYQA from theta-hat with a small first step (``WARM_STEP``) and
    lme4's boundary restart. GLMMs: :func:`~hiermix.frequentist.glmm.fit_glmm` on the
    remaining rows from (theta-hat, beta-hat, phi-hat).

    Raises
    ------
    ModelError
        The remaining X is rank deficient.
    """
    keep = np.asarray(keep, dtype=bool)
    if _is_glmm(fit):
        return _glmm_refit(fit, keep)
    return _lmm_refit(fit, keep)


def _grouping_term(fit: Any, group: str | None) -> Any:
    terms = fit.design.reterms
    if not terms:
        raise ModelError("the model has no random-effects terms, so no groups to delete")
    if group is None:
        return terms[0]
    for t in terms:
        if group in (t.group, t.label):
            return t
    known = list(dict.fromkeys(t.group for t in terms))
    raise ModelError(f"unknown grouping factor {group!r}; the model's are {', '.join(known)}")


def _varcorr_values(terms: Any, theta: np.ndarray, scale: float, sigma: float | None = None,
                   phi: float | None = None) -> dict[str, float]:
    """SDs, correlations and sigma (LMM) or phi (GLMM with a dispersion) by label, from
    Sigma_k = s^2 Lambda_k Lambda_k' (s = ``scale``: sigma for LMMs, 1 for GLMMs), as
    ``varcorr`` has them."""
    out: dict[str, float] = {}
    start = 0
    for t in terms:
        cov = cov_from_theta(theta[start:start + t.n_theta], t.q, scale)
        start += t.n_theta
        sd = np.sqrt(np.diag(cov))
        for j, c in enumerate(t.cnames):
            out[sd_label(t.label, c)] = float(sd[j])
        for a, b in corr_pairs(t.cnames):
            i, j = t.cnames.index(a), t.cnames.index(b)
            den = sd[i] * sd[j]
            out[cor_label(t.label, a, b)] = float(cov[i, j] / den) if den > 0 else 0.0
    if sigma is not None:
        out["sigma"] = float(sigma)
    if phi is not None:
        out["phi"] = float(phi)
    return out


def _fit_varcorr(fit: Any) -> dict[str, float]:
    if not _is_glmm(fit):
        return _varcorr_values(fit.design.reterms, np.asarray(fit.theta), fit.sigma,
                               sigma=fit.sigma)
    phi = float(fit.phi) if fit.family.has_dispersion else None
    return _varcorr_values(fit.design.reterms, np.asarray(fit.theta), 1.0, phi=phi)


@functools.cache
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _blas_single_thread() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread while refitting: the refits' matrices are small, and threads contend
    (inspecting the loaded libraries once, not at every call, as the engine does)."""
    return _controller().limit(limits=1, user_api="blas")


def group_influence(fit: Any, group: str | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """Leave-one-group-out influence of each level of a grouping factor (module docstring).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    group : str or None
        A grouping factor (``"Subject"``) or term label; the first term's when None.
    n_jobs : int
        Refits run at once (threads). The compiled criterion of a one-term LMM releases the
        GIL; the other refits hold it for much of their time: expect gains from 2 to 4 at
        most.

    Returns
    -------
    DataFrame indexed by level (named after the factor): ``cooks_distance``,
    ``dfbeta_<coef>`` and ``dfbetas_<coef>`` per fixed effect, and ``delta_<label>`` per
    variance component.
    """
    term = _grouping_term(fit, group)
    if n_jobs < 1:
        raise ModelError(f"n_jobs must be at least 1; got {n_jobs}")
    names = list(fit.design.fixef_names)
    p = len(names)
    beta = np.asarray(fit.beta, dtype=float)
    Vinv = np.linalg.pinv(np.asarray(fit.vcov, dtype=float))
    vc_full = _fit_varcorr(fit)

    def one(j: int) -> DeletedFit:
        return refit_without(fit, term.codes != j)

    with _blas_single_thread():
        if n_jobs == 1:
            fits = [one(j) for j in range(term.nlevels)]
        else:
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                fits = list(pool.map(one, range(term.nlevels)))
    rows = []
    for sub in fits:
        d = beta - sub.beta
        se = sub.se
        row: dict[str, float] = {"cooks_distance": float(d @ Vinv @ d) / p if p else np.nan}
        row.update({f"dfbeta_{n}": float(d[i]) for i, n in enumerate(names)})
        row.update({f"dfbetas_{n}": float(d[i] / se[i]) for i, n in enumerate(names)})
        row.update({f"delta_{k}": v - sub.varcorr.get(k, np.nan) for k, v in vc_full.items()})
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index(list(term.levels), name=term.group))


def hat_values(fit: Any) -> np.ndarray:
    """Diagonal of the hat matrix of the Pearson residuals of an LMM at theta-hat, shape (n,)
    (lme4's ``hatvalues``; see the module docstring)."""
    if _is_glmm(fit):
        raise ModelError("observation-level Cook's distances are defined here for linear "
                         "mixed models only (lme4 warns that the hat matrix of a GLMM may not "
                         "make sense); use influence(group=...) for a GLMM")
    d = fit.design
    lams, start = [], 0
    for t in d.reterms:
        lam = lambda_from_theta(fit.theta[start:start + t.n_theta], t.q)
        lams.append(np.kron(np.eye(t.nlevels), lam))  # (l q, l q), level-major as Z
        start += t.n_theta
    ZL = d.Z @ sla.block_diag(*lams) if lams else np.zeros((d.nobs, 0))
    A = np.hstack([np.asarray(ZL), np.asarray(d.X)])  # (n, q + p)
    w = np.asarray(d.weights, dtype=float)
    M = A.T @ (w[:, None] * A)
    q = A.shape[1] - d.p
    M[np.arange(q), np.arange(q)] += 1.0
    c = sla.cho_factor(M)
    # h_i = w_i a_i' M^{-1} a_i, row by row of A M^{-1} (n, q + p) * A
    return w * np.einsum("ij,ij->i", A, sla.cho_solve(c, A.T).T)


def obs_influence(fit: Any) -> pd.DataFrame:
    """Hat values and Cook's distances of each observation of an LMM (lme4's
    ``hatvalues`` and ``cooks.distance``), indexed by the row of the user's data."""
    h = hat_values(fit)
    r = fit.residuals("pearson")
    rank = np.linalg.matrix_rank(np.asarray(fit.design.X)) if fit.design.p else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cooks = (r / (1.0 - h)) ** 2 * h / (fit.sigma**2 * rank)
    cooks[~np.isfinite(cooks)] = np.nan
    return pd.DataFrame({"hat": h, "cooks_distance": cooks},
                        index=pd.Index(np.asarray(fit.design.rows), name="row"))


def influence(fit: Any, group: str | None = None, obs: bool = False,
              n_jobs: int = 1) -> pd.DataFrame:
    """Influence of groups (default) or observations (``obs=True``, LMMs) on ``fit``; see
    :func:`group_influence` and :func:`obs_influence`."""
    if obs:
        if group is not None:
            raise ModelError("give either group= or obs=True, not both")
        return obs_influence(fit)
    return group_influence(fit, group=group, n_jobs=n_jobs)
