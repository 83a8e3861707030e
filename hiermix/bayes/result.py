"""The Bayesian result: posterior draws of the frequentist result's quantities, in a DataTree.

Draws are indexed (chain, draw). With the notation of :mod:`hiermix.bayes.build`, the result
holds draws of beta (``fixef``), of the variance components (``varcorr``: SDs of each term,
correlations within terms, sigma or phi) and of b (``ranef``), and derives from them

    eta = X beta + sum_k X_k b_k[g_k] + offset,   mu = g^{-1}(eta),

for fitted values, the posterior predictive distribution and predictions for new data. A level
the fit never saw gets b drawn from its population, N(0, Sigma_k), once per draw and level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..arguments import make_rng
from ..design import Design
from ..design.reterm import group_labels
from ..errors import ModelError
from ..naming import RESIDUAL, b_var, corr_pairs, corr_var, posterior_var_order, sd_var
from .priors import Priors

Array = np.ndarray


@dataclass(frozen=True)
class SamplerRecord:
    """How the draws were made: everything needed to repeat the run.

    Attributes
    ----------
    sampler : str
        ``"pymc"``, ``"nutpie"``, ``"numpyro"`` or ``"blackjax"``.
    draws, tune, chains : int
    random_seed : int
        The seed used (drawn and recorded when none was given).
    target_accept : float
    centered : bool
    marginal : bool
        True when b was integrated out while sampling and drawn afterwards (gaussian models).
    seconds : float
        Wall time of building, compiling and sampling.
    n_divergent : int
    marginal_why : str
        Which sampler ran (b integrated out or sampled jointly) and why.
    store_ranef : str
        What was kept of b ("all", "summary" or "none"), and why when chosen by size.
    log_likelihood : str
        Whether the pointwise log-likelihood group was stored ("stored"), and why not
        otherwise (:func:`hiermix.bayes.sample.loglik_rule`).
    """

    sampler: str
    draws: int
    tune: int
    chains: int
    random_seed: int
    target_accept: float
    centered: bool
    marginal: bool
    seconds: float
    n_divergent: int
    marginal_why: str = ""
    store_ranef: str = "all"
    log_likelihood: str = "stored"


def mu_draws(design: Design, beta: Array, b: list[Array], X: Array, offset: Array,
             codes: list[Array], Xk: list[Array], link: bool = False) -> Array:
    """eta (link=True) or mu for draws of beta and b.

    Parameters
    ----------
    beta : ndarray, shape (S, p)
        S draws of beta.
    b : list of ndarray, shape (S, l_k, q_k) each
        Draws of b_k; codes of -1 must already have been given a level in b.
    X : ndarray, shape (m, p)
    offset : ndarray, shape (m,)
    codes : list of ndarray of int, shape (m,) each
    Xk : list of ndarray, shape (m, q_k) each

    Returns
    -------
    ndarray, shape (S, m)
    """
    eta = beta @ X.T + offset[None, :]  # (S, p) @ (p, m) -> (S, m)
    for bk, ck, xk in zip(b, codes, Xk, strict=True):
        # (S, m, q_k) gathered effects * (m, q_k) columns, summed over q_k -> (S, m)
        eta = eta + np.einsum("smq,mq->sm", bk[:, ck, :], xk)
    return eta if link else design.family.linkinv(eta)


def chol_draws(sd: Array, corr: Array | None) -> Array:
    """Cholesky factors L of Sigma = S R S, shape (S, q, q), from SD draws (S, q) and
    correlation draws (S, q (q - 1) / 2) in :func:`hiermix.naming.corr_pairs` order."""
    S, q = sd.shape
    R = np.broadcast_to(np.eye(q), (S, q, q)).copy()
    if corr is not None:
        k = 0
        for j in range(q):
            for i in range(j + 1, q):
                R[:, i, j] = R[:, j, i] = corr[:, k]
                k += 1
    cov = sd[:, :, None] * R * sd[:, None, :]
    # The jitter keeps draws with a correlation of exactly +-1 factorable.
    return np.linalg.cholesky(cov + 1e-12 * np.eye(q))


@dataclass(frozen=True, eq=False)
class BayesResult:
    """Posterior draws of a mixed model (returned by :func:`hiermix.bayes.sample`).

    Attributes
    ----------
    datatree : xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood`` (pointwise ``y``),
        ``observed_data`` and ``constant_data``.
    design : Design
    priors : Priors
    record : SamplerRecord
    diagnostics : tuple of Diagnostic
        Failed checks (also issued as warnings when sampling).
    """

    datatree: Any
    design: Design
    priors: Priors
    record: SamplerRecord
    diagnostics: tuple[Any, ...] = field(default=())

    # ------------------------------------------------------------------ draws
    @property
    def posterior(self) -> Any:
        """The posterior group as an ``xarray.Dataset``."""
        return self.datatree["posterior"].to_dataset()

    def _draws(self, name: str) -> Array:
        """Draws of one variable flattened over (chain, draw): shape (S, ...)."""
        a = np.asarray(self.posterior[name])
        return a.reshape((-1, *a.shape[2:]))

    @property
    def fixef(self) -> Any:
        """Draws of beta, DataArray (chain, draw, coef)."""
        return self.posterior["beta"]

    @property
    def ranef(self) -> dict[str, Any]:
        """Draws of b per term label, DataArrays (chain, draw, <label>_level, <label>_coef)."""
        return {t.label: self._b_draws(t.label) for t in self.design.reterms}

    def _b_draws(self, label: str) -> Any:
        name = b_var(label)
        if name not in self.posterior:
            raise ModelError(f"the draws of {name} were not stored (store_ranef="
                             f"{self.record.store_ranef.split(':')[0]!r}); sample with "
                             "store_ranef='all' to use them")
        return self.posterior[name]

    @property
    def varcorr(self) -> Any:
        """Draws of the variance components: ``sd_<label>``, ``corr_<label>``, ``sigma`` or
        ``phi`` (an ``xarray.Dataset``)."""
        return self.posterior[self.parameter_names(with_b=False)[1:]]

    @property
    def sigma(self) -> Any:
        """Draws of the residual SD (gaussian), DataArray (chain, draw)."""
        if "sigma" not in self.posterior:
            raise ModelError(f"the {self.design.family.r_name} family has no residual SD")
        return self.posterior["sigma"]

    @property
    def phi(self) -> Any:
        """Draws of the dispersion: sigma^2 (gaussian), phi (gamma, inverse gaussian), theta
        (negative binomial), or 1."""
        post = self.posterior
        if "phi" in post:
            return post["phi"]
        if "sigma" in post:
            return post["sigma"] ** 2
        import xarray as xr

        return xr.DataArray(np.ones((post.sizes["chain"], post.sizes["draw"])),
                            dims=("chain", "draw"),
                            coords={"chain": post["chain"], "draw": post["draw"]}, name="phi")

    def parameter_names(self, with_b: bool = True) -> list[str]:
        """Names in the naming contract: beta, sd_*, corr_*, sigma or phi, and b_*."""
        names = ["beta"]
        for t in self.design.reterms:
            names.append(sd_var(t.label))
            if t.q > 1:
                names.append(corr_var(t.label))
        names += [v for v in ("sigma", "phi") if v in self.posterior]
        if with_b:
            names += [b_var(t.label) for t in self.design.reterms
                      if b_var(t.label) in self.posterior]
        return names

    # ------------------------------------------------------------------ summaries
    def summary(self, with_b: bool = False, ci_prob: float = 0.95) -> pd.DataFrame:
        """Posterior mean, SD, equal-tailed interval, ESS and R-hat of each parameter.

        Returns
        -------
        DataFrame, one row per scalar parameter (``beta[Days]``, ``sd_Subject[Intercept]``...)
        """
        import arviz_stats as azs

        names = self.parameter_names(with_b=with_b)
        terms = [(t.label, t.q) for t in self.design.reterms]
        # ArviZ labels b correctly only with the variables in the naming contract's order
        # (:mod:`hiermix.naming`); the rows are then put back in ``parameter_names`` order.
        table = azs.summary(self.datatree, var_names=posterior_var_order(terms, names),
                            ci_prob=ci_prob, ci_kind="eti")
        rank = {n: i for i, n in enumerate(names)}
        keys = [rank[str(label).split("[", 1)[0]] for label in table.index]
        return table.iloc[np.argsort(keys, kind="stable")]

    def fixef_summary(self, ci_prob: float = 0.95) -> pd.DataFrame:
        """Posterior summaries of beta, indexed by coefficient name."""
        df = self.summary(ci_prob=ci_prob).loc[[f"beta[{c}]" for c in self.design.fixef_names]]
        df.index = list(self.design.fixef_names)
        return df

    def varcorr_summary(self, ci_prob: float = 0.95) -> pd.DataFrame:
        """lme4's ``VarCorr`` rows (grp, var1, var2) with posterior mean, median and interval
        of each SD or correlation, and the residual SD (gaussian) or dispersion."""
        lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
        rows = []

        def add(grp: str, v1: str, v2: str | None, draws: Array) -> None:
            rows.append({"grp": grp, "var1": v1, "var2": v2, "mean": float(draws.mean()),
                         "median": float(np.median(draws)), "sd": float(draws.std(ddof=1)),
                         f"q{100 * lo:g}": float(np.quantile(draws, lo)),
                         f"q{100 * hi:g}": float(np.quantile(draws, hi))})

        for t in self.design.reterms:
            sd = self._draws(sd_var(t.label))
            for j, c in enumerate(t.cnames):
                add(t.label, c, None, sd[:, j])
            if t.q > 1:
                corr = self._draws(corr_var(t.label))
                for k, (a, b) in enumerate(corr_pairs(t.cnames)):
                    add(t.label, a, b, corr[:, k])
        if "sigma" in self.posterior:
            add(RESIDUAL, "sigma", None, self._draws("sigma"))
        if "phi" in self.posterior:
            add(RESIDUAL, "phi", None, self._draws("phi"))
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ sensitivity
    def sensitivity(self, component: str = "both", threshold: float = 0.05,
                    alphas: tuple[float, float] = (0.99, 1.01)) -> pd.DataFrame:
        """Power-scaling sensitivity of each parameter to the prior and the likelihood, with
        priorsense's diagnosis; see :func:`hiermix.sensitivity.sensitivity`."""
        from ..sensitivity import sensitivity

        return sensitivity(self, component=component, threshold=threshold, alphas=alphas)

    def plot_sensitivity(self, params: Any = None, kind: str = "dist",
                         alphas: tuple[float, float] = (0.8, 1.25), **kwargs: Any) -> Any:
        """Power-scaled marginal posteriors; see
        :func:`hiermix.sensitivity.plot_power_scaled`."""
        from ..sensitivity import plot_power_scaled

        return plot_power_scaled(self, params=params, kind=kind, alphas=alphas, **kwargs)

    # ------------------------------------------------------------------ predictions
    def _b_list(self) -> list[Array]:
        return [np.asarray(self._b_draws(t.label)).reshape(-1, t.nlevels, t.q)
                for t in self.design.reterms]

    def fitted(self, link: bool = False) -> Array:
        """Draws of mu (or eta with ``link=True``) at the observed rows, shape (S, n)."""
        d = self.design
        return mu_draws(d, self._draws("beta"), self._b_list(), np.asarray(d.X),
                        np.asarray(d.offset), [t.codes for t in d.reterms],
                        [np.asarray(t.X) for t in d.reterms], link=link)

    def _phi_draws(self) -> Any:
        """phi per draw, shape (S,); typed Any as Family.sample broadcasts an array phi."""
        return np.asarray(self.phi).reshape(-1)

    def posterior_predictive(self, random_seed: int | None = None) -> Any:
        """Replicated responses, DataArray (chain, draw, obs), drawn with the family's sampler
        (proportions for binomial, as the response is stored)."""
        import xarray as xr

        rng = make_rng(random_seed, "random_seed")
        d = self.design
        mu = self.fitted()
        yrep = d.family.sample(mu, np.asarray(d.weights), self._phi_draws()[:, None], rng)
        c, dr = self.record.chains, self.record.draws
        post = self.posterior
        return xr.DataArray(yrep.reshape(c, dr, -1), dims=("chain", "draw", "obs"),
                            coords={"chain": post["chain"], "draw": post["draw"]}, name="y")

    def predict(self, newdata: Any, allow_new_levels: bool = True, kind: str = "response",
                include_random: bool = True, random_seed: int | None = None) -> Any:
        """Posterior draws of predictions for new data.

        Parameters
        ----------
        newdata : DataFrame
        allow_new_levels : bool
            New grouping levels get b drawn from N(0, Sigma_k) per posterior draw (one draw
            per new level, shared by its rows); False raises :class:`NewLevelError`.
        kind : {"response", "link", "predictive"}
            mu, eta, or new responses drawn from the family.
        include_random : bool
            False predicts at b = 0 (lme4's ``re.form = NA``).
        random_seed : int or None
            For new levels' effects and predictive draws.

        Returns
        -------
        DataArray, dims (chain, draw, obs), m new observations.
        """
        import xarray as xr

        if kind not in ("response", "link", "predictive"):
            raise ModelError(f"kind must be 'response', 'link' or 'predictive'; got {kind!r}")
        d = self.design
        nd = newdata if isinstance(newdata, pd.DataFrame) else pd.DataFrame(newdata)
        enc = d.encode_new(nd, allow_new_levels=allow_new_levels, with_random=include_random)
        rng = make_rng(random_seed, "random_seed")
        beta = self._draws("beta")
        S = beta.shape[0]
        b_list, codes = [], []
        if include_random:
            for t, ck, bk in zip(d.reterms, enc.codes, self._b_list(), strict=True):
                ck = np.asarray(ck).copy()
                new = ck < 0
                if np.any(new):
                    labels = np.asarray(group_labels(nd, t.factors), dtype=object)
                    uniq, inv = np.unique(labels[new], return_inverse=True)
                    sd = self._draws(sd_var(t.label))
                    corr = self._draws(corr_var(t.label)) if t.q > 1 else None
                    L = chol_draws(sd, corr)  # (S, q, q)
                    z = rng.standard_normal((S, len(uniq), t.q))
                    # (S, u, q) @ (S, q, q)^T -> (S, u, q): population draws for new levels
                    bnew = np.einsum("suq,srq->sur", z, L)
                    bk = np.concatenate([bk, bnew], axis=1)
                    ck[new] = t.nlevels + inv
                b_list.append(bk)
                codes.append(ck)
        eta = mu_draws(d, beta, b_list, np.asarray(enc.X), np.asarray(enc.offset), codes,
                       [np.asarray(x) for x in enc.Xk], link=True)
        out = eta if kind == "link" else d.family.linkinv(eta)
        if kind == "predictive":
            w = np.ones(out.shape[1])
            out = d.family.sample(out, w, self._phi_draws()[:, None], rng)
        post = self.posterior
        return xr.DataArray(out.reshape(self.record.chains, self.record.draws, -1),
                            dims=("chain", "draw", "obs"),
                            coords={"chain": post["chain"], "draw": post["draw"]},
                            name="y_pred")

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        r = self.record
        d = self.design
        head = [f"Bayesian mixed model: {d.spec}",
                f"  family: {d.family}; {d.nobs} observations; "
                + ", ".join(f"{k}: {v} levels" for k, v in d.ngrps.items()),
                f"  NUTS ({r.sampler}): {r.chains} chains x {r.draws} draws after {r.tune} "
                f"tuning; seed {r.random_seed}; {r.seconds:.1f} s; "
                f"{r.n_divergent} divergent",
                *([f"  {r.marginal_why}"] if r.marginal_why else []),
                *([f"  random effects stored: {r.store_ranef}"] if r.store_ranef != "all"
                  else []),
                *([f"  pointwise log-likelihood: {r.log_likelihood}"]
                  if r.log_likelihood != "stored" else []),
                "", "Fixed effects:", self.fixef_summary().to_string(), "",
                "Variance components:", self.varcorr_summary().to_string(index=False)]
        if self.diagnostics:
            head += ["", "Diagnostics:"] + [f"  - {x.message}" for x in self.diagnostics]
        return "\n".join(head)

    def __repr__(self) -> str:
        r = self.record
        return (f"<BayesResult {self.design.spec} | {r.chains}x{r.draws} draws, "
                f"{r.n_divergent} divergent>")
