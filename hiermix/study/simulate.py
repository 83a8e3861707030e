"""The response of one replicate, drawn from the truth on a template's design.

Gaussian identity-link models go through the frequentist engine's
:func:`hiermix.frequentist.simulate` (lme4's ``simulate``), so every method sees data drawn
exactly as lme4 draws them. Other families draw, with Lambda_k from the true SDs and
correlations (relative to 1, as glmer's theta)::

    b_k = Lambda_k u_k,  u_k ~ N(0, I);   mu = g^{-1}(X beta + offset + Z b);
    y ~ family(mu, weights, phi)          (gaussian with a non-identity link: phi = sigma^2)
"""

from __future__ import annotations

import numpy as np

from ..covariance import lambda_from_theta, theta_from_sd_corr
from ..design import Design
from ..frequentist.result import random_part
from ..frequentist.simulate import simulate
from .labels import Truth


def simulate_response(design: Design, truth: Truth, rng: np.random.Generator) -> np.ndarray:
    """One response vector, shape (n,), drawn with ``rng``."""
    fam = design.family
    if fam.is_lmm:
        sims = simulate(design, beta=truth.beta, sigma=truth.dispersion, sd=truth.sd,
                        corr=truth.corr, nsim=1, seed=rng)
        return sims.to_numpy()[:, 0]
    b = []
    for t in design.reterms:
        theta = theta_from_sd_corr(truth.sd[t.label], truth.corr[t.label], scale=1.0)
        lam = lambda_from_theta(theta, t.q)
        b.append(rng.standard_normal((t.nlevels, t.q)) @ lam.T)
    mu = fam.linkinv(design.X @ truth.beta + design.offset + random_part(design, tuple(b)))
    phi = truth.dispersion**2 if fam.name == "gaussian" else truth.dispersion
    return np.asarray(fam.sample(mu, design.weights, phi, rng), dtype=float)
