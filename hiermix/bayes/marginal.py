"""Gaussian models with b integrated out: sample (beta, Sigma, sigma), then draw b exactly.

For a linear mixed model with one random-effects term (grouping factor with l levels, term
columns X_k, Sigma = L L^T with L = L_k of :mod:`hiermix.bayes.build`) and prior weights w,
the marginal distribution of y is, independently over levels g,

    y_g ~ N(X_g beta + offset_g, sigma^2 W_g^{-1} + Z_g L L^T Z_g^T).

With A_g = Z_g^T W_g Z_g (q x q), r = y - offset - X beta, M_g = I + L^T A_g L / sigma^2 and
c_g = L^T Z_g^T W_g r_g / sigma^2, Woodbury's identity and the matrix determinant lemma give

    log p(y) = -n/2 log(2 pi) + 1/2 sum log w - n log sigma - 1/2 sum_g log det M_g
               - 1/2 (r' W r / sigma^2 - sum_g c_g' M_g^{-1} c_g).

Every data-dependent piece is a sufficient statistic computed once (r' W r, Z_g^T W_g r_g are
quadratic and linear in beta), so one evaluation costs O(l q^2 p) whatever n is. NUTS then
explores p + q (q + 3) / 2 parameters instead of adding l q effects, and b is drawn afterwards
from its exact conditional posterior given each draw: with b_g = L v_g,

    v_g | y, beta, L, sigma ~ N(M_g^{-1} c_g, M_g^{-1}),

so the pairs (parameters, b) are exact joint posterior draws. Implemented for q <= 2, where
M_g is inverted in closed form (the case of random intercepts and random slopes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design import Design
from ..naming import b_var, coef_dim, corr_var, level_dim, sd_var
from .build import BuiltModel, coords_of, fixed_part, term_cholesky
from .priors import Priors, resolve_priors
from .result import chol_draws

Array = np.ndarray
_LOG_2PI = float(np.log(2.0 * np.pi))
MAX_Q = 2


def can_marginalize(design: Design) -> bool:
    """True for gaussian identity-link models with one random-effects term of q <= 2."""
    return (design.family.is_lmm and len(design.reterms) == 1
            and design.reterms[0].q <= MAX_Q and bool(np.all(design.weights > 0)))


@dataclass(frozen=True, eq=False)
class SufficientStats:
    """Per-level statistics of a one-term gaussian design (l levels, q columns, p coefs).

    Attributes
    ----------
    A : ndarray, shape (l, q, q)
        Z_g^T W_g Z_g.
    Zy : ndarray, shape (l, q)
        Z_g^T W_g (y_g - offset_g).
    ZX : ndarray, shape (l, q, p)
        Z_g^T W_g X_g.
    yWy : float
    XWy : ndarray, shape (p,)
    XWX : ndarray, shape (p, p)
    n : int
    sum_log_w : float
    """

    A: Array
    Zy: Array
    ZX: Array
    yWy: float
    XWy: Array
    XWX: Array
    n: int
    sum_log_w: float


def sufficient_stats(design: Design) -> SufficientStats:
    """The statistics of :class:`SufficientStats`, by per-level sums (no dense Z)."""
    t = design.reterms[0]
    w = np.asarray(design.weights, dtype=float)
    y = np.asarray(design.y, dtype=float) - np.asarray(design.offset, dtype=float)
    X = np.asarray(design.X, dtype=float)
    Zk = np.asarray(t.X, dtype=float)
    ell, q, p = t.nlevels, t.q, X.shape[1]
    A = np.zeros((ell, q, q))
    np.add.at(A, t.codes, w[:, None, None] * Zk[:, :, None] * Zk[:, None, :])
    Zy = np.zeros((ell, q))
    np.add.at(Zy, t.codes, (w * y)[:, None] * Zk)
    ZX = np.zeros((ell, q, p))
    np.add.at(ZX, t.codes, w[:, None, None] * Zk[:, :, None] * X[:, None, :])
    return SufficientStats(A=A, Zy=Zy, ZX=ZX, yWy=float(np.sum(w * y * y)), XWy=X.T @ (w * y),
                           XWX=X.T @ (w[:, None] * X), n=int(y.size),
                           sum_log_w=float(np.sum(np.log(w))))


def _quad_logdet(M: Any, c: Any, q: int) -> tuple[Any, Any]:
    """(sum_g c_g' M_g^{-1} c_g, sum_g log det M_g) for M (l, q, q), c (l, q), q <= 2."""
    import pytensor.tensor as pt

    if q == 1:
        m = M[:, 0, 0]
        return pt.sum(pt.sqr(c[:, 0]) / m), pt.sum(pt.log(m))
    m00, m01, m11 = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    det = m00 * m11 - pt.sqr(m01)
    quad = (m11 * pt.sqr(c[:, 0]) - 2.0 * m01 * c[:, 0] * c[:, 1]
            + m00 * pt.sqr(c[:, 1])) / det
    return pt.sum(quad), pt.sum(pt.log(det))


def marginal_loglik_graph(stats: SufficientStats, beta: Any, L: Any, sigma: Any,
                          q: int) -> Any:
    """log p(y | beta, L, sigma) with b integrated out (a PyTensor scalar)."""
    import pytensor.tensor as pt

    s2 = pt.sqr(sigma)
    rWr = stats.yWy - 2.0 * pt.dot(stats.XWy, beta) + pt.dot(beta, pt.dot(stats.XWX, beta))
    u = stats.Zy - pt.tensordot(stats.ZX, beta, axes=[[2], [0]])  # (l, q)
    AL = pt.tensordot(stats.A, L, axes=[[2], [0]])  # (l, q, q) . (q, q) -> (l, q, q)
    LtAL = pt.tensordot(L.T, AL, axes=[[1], [1]]).dimshuffle(1, 0, 2)  # (l, q, q)
    M = pt.eye(q)[None, :, :] + LtAL / s2
    c = pt.dot(u, L) / s2  # rows u_g' L = (L' u_g)'
    quad, logdet = _quad_logdet(M, c, q)
    return (-0.5 * stats.n * _LOG_2PI + 0.5 * stats.sum_log_w - stats.n * pt.log(sigma)
            - 0.5 * logdet - 0.5 * (rWr / s2 - quad))


def build_model(design: Design, priors: Priors | str | Any = None) -> BuiltModel:
    """The PyMC model of a one-term gaussian design with b integrated out.

    The free variables and priors are those of :func:`hiermix.bayes.build.build_model`
    without ``z_<label>``; the likelihood is a ``pm.Potential`` named ``marginal_loglik``.
    """
    import pymc as pm

    pri = resolve_priors(design, priors)
    t = design.reterms[0]
    stats = sufficient_stats(design)
    coords = coords_of(design)
    with pm.Model(coords=coords) as model:
        fixed_part(design, pri, np.array(design.X, dtype=float))
        beta = model["beta"]
        L = term_cholesky(t, pri)
        sigma = pri.require("sigma").rv("sigma")
        pm.Potential("marginal_loglik", marginal_loglik_graph(stats, beta, L, sigma, t.q))
    return BuiltModel(model=model, design=design, priors=pri, centered=False)


def draw_b(built: BuiltModel, posterior: Any, rng: np.random.Generator) -> dict[str, Any]:
    """b drawn from its conditional posterior for each posterior draw.

    Returns
    -------
    dict
        ``{"b_<label>": DataArray (chain, draw, <label>_level, <label>_coef)}``.
    """
    import xarray as xr

    design = built.design
    t = design.reterms[0]
    stats = sufficient_stats(design)
    C, D = posterior.sizes["chain"], posterior.sizes["draw"]
    S = C * D
    beta = np.asarray(posterior["beta"]).reshape(S, -1)
    sigma = np.asarray(posterior["sigma"]).reshape(S)
    sd = np.asarray(posterior[sd_var(t.label)]).reshape(S, t.q)
    corr = (np.asarray(posterior[corr_var(t.label)]).reshape(S, -1) if t.q > 1 else None)
    L = chol_draws(sd, corr)  # (S, q, q)
    s2 = (sigma**2)[:, None, None]
    u = stats.Zy[None] - np.einsum("lqp,sp->slq", stats.ZX, beta)  # (S, l, q)
    LtAL = np.einsum("sqa,lqr,srb->slab", L, stats.A, L)  # (S, l, q, q)
    M = np.eye(t.q) + LtAL / s2[:, None]
    c = np.einsum("slq,sqa->sla", u, L) / s2  # (S, l, q)
    R = np.linalg.cholesky(M)  # M = R R'
    mean = np.linalg.solve(M, c[..., None])[..., 0]
    e = rng.standard_normal(mean.shape)
    # R^{-T} e has covariance (R R')^{-1} = M^{-1}
    dev = np.linalg.solve(np.swapaxes(R, -1, -2), e[..., None])[..., 0]
    v = mean + dev
    b = np.einsum("sqa,sla->slq", L, v)  # b_g = L v_g
    da = xr.DataArray(b.reshape(C, D, t.nlevels, t.q),
                      dims=("chain", "draw", level_dim(t.label), coef_dim(t.label)),
                      coords={"chain": posterior["chain"], "draw": posterior["draw"],
                              level_dim(t.label): list(t.levels),
                              coef_dim(t.label): list(t.cnames)})
    return {b_var(t.label): da}
