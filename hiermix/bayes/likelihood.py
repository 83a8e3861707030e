"""The conditional likelihood p(y | eta, phi) in PyTensor, term for term ``Family.loglik``.

For prior weights w, linear predictor eta = X beta + Z b + offset and mean mu = g^{-1}(eta),
:func:`loglik_graph` returns the pointwise log-density that
:meth:`hiermix.family.Family.loglik` computes in NumPy, with every normalising constant:

* gaussian: N(y; mu, phi / w), phi = sigma^2;
* binomial: (w / m) log Binomial(k; m, mu), m = round(w) trials, k = round(w y) successes;
* poisson: w log Poisson(y; mu);
* gamma: Gamma(y; shape w / phi, mean mu);
* inverse gaussian: IG(y; mu, shape w / phi);
* negative binomial: w log NB2(y; mu, theta), theta = phi (Var(y) = mu + mu^2 / theta).

Logs of means are taken on the eta scale where the link allows (log mu = eta for the log link,
log mu = -softplus(-eta) for the logit), which is exact and avoids under- and overflow. R's
clipping of mu to [eps, 1 - eps] is not copied: it would set gradients to zero where NUTS
needs them, and matters only for |eta| > 36, where both give the same log-density to within
the clipping itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from ..family import Family

Array = np.ndarray
_LOG_2PI = float(np.log(2.0 * np.pi))


def linkinv_graph(link: str, eta: Any) -> Any:
    """mu = g^{-1}(eta) as a PyTensor expression."""
    import pytensor.tensor as pt

    if link == "identity":
        return eta
    if link == "log":
        return pt.exp(eta)
    if link == "logit":
        return pt.sigmoid(eta)
    if link == "probit":
        return 0.5 * pt.erfc(-eta / np.sqrt(2.0))
    if link == "cloglog":
        return -pt.expm1(-pt.exp(eta))
    if link == "inverse":
        return 1.0 / eta
    if link == "sqrt":
        return pt.sqr(eta)
    if link == "1/mu^2":
        return 1.0 / pt.sqrt(eta)
    raise ValueError(f"unknown link {link!r}")


def _log_mu(link: str, eta: Any, mu: Any) -> Any:
    import pytensor.tensor as pt

    if link == "log":
        return eta
    if link == "logit":
        return -pt.softplus(-eta)
    if link == "probit":
        return _log_ndtr(eta)
    return pt.log(mu)


def _log1m_mu(link: str, eta: Any, mu: Any) -> Any:
    """log(1 - mu) for the binomial."""
    import pytensor.tensor as pt

    if link == "logit":
        return -pt.softplus(eta)
    if link == "probit":
        return _log_ndtr(-eta)
    if link == "cloglog":
        return -pt.exp(eta)
    return pt.log1p(-mu)


def _log_ndtr(x: Any) -> Any:
    """log Phi(x) through erfc, which keeps full relative precision in the lower tail (down to
    x of about -37, where Phi underflows); PyMC's normal log-CDF is off by about 1e-8 relative
    near x = -1.5."""
    import pytensor.tensor as pt

    return pt.log(0.5 * pt.erfc(-x / np.sqrt(2.0)))


def loglik_graph(family: Family, y: Any, wt: Array, eta: Any, phi: Any) -> Any:
    """Pointwise log p(y_i | eta_i, phi), a PyTensor vector of shape (n,).

    Parameters
    ----------
    family : Family
    y : ndarray or TensorVariable, shape (n,)
        Response (a proportion for binomial), as in the design.
    wt : ndarray, shape (n,)
        Prior weights, as in the design.
    eta : TensorVariable, shape (n,)
        Linear predictor, offset included.
    phi : TensorVariable, scalar
        Dispersion (sigma^2 for gaussian, theta for the negative binomial); unused for
        binomial and poisson.
    """
    import pytensor.tensor as pt

    link = family.link.name
    mu = linkinv_graph(link, eta)
    if family.name == "gaussian":
        # log(phi / w) as log(phi) - log(w): one log per evaluation instead of one per row.
        w = np.asarray(wt, dtype=float)
        sq = pt.sqr(y - mu) if np.all(w == 1.0) else w * pt.sqr(y - mu)
        return -0.5 * (_LOG_2PI - np.log(w) + pt.log(phi) + sq / phi)
    if family.name == "binomial":
        m = np.round(wt)
        k = pt.round(wt * y)
        pos = m > 0
        # Rows with no trials contribute 0; their factor is 0 and their counts are kept finite.
        factor = np.where(pos, wt / np.where(pos, m, 1.0), 0.0)
        const = special.gammaln(m + 1) - pt.gammaln(k + 1) - pt.gammaln(m - k + 1)
        log_mu = _log_mu(link, eta, mu)
        log1m = _log1m_mu(link, eta, mu)
        # xlogy semantics: a zero count times log(0) is 0, not nan.
        a = pt.switch(pt.eq(k, 0), 0.0, k * log_mu)
        b = pt.switch(pt.eq(m - k, 0), 0.0, (m - k) * log1m)
        return factor * (const + a + b)
    if family.name == "poisson":
        log_mu = _log_mu(link, eta, mu)
        return wt * (pt.switch(pt.eq(y, 0), 0.0, y * log_mu) - mu - pt.gammaln(y + 1))
    if family.name == "gamma":
        shape = wt / phi
        return (shape * pt.log(shape) - pt.gammaln(shape) + (shape - 1.0) * pt.log(y)
                - shape * _log_mu(link, eta, mu) - shape * y / mu)
    if family.name == "inverse_gaussian":
        return -0.5 * (_LOG_2PI + 3.0 * pt.log(y) + pt.log(phi / wt)
                       + wt * pt.sqr(y - mu) / (phi * y * pt.sqr(mu)))
    if family.name == "negative_binomial":
        return wt * _nb_logpmf_graph(link, y, eta, mu, phi)
    raise ValueError(f"unknown family {family.name!r}")


def _nb_logpmf_graph(link: str, y: Any, eta: Any, mu: Any, theta: Any) -> Any:
    """log NB2(y; mu, theta) as :func:`hiermix.family.families._nb_logpmf` computes it.

    log(1 + mu / theta) is softplus(eta - log theta) for the log link, exact for any eta, so
    that log(theta + mu) = log theta + log(1 + mu / theta) never overflows.
    """
    import pytensor.tensor as pt

    log_theta = pt.log(theta)
    if link == "log":
        log1p_ratio = pt.softplus(eta - log_theta)
    else:
        log1p_ratio = pt.log1p(mu / theta)
    log_mu = _log_mu(link, eta, mu)
    # xlogy semantics: a zero count times log(0) is 0, not nan.
    ylogmu = pt.switch(pt.eq(y, 0), 0.0, y * log_mu)
    return (pt.gammaln(y + theta) - pt.gammaln(theta) - pt.gammaln(y + 1)
            - theta * log1p_ratio + ylogmu - y * (log_theta + log1p_ratio))


def response_rv(name: str, family: Family, y: Array, wt: Array, eta: Any, phi: Any,
                dims: str) -> Any:
    """The observed response as a ``pm.CustomDist`` whose log-density is :func:`loglik_graph`.

    Its random draws use :meth:`Family.sample`, so the prior and posterior predictive
    distributions are the family's own.
    """
    import pymc as pm

    def logp(value: Any, eta_: Any, phi_: Any) -> Any:
        # The weights are bound here so that they stay NumPy constants.
        return loglik_graph(family, value, wt, eta_, phi_)

    return pm.CustomDist(name, eta, phi, logp=logp, random=_sampler(family, wt),
                         observed=y, dims=dims)


def _sampler(family: Family, wt: Array) -> Callable[..., Array]:
    def random(eta: Array, phi: Array, rng: np.random.Generator | None = None,
               size: Any = None) -> Array:
        rng = rng if rng is not None else np.random.default_rng()
        mu = family.linkinv(np.asarray(eta, dtype=float))
        # Family.sample broadcasts an array phi although it is annotated as a float.
        phi_arr: Any = np.asarray(phi, dtype=float)
        out = family.sample(np.broadcast_to(mu, size) if size else mu, wt, phi_arr, rng)
        return np.asarray(out, dtype=float)

    return random
