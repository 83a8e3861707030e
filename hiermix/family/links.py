"""Link functions g: mu -> eta, with their inverses and derivatives, as R's ``make.link``.

Each :class:`Link` supplies ``linkfun`` (g), ``linkinv`` (g^{-1}), ``mu_eta`` (d mu / d eta) and
``valid_eta``. The numerical guards are R's, so that PIRLS takes the same steps as lme4's: the
inverse logit, probit and cloglog are kept inside [eps, 1 - eps] and derivatives are floored at
eps, where eps is the double-precision machine epsilon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ..errors import FamilyError

_EPS = float(np.finfo(float).eps)
_PROBIT_THRESH = -float(stats.norm.ppf(_EPS))

Array = np.ndarray
_F = Callable[[Array], Array]


@dataclass(frozen=True, eq=False)
class Link:
    """A link function.

    Attributes
    ----------
    name : str
        R's name: ``identity``, ``log``, ``logit``, ``probit``, ``cloglog``, ``inverse``,
        ``sqrt`` or ``1/mu^2``.
    linkfun, linkinv, mu_eta : callable
        Vectorised maps of arrays of shape (n,).
    """

    name: str
    linkfun: _F
    linkinv: _F
    mu_eta: _F
    valid_eta: Callable[[Array], bool]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Link) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Link", self.name))

    def __repr__(self) -> str:
        return f"Link({self.name!r})"


def _always(eta: Array) -> bool:
    return True


def _logit(mu: Array) -> Array:
    return special.logit(mu)


def _logit_inv(eta: Array) -> Array:
    return np.clip(special.expit(eta), _EPS, 1.0 - _EPS)


def _logit_mu_eta(eta: Array) -> Array:
    # R: exp(eta) / (1 + exp(eta))^2, floored at eps
    e = np.exp(-np.abs(eta))
    return np.maximum(e / (1.0 + e) ** 2, _EPS)


def _probit(mu: Array) -> Array:
    return special.ndtri(mu)


def _probit_inv(eta: Array) -> Array:
    return special.ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH))


def _cloglog_inv(eta: Array) -> Array:
    return np.clip(-np.expm1(-np.exp(eta)), _EPS, 1.0 - _EPS)


def _cloglog_mu_eta(eta: Array) -> Array:
    eta = np.minimum(eta, 700.0)
    return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), _EPS)


def _identity(x: Array) -> Array:
    return x


def _exp_floored(eta: Array) -> Array:
    # R's make.link("log"): pmax(exp(eta), .Machine$double.eps), for linkinv and mu.eta alike
    return np.maximum(np.exp(eta), _EPS)


def _probit_mu_eta(eta: Array) -> Array:
    return np.maximum(stats.norm.pdf(eta), _EPS)


def _cloglog_fun(mu: Array) -> Array:
    return np.log(-np.log1p(-mu))


def _reciprocal(x: Array) -> Array:
    return 1.0 / x


def _inverse_mu_eta(eta: Array) -> Array:
    return -1.0 / eta**2


def _nonzero(eta: Array) -> bool:
    return bool(np.all(eta != 0))


def _positive(eta: Array) -> bool:
    return bool(np.all(eta > 0))


def _square(eta: Array) -> Array:
    return eta**2


def _sqrt_mu_eta(eta: Array) -> Array:
    return 2.0 * eta


def _inv_sq_fun(mu: Array) -> Array:
    return 1.0 / mu**2


def _inv_sq_inv(eta: Array) -> Array:
    return 1.0 / np.sqrt(eta)


def _inv_sq_mu_eta(eta: Array) -> Array:
    return -1.0 / (2.0 * eta**1.5)


# Every map is a module-level function of this module (never a lambda, nor a SciPy ufunc,
# which pickle finds by searching every loaded module for its name) so that a Link, and every
# Family, Design and result holding one, pickles by reference with the standard pickle module.
LINKS: dict[str, Link] = {
    "identity": Link("identity", _identity, _identity, np.ones_like, _always),
    "log": Link("log", np.log, _exp_floored, _exp_floored, _always),
    "logit": Link("logit", _logit, _logit_inv, _logit_mu_eta, _always),
    "probit": Link("probit", _probit, _probit_inv, _probit_mu_eta, _always),
    "cloglog": Link("cloglog", _cloglog_fun, _cloglog_inv, _cloglog_mu_eta, _always),
    "inverse": Link("inverse", _reciprocal, _reciprocal, _inverse_mu_eta, _nonzero),
    "sqrt": Link("sqrt", np.sqrt, _square, _sqrt_mu_eta, _positive),
    "1/mu^2": Link("1/mu^2", _inv_sq_fun, _inv_sq_inv, _inv_sq_mu_eta, _positive),
}

_ALIASES = {"inverse_squared": "1/mu^2", "inverse_square": "1/mu^2", "mu^-2": "1/mu^2"}


def get_link(name: str | Link) -> Link:
    """Look a link up by R's name (``"1/mu^2"`` also as ``"inverse_squared"``).

    Raises
    ------
    FamilyError
        For an unknown name, listing the known ones.
    """
    if isinstance(name, Link):
        return name
    key = _ALIASES.get(str(name), str(name))
    if key not in LINKS:
        known = ", ".join(repr(k) for k in LINKS)
        raise FamilyError(f"unknown link {name!r}; known links are {known}")
    return LINKS[key]
