"""Simulating responses of a linear mixed model from given parameters (lme4's ``simulate``).

For each simulation, with theta giving Lambda_k (see :mod:`hiermix.covariance`)::

    u_k ~ N(0, I)  per level,   b_k = sigma Lambda_k u_k,
    y = X beta + offset + Z b + sigma eps / sqrt(w),   eps ~ N(0, I).

Variance components may be given as theta (relative to sigma, lme4's order) or as SDs and
correlations per term label, which is how simulation studies state their truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..arguments import check_count, make_rng
from ..covariance import lambda_from_theta, theta_from_sd_corr
from ..design import Design
from ..errors import ModelError
from .result import random_part


def theta_from_varcorr(design: Design, sd: Mapping[str, Any],
                       corr: Mapping[str, Any] | None = None, sigma: float = 1.0) -> np.ndarray:
    """theta (n_theta,) from SDs (and correlation matrices) per term label.

    Parameters
    ----------
    sd : mapping
        Term label (``"Subject"``, ``"Subject.1"``) -> SDs, shape (q_k,).
    corr : mapping or None
        Term label -> correlation matrix (q_k, q_k); identity when absent.
    sigma : float
        Residual SD: theta is relative to it.
    """
    corr = corr or {}
    out = []
    for t in design.reterms:
        if t.label not in sd:
            raise ModelError(f"no SD given for random-effects term {t.label!r}; terms are "
                             f"{[x.label for x in design.reterms]}")
        s = np.atleast_1d(np.asarray(sd[t.label], dtype=float))
        if s.size != t.q:
            raise ModelError(f"term {t.label!r} has {t.q} column(s); got {s.size} SDs")
        c = corr.get(t.label)
        out.append(theta_from_sd_corr(s, None if c is None else np.asarray(c, dtype=float),
                                      scale=sigma))
    return np.concatenate(out)


def simulate(design: Design, beta: Any, sigma: float, theta: Any = None,
             sd: Mapping[str, Any] | None = None, corr: Mapping[str, Any] | None = None,
             nsim: int = 1, seed: Any = None) -> pd.DataFrame:
    """Draw ``nsim`` responses of the LMM with the given parameters.

    Parameters
    ----------
    design : Design
        Gives X, Z, weights and offset.
    beta : array-like, shape (p,)
    sigma : float
        Residual SD.
    theta : array-like, shape (n_theta,), optional
        Relative covariance factors in lme4's order; or give ``sd`` (and ``corr``) instead.
    sd, corr : mappings, optional
        See :func:`theta_from_varcorr`.
    nsim : int
        At least 1.
    seed : int, numpy Generator or None

    Raises
    ------
    ArgumentError
        ``nsim`` not a positive whole number; a ``seed`` numpy cannot use.
    ModelError
        Parameters of the wrong size or out of range.

    Returns
    -------
    DataFrame, shape (n, nsim), columns ``sim_1`` ... ``sim_nsim``
    """
    nsim = check_count(nsim, "nsim", 1)
    rng = make_rng(seed, "seed")
    beta = np.asarray(beta, dtype=float).ravel()
    if beta.size != design.p:
        raise ModelError(f"beta has {beta.size} values; the design has {design.p} fixed effects")
    if not sigma > 0:
        raise ModelError(f"sigma must be positive; got {sigma!r}")
    if (theta is None) == (sd is None):
        raise ModelError("give the variance components either as theta or as sd (and corr)")
    th = (theta_from_varcorr(design, sd, corr, sigma) if sd is not None
          else np.asarray(theta, dtype=float).ravel())
    if th.size != design.n_theta:
        raise ModelError(f"theta has {th.size} values; the design needs {design.n_theta}")
    eta = design.X @ beta + design.offset
    lams, start = [], 0
    for t in design.reterms:
        lams.append(lambda_from_theta(th[start:start + t.n_theta], t.q))
        start += t.n_theta
    sims = np.empty((design.nobs, nsim))
    resid_sd = sigma / np.sqrt(design.weights)
    for s in range(nsim):
        b = tuple(sigma * rng.standard_normal((t.nlevels, t.q)) @ lam.T
                  for t, lam in zip(design.reterms, lams, strict=True))
        sims[:, s] = eta + random_part(design, b) + resid_sd * rng.standard_normal(design.nobs)
    return pd.DataFrame(sims, columns=[f"sim_{i + 1}" for i in range(nsim)])
