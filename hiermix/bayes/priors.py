"""Priors of the Bayesian engine: small prior objects, data-scaled defaults and a report.

The model (see :mod:`hiermix.bayes.build`) has these parameter classes, each with a default
that is weakly informative on the scale of the data. Let ``s`` be the scale of the linear
predictor implied by the response, ``m`` its location, and ``s_j`` the standard deviation of
column j of X (or of a random-effects term's column; 1 for a constant column):

==================  ====================================  =====================================
class               default                               source of the rule
==================  ====================================  =====================================
``intercept``       Normal(m, 2.5 s), on the intercept    rstanarm ``stan_glmer``: the
                    of the centred predictors             intercept prior is stated for
                                                          centred predictors (as in brms)
``coef``            Normal(0, 2.5 s / s_j)                rstanarm's autoscaled normal
``sd_<label>``      Half-Student-t(3, 2.5 s / s_j) per    brms: ``student_t(3, 0, 2.5 s)``
                    column j of the term                  on SDs, scaled like the coefficients
``corr_<label>``    LKJ(eta = 1) on the correlation       brms ``lkj(1)``; rstanarm's decov
                    matrix (uniform over correlations)    with regularization 1
``sigma``           Exponential(rate = 1 / s)             rstanarm's ``exponential(1)``,
                                                          autoscaled
``phi``             Half-Student-t(3, 2.5 phi_0)          phi_0 the moment estimate
                                                          Var(y) / E(y)^k, k = 2 (gamma) or
                                                          3 (inverse gaussian)
``phi`` = theta     Exponential(1) on 1 / sqrt(theta)     the penalised-complexity prior of
(negative binomial)                                       Simpson et al. (2017) for
                                                          overdispersion, shrinking towards
                                                          the Poisson (theta -> oo)
==================  ====================================  =====================================

The negative binomial's theta (Var(y | b) = mu + mu^2 / theta) gets its prior on
kappa = 1 / sqrt(theta), written ``InverseSqrt(Exponential(1.0))``: the sampled variable is
``phi_inv_sqrt`` (kappa) and theta is the deterministic ``phi``. kappa is the coefficient of
variation of the gamma-distributed multiplicative noise that turns a Poisson into an NB2
count: an SD on the scale of the mean, read like the SDs of log-scale random effects
(kappa = 0.5 is about an observation-level random effect of SD 0.5 on the log scale), and
kappa = 0 is the Poisson model. Exponential(1) on kappa is the penalised-complexity prior of
Simpson et al. (2017), shrinking towards the Poisson: median kappa log 2 = 0.69 (theta 2.08),
P(theta < 0.25) = e^-2 = 0.14, P(theta < 0.1) = 0.04, and no barrier at the Poisson end.
brms's default, gamma(0.01, 0.01) on theta itself, is close to the improper 1 / theta: it puts
92% of its mass below theta = 0.01 (kappa > 10, counts more dispersed than any data set
supports) and has its median at 4.5e-29, so with few groups or small counts it pulls theta
towards extreme overdispersion and inflates every standard error. Override with
``priors={"phi": HalfNormal(10)}`` (a prior on theta itself) or
``{"phi": InverseSqrt(HalfNormal(1))}`` (on kappa). A prior on log theta would need an
arbitrary location; on kappa the Poisson end is a natural centre.

``s`` and ``m`` follow rstanarm where it has a rule and the delta method elsewhere:

* gaussian, identity link: ``m = mean(y)``, ``s = sd(y)``;
* binomial, poisson and negative binomial (any link): ``m = 0``, ``s = 1`` (rstanarm's
  link-scale default);
* gaussian, gamma and inverse gaussian with the log link: ``m = mean(log(y))`` (``log(mean(y))``
  when some y <= 0), ``s = 1`` (the log scale is unitless, so rstanarm's link-scale default
  applies; the delta method would mix the spread the covariates explain into the scale);
* gaussian, gamma and inverse gaussian with the identity link: ``m = mean(y)``, ``s = sd(y)``;
* with the inverse or 1/mu^2 link, whose scale has units: ``m = g(mean(y))`` and
  ``s = |g'(mean(y))| sd(y)``, the first-order standard deviation of g(y).

Presets: ``"default"`` (the table) and ``"flat"`` (improper uniform priors on the intercept and
the coefficients only; the SDs, correlations and sigma or phi keep their default priors, so
the posterior is the likelihood times those priors, and only beta's conditional posterior
given the variance components is proportional to the likelihood). Any class can be
overridden with a prior object: ``{"intercept": Normal(0, 10), "coef": Normal(0, 1),
"sd": HalfNormal(5), "sd_Subject": HalfNormal(10), "corr": LKJ(2), "sigma": Exponential(0.1)}``,
where ``sd`` and ``corr`` apply to every term and ``sd_<label>`` / ``corr_<label>`` to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design import Design
from ..errors import ModelError
from ..naming import INTERCEPT, corr_var, sd_var

Array = np.ndarray


# ----------------------------------------------------------------------------------------------
# prior objects
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prior:
    """Base class of the prior objects; each builds its PyMC distribution with :meth:`rv`."""

    #: True for priors whose support is the positive half-line (SDs, sigma, phi).
    positive = False

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        """An unnamed PyMC distribution (``pm.X.dist``) with this prior, of ``shape``."""
        raise NotImplementedError

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        """A named random variable in the current PyMC model context."""
        raise NotImplementedError

    def scaled(self, factor: Array | float) -> Prior:
        """The same prior with its scale multiplied by ``factor`` (broadcast per column)."""
        raise NotImplementedError


def _shape(shape: tuple[int, ...] | None, dims: Any) -> tuple[int, ...] | None:
    """The variable's shape: ``shape``, or else the lengths of ``dims`` in the current PyMC
    model's coordinates; None when neither tells."""
    if shape is not None:
        return tuple(shape)
    if dims is None:
        return None
    import pymc as pm

    coords = pm.Model.get_context().coords
    names = (dims,) if isinstance(dims, str) else tuple(dims)
    if any(coords.get(d) is None for d in names):
        return None
    return tuple(len(coords[d]) for d in names)


def _params(shape: tuple[int, ...] | None, *values: Any) -> list[np.ndarray]:
    """A prior's parameters as float64 arrays of the variable's shape (when known).

    The compiled log density is cached by the structure of its graph, parameter values
    lifted out (:mod:`hiermix.bayes.nutpie_backend`). PyTensor types a Python float that
    float32 represents exactly (1.0, 50.0) as float32 and an integer as int8, and a scalar
    parameter and a per-coefficient vector are graphs of different shapes: giving PyMC
    float64 arrays of one shape makes two priors of one family, whatever their values, one
    structure, so that a prior sweep compiles once.
    """
    out = []
    for v in values:
        if hasattr(v, "type") and hasattr(v, "owner"):
            # Already a graph variable (a prior parameter fed as shared data by
            # :func:`hiermix.bayes.marginal_small.build_fed_model`): its value is not a constant
            # of the graph, so it leaves the structure alone as it is.
            out.append(v)
            continue
        a = np.asarray(v, dtype=np.float64)
        if shape:
            a = np.broadcast_to(a, shape).copy()
        out.append(a)
    return out


def _fmt(v: Any) -> str:
    a = np.atleast_1d(np.asarray(v, dtype=float))
    if a.size == 1:
        return f"{float(a[0]):.4g}"
    return "[" + ", ".join(f"{x:.4g}" for x in a) + "]"


@dataclass(frozen=True)
class Normal(Prior):
    """Normal(mu, sigma); ``mu`` and ``sigma`` may be arrays, one value per coefficient."""

    mu: Any = 0.0
    sigma: Any = 1.0

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        mu, sigma = _params(_shape(shape, dims), self.mu, self.sigma)
        return pm.Normal(name, mu=mu, sigma=sigma, dims=dims, shape=shape)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        import pymc as pm

        mu, sigma = _params(shape, self.mu, self.sigma)
        return pm.Normal.dist(mu=mu, sigma=sigma, shape=shape)

    def scaled(self, factor: Array | float) -> Prior:
        return Normal(self.mu, np.asarray(self.sigma) * factor)

    def __str__(self) -> str:
        return f"Normal(mu={_fmt(self.mu)}, sigma={_fmt(self.sigma)})"


@dataclass(frozen=True)
class StudentT(Prior):
    """Student-t(nu, mu, sigma)."""

    nu: float = 3.0
    mu: Any = 0.0
    sigma: Any = 1.0

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        nu, mu, sigma = _params(_shape(shape, dims), self.nu, self.mu, self.sigma)
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, dims=dims, shape=shape)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        import pymc as pm

        nu, mu, sigma = _params(shape, self.nu, self.mu, self.sigma)
        return pm.StudentT.dist(nu=nu, mu=mu, sigma=sigma, shape=shape)

    def scaled(self, factor: Array | float) -> Prior:
        return StudentT(self.nu, self.mu, np.asarray(self.sigma) * factor)

    def __str__(self) -> str:
        return f"StudentT(nu={_fmt(self.nu)}, mu={_fmt(self.mu)}, sigma={_fmt(self.sigma)})"


@dataclass(frozen=True)
class Flat(Prior):
    """The improper uniform prior on the real line (for coefficients only)."""

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        return pm.Flat(name, dims=dims, shape=shape)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        raise ModelError("a Flat prior has no distribution to draw from; use it for the "
                         "intercept or coefficients only, and not in prior predictive checks")

    def scaled(self, factor: Array | float) -> Prior:
        return self

    def __str__(self) -> str:
        return "Flat() (improper uniform)"


@dataclass(frozen=True)
class HalfNormal(Prior):
    """Half-normal with scale ``sigma``, for SDs, sigma or phi."""

    sigma: Any = 1.0
    positive = True

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        (sigma,) = _params(_shape(shape, dims), self.sigma)
        return pm.HalfNormal(name, sigma=sigma, dims=dims, shape=shape)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        import pymc as pm

        (sigma,) = _params(shape, self.sigma)
        return pm.HalfNormal.dist(sigma=sigma, shape=shape)

    def scaled(self, factor: Array | float) -> Prior:
        return HalfNormal(np.asarray(self.sigma) * factor)

    def __str__(self) -> str:
        return f"HalfNormal(sigma={_fmt(self.sigma)})"


@dataclass(frozen=True)
class HalfStudentT(Prior):
    """Half-Student-t(nu, sigma), the brms default for SDs."""

    nu: float = 3.0
    sigma: Any = 1.0
    positive = True

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        nu, sigma = _params(_shape(shape, dims), self.nu, self.sigma)
        return pm.HalfStudentT(name, nu=nu, sigma=sigma, dims=dims, shape=shape)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        import pymc as pm

        # nu is broadcast to the shape by hand (as every parameter, _params): nutpie's numba
        # backend fails to find an initial point for a scalar nu with a vector sigma inside
        # pm.LKJCholeskyCov.
        nu, sigma = _params(shape or np.shape(self.sigma), self.nu, self.sigma)
        return pm.HalfStudentT.dist(nu=nu, sigma=sigma, shape=shape)

    def scaled(self, factor: Array | float) -> Prior:
        return HalfStudentT(self.nu, np.asarray(self.sigma) * factor)

    def __str__(self) -> str:
        return f"HalfStudentT(nu={_fmt(self.nu)}, sigma={_fmt(self.sigma)})"


@dataclass(frozen=True)
class Exponential(Prior):
    """Exponential with rate ``lam`` (mean 1 / lam)."""

    lam: Any = 1.0
    positive = True

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        (lam,) = _params(_shape(shape, dims), self.lam)
        return pm.Exponential(name, lam=lam, dims=dims, shape=shape)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        import pymc as pm

        (lam,) = _params(shape, self.lam)
        return pm.Exponential.dist(lam=lam, shape=shape)

    def scaled(self, factor: Array | float) -> Prior:
        return Exponential(np.asarray(self.lam) / factor)

    def __str__(self) -> str:
        return f"Exponential(lam={_fmt(self.lam)})"


@dataclass(frozen=True)
class InverseSqrt(Prior):
    """A prior on a positive x stated on 1 / sqrt(x): the free variable is
    kappa = 1 / sqrt(x) ~ ``base``, and x = 1 / kappa^2 a deterministic.

    The default for the negative binomial's theta is ``InverseSqrt(Exponential(1.0))``.
    """

    base: Prior = Exponential(1.0)
    positive = True

    def __post_init__(self) -> None:
        if not self.base.positive:
            raise ModelError(f"InverseSqrt needs a prior on the positive half-line for "
                             f"1 / sqrt(x) (HalfNormal, HalfStudentT, Exponential); got "
                             f"{self.base}")

    def rv(self, name: str, dims: Any = None, shape: tuple[int, ...] | None = None) -> Any:
        import pymc as pm

        kappa = self.base.rv(f"{name}_inv_sqrt", dims=dims, shape=shape)
        return pm.Deterministic(name, 1.0 / kappa**2, dims=dims)

    def dist(self, shape: tuple[int, ...] = ()) -> Any:
        raise ModelError("an InverseSqrt prior is a prior on a transformed variable; it has "
                         "no distribution to use inside another prior")

    def scaled(self, factor: Array | float) -> Prior:
        return InverseSqrt(self.base.scaled(1.0 / np.sqrt(factor)))

    def __str__(self) -> str:
        return f"InverseSqrt({self.base}) (on 1 / sqrt)"


@dataclass(frozen=True)
class LKJ(Prior):
    """LKJ(eta) on a correlation matrix: eta = 1 is uniform, eta > 1 shrinks towards 0."""

    eta: float = 1.0

    def __post_init__(self) -> None:
        # a float64 scalar, whatever was written (2 or 2.0): PyTensor would type 2.0 as
        # float32 and 1.3 as float64, two graph structures for one family (see _params)
        object.__setattr__(self, "eta", np.float64(self.eta))

    def scaled(self, factor: Array | float) -> Prior:
        return self

    def __str__(self) -> str:
        return f"LKJ(eta={_fmt(self.eta)})"


# ----------------------------------------------------------------------------------------------
# resolved priors of one design
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Priors:
    """The priors of every parameter of one design, after defaults and overrides.

    Attributes
    ----------
    intercept : Prior or None
        Prior on the intercept of the centred predictors; None without an intercept.
    coef : Prior or None
        Prior on the other fixed effects, one scale per coefficient (p - 1 or p,); None if
        there are none.
    sd : dict of str -> Prior
        Per term label, the prior of its SDs (one scale per column, shape (q_k,)).
    corr : dict of str -> LKJ
        Per term label with q_k > 1.
    sigma, phi : Prior or None
        Residual SD (gaussian) or dispersion (gamma, inverse gaussian; theta of the negative
        binomial).
    preset : str
    location, scale : float
        m and s of the module docstring.
    """

    intercept: Prior | None
    coef: Prior | None
    sd: dict[str, Prior] = field(default_factory=dict)
    corr: dict[str, LKJ] = field(default_factory=dict)
    sigma: Prior | None = None
    phi: Prior | None = None
    preset: str = "default"
    location: float = 0.0
    scale: float = 1.0

    def require(self, name: str) -> Prior:
        """The prior of class ``name`` (``"intercept"``, ``"coef"``, ``"sigma"``, ``"phi"``).

        Raises
        ------
        ModelError
            The class has no prior (a hand-built :class:`Priors` that left one out).
        """
        prior = getattr(self, name)
        if prior is None:
            raise ModelError(f"the priors have no {name!r} prior, which this model needs; "
                             "build them with resolve_priors(design, overrides)")
        return prior

    def rows(self) -> list[tuple[str, str]]:
        """(parameter, prior) rows of the report, in model order."""
        out = []
        if self.intercept is not None:
            out.append(("Intercept (centred predictors)", str(self.intercept)))
        if self.coef is not None:
            out.append(("coefficients", str(self.coef)))
        for label, pr in self.sd.items():
            out.append((sd_var(label), str(pr)))
            if label in self.corr:
                out.append((corr_var(label), str(self.corr[label])))
        if self.sigma is not None:
            out.append(("sigma", str(self.sigma)))
        if self.phi is not None:
            out.append(("phi", str(self.phi)))
        return out

    def report(self) -> str:
        """A printable table of the priors, with the data scale they were derived from."""
        rows = self.rows()
        width = max(len(r[0]) for r in rows) if rows else 10
        head = (f"Priors ({self.preset}; linear-predictor location m = {self.location:.4g}, "
                f"scale s = {self.scale:.4g})")
        return "\n".join([head] + [f"  {a:<{width}}  ~ {b}" for a, b in rows])

    def __str__(self) -> str:
        return self.report()


def _column_sd(x: Array) -> float:
    """SD of one column; 1 for a constant column (an intercept-like column has no scale)."""
    s = float(np.std(x))
    return s if s > 1e-12 * max(1.0, float(np.max(np.abs(x)))) else 1.0


def data_scale(design: Design) -> tuple[float, float]:
    """(m, s): location and scale of the linear predictor implied by the response."""
    fam, y = design.family, design.y
    w = design.weights
    ybar = float(np.average(y, weights=w)) if np.sum(w) > 0 else float(np.mean(y))
    sdy = float(np.sqrt(np.average((y - ybar) ** 2, weights=w))) if np.sum(w) > 0 else 1.0
    sdy = sdy if sdy > 0 else 1.0
    if fam.name in ("binomial", "poisson", "negative_binomial"):
        return 0.0, 1.0
    if fam.link.name == "identity":
        return ybar, sdy
    eta0 = float(np.asarray(fam.linkfun(np.array([ybar])))[0])
    if fam.link.name == "log":
        # The log scale is unitless: rstanarm's link-scale default s = 1. The delta method
        # would scale by sd(y) / mean(y), which measures the spread the covariates explain
        # as much as the noise (4.6 for the Gamma seed data: SD priors of scale 11.6 on the
        # log scale, a factor of e^11). The location is the mean of log y: with skewed y,
        # log(mean(y)) lies far above the centre of the linear predictor (5.6 against 0.4
        # for the Gamma seed data).
        if np.all(y > 0) and np.sum(w) > 0:
            return float(np.average(np.log(y), weights=w)), 1.0
        return (eta0 if np.isfinite(eta0) else 0.0), 1.0
    deriv = abs(float(np.asarray(fam.mu_eta(np.array([eta0])))[0]))
    scale = sdy / deriv if deriv > 0 and np.isfinite(deriv) else 1.0
    return (eta0 if np.isfinite(eta0) else 0.0), scale


def has_intercept(design: Design) -> bool:
    """True when X has the formula's intercept column (a column of ones)."""
    return INTERCEPT in design.fixef_names and bool(
        np.all(design.X[:, design.fixef_names.index(INTERCEPT)] == 1.0))


def _phi0(design: Design) -> float:
    y, w = design.y, design.weights
    ybar = float(np.average(y, weights=w))
    var = float(np.average((y - ybar) ** 2, weights=w))
    k = 2 if design.family.name == "gamma" else 3
    phi0 = var / ybar**k if ybar > 0 else 1.0
    return phi0 if np.isfinite(phi0) and phi0 > 0 else 1.0


_CLASSES = ("intercept", "coef", "sd", "corr", "sigma", "phi")


def resolve_priors(design: Design, priors: Priors | str | Mapping[str, Any] | None = None
                   ) -> Priors:
    """The priors of ``design``: a preset, optionally overridden per class.

    Parameters
    ----------
    design : Design
    priors : None, "default", "flat", Priors, or mapping
        A mapping may hold ``"preset"`` and any of ``intercept``, ``coef``, ``sd``,
        ``sd_<label>``, ``corr``, ``corr_<label>``, ``sigma``, ``phi`` with prior objects.

    Raises
    ------
    ModelError
        Unknown preset or class, a prior of the wrong kind (LKJ for correlations, a
        positive prior for SDs, sigma and phi).
    """
    if isinstance(priors, Priors):
        return priors
    overrides: dict[str, Any] = {}
    preset = "default"
    if isinstance(priors, str):
        preset = priors
    elif isinstance(priors, Mapping):
        overrides = dict(priors)
        preset = str(overrides.pop("preset", "default"))
    elif priors is not None:
        raise ModelError(f"priors must be 'default', 'flat', a mapping or Priors; got "
                         f"{type(priors).__name__}")
    if preset not in ("default", "flat"):
        raise ModelError(f"unknown priors preset {preset!r}; use 'default' or 'flat'")

    m, s = data_scale(design)
    with_int = has_intercept(design)
    slope_idx = [j for j, n in enumerate(design.fixef_names) if not (with_int and n == INTERCEPT)]
    sx = np.array([_column_sd(design.X[:, j]) for j in slope_idx])
    intercept: Prior | None = None
    coef: Prior | None = None
    if preset == "flat":
        intercept = Flat() if with_int else None
        coef = Flat() if slope_idx else None
    else:
        intercept = Normal(m, 2.5 * s) if with_int else None
        coef = Normal(0.0, 2.5 * s / sx) if slope_idx else None

    labels = [t.label for t in design.reterms]
    sd: dict[str, Prior] = {}
    corr: dict[str, LKJ] = {}
    for t in design.reterms:
        st = np.array([_column_sd(t.X[:, j]) for j in range(t.q)])
        sd[t.label] = HalfStudentT(3.0, 2.5 * s / st)
        if t.q > 1:
            corr[t.label] = LKJ(1.0)
    sigma = Exponential(1.0 / s) if design.family.name == "gaussian" else None
    phi: Prior | None = None
    if design.family.name in ("gamma", "inverse_gaussian"):
        phi = HalfStudentT(3.0, 2.5 * _phi0(design))
    elif design.family.name == "negative_binomial":
        phi = InverseSqrt(Exponential(1.0))

    known = set(_CLASSES) | {sd_var(lab) for lab in labels} | {corr_var(lab) for lab in labels}
    for key, pr in overrides.items():
        if key not in known:
            raise ModelError(f"unknown prior class {key!r}; known classes are "
                             f"{', '.join(sorted(known))}")
        if not isinstance(pr, Prior):
            raise ModelError(f"the prior for {key!r} must be a prior object such as "
                             f"Normal(0, 1); got {pr!r}")
    for key, pr in overrides.items():
        if key == "intercept":
            intercept = pr if with_int else None
        elif key == "coef":
            coef = pr if slope_idx else None
        elif key in ("sigma", "phi"):
            _check_positive(key, pr)
            if key == "sigma" and sigma is not None:
                sigma = pr
            if key == "phi" and phi is not None:
                phi = pr
    for t in design.reterms:
        for key in ("sd", sd_var(t.label)):
            if key in overrides:
                _check_positive(key, overrides[key])
                sd[t.label] = overrides[key]
        for key in ("corr", corr_var(t.label)):
            if key in overrides and t.q > 1:
                if not isinstance(overrides[key], LKJ):
                    raise ModelError(f"correlations take an LKJ(eta) prior; got "
                                     f"{overrides[key]} for {key!r}")
                corr[t.label] = overrides[key]
    for key in ("intercept", "coef"):
        pr = overrides.get(key)
        if isinstance(pr, LKJ) or (pr is not None and pr.positive):
            raise ModelError(f"{key!r} takes a prior on the real line (Normal, StudentT, "
                             f"Flat); got {pr}")
    return Priors(intercept=intercept, coef=coef, sd=sd, corr=corr, sigma=sigma, phi=phi,
                  preset=preset, location=m, scale=s)


def _check_positive(key: str, pr: Prior) -> None:
    if not pr.positive:
        raise ModelError(f"{key!r} is positive and takes HalfNormal, HalfStudentT, "
                         f"Exponential or InverseSqrt; got {pr}")
