"""The covariance parameterisation shared by both engines: theta <-> Lambda <-> (SDs, correlations).

For a random-effects term k with q_k columns, the q_k x q_k covariance of one level's effects is

    Sigma_k = s^2 Lambda_k Lambda_k^T,

where Lambda_k is lower triangular with a non-negative diagonal and ``s`` is the scale: sigma
for linear mixed models (lme4's "relative" covariance factor), 1 for GLMMs. theta_k holds the
lower triangle of Lambda_k column by column, exactly lme4's order, so for q_k = 2::

    Lambda_k = [[theta_0, 0      ],
                [theta_1, theta_2]]

and the model's theta is the concatenation of the theta_k in the design's term order. The
diagonal entries are bounded below by 0; the others are free.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def theta_size(q: int) -> int:
    """Number of theta entries for a q-column term: q (q + 1) / 2."""
    return q * (q + 1) // 2


def _tril_indices_colmajor(q: int) -> tuple[Array, Array]:
    rows, cols = [], []
    for j in range(q):
        for i in range(j, q):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)


def diagonal_mask(q: int) -> Array:
    """Boolean mask over theta_k marking the diagonal entries of Lambda_k, shape (q(q+1)/2,)."""
    rows, cols = _tril_indices_colmajor(q)
    return rows == cols


def lower_bounds(q: int) -> Array:
    """lme4's bounds on theta_k: 0 on the diagonal of Lambda_k, -inf elsewhere."""
    return np.where(diagonal_mask(q), 0.0, -np.inf)


def initial_theta(q: int) -> Array:
    """lme4's starting value: Lambda_k = identity."""
    return diagonal_mask(q).astype(float)


def lambda_from_theta(theta_k: Array, q: int) -> Array:
    """Lower-triangular Lambda_k, shape (q, q), from theta_k, shape (q(q+1)/2,)."""
    lam = np.zeros((q, q))
    rows, cols = _tril_indices_colmajor(q)
    lam[rows, cols] = theta_k
    return lam


def theta_from_lambda(lam: Array) -> Array:
    """theta_k from a lower-triangular Lambda_k (columns of the lower triangle, lme4 order)."""
    rows, cols = _tril_indices_colmajor(lam.shape[0])
    return np.asarray(lam[rows, cols], dtype=float)


def cov_from_theta(theta_k: Array, q: int, scale: float = 1.0) -> Array:
    """Sigma_k = scale^2 Lambda_k Lambda_k^T, shape (q, q)."""
    lam = lambda_from_theta(theta_k, q)
    return scale**2 * (lam @ lam.T)


def sd_corr_from_cov(cov: Array) -> tuple[Array, Array]:
    """Standard deviations (q,) and correlation matrix (q, q); correlations with a zero SD are 0."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr = np.where(np.outer(sd, sd) > 0, corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return sd, np.clip(corr, -1.0, 1.0)


def sd_corr_from_theta(theta_k: Array, q: int, scale: float = 1.0) -> tuple[Array, Array]:
    """SDs (q,) and correlations (q, q) of Sigma_k = scale^2 Lambda_k Lambda_k^T."""
    return sd_corr_from_cov(cov_from_theta(theta_k, q, scale))


def theta_from_sd_corr(sd: Array, corr: Array | None = None, scale: float = 1.0) -> Array:
    """Inverse of :func:`sd_corr_from_theta`: theta_k with a non-negative diagonal.

    Works for singular covariances (zero SDs, correlations of +-1), where a library Cholesky
    would fail, by an outer-product Cholesky that leaves zero pivots at zero.
    """
    sd = np.atleast_1d(np.asarray(sd, dtype=float))
    q = sd.size
    corr = np.eye(q) if corr is None else np.asarray(corr, dtype=float)
    cov = np.outer(sd, sd) * corr / scale**2
    lam = np.zeros((q, q))
    for j in range(q):
        d = cov[j, j] - lam[j, :j] @ lam[j, :j]
        lam[j, j] = np.sqrt(max(d, 0.0))
        for i in range(j + 1, q):
            num = cov[i, j] - lam[i, :j] @ lam[j, :j]
            lam[i, j] = num / lam[j, j] if lam[j, j] > 0 else 0.0
    return theta_from_lambda(lam)
