"""The joint sampler's parameterisation where b cannot be integrated out (GLMMs): each
well-informed random intercept centred hierarchically, with the predictors constant within
its levels.

For a binomial, Poisson, Gamma, ... model b is sampled. Non-centred (z ~ N(0, 1), b = sd z),
the default of :mod:`hiermix.bayes.build`, mixes badly where the data pin each level down
(Papaspiliopoulos, Roberts & Sköld 2007), and a fixed effect whose column is constant within
the levels of a term (a respondent's ``Gender``, an item's ``btype``) trades off against that
term's b: their sum is what the data see. On lme4's VerbAgg
(``r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)``) the lowest bulk ESS of beta
was 74 in 2 x 500 draws (benchmarks/jax_samplers.py).

For every scalar random intercept T whose levels the data inform well (median data-to-prior
precision at least :data:`~hiermix.bayes.build.CENTRE_MIN_INFORMATION`, estimated by
:func:`hiermix.bayes.build.level_information` on the working response and weights of the
fixed-effects GLM, :func:`working_response`), the free variable is each level's total::

    a_j ~ N(m_j, sd_T),   m_j = [alpha] + (x_j - xbar) beta_C,   b_j = a_j - m_j

with x_j the level's values of the slope columns C constant within T's levels, xbar their
overall means (the centring of :func:`hiermix.bayes.build.fixed_part`), and alpha, the
centred intercept ``intercept_c``, carried by the best-informed such term. Each column goes to
one term (the first, in order of information, within whose levels it is constant); the rows'
predictor keeps the other columns. A shift of b by a function of (alpha, beta) with unit
Jacobian: the posterior of (beta, SDs, b) is unchanged, and ``b_<label>`` is recorded as
before. Terms with several columns and little-informed terms stay non-centred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design import Design
from ..naming import INTERCEPT, b_var, coef_dim, level_dim
from .build import (
    CENTRE_MIN_INFORMATION,
    BuiltModel,
    coords_of,
    fixed_effects,
    gather,
    is_random_intercept,
    level_information,
    observe,
    random_term,
    term_cholesky,
)
from .priors import Priors, has_intercept, resolve_priors

#: IRLS iterations of the fixed-effects GLM behind the information estimate (a rough
#: estimate suffices: it only chooses a parameterisation).
IRLS_STEPS = 25


@dataclass(frozen=True, eq=False)
class CentredTerm:
    """A random intercept sampled as its levels' totals.

    Attributes
    ----------
    label : str
    columns : tuple of int
        Columns of X (not the intercept) constant within the term's levels, carried by it.
    intercept : bool
        The term carries the intercept.
    """

    label: str
    columns: tuple[int, ...]
    intercept: bool


@dataclass(frozen=True, eq=False)
class LevelPlan:
    """The centred terms, best informed first, and every scalar term's median information."""

    terms: tuple[CentredTerm, ...]
    information: dict[str, float]

    def sentence(self, names: list[str]) -> str:
        """What the plan does, for ``record.marginal_why``; ``names`` are X's columns."""
        parts = []
        for ct in self.terms:
            carried = ([INTERCEPT] if ct.intercept else []) + [names[j] for j in ct.columns]
            parts.append(ct.label + (f" (with {', '.join(carried)})" if carried else ""))
        info = ", ".join(f"{lab} {val:.3g}" for lab, val in self.information.items())
        return (f"centred hierarchically: {'; '.join(parts)} (median data-to-prior precision "
                f"per level {info})")


def working_response(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """(z, W), shapes (n,): working response (offset removed) and working weights of the GLM
    of the fixed effects alone, by IRLS from R's starting means.

    W_i = w_i (dmu/deta)^2 / V(mu_i) and z_i = eta_i + (y_i - mu_i) / (dmu/deta), at phi = 1
    (theta = 1 for the negative binomial): only their relative sizes per level matter here.
    """
    fam = design.family
    y = np.asarray(design.y, dtype=float)
    w = np.asarray(design.weights, dtype=float)
    off = np.asarray(design.offset, dtype=float)
    X = np.asarray(design.X, dtype=float)
    with np.errstate(all="ignore"):  # a step that leaves the link's domain is checked below
        return _irls(fam, y, w, off, X)


def _irls(fam: Any, y: np.ndarray, w: np.ndarray, off: np.ndarray,
          X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eta = np.asarray(fam.linkfun(fam.initialize(y, w)), dtype=float)
    z, W = eta - off, w
    for _ in range(IRLS_STEPS):
        mu = fam.linkinv(eta)
        d = fam.mu_eta(eta)
        V = fam.variance(mu, 1.0)
        W_new = w * d * d / V
        z_new = eta - off + (y - mu) / d
        if not (np.all(np.isfinite(W_new)) and np.all(np.isfinite(z_new))):
            break
        z, W = z_new, W_new
        if not X.shape[1]:
            break
        sw = np.sqrt(W)
        coef = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        eta_new = X @ coef + off
        if not fam.link.valid_eta(eta_new) or np.max(np.abs(eta_new - eta)) < 1e-8:
            break
        eta = eta_new
    return z, W


def constant_columns(design: Design, t: Any) -> list[int]:
    """Columns of X other than the intercept whose value is the same within every level of
    ``t`` (a level with no rows counts as constant)."""
    X = np.asarray(design.X, dtype=float)
    codes = np.asarray(t.codes, dtype=np.intp)
    lo = np.full((t.nlevels, X.shape[1]), np.inf)
    hi = np.full((t.nlevels, X.shape[1]), -np.inf)
    np.minimum.at(lo, codes, X)  # each level's row-wise minimum and maximum, (l, p)
    np.maximum.at(hi, codes, X)
    seen = np.isfinite(lo[:, 0]) if X.shape[1] else np.zeros(0, dtype=bool)
    same = np.all(hi[seen] == lo[seen], axis=0)
    names = list(design.fixef_names)
    skip = INTERCEPT if has_intercept(design) else None
    return [j for j in range(X.shape[1]) if same[j] and names[j] != skip]


def plan_levels(design: Design) -> LevelPlan | None:
    """The terms to centre (see the module docstring), or None when no term qualifies."""
    z, W = working_response(design)
    kappa = level_information(design, response=z, weights=W)
    terms = {t.label: t for t in design.reterms}
    info = {lab: float(np.nanmedian(k)) for lab, k in kappa.items()
            if is_random_intercept(terms[lab])}
    chosen = sorted((lab for lab, v in info.items() if v >= CENTRE_MIN_INFORMATION),
                    key=lambda lab: -info[lab])
    if not chosen:
        return None
    taken: set[int] = set()
    out = []
    for k, lab in enumerate(chosen):
        cols = tuple(j for j in constant_columns(design, terms[lab]) if j not in taken)
        taken.update(cols)
        out.append(CentredTerm(lab, cols, intercept=k == 0 and has_intercept(design)))
    return LevelPlan(tuple(out), info)


def build_model(design: Design, priors: Priors | str | Any,
                plan: LevelPlan) -> BuiltModel:
    """The joint PyMC model of ``design`` with ``plan``'s terms centred hierarchically.

    Returns
    -------
    BuiltModel
        ``centered_terms`` holds the centred terms' labels; ``beta`` and ``b_<label>`` are
        deterministics as in :func:`hiermix.bayes.build.build_model`.
    """
    import pymc as pm
    import pytensor.tensor as pt

    pri = resolve_priors(design, priors)
    X = np.array(design.X, dtype=float)
    carried = {j for ct in plan.terms for j in ct.columns}
    by_label = {ct.label: ct for ct in plan.terms}
    with pm.Model(coords=coords_of(design)) as model:
        fe = fixed_effects(design, pri, X)
        eta = pt.zeros(X.shape[0])
        if fe.alpha is not None and not any(ct.intercept for ct in plan.terms):
            eta = eta + fe.alpha
        rest = [j for j in fe.slope if j not in carried]
        if rest:
            eta = eta + fe.part(X, rest)
        for t in design.reterms:
            ct = by_label.get(t.label)
            if ct is None:
                eta = eta + gather(t, random_term(t, pri, centered=False))
                continue
            codes = np.array(t.codes, dtype=np.int64)
            m: Any = pt.zeros(t.nlevels) + (fe.alpha if ct.intercept else 0.0)
            if ct.columns:
                xlev = np.zeros((t.nlevels, X.shape[1]))
                xlev[codes] = X
                m = m + fe.part(xlev, list(ct.columns))  # each level's share of X beta
            sd = term_cholesky(t, pri)[0, 0]
            a = pm.Normal(f"a_{t.label}", m, sd, dims=level_dim(t.label))
            pm.Deterministic(b_var(t.label), (a - m)[:, None],
                             dims=(level_dim(t.label), coef_dim(t.label)))
            eta = eta + a[codes]
        observe(design, pri, eta)
    return BuiltModel(model=model, design=design, priors=pri, centered=False,
                      centered_terms=tuple(ct.label for ct in plan.terms))
