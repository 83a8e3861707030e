"""The log prior density of each posterior draw, one term per prior class: the ``log_prior`` group.

Power-scaling the prior (Kallioinen et al. 2024; ``arviz_stats.psense``) reweights draws by
p(theta)^(alpha - 1) and so needs log p(theta) per draw. The model's prior (see
:mod:`hiermix.bayes.priors` and :mod:`hiermix.bayes.build`) factorises over its classes::

    log p = log p_intercept(alpha) + sum_j log p_coef(beta_j) + sum_k [sum_j log p_sd(sd_kj)
            + log LKJ(R_k | eta_k)] + log p_sigma(sigma)  (or log p_phi(phi))

with alpha the intercept of the centred predictors (``Intercept + mean(X_slope) beta_slope``,
the variable the intercept prior is put on). Each term is a density of the parameter as it is
reported (an SD, a correlation matrix), with every normalising constant and without the
Jacobians of the sampler's unconstrained coordinates: priorsense power-scales the prior of the
parameters, and a Jacobian is not part of it. The hierarchical distribution of the random
effects, b_k ~ N(0, Sigma_k), is left out, as priorsense leaves it out of brms's ``lprior``: it
is the model of the groups, not a prior the user chose. A flat prior contributes 0.

The LKJ density of a q x q correlation matrix R (off-diagonal entries as coordinates) is
det(R)^(eta - 1) / c_q(eta), with the normaliser of Lewandowski, Kurowicka & Joe (2009),
Journal of Multivariate Analysis 100, eq. 16::

    c_q(eta) = 2^(sum_{k=1}^{q-1} (2 eta - 2 + q - k)(q - k))
               prod_{k=1}^{q-1} B(eta + (q - k - 1) / 2, eta + (q - k - 1) / 2)^(q - k)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from ..design import Design
from ..errors import ModelError
from ..naming import INTERCEPT, corr_pairs, corr_var, sd_var
from .priors import (
    LKJ,
    Exponential,
    Flat,
    HalfNormal,
    HalfStudentT,
    InverseSqrt,
    Normal,
    Prior,
    Priors,
    StudentT,
    has_intercept,
)

Array = np.ndarray
_LOG2 = float(np.log(2.0))


def prior_logpdf(prior: Prior, x: Array) -> Array:
    """Elementwise log density of ``prior`` at ``x`` (parameters broadcast on the last axis).

    Parameters
    ----------
    prior : Prior
        Normal, StudentT, Flat, HalfNormal, HalfStudentT, Exponential, or InverseSqrt of
        one of the positive ones (the density of x that its base density of 1 / sqrt(x)
        implies).
    x : ndarray, shape (S, m) or (S,)

    Returns
    -------
    ndarray, the shape of ``x``; -inf outside the support.
    """
    x = np.asarray(x, dtype=float)
    if isinstance(prior, InverseSqrt):
        # The density of x as reported (theta of the negative binomial), as for every other
        # class: the base density at kappa = 1 / sqrt(x) times |d kappa / dx| = x^(-3/2) / 2.
        xs = np.where(x > 0, x, 1.0)
        lp = prior_logpdf(prior.base, 1.0 / np.sqrt(xs)) - _LOG2 - 1.5 * np.log(xs)
        return np.where(x > 0, lp, -np.inf)
    if isinstance(prior, Flat):
        return np.zeros_like(x)
    if isinstance(prior, Normal):
        return np.asarray(stats.norm.logpdf(x, prior.mu, prior.sigma))
    if isinstance(prior, StudentT):
        return np.asarray(stats.t.logpdf(x, prior.nu, prior.mu, prior.sigma))
    out: Array
    if isinstance(prior, HalfNormal):
        out = _LOG2 + stats.norm.logpdf(x, 0.0, prior.sigma)
    elif isinstance(prior, HalfStudentT):
        out = _LOG2 + stats.t.logpdf(x, prior.nu, 0.0, prior.sigma)
    elif isinstance(prior, Exponential):
        lam = np.asarray(prior.lam, dtype=float)
        out = np.log(lam) - lam * x
    else:
        raise ModelError(f"no log density for the prior {prior}")
    return np.where(x >= 0, out, -np.inf)


def lkj_log_normaliser(q: int, eta: float) -> float:
    """log c_q(eta) of the module docstring (the integral of det(R)^(eta - 1))."""
    power = sum((2.0 * eta - 2.0 + q - k) * (q - k) for k in range(1, q))
    beta = sum((q - k) * special.betaln(eta + (q - k - 1) / 2.0, eta + (q - k - 1) / 2.0)
               for k in range(1, q))
    return float(power * _LOG2 + beta)


def lkj_logpdf(corr: Array, q: int, eta: float) -> Array:
    """log LKJ(R | eta) per draw.

    Parameters
    ----------
    corr : ndarray, shape (S, q (q - 1) / 2)
        Correlations in :func:`hiermix.naming.corr_pairs` order.
    q : int
    eta : float

    Returns
    -------
    ndarray, shape (S,); -inf where R is not positive definite.
    """
    corr = np.asarray(corr, dtype=float).reshape(-1, q * (q - 1) // 2)
    R = np.broadcast_to(np.eye(q), (corr.shape[0], q, q)).copy()
    k = 0
    for j in range(q):
        for i in range(j + 1, q):
            R[:, i, j] = R[:, j, i] = corr[:, k]
            k += 1
    sign, logdet = np.linalg.slogdet(R)
    out = (eta - 1.0) * logdet - lkj_log_normaliser(q, eta)
    return np.where(sign > 0, out, -np.inf)


def log_prior_terms(posterior: Any, design: Design, priors: Priors) -> dict[str, Array]:
    """log p of each prior class per draw (see the module docstring).

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws (chain, draw) of ``beta``, ``sd_<label>``, ``corr_<label>`` and ``sigma`` or
        ``phi``, as :func:`hiermix.bayes.sample` stores them.
    design : Design
    priors : Priors

    Returns
    -------
    dict of str -> ndarray, shape (chain, draw) each
        Keys ``intercept``, ``coef``, ``sd_<label>``, ``corr_<label>``, ``sigma``, ``phi``
        (those the model has).
    """
    C, D = posterior.sizes["chain"], posterior.sizes["draw"]

    def flat(name: str) -> Array:
        a = np.asarray(posterior[name], dtype=float)
        return a.reshape(C * D, -1)

    out: dict[str, Array] = {}
    names = list(design.fixef_names)
    if names:
        beta = flat("beta")
        X = np.asarray(design.X, dtype=float)
        if has_intercept(design):
            i0 = names.index(INTERCEPT)
            slope = [j for j in range(len(names)) if j != i0]
            # (S,) + (S, p-1) @ (p-1,): the intercept of the centred predictors
            alpha = beta[:, i0] + beta[:, slope] @ X[:, slope].mean(axis=0)
            out["intercept"] = prior_logpdf(priors.require("intercept"), alpha)
        else:
            slope = list(range(len(names)))
        if slope:
            out["coef"] = prior_logpdf(priors.require("coef"), beta[:, slope]).sum(axis=1)
    for t in design.reterms:
        out[sd_var(t.label)] = prior_logpdf(priors.sd[t.label], flat(sd_var(t.label))).sum(axis=1)
        if t.q > 1:
            lkj: LKJ = priors.corr[t.label]
            pairs = len(corr_pairs(t.cnames))
            out[corr_var(t.label)] = lkj_logpdf(flat(corr_var(t.label)).reshape(-1, pairs), t.q,
                                                float(lkj.eta))
    for name in ("sigma", "phi"):
        if name in posterior and getattr(priors, name) is not None:
            out[name] = prior_logpdf(priors.require(name), flat(name)[:, 0])
    return {k: np.asarray(v, dtype=float).reshape(C, D) for k, v in out.items()}


def log_prior_dataset(posterior: Any, design: Design, priors: Priors) -> Any:
    """The ``log_prior`` group: :func:`log_prior_terms` as an ``xarray.Dataset`` (chain, draw)."""
    import xarray as xr

    terms = log_prior_terms(posterior, design, priors)
    coords = {"chain": posterior["chain"], "draw": posterior["draw"]}
    return xr.Dataset({k: (("chain", "draw"), v) for k, v in terms.items()}, coords=coords)
