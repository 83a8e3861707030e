"""Response distributions shared by both engines, with R's parameterisations.

For prior weights w (a length-n array, all ones by default) and dispersion phi:

=================  ===========  ===================  =============================================
family             default link  Var(y | b)           log-density of one observation
=================  ===========  ===================  =============================================
gaussian           identity      phi / w              N(y; mu, phi / w), phi = sigma^2
binomial           logit         mu (1 - mu) / w      Binomial(w y; w, mu): y a proportion, w trials
poisson            log           mu                   w * Poisson(y; mu)
gamma              inverse       phi mu^2 / w         Gamma(y; shape = w / phi, scale = mu phi / w)
inverse_gaussian   1/mu^2        phi mu^3 / w         IG(y; mu, shape = w / phi)
negative_binomial  log           mu + mu^2 / theta    w * NB2(y; mu, theta)
=================  ===========  ===================  =============================================

The negative binomial (NB2, glmmTMB's ``nbinom2``, R's ``MASS::negative.binomial``) has no
scale: its parameter theta (the shape of the gamma mixing distribution; Poisson as theta -> oo)
enters the variance function itself. It travels in the ``phi`` argument of every method, so
that both engines estimate it where they estimate a dispersion; :attr:`Family.has_scale` says
whether phi scales the variance (phi V(mu) / w) or, for the negative binomial, is theta.

The log-densities keep every normalising constant, so log-likelihoods are comparable with a
GLM's, across quadrature orders, and with the Bayesian engine's. For the binomial the counts
``w y`` and ``w`` are rounded as R's ``binomial()$aic`` does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..errors import PACKAGE_DIR, FamilyError, ResponseSupportError
from .links import Link, get_link

Array = np.ndarray

_LOG_2PI = float(np.log(2.0 * np.pi))


def _ylogy(y: Array, mu: Array) -> Array:
    """y log(y / mu) with 0 log 0 = 0, as R's ``y_log_y``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)


@dataclass(frozen=True)
class Family:
    """A response distribution with a link, as R's ``family`` objects.

    Use :func:`get_family` to build one. Methods take arrays of shape (n,).

    Attributes
    ----------
    name : str
        ``gaussian``, ``binomial``, ``poisson``, ``gamma``, ``inverse_gaussian`` or
        ``negative_binomial``.
    link : Link
    """

    name: str
    link: Link = field(compare=True)

    @property
    def has_dispersion(self) -> bool:
        """True when phi is a free parameter (gaussian, gamma, inverse gaussian; theta of the
        negative binomial)."""
        return self.name in ("gaussian", "gamma", "inverse_gaussian", "negative_binomial")

    @property
    def has_scale(self) -> bool:
        """True when phi scales the variance, Var(y) = phi V(mu) / w (gaussian, gamma, inverse
        gaussian): then sigma = sqrt(phi) and lme4 prints a Residual row."""
        return self.name in ("gaussian", "gamma", "inverse_gaussian")

    def deviance_scale(self, phi: float | Array) -> float | Array:
        """The divisor of the deviance in -2 log p: phi with a scale, 1 otherwise."""
        return phi if self.has_scale else 1.0

    @property
    def r_name(self) -> str:
        """The family's name as R prints it."""
        return {"gamma": "Gamma", "inverse_gaussian": "inverse.gaussian",
                "negative_binomial": "Negative Binomial"}.get(self.name, self.name)

    @property
    def is_lmm(self) -> bool:
        """Gaussian with identity link: a linear mixed model (fitted by lmer)."""
        return self.name == "gaussian" and self.link.name == "identity"

    def linkfun(self, mu: Array) -> Array:
        return self.link.linkfun(mu)

    def linkinv(self, eta: Array) -> Array:
        return self.link.linkinv(eta)

    def mu_eta(self, eta: Array) -> Array:
        return self.link.mu_eta(eta)

    def variance(self, mu: Array, phi: float | Array = 1.0) -> Array:
        """The variance function V(mu), so that Var(y) = phi V(mu) / w; for the negative
        binomial mu + mu^2 / theta with theta = phi (R's ``negative.binomial(theta)``), and
        Var(y) = V(mu) / w."""
        if self.name == "negative_binomial":
            return mu + mu**2 / phi
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "binomial":
            return mu * (1.0 - mu)
        if self.name == "poisson":
            return mu
        if self.name == "gamma":
            return mu**2
        return mu**3

    def initialize(self, y: Array, wt: Array) -> Array:
        """R's ``family$initialize`` starting means, shape (n,): the mu from which IRLS starts
        (the frequentist engine's GLM start, the Bayesian engine's working weights)."""
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1.0)
        if self.name == "poisson":
            return y + 0.1
        if self.name == "negative_binomial":
            return y + (y == 0) / 6.0  # R's negative.binomial()$initialize
        mu = np.array(y, dtype=float)
        eta = self.linkfun(mu) if np.all(mu > 0) or self.link.name == "identity" else None
        if eta is None or not np.all(np.isfinite(eta)) or not self.link.valid_eta(eta):
            mu = np.full_like(mu, max(float(np.mean(y)), 1e-3) if self.name != "gaussian"
                              else float(np.mean(y)))
        return mu

    def dev_resids(self, y: Array, mu: Array, wt: Array, phi: float | Array = 1.0) -> Array:
        """Unit deviances times prior weights (R's ``dev.resids``), shape (n,).

        phi is used by the negative binomial only (theta); -2 log p(y | mu) is then
        ``dev_resids / deviance_scale(phi)`` plus a term free of mu.
        """
        if self.name == "negative_binomial":
            return 2.0 * wt * (_ylogy(y, mu) - (y + phi) * np.log((y + phi) / (mu + phi)))
        if self.name == "gaussian":
            return wt * (y - mu) ** 2
        if self.name == "binomial":
            return 2.0 * wt * (_ylogy(y, mu) + _ylogy(1.0 - y, 1.0 - mu))
        if self.name == "poisson":
            return 2.0 * wt * (_ylogy(y, mu) - (y - mu))
        if self.name == "gamma":
            return -2.0 * wt * (np.log(y / mu) - (y - mu) / mu)
        return wt * (y - mu) ** 2 / (y * mu**2)

    def loglik(self, y: Array, mu: Array, wt: Array, phi: float | Array = 1.0) -> Array:
        """Pointwise conditional log-density log p(y_i | mu_i, phi), with all constants.

        Parameters
        ----------
        y, mu, wt : ndarray, shape (n,)
            Response (a proportion for binomial), mean, prior weights.
        phi : float or ndarray
            Dispersion: sigma^2 for gaussian, theta for the negative binomial; ignored for
            binomial and poisson. An array broadcasts (one value per observation or per draw).

        Returns
        -------
        ndarray, shape (n,)
        """
        if self.name == "gaussian":
            return -0.5 * (_LOG_2PI + np.log(phi / wt) + wt * (y - mu) ** 2 / phi)
        if self.name == "binomial":
            m = np.round(wt)
            k = np.round(wt * y)
            with np.errstate(divide="ignore"):
                out = (special.gammaln(m + 1) - special.gammaln(k + 1) - special.gammaln(m - k + 1)
                       + special.xlogy(k, mu) + special.xlog1py(m - k, -mu))
            return np.where(m > 0, out * np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0), 0.0)
        if self.name == "poisson":
            return wt * (special.xlogy(y, mu) - mu - special.gammaln(y + 1))
        if self.name == "negative_binomial":
            return wt * _nb_logpmf(y, mu, phi)
        if self.name == "gamma":
            shape = wt / phi
            return (shape * np.log(shape) - special.gammaln(shape) + (shape - 1.0) * np.log(y)
                    - shape * np.log(mu) - shape * y / mu)
        # inverse gaussian, shape lambda = w / phi
        return -0.5 * (_LOG_2PI + 3.0 * np.log(y) + np.log(phi / wt)
                       + wt * (y - mu) ** 2 / (phi * y * mu**2))

    def sample(self, mu: Array, wt: Array, phi: float | Array,
               rng: np.random.Generator) -> Array:
        """Draw responses with mean ``mu`` (proportions for binomial), shape (n,)."""
        if self.name == "gaussian":
            return rng.normal(mu, np.sqrt(phi / wt))
        if self.name == "binomial":
            m = np.round(wt).astype(np.int64)
            return np.where(m > 0, rng.binomial(np.maximum(m, 1), mu) / np.maximum(m, 1), 0.0)
        if self.name == "poisson":
            return rng.poisson(mu).astype(float)
        if self.name == "negative_binomial":
            theta = np.asarray(phi, dtype=float)
            return rng.negative_binomial(theta, theta / (theta + mu)).astype(float)
        if self.name == "gamma":
            shape = wt / phi
            return rng.gamma(shape, mu / shape)
        return rng.wald(mu, wt / phi)

    def validate(self, y: Array, wt: Array, column: str) -> None:
        """Refuse responses outside the family's support, naming the column and a value.

        Raises
        ------
        ResponseSupportError
        """
        def bad(mask: Array, what: str) -> None:
            if np.any(mask):
                i = int(np.flatnonzero(mask)[0])
                raise ResponseSupportError(
                    f"response {column!r} has {int(mask.sum())} value(s) {what} "
                    f"(first: {y[i]!r} at row {i}), outside the support of the "
                    f"{self.r_name} family")

        if self.name == "binomial":
            bad((y < 0) | (y > 1), "outside [0, 1]")
            counts = wt * y
            if np.any(np.abs(counts - np.round(counts)) > 1e-7):
                warnings.warn(f"non-integer #successes in a binomial response ({column!r})",
                              skip_file_prefixes=(PACKAGE_DIR,))
        elif self.name in ("poisson", "negative_binomial"):
            bad(y < 0, "below zero")
            if np.any(np.abs(y - np.round(y)) > 1e-7):
                warnings.warn(f"non-integer counts in a {self.r_name} response ({column!r})",
                              skip_file_prefixes=(PACKAGE_DIR,))
        elif self.name in ("gamma", "inverse_gaussian"):
            bad(y <= 0, "at or below zero")

    def __repr__(self) -> str:
        return f"Family({self.r_name!r}, link={self.link.name!r})"

    def __str__(self) -> str:
        return f"{self.r_name}  ( {self.link.name} )"


def _nb_logpmf(y: Array, mu: Array, theta: float | Array) -> Array:
    """log NB2(y; mu, theta) = log Gamma(y + theta) - log Gamma(theta) - log y!
    + theta log(theta / (theta + mu)) + y log(mu / (theta + mu)), shape (n,).

    The binomial coefficient is -log(y + theta) - log B(y + 1, theta), and theta log(theta /
    (theta + mu)) is -theta log1p(mu / theta): both keep their precision at large theta
    (near-Poisson data), where log Gamma(y + theta) - log Gamma(theta) cancels badly.
    """
    theta = np.asarray(theta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (-np.log(y + theta) - special.betaln(y + 1.0, theta)
                - theta * np.log1p(mu / theta) + special.xlogy(y, mu)
                - y * np.log(theta + mu))


_DEFAULT_LINK = {
    "gaussian": "identity",
    "binomial": "logit",
    "poisson": "log",
    "gamma": "inverse",
    "inverse_gaussian": "1/mu^2",
    "negative_binomial": "log",
}

_ALLOWED_LINKS = {
    "gaussian": ("identity", "log", "inverse"),
    "binomial": ("logit", "probit", "cloglog", "log"),
    "poisson": ("log", "identity", "sqrt"),
    "gamma": ("inverse", "identity", "log"),
    "inverse_gaussian": ("1/mu^2", "inverse", "identity", "log"),
    "negative_binomial": ("log", "identity", "sqrt"),
}

_FAMILY_ALIASES = {
    "gaussian": "gaussian", "normal": "gaussian",
    "binomial": "binomial", "bernoulli": "binomial",
    "poisson": "poisson",
    "gamma": "gamma", "Gamma": "gamma",
    "inverse_gaussian": "inverse_gaussian", "inverse.gaussian": "inverse_gaussian",
    "inversegaussian": "inverse_gaussian", "wald": "inverse_gaussian",
    "negative_binomial": "negative_binomial", "nbinom2": "negative_binomial",
    "negative.binomial": "negative_binomial", "negbinomial": "negative_binomial",
}

FAMILIES = tuple(_DEFAULT_LINK)


def get_family(name: str | Family = "gaussian", link: str | Link | None = None) -> Family:
    """Build a :class:`Family` from R's or Python spellings.

    Parameters
    ----------
    name : str or Family
        ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"``/``"Gamma"``,
        ``"inverse_gaussian"``/``"inverse.gaussian"``, ``"negative_binomial"``/``"nbinom2"``/
        ``"negative.binomial"``.
    link : str or None
        None takes R's default link for the family.

    Raises
    ------
    FamilyError
        Unknown family, unknown link, or a link the family does not support.
    """
    if isinstance(name, Family):
        if link is None:
            return name
        name = name.name
    key = _FAMILY_ALIASES.get(str(name), _FAMILY_ALIASES.get(str(name).lower()))
    if key is None:
        known = ", ".join(repr(k) for k in FAMILIES)
        raise FamilyError(f"unknown family {name!r}; known families are {known}")
    lk = get_link(link if link is not None else _DEFAULT_LINK[key])
    if lk.name not in _ALLOWED_LINKS[key]:
        allowed = ", ".join(repr(a) for a in _ALLOWED_LINKS[key])
        raise FamilyError(f"link {lk.name!r} is not available for the {key} family; "
                          f"use one of {allowed}")
    return Family(key, lk)
