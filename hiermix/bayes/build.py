"""Design -> PyMC model: the mixed model of the frequentist engine, with priors.

For n observations, p fixed effects and K random-effects terms (term k: grouping factor with
l_k levels, codes g_k (n,), columns X_k (n, q_k))::

    eta_i = X_i beta + sum_k X_k[i] b_k[g_k[i]] + offset_i
    b_k[j] ~ N(0, Sigma_k)  independently over levels j = 1..l_k,  Sigma_k = S_k R_k S_k
    y_i | eta_i ~ family(g^{-1}(eta_i), phi / w_i)

S_k = diag(sd_k) holds the SDs and R_k the correlation matrix (LKJ prior); in the frequentist
parameterisation Sigma_k = s^2 Lambda_k Lambda_k^T with theta_k the lower triangle of Lambda_k
(:mod:`hiermix.covariance`) and s = sigma for LMMs, 1 for GLMMs. phi = sigma^2 (gaussian), the
dispersion (gamma, inverse gaussian), or 1 (binomial, poisson).

Parameterisation for sampling:

* Fixed effects: with an intercept, the other columns of X are centred, so the free variables
  are the centred intercept ``intercept_c`` and ``beta_slope``; ``beta`` (dims ``coef``) is the
  deterministic back-transform ``Intercept = intercept_c - mean(X_slope) beta_slope``. The map
  is linear with unit Jacobian, so a flat prior on the free variables is flat on beta.
* Random effects, non-centred (default): ``z_<label>`` (l_k, q_k) ~ N(0, 1) and
  b_k = z_k L_k^T, with L_k = S_k chol(R_k) from ``pm.LKJCholeskyCov`` (q_k > 1) or L_k = sd_k
  (q_k = 1). Centred on request, for every term or for the terms named:
  b_k ~ MvNormal(0, chol=L_k) directly. Both give the same posterior; the centred form mixes
  better for a term whose levels are each well informed by the data, the non-centred one for
  a term with few observations per level (Papaspiliopoulos, Roberts & Skold 2007, Stat Sci).
* No dense Z: each term adds ``(b_k[g_k] * X_k).sum(-1)``, an index gather.

Variables follow :mod:`hiermix.naming`: ``beta``, ``sd_<label>``, ``corr_<label>``,
``b_<label>``, ``sigma``, ``phi``; the response is ``y`` with dim ``obs``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design import Design
from ..errors import ModelError
from ..naming import (
    FIXEF_DIM,
    INTERCEPT,
    b_var,
    coef_dim,
    corr_pairs,
    corr_var,
    level_dim,
    pair_dim,
    pair_label,
    sd_var,
)
from .likelihood import response_rv
from .priors import Flat, Priors, has_intercept, resolve_priors

OBS_DIM = "obs"
RESPONSE = "y"


@dataclass(frozen=True, eq=False)
class BuiltModel:
    """A PyMC model built from a design, with what the result needs to read it.

    Attributes
    ----------
    model : pymc.Model
    design : Design
    priors : Priors
    centered : bool
        True when b is sampled directly (centred parameterisation) for every term.
    centered_terms : tuple of str
        Labels of the terms whose b is sampled directly.
    """

    model: Any
    design: Design
    priors: Priors
    centered: bool
    centered_terms: tuple[str, ...] = ()

    @property
    def free_names(self) -> list[str]:
        """Names of the free random variables."""
        return [rv.name for rv in self.model.free_RVs]


def coords_of(design: Design) -> dict[str, list[str] | list[int]]:
    """Dims and coordinates from the design: coefficients, levels, term columns, pairs, obs."""
    coords: dict[str, Any] = {FIXEF_DIM: list(design.fixef_names)}
    for t in design.reterms:
        coords[level_dim(t.label)] = list(t.levels)
        coords[coef_dim(t.label)] = list(t.cnames)
        if t.q > 1:
            coords[pair_dim(t.label)] = [pair_label(a, b) for a, b in corr_pairs(t.cnames)]
    coords[OBS_DIM] = list(range(design.nobs))
    return coords


def _pair_index(q: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of each correlation in :func:`hiermix.naming.corr_pairs` order."""
    rows, cols = [], []
    for j in range(q):
        for i in range(j + 1, q):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)


def build_model(design: Design, priors: Priors | str | Any = None,
                centered: bool | Collection[str] = False) -> BuiltModel:
    """Build the PyMC model of ``design``.

    Parameters
    ----------
    design : Design
    priors : None, "default", "flat", mapping or Priors
        See :func:`hiermix.bayes.priors.resolve_priors`.
    centered : bool or collection of str
        Sample b directly instead of through standardised z (non-centred, the default): True
        for every term, or the labels of the terms to centre.

    Returns
    -------
    BuiltModel

    Raises
    ------
    ModelError
        A label in ``centered`` names no term of the design.
    """
    import pymc as pm

    pri = resolve_priors(design, priors)
    chosen = centered_labels(design, centered)
    # Copies: the design's arrays are read-only, and compiled backends (numba) want to own theirs.
    X = np.array(design.X, dtype=float)
    with pm.Model(coords=coords_of(design)) as model:
        eta = fixed_part(design, pri, X)
        for t in design.reterms:
            b = random_term(t, pri, t.label in chosen)
            eta = eta + gather(t, b)
        observe(design, pri, eta)
    all_centred = bool(design.reterms) and len(chosen) == len(design.reterms)
    return BuiltModel(model=model, design=design, priors=pri, centered=all_centred,
                      centered_terms=chosen)


def observe(design: Design, pri: Priors, eta: Any) -> None:
    """The response ``y`` given the linear predictor ``eta`` (n,) without the offset, with the
    family's dispersion (``sigma`` for gaussian, ``phi`` where free), in the model in context."""
    import pytensor.tensor as pt

    fam = design.family
    if np.any(design.offset != 0):
        eta = eta + np.array(design.offset, dtype=float)
    if fam.name == "gaussian":
        sigma = pri.require("sigma").rv("sigma")
        phi = pt.sqr(sigma)
    elif fam.has_dispersion:
        phi = pri.require("phi").rv("phi")
    else:
        phi = pt.constant(1.0)
    response_rv(RESPONSE, fam, np.array(design.y, dtype=float),
                np.array(design.weights, dtype=float), eta, phi, dims=OBS_DIM)


def is_random_intercept(t: Any) -> bool:
    """True for a term with one column of ones, ``(1 | g)``."""
    return t.q == 1 and bool(np.all(np.asarray(t.X) == 1.0))


def gather(t: Any, b: Any) -> Any:
    """Z_k b_k as a tensor of shape (n,): b (l_k, q_k) gathered by level, times the term's
    columns, summed; a random intercept is the gather alone (no (n, 1) product and sum)."""
    codes = np.array(t.codes, dtype=np.int64)
    Xk = np.array(t.X, dtype=float)
    if t.q == 1 and np.all(Xk == 1.0):
        return b[codes, 0]
    return (b[codes] * Xk).sum(axis=-1)  # (n, q_k) gathered by level * (n, q_k) -> (n,)


def centered_labels(design: Design, centered: bool | Collection[str]) -> tuple[str, ...]:
    """The labels of the terms to centre, in design order, from True, False or labels."""
    labels = [t.label for t in design.reterms]
    if isinstance(centered, bool):
        return tuple(labels) if centered else ()
    if isinstance(centered, str):
        centered = (centered,)
    unknown = [c for c in centered if c not in labels]
    if unknown:
        raise ModelError(f"centered names {unknown[0]!r}, which is not a random-effects term; "
                         f"the terms are {', '.join(map(repr, labels))}")
    return tuple(lab for lab in labels if lab in set(centered))


@dataclass(frozen=True, eq=False)
class FixedEffects:
    """The fixed effects' free variables in the model in context (see the module docstring).

    Attributes
    ----------
    alpha : tensor scalar or None
        ``intercept_c``, the intercept of the centred predictors (None without an intercept).
    slope : list of int
        The columns of X other than the intercept.
    coef : tensor (len(slope),) or None
        Their coefficients (``beta_slope`` with an intercept, else ``beta``).
    centre : ndarray (len(slope),)
        The columns' means with an intercept (zeros without: nothing is centred).
    """

    alpha: Any
    slope: list[int]
    coef: Any
    centre: np.ndarray

    def part(self, X: np.ndarray, columns: list[int]) -> Any:
        """(X[:, columns] - centre) coef over those slope columns: shape (len(X),)."""
        import pytensor.tensor as pt

        if columns == self.slope:  # all of them: no gather of coef in the graph
            return pt.dot(X[:, columns] - self.centre, self.coef)
        ks = [self.slope.index(j) for j in columns]
        # (m, c) @ (c,) -> (m,)
        return pt.dot(X[:, columns] - self.centre[ks], self.coef[ks])


def fixed_effects(design: Design, pri: Priors, X: np.ndarray) -> FixedEffects:
    """The fixed effects' free variables, and ``beta`` (dims ``coef``) as a deterministic."""
    import pymc as pm
    import pytensor.tensor as pt

    p = X.shape[1]
    names = design.fixef_names
    if not has_intercept(design):
        beta = pri.require("coef").rv("beta", dims=FIXEF_DIM) if p else None
        return FixedEffects(None, list(range(p)), beta, np.zeros(p))
    i0 = names.index(INTERCEPT)
    slope = [j for j in range(p) if j != i0]
    alpha = pri.require("intercept").rv("intercept_c")
    if isinstance(pri.intercept, Flat):
        # A flat prior starts at 0, possibly far from the data; start at m instead.
        pm.Model.get_context().set_initval(alpha, pri.location)
    if not slope:
        pm.Deterministic("beta", alpha[None], dims=FIXEF_DIM)
        return FixedEffects(alpha, [], None, np.zeros(0))
    centre = X[:, slope].mean(axis=0)
    bs = pri.require("coef").rv("beta_slope", shape=(len(slope),))
    parts = [None] * p
    parts[i0] = (alpha - pt.dot(centre, bs))[None]
    for k, j in enumerate(slope):
        parts[j] = bs[k][None]
    pm.Deterministic("beta", pt.concatenate(parts), dims=FIXEF_DIM)
    return FixedEffects(alpha, slope, bs, centre)


def fixed_part(design: Design, pri: Priors, X: np.ndarray) -> Any:
    """beta (deterministic, dims ``coef``) and X beta as a tensor of shape (n,)."""
    import pytensor.tensor as pt

    fe = fixed_effects(design, pri, X)
    eta = pt.zeros(X.shape[0]) if fe.alpha is None else fe.alpha + pt.zeros(X.shape[0])
    return eta + fe.part(X, fe.slope) if fe.slope else eta


def term_cholesky(t: Any, pri: Priors) -> Any:
    """L_k (q_k, q_k) with Sigma_k = L_k L_k^T; ``sd_<label>`` and ``corr_<label>`` are
    recorded as deterministics (or sd is the free variable when q_k = 1)."""
    import pymc as pm

    lab, q = t.label, t.q
    sd_prior = pri.sd[lab]
    if q == 1:
        sd = sd_prior.rv(sd_var(lab), dims=coef_dim(lab), shape=(1,))
        return sd[:, None]
    chol, corr, sds = pm.LKJCholeskyCov(f"chol_{lab}", n=q, eta=pri.corr[lab].eta,
                                        sd_dist=sd_prior.dist(shape=(q,)), compute_corr=True,
                                        store_in_trace=False)
    pm.Deterministic(sd_var(lab), sds, dims=coef_dim(lab))
    rows, cols = _pair_index(q)
    pm.Deterministic(corr_var(lab), corr[rows, cols], dims=pair_dim(lab))
    return chol


def random_term(t: Any, pri: Priors, centered: bool) -> Any:
    """b_k, shape (l_k, q_k), with its SDs and correlations as deterministics."""
    import pymc as pm
    import pytensor.tensor as pt

    lab, q = t.label, t.q
    dims = (level_dim(lab), coef_dim(lab))
    chol = term_cholesky(t, pri)
    if centered:
        if q == 1:
            return pm.Normal(b_var(lab), 0.0, chol[:, 0][None, :], dims=dims)
        return pm.MvNormal(b_var(lab), mu=pt.zeros(q), chol=chol, dims=dims)
    z = pm.Normal(f"z_{lab}", 0.0, 1.0, dims=dims)
    # (l_k, q_k) @ (q_k, q_k) -> (l_k, q_k): each row is L_k z_j
    return pm.Deterministic(b_var(lab), pt.dot(z, chol.T), dims=dims)


#: The finest term of a nested chain is centred hierarchically
#: (:func:`hiermix.bayes.centring.find_chain`) when the median over its levels of the ratio
#: of data to prior precision, h_j tau^2 / sigma^2, is at least this (see :func:`information`).
CENTRE_MIN_INFORMATION = 1.0


def level_information(design: Design, response: np.ndarray | None = None,
                      weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """h_j tau_k^2 / sigma^2 for each level j of each one-column term (NaN for a level without
    data), a pre-sampling estimate of how well the data inform each level's effect.

    ``response`` and ``weights`` (n,) replace y - offset and the prior weights: a GLMM passes
    the working response and working weights of its fixed-effects GLM
    (:func:`hiermix.bayes.level_centring.working_response`), on whose scale the same one-way
    estimate holds approximately.

    h_j = sum_{i in level j} w_i x_i^2 is the data precision of b_j (times sigma^2). sigma^2
    and tau_k^2 are one-way moment estimates on the residuals r of the weighted least-squares
    fit of the fixed effects: b-hat_j = sum w x r / h_j per level, sigma^2 = the pooled
    within-level residual variance, tau_k^2 = max(0, var_j(b-hat_j) - mean_j(sigma^2 / h_j))
    (other terms are ignored, which only blurs the estimate). A ratio above 1 means the data
    pin b_j down more tightly than its prior spread: the centred parameterisation then mixes
    better (Papaspiliopoulos, Roberts & Skold 2007); below 1 the non-centred one does. Terms
    with several columns, and terms whose moments cannot be estimated (fewer than two levels
    with data, or no residual degrees of freedom), are left out.
    """
    X = np.asarray(design.X, dtype=float)
    w = np.asarray(design.weights if weights is None else weights, dtype=float)
    y = (np.asarray(design.y, dtype=float) - np.asarray(design.offset, dtype=float)
         if response is None else np.asarray(response, dtype=float))
    sw = np.sqrt(w)
    if X.shape[1]:
        coef = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        r = y - X @ coef
    else:
        r = y
    out: dict[str, np.ndarray] = {}
    for t in design.reterms:
        if t.q != 1:
            continue
        codes = np.asarray(t.codes, dtype=np.intp)
        x = np.asarray(t.X, dtype=float)[:, 0]
        h = np.bincount(codes, weights=w * x * x, minlength=t.nlevels)
        seen = h > 0
        bhat = np.zeros(t.nlevels)
        bhat[seen] = np.bincount(codes, weights=w * x * r, minlength=t.nlevels)[seen] / h[seen]
        rss = float(np.sum(w * (r - bhat[codes] * x) ** 2))
        dof = len(r) - int(seen.sum())
        if dof <= 0 or seen.sum() < 2 or not rss > 0:
            continue
        sigma2 = rss / dof
        tau2 = max(0.0, float(np.var(bhat[seen], ddof=1) - np.mean(sigma2 / h[seen])))
        out[t.label] = np.where(seen, h * tau2 / sigma2, np.nan)
    return out


def information(design: Design) -> dict[str, float]:
    """Median over the levels with data of :func:`level_information`, per one-column term."""
    return {lab: float(np.nanmedian(k)) for lab, k in level_information(design).items()}
