"""The Laplace (and adaptive quadrature) criterion of a GLMM as a function of its parameters.

Model: see :mod:`hiermix.frequentist.pirls`. With u*(theta, beta, phi) the conditional modes
and L the Cholesky factor of Lambda' Z' W Z Lambda + I at the mode, the Laplace approximation
of the marginal deviance is

    -2 log L(theta, beta, phi) = -2 sum_i log p(y_i | mu_i(u*), phi) + ||u*||^2 + log|L|^2.

Every normalising constant of the family's density is kept (``family.loglik``), so the value is
a true log-likelihood, comparable with a GLM's and across nAGQ. W holds the curvature of
-log p(y_i | eta_i): for canonical links this is the Fisher weight that lme4 uses; otherwise
the exact Hessian is used (as glmmTMB's Laplace does) unless ``lme4_compat=True``. For a single
scalar term, nAGQ > 1 adds the adaptive quadrature correction of :mod:`hiermix.frequentist.agq`.

Two parameter vectors, as lme4's two optimisation stages:

* stage 0 (lme4's nAGQ = 0): x = (theta, [log phi]); beta is updated inside PIRLS with u;
* joint stage: x = (theta, beta, [log phi]); PIRLS updates u only.

phi is a parameter of the likelihood for families with a dispersion (gaussian with a
non-identity link, gamma, inverse gaussian), optimised on the log scale; binomial and poisson
have phi = 1 and no such entry. PIRLS starts from the previous evaluation's modes.

``lme4_compat=True`` reproduces lme4's criterion instead: Fisher weights in log|L|^2 for every
link and, for families with a dispersion that scales the variance, no phi parameter: PIRLS
runs with phi = 1 and the density is evaluated at lme4's plug-in phi = sum_i d_i / sum_i a_i
(R's ``family$aic``, whose ``+ 2`` lme4 keeps in its criterion). lme4 then reads theta
relative to sigma, with sigma^2 = (Pearson chi^2 + ||u||^2) / n. For the negative binomial,
lme4's ``glmer.nb`` holds its theta fixed in each fit (``fixed_phi``) and searches it outside
(:mod:`hiermix.frequentist.glmer_nb`).
"""

from __future__ import annotations

import numpy as np

from ..covariance import initial_theta, lower_bounds
from ..design import Design
from ..errors import ModelError
from .agq import agq_correction, check_agq
from .pirls import CANONICAL, Pirls, PirlsError, PirlsState, observed_weights


class GlmmObjective:
    """-2 log L of a GLMM (Laplace, or AGQ for nAGQ > 1) over theta, beta and phi.

    Parameters
    ----------
    design : Design
    nAGQ : int
        0 or 1: Laplace; > 1: adaptive Gauss-Hermite quadrature (one scalar term).
    lme4_compat : bool
        lme4's criterion (see the module docstring): Fisher weights in log|L|^2, and the
        plug-in dispersion for families that have one.
    fixed_phi : float or None
        Hold phi at this value instead of estimating it (the negative binomial's theta in
        lme4's ``glmer.nb``, which fits with theta fixed); x then has no log phi entry.

    Attributes
    ----------
    pirls : Pirls
    n_theta, p : int
    dispersion : bool
        Whether phi is estimated (and x ends with log phi).
    plugin : bool
        lme4's plug-in dispersion (``lme4_compat`` with a dispersion family).
    lower_theta : ndarray, shape (n_theta,)
    start_theta : ndarray, shape (n_theta,)
    state : PirlsState or None
        The modes at the last evaluation (warm start for the next).
    anchor : PirlsState or None
        Overrides ``state`` as the warm start when set.
    """

    def __init__(self, design: Design, nAGQ: int = 1, lme4_compat: bool = False,
                 fixed_phi: float | None = None) -> None:
        check_agq(design, nAGQ)
        self.design = design
        self.family = design.family
        self.nAGQ = int(nAGQ)
        self.pirls = Pirls(design)
        self.n_theta = design.n_theta
        self.p = design.p
        self.lme4_compat = lme4_compat
        self.fixed_phi = fixed_phi
        self.plugin = bool(self.family.has_scale) and lme4_compat and fixed_phi is None
        self.dispersion = (bool(self.family.has_dispersion) and not lme4_compat
                           and fixed_phi is None)
        self.observed = (not lme4_compat
                         and (self.family.name, self.family.link.name) not in CANONICAL)
        self.lower_theta = np.concatenate([lower_bounds(t.q) for t in design.reterms])
        self.start_theta = np.concatenate([initial_theta(t.q) for t in design.reterms])
        self.state: PirlsState | None = None
        #: When set, every evaluation starts PIRLS from these modes (finite differences
        #: around an optimum), not from the last evaluation's.
        self.anchor: PirlsState | None = None
        # -2 log p(y | mu) = sum of deviances + a constant free of mu for poisson, and for
        # binomial with whole numbers of trials and successes: computed once, it saves the
        # log-gamma terms at every evaluation.
        y, wt = self.pirls.y, self.pirls.wt
        self._const_fixed = self.family.name == "poisson" or (
            self.family.name == "binomial" and np.allclose(wt, np.round(wt))
            and np.allclose(wt * y, np.round(wt * y)))
        self._const: float | None = None
        self.beta0 = np.zeros(self.p)

    # -- parameter vectors -----------------------------------------------------------------
    def split(self, x: np.ndarray, with_beta: bool
              ) -> tuple[np.ndarray, np.ndarray | None, float]:
        """theta, beta (None in stage 0) and phi from a parameter vector."""
        k = self.n_theta
        theta = x[:k]
        beta = x[k:k + self.p] if with_beta else None
        phi = (float(np.exp(x[-1])) if self.dispersion
               else self.fixed_phi if self.fixed_phi is not None else 1.0)
        return theta, beta, phi

    def lower(self, with_beta: bool) -> np.ndarray:
        """Bounds of the parameter vector: lme4's on theta, none on beta and log phi."""
        free = (self.p if with_beta else 0) + (1 if self.dispersion else 0)
        return np.concatenate([self.lower_theta, np.full(free, -np.inf)])

    # -- the criterion at a state ----------------------------------------------------------
    def curvature_factor(self, st: PirlsState) -> tuple[float, np.ndarray | None]:
        """log|L|^2 at the mode and, for one scalar term, the per-group L_jj^2 (l,).

        The state's factor is used when it holds the wanted weights (always for canonical
        links); otherwise L is rebuilt with them, and +inf returned where the exact Hessian
        is not positive definite (the Laplace approximation is undefined there).
        """
        fam = self.family
        if st.observed == self.observed or (fam.name, fam.link.name) in CANONICAL:
            f = st.factor
        else:
            if self.observed:
                w = observed_weights(fam, self.pirls.y, self.pirls.wt, st.eta, st.phi)
            else:
                w = self.pirls.wt * fam.mu_eta(st.eta) ** 2 / (
                    fam.deviance_scale(st.phi) * fam.variance(st.mu, st.phi))
            got = self.pirls._factor(w, w, st.theta, False)
            if got is None:
                return float("inf"), None
            f = got[1]
        diag = 1.0 / f.M0inv[:, 0, 0] if self._scalar_single else None
        return f.ldL2, diag

    @property
    def _scalar_single(self) -> bool:
        return len(self.design.reterms) == 1 and self.design.reterms[0].q == 1

    def _saturated_constant(self) -> float:
        """-2 log p(y | mu) minus the summed deviance, free of mu for these families: taken at
        one mu fixed by the data alone (inside the support), so that every objective built on
        the same data (a fit's, or a loaded fit's rebuilt one) adds the same rounding, whatever
        point it evaluated first."""
        y, wt = self.pirls.y, self.pirls.wt
        mu = (wt * y + 0.5) / (wt + 1.0) if self.family.name == "binomial" else y + 0.5
        with np.errstate(all="ignore"):
            ll = float(np.sum(self.family.loglik(y, mu, wt, 1.0)))
            dev = float(np.sum(self.family.dev_resids(y, mu, wt, 1.0)))
        return -2.0 * ll - dev

    def criterion(self, st: PirlsState, nAGQ: int | None = None) -> float:
        """-2 log L at a PIRLS state, with every normalising constant."""
        nAGQ = self.nAGQ if nAGQ is None else nAGQ
        fam = self.family
        if self.plugin:
            wt = self.pirls.wt
            disp = (st.pdev - st.sum_u2) / float(np.sum(wt))  # phi = 1 in PIRLS
            with np.errstate(all="ignore"):
                ll = float(np.sum(fam.loglik(self.pirls.y, st.mu, wt, disp)))
            val = -2.0 * ll + 2.0 + st.sum_u2
        elif self._const_fixed:
            if self._const is None:
                self._const = self._saturated_constant()
            val = st.pdev + self._const
        else:
            with np.errstate(all="ignore"):
                ll = float(np.sum(fam.loglik(self.pirls.y, st.mu, self.pirls.wt, st.phi)))
            val = -2.0 * ll + st.sum_u2
        ld, diag = self.curvature_factor(st)
        val += ld
        if nAGQ > 1 and diag is not None and np.isfinite(val):
            val += agq_correction(self.design, float(st.theta[0]), st.eta, st.u[0][:, 0], diag,
                                  st.phi, nAGQ)
        return val if np.isfinite(val) else float("inf")

    # -- evaluations -----------------------------------------------------------------------
    def modes(self, theta: np.ndarray, beta: np.ndarray, phi: float,
              with_beta: bool) -> PirlsState:
        """PIRLS from the anchor's (or else the last) modes, retried from u = 0 when the warm
        start fails."""
        base = self.anchor if self.anchor is not None else self.state
        u0 = base.u if base is not None else None
        if with_beta and base is not None:
            beta = base.beta
        try:
            st = self.pirls.fit(theta, beta, phi, u0=u0, with_beta=with_beta)
        except PirlsError:
            if u0 is None:
                raise
            st = self.pirls.fit(theta, beta if not with_beta else self.beta0, phi,
                                with_beta=with_beta)
        self.state = st
        return st

    def stage0(self, x: np.ndarray) -> float:
        """The criterion over x = (theta, [log phi]) with beta from PIRLS (lme4's nAGQ = 0)."""
        theta, _, phi = self.split(np.asarray(x, dtype=float), with_beta=False)
        try:
            st = self.modes(theta, self.beta0, phi, with_beta=True)
        except PirlsError:
            return float("inf")
        return self.criterion(st, nAGQ=1)

    def __call__(self, x: np.ndarray) -> float:
        """The criterion over x = (theta, beta, [log phi]) (the joint stage)."""
        theta, beta, phi = self.split(np.asarray(x, dtype=float), with_beta=True)
        if beta is None:  # split() returns beta whenever with_beta is True
            raise ModelError("the joint Laplace stage needs beta in its parameter vector")
        try:
            st = self.modes(theta, beta, phi, with_beta=False)
        except PirlsError:
            return float("inf")
        return self.criterion(st)
