"""The joint sampler's parameterisation for large gaussian models: nested chains centred
hierarchically, with their coarse levels integrated out, and the other terms centred partially.

Where :func:`hiermix.bayes.marginal.sampler_choice` finds b too large to integrate out as a
whole (InstEval, ``y ~ service + (1 | s) + (1 | d) + (1 | dept)``), b is sampled, and how it is
parameterised decides how fast NUTS mixes. Two changes to :mod:`hiermix.bayes.build`'s
model, both exact re-parameterisations (the posterior is the same):

**Nested chain, centred hierarchically.** Scalar random intercepts T_0, T_1, ..., T_K whose
levels nest (every level of T_k lies in one level of T_{k+1}; lecturer ``d`` in department
``dept``) and whose finest term's levels the data inform well (median data-to-prior precision
:func:`hiermix.bayes.build.information` at least
:data:`~hiermix.bayes.build.CENTRE_MIN_INFORMATION`). The free variable is the total
effect of each finest level j::

    a_j = mu + b_{T_K}[p_K(j)] + ... + b_{T_1}[p_1(j)] + b_{T_0}[j]      (a_<T_0>, (l_0,))

with mu the intercept of the centred predictors when its prior is Normal(m0, s0) or Flat
(otherwise mu = 0 and the intercept stays a free variable). Its prior, with b_{T_1..T_K} and
mu integrated out, is a Gaussian evaluated level by level in O(l_0) (:func:`chain_logp`): the
children x_i of a parent with variances v_i (weights w_i = 1 / v_i) contribute
``-1/2 sum w_i (x_i - xbar)^2 + 1/2 sum log w_i - 1/2 log W`` and pass on their
precision-weighted mean xbar (variance 1 / W, W = sum w_i), which is a child of the next level
with variance 1 / W + sd_{T_{k+1}}^2; the root's mean has N(m0, V + s0^2) (nothing for Flat).
Without the chain, each department's mean of the lecturer effects trades off against b_dept, a
direction HMC crosses about sqrt(l_0 / l_K) times slower than the coordinates (InstEval:
sd_dept bulk ESS 72 in 2 x 500 draws, issue 14).

With slopes (the other columns of X), the sampled variable is a'_j = a_j + (xbar_j - xbar)
beta_slope, with xbar_j the weighted mean of the slope columns in level j and xbar their
overall mean, and the rows' predictor is a'_j + (x_i - xbar_j) beta_slope: a shift of a (unit
Jacobian) after which beta_slope is informed by the variation within the finest levels and
no longer trades off against a (InstEval's ``service`` is constant within 41% of the
lecturers).

After sampling, mu and the b of every chain term are drawn per draw from their exact Gaussian
conditionals given a and the SDs, root first (:func:`draw_chain`), so the pairs are exact
joint posterior draws: total effect c_p of a level p of T_k given its parent's total and the
summary xbar_p (variance V_p) of its children has precision 1 / sd_k^2 + 1 / V_p.

**Partial centring per level** (Papaspiliopoulos, Roberts & Skold 2003) for every other
one-column term: z_j ~ N(0, sd^lambda_j) and b_j = sd^(1 - lambda_j) z_j, with lambda_j =
k_j / (1 + k_j) and k_j = h_j tau^2 / sigma^2 the level's data-to-prior precision
(:func:`hiermix.bayes.build.level_information`): lambda = 0 is the non-centred and lambda = 1
the centred form, and this weight makes z_j nearly independent of sd for every level, however
unequal their sizes. Terms with several columns stay non-centred.

Measured on InstEval, 2 x (500 + 500), ``benchmarks/bayes.py --model insteval``: see that
script's table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..design import Design
from ..naming import FIXEF_DIM, INTERCEPT, b_var, coef_dim, level_dim, sd_var
from .build import (
    CENTRE_MIN_INFORMATION,
    OBS_DIM,
    RESPONSE,
    BuiltModel,
    coords_of,
    fixed_part,
    gather,
    is_random_intercept,
    level_information,
    term_cholesky,
)
from .likelihood import response_rv
from .priors import Flat, Normal, Priors, has_intercept, resolve_priors

#: Numbers per block of draws when :func:`draw_chain` works through the posterior.
DRAW_BLOCK = 2_000_000


@dataclass(frozen=True, eq=False)
class NestedChain:
    """Scalar random-intercept terms whose levels nest, finest first.

    Attributes
    ----------
    labels : tuple of str, length K + 1
        T_0 (finest), ..., T_K.
    parents : tuple of ndarray of int, length K
        ``parents[k]`` (l_k,): the level of T_{k+1} that holds each level of T_k.
    """

    labels: tuple[str, ...]
    parents: tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class JointPlan:
    """How the joint sampler parameterises b (see the module docstring).

    Attributes
    ----------
    chain : NestedChain or None
    lam : dict of str -> ndarray
        Partial-centring weight lambda_j (l_k,) of each one-column term outside the chain.
    information : dict of str -> float
        Median data-to-prior precision per one-column term (for the record's sentence).
    """

    chain: NestedChain | None
    lam: dict[str, np.ndarray] = field(default_factory=dict)
    information: dict[str, float] = field(default_factory=dict)

    def sentence(self) -> str:
        """What the plan does, for ``record.marginal_why``."""
        parts = []
        if self.chain is not None:
            parts.append(f"nested chain {' in '.join(self.chain.labels)} centred "
                         f"hierarchically (a_{self.chain.labels[0]} sampled, coarser levels "
                         "integrated out and drawn exactly)")
        if self.lam:
            parts.append("partially centred per level: " + ", ".join(
                f"{lab} (median lambda {float(np.median(v)):.2f})" for lab, v in self.lam.items()))
        info = ", ".join(f"{lab} {val:.3g}" for lab, val in self.information.items())
        return "; ".join(parts or ["no term re-parameterised"]) + (
            f" (median data-to-prior precision per level {info})" if info else "")


def _parent_map(child: Any, parent: Any) -> np.ndarray | None:
    """The level of ``parent`` holding each level of ``child``, or None when they do not nest
    (a child level seen with two parent levels, or a child level never seen)."""
    cc, pc = np.asarray(child.codes, dtype=np.intp), np.asarray(parent.codes, dtype=np.intp)
    par = np.full(child.nlevels, -1, dtype=np.intp)
    par[cc] = pc
    if np.any(par < 0) or not np.array_equal(par[cc], pc):
        return None
    return par


def find_chain(design: Design, info: dict[str, float]) -> NestedChain | None:
    """The longest-from-the-finest nested chain of scalar random intercepts, or None.

    The finest term is the one with most levels among the random intercepts whose median
    information is at least :data:`CENTRE_MIN_INFORMATION` and that nest in another random
    intercept; each next term is the one with most levels among those the current term nests
    in. A chain needs at least two terms.
    """
    cands = [t for t in design.reterms if is_random_intercept(t)]
    cands.sort(key=lambda t: -t.nlevels)
    for finest in cands:
        if info.get(finest.label, 0.0) < CENTRE_MIN_INFORMATION:
            continue
        labels, parents, cur = [finest.label], [], finest
        while True:
            nxt = [(t, par) for t in cands if t.nlevels < cur.nlevels
                   and (par := _parent_map(cur, t)) is not None]
            if not nxt:
                break
            t, par = max(nxt, key=lambda tp: tp[0].nlevels)
            labels.append(t.label)
            parents.append(par)
            cur = t
        if len(labels) > 1:
            return NestedChain(tuple(labels), tuple(parents))
    return None


def plan_joint(design: Design) -> JointPlan:
    """The chain (if any) and the partial-centring weights of the other one-column terms."""
    kappa = level_information(design)
    info = {lab: float(np.nanmedian(k)) for lab, k in kappa.items()}
    chain = find_chain(design, info)
    in_chain = set(chain.labels) if chain is not None else set()
    lam = {}
    for lab, k in kappa.items():
        if lab not in in_chain:
            k = np.nan_to_num(k, nan=0.0)
            lam[lab] = k / (1.0 + k)
    return JointPlan(chain=chain, lam=lam, information=info)


# -- the chain's prior -------------------------------------------------------------------------
@dataclass(frozen=True)
class Root:
    """The prior of mu, the chain's root: Normal(m0, s0) ("normal"), Flat ("flat"), or mu = 0
    ("none": the intercept is not in a)."""

    kind: str
    m0: float = 0.0
    s0: float = 0.0


def chain_root(design: Design, pri: Priors) -> Root:
    """mu's prior: the intercept's when it is Normal or Flat, else none."""
    if not has_intercept(design):
        return Root("none")
    if isinstance(pri.intercept, Flat):
        return Root("flat", m0=float(pri.location))
    if isinstance(pri.intercept, Normal) and np.ndim(pri.intercept.mu) == 0 \
            and np.ndim(pri.intercept.sigma) == 0:
        return Root("normal", float(pri.intercept.mu), float(pri.intercept.sigma))
    return Root("none")


def _indicators(chain: NestedChain) -> list[tuple[np.ndarray, int]]:
    """(codes, parents) of each stage: T_k's levels into T_{k+1}'s, the last into one root."""
    top = chain.parents[-1].max() + 1 if chain.parents else 0
    return [(p, int(p.max()) + 1) for p in chain.parents] + [
        (np.zeros(int(top), dtype=np.intp), 1)]


def chain_logp(a: Any, sds: list[Any], chain: NestedChain, root: Root) -> Any:
    """log p(a) with the chain's coarse levels and mu integrated out (PyTensor scalar).

    Parameters
    ----------
    a : tensor, shape (l_0,)
    sds : list of scalar tensors
        sd of T_0, ..., T_K.
    chain : NestedChain
    root : Root

    Returns
    -------
    tensor scalar, normalised (with its 2 pi terms), improper in mu for a Flat root.
    """
    import pytensor.tensor as pt

    x, v = a, pt.ones_like(a) * sds[0] ** 2
    lp = 0.0
    stages = _indicators(chain)
    for k, (codes, m) in enumerate(stages):
        w = 1.0 / v
        W = pt.inc_subtensor(pt.zeros(m)[codes], w)
        xb = pt.inc_subtensor(pt.zeros(m)[codes], w * x) / W
        dev = x - xb[codes]
        lp = lp - 0.5 * pt.sum(w * dev * dev) + 0.5 * pt.sum(pt.log(w)) \
            - 0.5 * pt.sum(pt.log(W)) - 0.5 * (codes.size - m) * np.log(2 * np.pi)
        x = xb
        v = 1.0 / W + (sds[k + 1] ** 2 if k + 1 < len(sds) else 0.0)
    if root.kind == "flat":
        return lp
    var = v[0] + root.s0**2
    return lp - 0.5 * pt.log(2 * np.pi * var) - 0.5 * (x[0] - root.m0) ** 2 / var


def _stage_stats(a: np.ndarray, sd2: list[np.ndarray],
                 stages: list[tuple[sp.csr_matrix, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(xbar, V) per stage for a block of draws: a (S, l_0), sd2[k] (S,)."""
    out = []
    x, v = a, np.broadcast_to(sd2[0][:, None], a.shape)
    for k, (M, _m) in enumerate(stages):
        w = 1.0 / v
        W = w @ M  # (S, l_k) @ (l_k, m) -> (S, m)
        xb = (w * x) @ M / W
        out.append((xb, 1.0 / W))
        x = xb
        v = 1.0 / W + (sd2[k + 1][:, None] if k + 1 < len(sd2) else 0.0)
    return out


def draw_chain(chain: NestedChain, root: Root, a: np.ndarray, sds: list[np.ndarray],
               rng: np.random.Generator, with_b: bool = True
               ) -> tuple[np.ndarray, list[np.ndarray]]:
    """mu and each chain term's b from their exact conditionals given a and the SDs.

    Parameters
    ----------
    a : ndarray, shape (S, l_0)
    sds : list of ndarray, shape (S,) each
        Draws of sd of T_0, ..., T_K.
    with_b : bool
        Draw the b's (else only mu).

    Returns
    -------
    mu : ndarray, shape (S,)
    bs : list of ndarray, shapes (S, l_k), T_0 first (empty without ``with_b``)
    """
    S = a.shape[0]
    stages = [(sp.csr_matrix((np.ones(c.size), (np.arange(c.size), c)), shape=(c.size, m)), m)
              for c, m in _indicators(chain)]
    sd2 = [s**2 for s in sds]
    stats = _stage_stats(a, sd2, stages)
    xr_, vr = stats[-1][0][:, 0], stats[-1][1][:, 0]
    if root.kind == "none":
        mu = np.zeros(S)
    elif root.kind == "flat":
        mu = xr_ + np.sqrt(vr) * rng.standard_normal(S)
    else:
        prec = 1.0 / vr + 1.0 / root.s0**2
        mu = (xr_ / vr + root.m0 / root.s0**2) / prec + rng.standard_normal(S) / np.sqrt(prec)
    if not with_b:
        return mu, []
    K = len(chain.labels) - 1
    parent_total = mu[:, None]
    bs: list[np.ndarray] = [np.empty(0)] * (K + 1)
    for k in range(K, 0, -1):  # T_K down to T_1: total effects c given the parent's
        codes = _indicators(chain)[k][0]
        xb, V = stats[k - 1]
        prior_mean = parent_total[:, codes]
        prec = 1.0 / sd2[k][:, None] + 1.0 / V
        c = (prior_mean / sd2[k][:, None] + xb / V) / prec \
            + rng.standard_normal(xb.shape) / np.sqrt(prec)
        bs[k] = c - prior_mean
        parent_total = c
    bs[0] = a - parent_total[:, chain.parents[0]]
    return mu, bs


# -- the model ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ChainModel:
    """What :func:`draw_posterior` needs besides the draws: the chain, mu's prior, and the
    centring of the slopes (Intercept = mu - centre @ beta_slope)."""

    chain: NestedChain
    root: Root
    centre: np.ndarray
    slope: tuple[int, ...]
    #: (l_0, p - 1): each finest level's weighted mean of the slope columns minus ``centre``
    #: (the shift between the sampled a' and the total effect a); (l_0, 0) without slopes.
    shift: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def totals(self, a_sampled: np.ndarray, beta_slope: np.ndarray) -> np.ndarray:
        """a = a' - shift @ beta_slope per draw: (S, l_0), (S, p - 1) -> (S, l_0)."""
        if not self.shift.size:
            return a_sampled
        return a_sampled - beta_slope @ self.shift.T


def build_model(design: Design, priors: Priors | str | Any = None,
                plan: JointPlan | None = None) -> tuple[BuiltModel, ChainModel | None]:
    """The joint PyMC model of a gaussian design with ``plan``'s parameterisation.

    Returns
    -------
    BuiltModel
        With ``b_<label>`` deterministics for the terms outside the chain.
    ChainModel or None
        For :func:`draw_posterior`; None without a chain (then the model has ``beta``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    pri = resolve_priors(design, priors)
    plan = plan if plan is not None else plan_joint(design)
    chain = plan.chain
    root = chain_root(design, pri) if chain is not None else Root("none")
    X = np.array(design.X, dtype=float)
    names = list(design.fixef_names)
    slope = tuple(j for j in range(X.shape[1])
                  if not (has_intercept(design) and names[j] == INTERCEPT))
    centre = X[:, list(slope)].mean(axis=0) if slope else np.zeros(0)
    terms = {t.label: t for t in design.reterms}
    with pm.Model(coords=coords_of(design)) as model:
        eta = fixed_part(design, pri, X) if root.kind == "none" else pt.zeros(design.nobs)
        if chain is not None:
            sds = [term_cholesky(terms[lab], pri)[0, 0] for lab in chain.labels]
            finest = terms[chain.labels[0]]
            codes0 = np.array(finest.codes, dtype=np.int64)
            start = root.m0 if root.kind != "none" else 0.0
            a = pm.Flat(f"a_{finest.label}", shape=(finest.nlevels,),
                        initval=np.full(finest.nlevels, start))
            eta = eta + a[codes0]
            total = a
            if root.kind != "none" and slope:
                # The slopes centred within the finest levels: a' = a + shift @ beta_slope
                # takes the between-level part of X beta, so that beta_slope is informed by
                # the within-level variation only and no longer trades off against a (a
                # shift: unit Jacobian).
                Xs = X[:, list(slope)]
                shift = _level_means(Xs, np.asarray(design.weights, dtype=float), codes0,
                                     finest.nlevels) - centre
                bs = pri.require("coef").rv("beta_slope", shape=(len(slope),))
                # (n, p-1) @ (p-1,) -> (n,); (l_0, p-1) @ (p-1,) -> (l_0,)
                eta = eta + pt.dot(Xs - centre - shift[codes0], bs)
                total = a - pt.dot(shift, bs)
            pm.Potential("chain_prior", chain_logp(total, sds, chain, root))
        for t in design.reterms:
            if chain is not None and t.label in chain.labels:
                continue
            b = _term(t, pri, plan.lam.get(t.label))
            eta = eta + gather(t, b)
        if np.any(design.offset != 0):
            eta = eta + np.array(design.offset, dtype=float)
        sigma = pri.require("sigma").rv("sigma")
        response_rv(RESPONSE, design.family, np.array(design.y, dtype=float),
                    np.array(design.weights, dtype=float), eta, pt.sqr(sigma), dims=OBS_DIM)
    built = BuiltModel(model=model, design=design, priors=pri, centered=False)
    cm = None
    if chain is not None:
        cm = ChainModel(chain, root, centre, slope, shift=(
            shift if root.kind != "none" and slope else np.zeros((0, 0))))
    return built, cm


def _level_means(x: np.ndarray, w: np.ndarray, codes: np.ndarray, m: int) -> np.ndarray:
    """Weighted mean of each column of x (n, c) per level -> (m, c) (plain mean where a level
    has no weight)."""
    W = np.bincount(codes, weights=w, minlength=m)
    N = np.bincount(codes, minlength=m).astype(float)
    out = np.empty((m, x.shape[1]))
    for c in range(x.shape[1]):
        sw = np.bincount(codes, weights=w * x[:, c], minlength=m)
        s1 = np.bincount(codes, weights=x[:, c], minlength=m)
        out[:, c] = np.where(W > 0, sw / np.where(W > 0, W, 1.0), s1 / np.maximum(N, 1.0))
    return out


def _term(t: Any, pri: Priors, lam: np.ndarray | None) -> Any:
    """b_k (l_k, q_k): partially centred with weights ``lam`` (q_k = 1), else non-centred."""
    import pymc as pm

    from .build import random_term

    if lam is None or t.q != 1:
        return random_term(t, pri, centered=False)
    dims = (level_dim(t.label), coef_dim(t.label))
    sd = term_cholesky(t, pri)[0, 0]
    lam = np.asarray(lam, dtype=float)[:, None]
    z = pm.Normal(f"z_{t.label}", 0.0, sd**lam, dims=dims)
    return pm.Deterministic(b_var(t.label), z * sd ** (1.0 - lam), dims=dims)


def draw_posterior(cm: ChainModel, design: Design, posterior: Any, rng: np.random.Generator,
                   store: str = "all") -> dict[str, Any]:
    """``beta``, ``intercept_c`` and the chain terms' b from the draws of a, SDs and slopes.

    Parameters
    ----------
    cm : ChainModel
    design : Design
    posterior : xarray.Dataset
    rng : numpy.random.Generator
    store : {"all", "summary", "none"}
        As :func:`hiermix.bayes.marginal.draw_b`: "all" returns every draw of each chain
        term's b, "summary" its (mean, sd), "none" no b.

    Returns
    -------
    dict
        ``beta``, ``intercept_c`` (DataArrays (chain, draw[, coef])) and, per chain term,
        ``b_<label>`` as in :func:`hiermix.bayes.marginal.draw_b`.
    """
    import xarray as xr

    chain = cm.chain
    C, D = posterior.sizes["chain"], posterior.sizes["draw"]
    S = C * D
    a = np.asarray(posterior[f"a_{chain.labels[0]}"]).reshape(S, -1)
    if cm.shift.size:
        a = cm.totals(a, np.asarray(posterior["beta_slope"]).reshape(S, -1))
    sds = [np.asarray(posterior[sd_var(lab)]).reshape(S) for lab in chain.labels]
    terms = {t.label: t for t in design.reterms}
    sizes = [terms[lab].nlevels for lab in chain.labels]
    with_b = store != "none"
    mu = np.empty(S)
    keep = [np.empty((S, m)) for m in sizes] if store == "all" else []
    acc = [np.zeros((2, m)) for m in sizes]  # running mean and sum of squared deviations
    block = max(1, DRAW_BLOCK // max(sizes[0], 1))
    for s0 in range(0, S, block):
        s1 = min(S, s0 + block)
        mu[s0:s1], bs = draw_chain(chain, cm.root, a[s0:s1], [s[s0:s1] for s in sds], rng,
                                   with_b=with_b)
        for k, b in enumerate(bs):
            if store == "all":
                keep[k][s0:s1] = b
            else:  # Chan et al.'s pairwise update of (mean, M2) with a block of n draws
                n0, n = s0, s1 - s0
                mb, m2b = b.mean(axis=0), ((b - b.mean(axis=0)) ** 2).sum(axis=0)
                delta = mb - acc[k][0]
                acc[k][0] += delta * n / (n0 + n)
                acc[k][1] += m2b + delta**2 * n0 * n / (n0 + n)
    cd = {"chain": posterior["chain"], "draw": posterior["draw"]}
    out: dict[str, Any] = {}
    if cm.root.kind != "none":  # mu is the intercept: beta from it and the slopes
        out.update(_beta(cm, design, posterior, mu, cd))
    if not with_b:
        return out
    for k, lab in enumerate(chain.labels):
        t = terms[lab]
        dims = (level_dim(lab), coef_dim(lab))
        coords = {level_dim(lab): list(t.levels), coef_dim(lab): list(t.cnames)}
        if store == "all":
            out[b_var(lab)] = xr.DataArray(keep[k].reshape(C, D, -1, 1),
                                           dims=("chain", "draw", *dims), coords={**cd, **coords})
        else:
            sd = np.sqrt(acc[k][1] / max(S - 1, 1))
            out[b_var(lab)] = (xr.DataArray(acc[k][0][:, None], dims=dims, coords=coords),
                               xr.DataArray(sd[:, None], dims=dims, coords=coords))
    return out


def _beta(cm: ChainModel, design: Design, posterior: Any, mu: np.ndarray,
          cd: dict[str, Any]) -> dict[str, Any]:
    """``intercept_c`` = mu and ``beta`` with Intercept = mu - centre @ beta_slope."""
    import xarray as xr

    C, D = posterior.sizes["chain"], posterior.sizes["draw"]
    S = C * D
    names = list(design.fixef_names)
    slope = list(cm.slope)
    bsl = (np.asarray(posterior["beta_slope"]).reshape(S, -1) if slope
           else np.zeros((S, 0)))
    beta = np.empty((S, len(names)))
    beta[:, slope] = bsl
    beta[:, names.index(INTERCEPT)] = mu - bsl @ cm.centre
    return {
        "intercept_c": xr.DataArray(mu.reshape(C, D), dims=("chain", "draw"), coords=cd),
        "beta": xr.DataArray(beta.reshape(C, D, -1), dims=("chain", "draw", FIXEF_DIM),
                             coords={**cd, FIXEF_DIM: names}),
    }
