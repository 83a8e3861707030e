"""The immutable result of a GLMM fit (lme4's ``glmerMod``), sharing the LMM's extractors.

Parameterisation (see :mod:`hiermix.frequentist.pirls`): theta gives Lambda_k, the Cholesky
factor of term k's random-effects covariance itself (no residual scale), so the covariance of
one level's b_k is Lambda_k Lambda_k'. ``sigma`` is sqrt(phi) for families with a dispersion
that scales the variance and 1 otherwise; the varcorr Residual row holds phi (variance) and
sqrt(phi), as lme4 prints it, and is absent for binomial, poisson and the negative binomial,
whose theta is ``phi`` (glmmTMB's ``sigma()``, lme4's ``getME(fit, "glmer.nb.theta")``).
``objective`` is -2 log L with every normalising constant (the Laplace or AGQ
approximation). Conditional variances of b are
Lambda_k B_kg Lambda_k' with B the diagonal blocks of (Lambda' Z' W Z Lambda + I)^{-1} at the
modes (lme4's ``condVar``), W the weights of the Laplace factor: the Fisher weights lme4 uses
for canonical links and ``lme4_compat`` fits, the exact Hessian's otherwise.

Everything not specific to GLMMs (ranef, coef, ngrps, nobs, aic, bic, ...) is inherited from
:class:`~hiermix.frequentist.result.LmerResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import check_count, make_rng
from ..covariance import lambda_from_theta
from ..errors import DataError, ModelError
from ..naming import RESIDUAL
from .optimizer import OptSummary
from .result import LmerResult, _frozen, random_part

if TYPE_CHECKING:
    from .laplace import GlmmObjective
    from .pirls import PirlsState

GLMM_RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")


@dataclass(frozen=True, eq=False)
class GlmerResult(LmerResult):
    """A fitted generalised linear mixed model. Immutable; arrays are read-only.

    Attributes (beyond :class:`LmerResult`'s)
    ----------------------------------------
    nAGQ : int
        0 (beta from PIRLS), 1 (Laplace) or the number of quadrature nodes.
    phi : float
        Dispersion (1 for binomial and poisson; theta for the negative binomial).
    eta, mu : ndarray, shape (n,)
        Linear predictor and mean at the conditional modes.
    vcov_beta : ndarray, shape (p, p)
        Covariance of beta-hat.
    vcov_source : str
        ``"hessian"`` (2 H^{-1} of -2 log L over theta, beta, [log phi]) or ``"pirls"``
        ((R_X' R_X)^{-1}).
    lme4_compat : bool
        Fitted with lme4's criterion (Fisher weights; plug-in dispersion). For a dispersion
        family theta is then relative to sigma, as in lme4: the covariance of b_k is
        sigma^2 Lambda_k Lambda_k', with sigma^2 = (Pearson chi^2 + ||u||^2) / n.
    """

    nAGQ: int = 1
    phi: float = 1.0
    eta: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    mu: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    vcov_beta: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    vcov_source: str = "hessian"
    lme4_compat: bool = False

    @classmethod
    def from_state(cls, obj: GlmmObjective, st: PirlsState, opt: OptSummary, singular: bool,
                   vcov_beta: np.ndarray, vcov_source: str, nAGQ: int,
                   data_name: str | None = None) -> GlmerResult:
        """Build the result from the objective and the PIRLS state at the estimates."""
        f = st.factor
        phi = st.phi
        if obj.plugin:
            d = obj.design
            pearson = float(np.sum(d.weights * (d.y - st.mu) ** 2
                                   / d.family.variance(st.mu)))
            phi = (pearson + st.sum_u2) / d.nobs
        return cls(design=obj.design, REML=False, theta=_frozen(st.theta),
                   beta=_frozen(st.beta), u=tuple(_frozen(x) for x in st.u),
                   b=tuple(_frozen(x) for x in st.b),
                   sigma=float(np.sqrt(obj.family.deviance_scale(phi))),
                   objective=opt.fmin, pwrss=st.pdev, ldL2=f.ldL2, ldRX2=f.ldRX2,
                   vcov_unscaled=_frozen(vcov_beta), optsummary=opt, is_singular=singular,
                   data_name=data_name, _objective_fn=obj, _factor=st, nAGQ=nAGQ,
                   phi=phi, eta=_frozen(st.eta), mu=_frozen(st.mu),
                   vcov_beta=_frozen(vcov_beta), vcov_source=vcov_source,
                   lme4_compat=obj.lme4_compat)

    @property
    def family(self) -> Any:
        return self.design.family

    @property
    def re_scale(self) -> float:
        """The factor on Lambda in the covariance of b: sigma for lme4-compatible fits of a
        dispersion family (lme4's relative theta), 1 otherwise."""
        if self.lme4_compat and self.family.has_scale:
            return self.sigma
        return 1.0

    # -- sizes and criteria ----------------------------------------------------------------
    @property
    def df(self) -> int:
        """Number of parameters: p, n_theta and, with a dispersion, phi."""
        return self.design.p + self.theta.size + (1 if self.family.has_dispersion else 0)

    @property
    def deviance(self) -> float:
        """-2 log L, as lme4's summary prints for a GLMM."""
        return self.objective

    @property
    def reml_crit(self) -> None:
        return None

    # -- fixed effects ---------------------------------------------------------------------
    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of beta-hat (p, p), from the Hessian or R_X (see ``vcov_source``)."""
        names = list(self.design.fixef_names)
        return pd.DataFrame(np.array(self.vcov_beta), index=names, columns=names)

    @property
    def fixef_se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov_beta)), index=list(self.design.fixef_names),
                         name="se")

    # -- variance components ---------------------------------------------------------------
    @property
    def varcorr(self) -> pd.DataFrame:
        """R's ``as.data.frame(VarCorr(fit))``; a Residual row (phi, sqrt(phi)) only for
        families with a dispersion."""
        rows = self._term_varcorr_rows(self.re_scale)
        if self.family.has_scale:
            rows.append((RESIDUAL, None, None, self.phi, float(np.sqrt(self.phi))))
        return self._varcorr_frame(rows)

    def varcorr_intervals(self, ci: float = 0.95) -> pd.DataFrame:
        """Wald intervals for every row of :attr:`varcorr` on the log-SD / atanh-correlation /
        log-phi scale, beta profiled (see :mod:`hiermix.frequentist.glmm_wald`).

        ``lme4_compat`` fits get NaN intervals: their phi is not a likelihood estimate. For
        the negative binomial a last row (grp ``Residual``) holds theta's interval, on the
        log-theta scale, though ``varcorr`` has no such row (as lme4's ``VarCorr``).
        """
        from .glmm_wald import psi_criterion
        from .wald import varcorr_intervals

        if self.lme4_compat and self.family.has_dispersion:
            return varcorr_intervals(self, ci, scale=self.phi)
        criterion, scale = psi_criterion(self)
        return varcorr_intervals(self, ci, criterion=criterion, scale=scale)

    def to_datatree(self, draws: int = 1000, seed: Any = 0, chains: int = 4) -> Any:
        """Draws from the asymptotic distribution of the estimates as an ArviZ DataTree
        (:func:`hiermix.frequentist.datatree.fit_datatree`), with the GLMM's psi covariance
        (beta profiled, :mod:`hiermix.frequentist.glmm_wald`)."""
        from .datatree import fit_datatree
        from .glmm_wald import psi_criterion
        from .wald import estimate_psi

        if self.lme4_compat and self.family.has_dispersion:
            return fit_datatree(self, draws=draws, seed=seed, chains=chains,
                                psi=estimate_psi(self, scale=self.phi))
        criterion, scale = psi_criterion(self)
        return fit_datatree(self, draws=draws, seed=seed, chains=chains,
                            psi=estimate_psi(self, criterion, scale))

    def _build_objective(self) -> Any:
        from .laplace import GlmmObjective

        obj = GlmmObjective(self.design, nAGQ=max(self.nAGQ, 1), lme4_compat=self.lme4_compat)
        # PIRLS's fallback start (the GLM's beta while fitting): the estimates serve as well.
        obj.beta0 = np.array(self.beta)
        return obj

    def _chol_and_factor(self) -> tuple[Any, Any]:
        """PIRLS's blocked Cholesky and factor at the conditional modes."""
        return self._factor.chol, self._factor.factor

    # -- fitted values and residuals -------------------------------------------------------
    @cached_property
    def _fitted(self) -> np.ndarray:
        return self.mu

    @property
    def fitted(self) -> np.ndarray:
        """mu = g^{-1}(X beta + Z b + offset), shape (n,) (lme4's ``fitted``)."""
        return self.mu

    def residuals(self, type: str = "deviance") -> np.ndarray:
        """Residuals (n,): ``"deviance"`` (lme4's default), ``"pearson"``, ``"response"``
        or ``"working"``."""
        if type not in GLMM_RESIDUAL_TYPES:
            raise DataError(f"unknown residual type {type!r}; choose one of "
                            f"{GLMM_RESIDUAL_TYPES}")
        d, fam, mu = self.design, self.family, self.mu
        r = d.y - mu
        if type == "response":
            return r
        if type == "working":
            return r / fam.mu_eta(self.eta)
        if type == "pearson":
            return r * np.sqrt(d.weights / fam.variance(mu, self.phi))
        return np.sign(r) * np.sqrt(np.maximum(fam.dev_resids(d.y, mu, d.weights, self.phi),
                                               0.0))

    # -- printing --------------------------------------------------------------------------
    def summary(self, ddf: str | None = None) -> str:
        """lme4's ``summary(fit)`` of a ``glmerMod`` as text (Wald z tests; ``ddf`` applies to
        linear mixed models only and must be None)."""
        from .glmm_summary import format_glmm_summary

        if ddf is not None:
            raise ModelError("ddf applies to linear mixed models; a GLMM's summary has Wald z "
                             "tests")
        return format_glmm_summary(self)

    def __repr__(self) -> str:
        grps = ", ".join(f"{k}: {v}" for k, v in self.ngrps.items())
        sing = ", singular" if self.is_singular else ""
        return (f"<GlmerResult {self.design.spec} | {self.family} nAGQ={self.nAGQ} | "
                f"-2 log L {self.objective:.4f}, n={self.nobs}, groups {{{grps}}}{sing}>")

    def _repr_html_(self) -> str:
        import html

        return ("<div class='hiermix-glmer'><pre>" + html.escape(self.summary())
                + "</pre></div>")

    # -- prediction, simulation, refitting -------------------------------------------------
    def predict(self, newdata: Any = None, re_form: Any = None,  # type: ignore[override]
                allow_new_levels: bool = False, type: str = "link") -> np.ndarray:
        """Predictions (lme4's ``predict.merMod``), shape (m,).

        Parameters
        ----------
        newdata : DataFrame or None
            None predicts the fitted data.
        re_form : None, "NA", "~0" or a random-effects formula
            None includes every random-effects term; "NA" / "~0" gives X beta + offset; a
            formula such as ``"~(1 | herd)"`` includes only the columns it names (lme4's
            ``re.form``).
        allow_new_levels : bool
            New levels get b = 0; when False they raise :class:`NewLevelError`.
        type : {"link", "response"}
        """
        if type not in ("link", "response"):
            raise DataError(f"unknown prediction type {type!r}; use 'link' or 'response'")
        eta = self._linear_predictor(newdata, re_form, allow_new_levels)
        return self.family.linkinv(eta) if type == "response" else eta

    def _eta_fitted(self) -> np.ndarray:
        return np.array(self.eta)

    def simulate(self, nsim: int = 1, seed: Any = None,
                 newparams: dict[str, Any] | None = None) -> pd.DataFrame:
        """Responses drawn from the fitted model with new random effects (lme4's ``simulate``).

        ``newparams`` may replace ``beta``, ``theta`` and ``phi``. Binomial responses are
        proportions of the trials (the design's weights), as the design's y.

        Returns
        -------
        DataFrame, shape (n, nsim), columns ``sim_1`` ...
        """
        nsim = check_count(nsim, "nsim", 1)
        rng = make_rng(seed, "seed")
        params: dict[str, Any] = {"beta": self.beta, "theta": self.theta, "phi": self.phi}
        params.update(newparams or {})
        d = self.design
        beta = np.asarray(params["beta"], dtype=float).ravel()
        theta = np.asarray(params["theta"], dtype=float).ravel()
        if beta.size != d.p or theta.size != d.n_theta:
            raise DataError(f"newparams need beta of size {d.p} and theta of size {d.n_theta}")
        lams, start = [], 0
        for t in d.reterms:
            lams.append(lambda_from_theta(theta[start:start + t.n_theta], t.q))
            start += t.n_theta
        fixed = d.X @ beta + d.offset
        sims = np.empty((d.nobs, nsim))
        for s in range(nsim):
            b = tuple(rng.standard_normal((t.nlevels, t.q)) @ lam.T
                      for t, lam in zip(d.reterms, lams, strict=True))
            mu = self.family.linkinv(fixed + random_part(d, b))
            sims[:, s] = self.family.sample(mu, d.weights, float(params["phi"]), rng)
        return pd.DataFrame(sims, columns=[f"sim_{i + 1}" for i in range(nsim)])

    def refit(self, new_response: Any) -> GlmerResult:
        """The same model fitted to a new response (n,) (lme4's ``refit``)."""
        from .glmm import fit_glmm

        return fit_glmm(self.design.with_response(new_response), nAGQ=self.nAGQ,
                        lme4_compat=self.lme4_compat, data_name=self.data_name)
