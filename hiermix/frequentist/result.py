"""The immutable result of a linear mixed model fit, in lme4's vocabulary (snake_case).

Parameterisation, as in lme4: theta (lme4's order) gives Lambda_k for each term; the random
effects are b = Lambda u with u the spherical ("unit") effects; the covariance of one level's
b_k is sigma^2 Lambda_k Lambda_k'. ``fixef`` is beta-hat; ``vcov`` is sigma^2 (R_X' R_X)^{-1};
conditional variances of b (lme4's ``condVar``) are sigma^2 Lambda_k B_kg Lambda_k' with B the
diagonal blocks of (Lambda' Z'WZ Lambda + I)^{-1}, conditional on beta-hat as in lme4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.linalg as sla

from ..covariance import cov_from_theta
from ..design import Design
from ..errors import DataError
from ..naming import RESIDUAL, corr_pairs
from ..pickling import ReadOnlyArrays
from ..pls.blocked import Factor, profiled_deviance
from .optimizer import OptSummary
from .reform import random_selection

if TYPE_CHECKING:
    from .lmm import LmmObjective

RESIDUAL_TYPES = ("response", "pearson", "scaled")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


def random_part(design: Design, b: tuple[np.ndarray, ...], codes: tuple[np.ndarray, ...] | None
                = None, Xk: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
    """Z b, shape (n,), from per-term effects b_k (l_k, q_k); code -1 contributes 0."""
    codes = codes if codes is not None else tuple(t.codes for t in design.reterms)
    Xk = Xk if Xk is not None else tuple(t.X for t in design.reterms)
    out = np.zeros(codes[0].shape[0] if codes else 0)
    for bk, ck, xk in zip(b, codes, Xk, strict=True):
        rows = bk[np.where(ck >= 0, ck, 0)]  # (n, q_k)
        out += np.where(ck >= 0, np.einsum("nq,nq->n", rows, xk), 0.0)
    return out


@dataclass(frozen=True, eq=False)
class LmerResult(ReadOnlyArrays):
    """A fitted linear mixed model (lme4's ``lmerMod``). Immutable; arrays are read-only.

    Attributes
    ----------
    design : Design
    REML : bool
    theta : ndarray, shape (n_theta,)
    beta : ndarray, shape (p,)
    u : tuple of ndarray, shape (l_k, q_k) each
        Spherical random effects.
    b : tuple of ndarray, shape (l_k, q_k) each
        Conditional modes b = Lambda u.
    sigma : float
        Residual standard deviation.
    objective : float
        REML criterion (REML fits) or deviance -2 log L (ML fits) at convergence.
    pwrss : float
        Penalised weighted residual sum of squares r^2(theta-hat).
    ldL2, ldRX2 : float
        log|L_theta|^2 and log|R_X|^2.
    vcov_unscaled : ndarray, shape (p, p)
        (R_X' R_X)^{-1}.
    optsummary : OptSummary
    is_singular : bool
    data_name : str or None
    """

    design: Design
    REML: bool
    theta: np.ndarray
    beta: np.ndarray
    u: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    sigma: float
    objective: float
    pwrss: float
    ldL2: float
    ldRX2: float
    vcov_unscaled: np.ndarray
    optsummary: OptSummary
    is_singular: bool
    data_name: str | None = None
    _objective_fn: Any = field(default=None, repr=False)
    _factor: Any = field(default=None, repr=False)

    @classmethod
    def from_factor(cls, obj: LmmObjective, f: Factor, opt: OptSummary, singular: bool,
                    data_name: str | None = None) -> LmerResult:
        """Build the result from the objective and its factor at theta-hat."""
        g = obj.gram
        beta, u, b = obj.chol.solve(f)
        n, p = g.n, g.p
        sigma = float(np.sqrt(f.pwrss / (n - p if obj.REML else n)))
        mz = g.m_z
        RX = f.LR[mz:mz + p, mz:mz + p]
        RXinv = sla.solve_triangular(RX, np.eye(p), lower=True)
        return cls(design=obj.design, REML=obj.REML, theta=_frozen(f.theta), beta=_frozen(beta),
                   u=tuple(_frozen(x) for x in u), b=tuple(_frozen(x) for x in b), sigma=sigma,
                   objective=profiled_deviance(f, n, p, obj.REML, g.sum_log_w),
                   pwrss=f.pwrss, ldL2=f.ldL2, ldRX2=f.ldRX2,
                   vcov_unscaled=_frozen(RXinv.T @ RXinv), optsummary=opt,
                   is_singular=singular, data_name=data_name, _objective_fn=obj, _factor=f)

    # -- the objective, and pickling ------------------------------------------------------
    def objective_function(self) -> Any:
        """The criterion the fit minimised (lme4's ``devfun``): an :class:`LmmObjective`, a
        :class:`~hiermix.frequentist.laplace.GlmmObjective` for GLMMs.

        It holds the Gram matrix and work arrays, derived from the design alone; a pickled
        result leaves it out (it is often larger than the design) and it is rebuilt here on
        first use after loading.
        """
        if self._objective_fn is None:
            object.__setattr__(self, "_objective_fn", self._build_objective())
        return self._objective_fn

    def _build_objective(self) -> Any:
        from .lmm import LmmObjective

        return LmmObjective(self.design, self.REML)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_objective_fn"] = None
        return state

    # -- sizes -----------------------------------------------------------------------------
    @property
    def nobs(self) -> int:
        return self.design.nobs

    @property
    def ngrps(self) -> dict[str, int]:
        """Grouping factor -> number of levels."""
        return self.design.ngrps

    @property
    def df(self) -> int:
        """Number of parameters: p fixed effects, n_theta, and sigma."""
        return self.design.p + self.theta.size + 1

    @property
    def df_resid(self) -> int:
        return self.nobs - self.df

    # -- criteria --------------------------------------------------------------------------
    @property
    def loglik(self) -> float:
        """Log-likelihood (the REML log-likelihood for REML fits, as lme4's ``logLik``)."""
        return -0.5 * self.objective

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(self.nobs) * self.df

    @property
    def reml_crit(self) -> float | None:
        """The REML criterion (lme4's ``REMLcrit``); None for ML fits."""
        return self.objective if self.REML else None

    @property
    def deviance(self) -> float:
        """-2 log L at the estimates (lme4's ``deviance(fit, REML = FALSE)``).

        For ML fits it is the objective; for REML fits the ML deviance at the REML theta and
        beta with the ML sigma.
        """
        if not self.REML:
            return self.objective
        g = self.objective_function().gram
        n = g.n
        return float(self.ldL2 + n * (1.0 + np.log(2.0 * np.pi * self.pwrss / n))
                     - g.sum_log_w)

    # -- fixed effects ---------------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """beta-hat, indexed by the design's fixed-effect names."""
        return pd.Series(self.beta, index=list(self.design.fixef_names), name="fixef")

    @property
    def vcov(self) -> pd.DataFrame:
        """sigma^2 (R_X' R_X)^{-1}, shape (p, p)."""
        names = list(self.design.fixef_names)
        return pd.DataFrame(self.sigma**2 * self.vcov_unscaled, index=names, columns=names)

    @property
    def fixef_se(self) -> pd.Series:
        return pd.Series(self.sigma * np.sqrt(np.diag(self.vcov_unscaled)),
                         index=list(self.design.fixef_names), name="se")

    # -- variance components ---------------------------------------------------------------
    def _theta_blocks(self) -> list[np.ndarray]:
        out, start = [], 0
        for t in self.design.reterms:
            out.append(self.theta[start:start + t.n_theta])
            start += t.n_theta
        return out

    def _term_varcorr_rows(self, scale: float) -> list[tuple[Any, ...]]:
        """(grp, var1, var2, vcov, sdcor) per SD and correlation of every term, with
        Sigma_k = scale^2 Lambda_k Lambda_k' (scale: sigma for LMMs, 1 for GLMMs)."""
        rows: list[tuple[Any, ...]] = []
        for t, th in zip(self.design.reterms, self._theta_blocks(), strict=True):
            cov = cov_from_theta(th, t.q, scale)
            sd = np.sqrt(np.diag(cov))
            for j, name in enumerate(t.cnames):
                rows.append((t.label, name, None, cov[j, j], sd[j]))
            for a, bname in corr_pairs(t.cnames):
                i, j = t.cnames.index(a), t.cnames.index(bname)
                den = sd[i] * sd[j]
                rows.append((t.label, a, bname, cov[i, j], cov[i, j] / den if den > 0 else 0.0))
        return rows

    @property
    def varcorr(self) -> pd.DataFrame:
        """R's ``as.data.frame(VarCorr(fit))``: columns grp, var1, var2, vcov, sdcor.

        Per term (grp = its label): one row per column (variance, SD), then one per
        correlation (covariance, correlation); a final Residual row.
        """
        rows = self._term_varcorr_rows(self.re_scale)
        rows.append((RESIDUAL, None, None, self.sigma**2, self.sigma))
        return self._varcorr_frame(rows)

    @staticmethod
    def _varcorr_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        """The varcorr DataFrame from (grp, var1, var2, vcov, sdcor) rows."""
        cols = list(zip(*rows, strict=True)) if rows else [()] * 5
        # object columns keep None (R's NA) for missing var1 / var2, as lme4's frame has.
        return pd.DataFrame({
            "grp": pd.Series(cols[0], dtype=object),
            "var1": pd.Series(cols[1], dtype=object),
            "var2": pd.Series(cols[2], dtype=object),
            "vcov": np.array(cols[3], dtype=float),
            "sdcor": np.array(cols[4], dtype=float),
        })

    # -- random effects --------------------------------------------------------------------
    def _by_group(self, per_term: list[np.ndarray]) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for t, vals in zip(self.design.reterms, per_term, strict=True):
            frame = pd.DataFrame(vals, index=pd.Index(list(t.levels), name=t.group),
                                 columns=list(t.cnames))
            out[t.group] = frame if t.group not in out else pd.concat([out[t.group], frame],
                                                                     axis=1)
        return out

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes b: grouping factor -> DataFrame (levels x term columns).

        ``||`` terms of one factor are merged into one frame, as lme4 does.
        """
        return self._by_group(list(self.b))

    @property
    def re_scale(self) -> float:
        """s in Sigma_k = s^2 Lambda_k Lambda_k': sigma, as theta is relative to it."""
        return self.sigma

    def _chol_and_factor(self) -> tuple[Any, Factor]:
        """The blocked Cholesky and its factor at the estimates (GLMMs: at PIRLS's end)."""
        return self.objective_function().chol, self._factor

    @cached_property
    def _condvar_blocks(self) -> tuple[np.ndarray, ...]:
        chol, factor = self._chol_and_factor()
        blocks = chol.inverse_diag_blocks(factor)
        out = []
        for lam, B in zip(factor.lambdas, blocks, strict=True):
            v = self.re_scale**2 * np.einsum("ij,gjk,lk->gil", lam, B, lam)
            v.flags.writeable = False
            out.append(v)
        return tuple(out)

    @property
    def ranef_condvar(self) -> dict[str, np.ndarray]:
        """Conditional covariances of b per term label: (l_k, q_k, q_k) (lme4's ``postVar``)."""
        return {t.label: v for t, v in zip(self.design.reterms, self._condvar_blocks,
                                           strict=True)}

    @property
    def ranef_condsd(self) -> dict[str, pd.DataFrame]:
        """Conditional SDs of b, laid out as :attr:`ranef` (lme4's ``condVar = TRUE``)."""
        return self._by_group([np.sqrt(np.diagonal(v, axis1=1, axis2=2))
                               for v in self._condvar_blocks])

    @property
    def coef(self) -> dict[str, pd.DataFrame]:
        """Per grouping factor: fixed effects plus that factor's conditional modes, per level."""
        fe = self.fixef
        out = {}
        for grp, re in self.ranef.items():
            frame = pd.DataFrame(np.tile(fe.to_numpy(), (len(re), 1)), index=re.index,
                                 columns=fe.index)
            for col in re.columns:
                if col in frame.columns:
                    frame[col] = frame[col] + re[col]
                else:
                    frame[col] = re[col]
            out[grp] = frame
        return out

    # -- fitted values and residuals -------------------------------------------------------
    @cached_property
    def _fitted(self) -> np.ndarray:
        d = self.design
        mu = d.X @ self.beta + d.offset + random_part(d, self.b)
        mu.flags.writeable = False
        return mu

    @property
    def fitted(self) -> np.ndarray:
        """X beta + Z b + offset, shape (n,)."""
        return self._fitted

    def residuals(self, type: str = "response") -> np.ndarray:
        """Residuals, shape (n,): ``"response"`` y - fitted, ``"pearson"`` sqrt(w) (y - fitted),
        ``"scaled"`` Pearson residuals over sigma."""
        if type not in RESIDUAL_TYPES:
            raise DataError(f"unknown residual type {type!r}; choose one of {RESIDUAL_TYPES}")
        r = self.design.y - self._fitted
        if type == "response":
            return r
        r = np.sqrt(self.design.weights) * r
        return r if type == "pearson" else r / self.sigma

    # -- inference on the variance components ----------------------------------------------
    def varcorr_intervals(self, ci: float = 0.95) -> pd.DataFrame:
        """Wald intervals for every row of :attr:`varcorr`, on the log-SD, atanh-correlation
        and log-sigma scale from the Hessian of the criterion, transformed back (see
        :mod:`hiermix.frequentist.wald`); rows on the boundary are flagged and left empty.
        """
        from .wald import varcorr_intervals

        return varcorr_intervals(self, ci)

    # -- confidence intervals, profiles and the bootstrap (hiermix.inference) -------------
    def confint(self, parm: Any = None, level: float = 0.95, method: str = "profile",
                **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals by lme4's row names (lme4's ``confint``): ``"profile"``,
        ``"wald"`` or ``"boot"``; see :func:`hiermix.inference.confint`."""
        from ..inference import confint

        return confint(self, parm=parm, level=level, method=method, **kwargs)

    def profile(self, parm: Any = None, **kwargs: Any) -> Any:
        """Likelihood profiles (zeta traces) on lme4's scales (lme4's ``profile``); see
        :func:`hiermix.inference.profile`."""
        from ..inference import profile

        return profile(self, parm=parm, **kwargs)

    def bootstrap(self, nsim: int, seed: Any = None, n_jobs: int | None = None) -> Any:
        """Parametric bootstrap (lme4's ``bootMer``); see
        :func:`hiermix.inference.bootstrap`."""
        from ..inference import bootstrap

        return bootstrap(self, nsim, seed=seed, n_jobs=n_jobs)

    def to_datatree(self, draws: int = 1000, seed: Any = 0, chains: int = 4) -> Any:
        """The fit as an ArviZ DataTree with the posterior's names and dims: draws from the
        asymptotic distribution of the estimates (:mod:`hiermix.frequentist.datatree`), so that
        ``arviz.plot_forest({"ML": fit.to_datatree(), "Bayes": post.datatree})`` works as is.
        """
        from .datatree import fit_datatree

        return fit_datatree(self, draws=draws, seed=seed, chains=chains)

    # -- tests of fixed effects (hiermix.inference; Satterthwaite, Kenward-Roger) ------------
    def coef_table(self, ddf: str | None = "Satterthwaite") -> pd.DataFrame:
        """Fixed effects with t tests: columns estimate, se, df, t, p (lmerTest's
        ``summary(fit, ddf=)`` coefficients). ``ddf``: ``"Satterthwaite"``,
        ``"Kenward-Roger"`` (REML fits; se from the adjusted covariance) or None (lme4's table:
        no df or p for an LMM, z tests for a GLMM). See :mod:`hiermix.inference.ddf`."""
        from ..inference.ddf import coef_table

        return coef_table(self, ddf)

    def anova(self, ddf: str = "Satterthwaite") -> pd.DataFrame:
        """lmerTest's type III ANOVA table: an F test per fixed-effect term, columns sum_sq,
        mean_sq, num_df, den_df, F, p. For likelihood-ratio tests between models use
        ``hiermix.anova`` (:func:`hiermix.inference.lrt.anova`)."""
        from ..inference.ddf import anova_table

        return anova_table(self, ddf)

    # -- printing --------------------------------------------------------------------------
    def summary(self, ddf: str | None = None) -> str:
        """lme4's ``summary(fit)`` as text; with ``ddf`` (``"Satterthwaite"`` or
        ``"Kenward-Roger"``) lmerTest's, whose fixed-effects block adds df and p-values."""
        from .summary import format_summary

        return format_summary(self, ddf)

    def __repr__(self) -> str:
        crit = "REML" if self.REML else "deviance"
        grps = ", ".join(f"{k}: {v}" for k, v in self.ngrps.items())
        sing = ", singular" if self.is_singular else ""
        return (f"<LmerResult {self.design.spec} | {crit} {self.objective:.4f}, "
                f"sigma {self.sigma:.4g}, n={self.nobs}, groups {{{grps}}}{sing}>")

    def _repr_html_(self) -> str:
        from .summary import format_html

        return format_html(self)

    # -- prediction, simulation, refitting -------------------------------------------------
    def predict(self, newdata: Any = None, re_form: Any = None,
                allow_new_levels: bool = False) -> np.ndarray:
        """Predictions on the response scale (lme4's ``predict.merMod``).

        Parameters
        ----------
        newdata : DataFrame or None
            None predicts the fitted data.
        re_form : None, "NA", "~0" or a random-effects formula
            None includes every random-effects term; ``"NA"`` or ``"~0"`` (or ``np.nan``)
            gives the population prediction X beta + offset; a formula such as
            ``"~(1 | Subject)"`` includes only the columns it names (lme4's ``re.form``; see
            :mod:`hiermix.frequentist.reform`).
        allow_new_levels : bool
            New levels predict with b = 0; when False they raise :class:`NewLevelError`.

        Returns
        -------
        ndarray, shape (m,)
        """
        return self._linear_predictor(newdata, re_form, allow_new_levels)

    def _linear_predictor(self, newdata: Any, re_form: Any,
                          allow_new_levels: bool) -> np.ndarray:
        """X beta + offset + the random effects ``re_form`` selects, shape (m,)."""
        masks = random_selection(self.design, re_form)
        d = self.design
        full = masks is not None and all(m.all() for m in masks)
        if newdata is None and full:
            return self._eta_fitted()
        b = self.b if masks is None else tuple(bk * mk for bk, mk in zip(self.b, masks,
                                                                          strict=True))
        if newdata is None:
            eta = d.X @ self.beta + d.offset
            return eta if masks is None else eta + random_part(d, b)
        use = [False] * len(d.reterms) if masks is None else [bool(m.any()) for m in masks]
        nd = d.encode_new(newdata, allow_new_levels=allow_new_levels, with_random=use)
        eta = nd.X @ self.beta + nd.offset
        if any(use):
            eta = eta + random_part(d, b, nd.codes, nd.Xk)
        return eta

    def _eta_fitted(self) -> np.ndarray:
        """The fitted linear predictor with every random effect, shape (n,)."""
        return self._fitted.copy()

    def simulate(self, nsim: int = 1, seed: Any = None,
                 newparams: dict[str, Any] | None = None) -> pd.DataFrame:
        """Responses simulated from the fitted model (lme4's ``simulate.merMod``).

        New random effects and residuals are drawn for every simulation. ``newparams`` may
        replace ``beta``, ``theta`` and ``sigma``.

        Returns
        -------
        DataFrame, shape (n, nsim), columns ``sim_1`` ...
        """
        from .simulate import simulate

        new = dict(newparams or {})
        unknown = set(new) - {"beta", "theta", "sigma"}
        if unknown:
            raise DataError(f"newparams may set beta, theta and sigma; got {sorted(unknown)}")
        return simulate(self.design, beta=new.get("beta", self.beta),
                        sigma=float(new.get("sigma", self.sigma)),
                        theta=new.get("theta", self.theta), nsim=nsim, seed=seed)

    def refit(self, new_response: Any) -> LmerResult:
        """The same model fitted to a new response (n,) (lme4's ``refit``)."""
        from .lmm import fit_lmm

        return fit_lmm(self.design.with_response(new_response), REML=self.REML,
                       data_name=self.data_name)

    # -- influence (hiermix.inference.influence) -------------------------------------------
    def influence(self, group: str | None = None, obs: bool = False,
                  n_jobs: int = 1) -> pd.DataFrame:
        """Influence of each level of a grouping factor (refits without it: Cook's distance,
        DFBETA, DFBETAS, change of each variance component; influence.ME's definitions) or,
        with ``obs=True``, of each observation (hat values and Cook's distance, LMMs); see
        :func:`hiermix.inference.influence.influence`."""
        from ..inference.influence import influence

        return influence(self, group=group, obs=obs, n_jobs=n_jobs)


