"""Adaptive Gauss-Hermite quadrature for a GLMM with a single scalar random-effects term.

With one term of one column, the groups j = 1..l are conditionally independent, and the
marginal likelihood is a product of one-dimensional integrals over the spherical effect u_j:

    p(y_j) = int exp(-f_j(u) / 2) du / sqrt(2 pi),   f_j(u) = -2 sum_{i in j} log p(y_i | u) + u^2.

Centering each integral at the conditional mode u*_j (from PIRLS) and scaling it by
s_j = 1 / L_jj, with L_jj^2 the curvature of f_j / 2 at the mode, gives (Liu & Pierce 1994;
lme4's ``nAGQ > 1``)

    -2 log p(y_j) = f_j(u*_j) + log L_jj^2 - 2 log sum_k w_k exp(-(f_j(u*_j + s_j z_k)
                    - f_j(u*_j) - z_k^2) / 2)

with (z_k, w_k) the Gauss-Hermite rule for the standard normal. One node (z = 0, w = 1) is the
Laplace approximation, so the quadrature is written here as the Laplace criterion plus a
correction. Unlike lme4's criterion for nAGQ > 1, the sum keeps every normalising constant
of the family's density, so it is comparable with the Laplace fit and with a GLM.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

from ..design import Design
from ..errors import ModelError

#: Largest number of quadrature nodes accepted (lme4's limit).
MAX_NAGQ = 25


def check_agq(design: Design, nAGQ: int) -> None:
    """Refuse a quadrature that the model does not allow.

    Raises
    ------
    ModelError
        nAGQ negative or above :data:`MAX_NAGQ`, or nAGQ > 1 with anything but one scalar
        random-effects term.
    """
    whole = isinstance(nAGQ, (int, np.integer, float, np.floating)) and float(nAGQ).is_integer()
    if isinstance(nAGQ, bool) or not whole or nAGQ < 0:
        raise ModelError(f"nAGQ must be a non-negative integer; got {nAGQ!r}")
    if nAGQ > MAX_NAGQ:
        raise ModelError(f"nAGQ = {nAGQ} is above the largest supported value {MAX_NAGQ}")
    if nAGQ > 1 and (len(design.reterms) != 1 or design.reterms[0].q != 1):
        raise ModelError("nAGQ > 1 is only available for models with a single scalar random "
                         f"effects term; this model has terms "
                         f"{[f'{t.label} ({t.q} column(s))' for t in design.reterms]}")


def rule(nAGQ: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights (nAGQ,) for the standard normal (weights sum to 1)."""
    z, w = hermegauss(nAGQ)
    return z, w / np.sqrt(2.0 * np.pi)


def agq_correction(design: Design, theta: float, eta: np.ndarray, u: np.ndarray,
                   curvature: np.ndarray, phi: float, nAGQ: int) -> float:
    """The quadrature's correction to the Laplace criterion, summed over groups.

    Parameters
    ----------
    design : Design
        One scalar random-effects term.
    theta : float
        Lambda of the term (the SD of b).
    eta : ndarray, shape (n,)
        Linear predictor at the modes.
    u : ndarray, shape (l,)
        Spherical conditional modes u*_j.
    curvature : ndarray, shape (l,)
        L_jj^2, the curvature of f_j / 2 at the mode.
    phi : float
        Dispersion (theta for the negative binomial).
    nAGQ : int

    Returns
    -------
    float
        -2 sum_j log sum_k w_k exp(-(f_j(u*_j + s_j z_k) - f_j(u*_j) - z_k^2) / 2);
        +inf when a node leaves the link's range.
    """
    fam = design.family
    t = design.reterms[0]
    z, w = rule(nAGQ)
    codes = t.codes.astype(np.intp)
    s = 1.0 / np.sqrt(curvature)  # (l,)
    y, wt = design.y, design.weights
    shift = theta * t.X[:, 0] * s[codes]  # (n,): d eta / d z at each observation
    etak = eta[:, None] + shift[:, None] * z[None, :]  # (n, K)
    if not fam.link.valid_eta(etak):
        return float("inf")
    with np.errstate(all="ignore"):
        dev = fam.dev_resids(y[:, None], fam.linkinv(etak), wt[:, None], phi)  # (n, K)
        dev0 = fam.dev_resids(y, fam.linkinv(eta), wt, phi)
    nl = t.nlevels
    dsum = np.empty((nl, z.size))
    for k in range(z.size):
        dsum[:, k] = np.bincount(codes, weights=dev[:, k] - dev0, minlength=nl)
    uk = u[:, None] + s[:, None] * z[None, :]  # (l, K)
    df = dsum / fam.deviance_scale(phi) + uk**2 - u[:, None] ** 2
    if not np.all(np.isfinite(df)):
        return float("inf")
    return float(-2.0 * np.sum(logsumexp(-0.5 * (df - z[None, :] ** 2), b=w[None, :], axis=1)))
