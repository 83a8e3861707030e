"""Parameter labels of a simulation study, and the truth stated with them.

One label per scalar parameter, the spelling every hiermix table uses::

    Intercept, x                  fixed effects, by their coefficient names
    sd(Intercept|g)               SD of a term's column (term label after the bar)
    cor(Intercept,x|g)            correlation of two columns of a term, lme4's pair order
    sigma                         residual SD (gaussian)
    phi                           dispersion (gamma, inverse gaussian)

lme4's ``confint`` names its rows differently (``sd_(Intercept)|g``, ``cor_x.(Intercept)|g``,
``(Intercept)``); :func:`confint_labels` translates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design import Design
from ..errors import ModelError
from ..naming import (  # the one label contract, shared with sensitivity and compare
    cor_label,
    corr_pairs,
    lme4_name,
    sd_label,
)


def dispersion_name(design: Design) -> str | None:
    """``sigma`` (gaussian), ``phi`` (families with a free dispersion) or None."""
    fam = design.family
    if fam.name == "gaussian":
        return "sigma"
    return "phi" if fam.has_dispersion else None


def design_labels(design: Design) -> list[str]:
    """Every parameter label of a design, in lme4's order within each part: fixed effects,
    then per term its SDs and correlations, then the dispersion."""
    out = list(design.fixef_names)
    for t in design.reterms:
        out += [sd_label(t.label, c) for c in t.cnames]
        out += [cor_label(t.label, a, b) for a, b in corr_pairs(list(t.cnames))]
    disp = dispersion_name(design)
    return out + ([disp] if disp else [])


def confint_labels(design: Design) -> dict[str, str]:
    """lme4's ``confint`` row name -> parameter label, for every parameter of the design."""
    out: dict[str, str] = {}
    for t in design.reterms:
        for c in t.cnames:
            out[f"sd_{lme4_name(c)}|{t.group}"] = sd_label(t.label, c)
        for a, b in corr_pairs(list(t.cnames)):
            out[f"cor_{lme4_name(b)}.{lme4_name(a)}|{t.group}"] = cor_label(t.label, a, b)
    for name in design.fixef_names:
        out[lme4_name(name)] = name
    out["sigma"] = "sigma"
    out["phi"] = "phi"
    return out


@dataclass(frozen=True)
class Truth:
    """The true parameters of a study, checked against a design.

    Attributes
    ----------
    values : dict of str to float
        Label -> value, in :func:`design_labels` order.
    beta : ndarray, shape (p,)
    sd : dict of str to ndarray
        Term label -> SDs, shape (q_k,).
    corr : dict of str to ndarray
        Term label -> correlation matrix, shape (q_k, q_k).
    dispersion : float
        sigma (gaussian) or phi; 1.0 for families without one.
    """

    values: dict[str, float]
    beta: np.ndarray
    sd: dict[str, np.ndarray]
    corr: dict[str, np.ndarray]
    dispersion: float


def resolve_truth(design: Design, truth: Mapping[str, Any]) -> Truth:
    """Check that ``truth`` names every parameter of the design once, and nothing else.

    Raises
    ------
    ModelError
        A missing or unknown label, a non-finite value, an SD or dispersion <= 0, a
        correlation outside (-1, 1) or a correlation matrix that is not positive definite.
    """
    labels = design_labels(design)
    # lme4's spelling of a fixed effect (YEAR96, (Intercept)) names the same coefficient
    aliases = {lme4_name(n): n for n in design.fixef_names if lme4_name(n) not in labels}
    if any(k in aliases for k in truth):
        clash = [aliases[k] for k in truth if k in aliases and aliases[k] in truth]
        if clash:
            raise ModelError(f"truth names {clash} twice (in hiermix's and lme4's spelling)")
        truth = {aliases.get(k, k): v for k, v in truth.items()}
    missing = [k for k in labels if k not in truth]
    unknown = [k for k in truth if k not in labels]
    if missing or unknown:
        raise ModelError(f"truth must name every parameter of the model: missing {missing}, "
                         f"unknown {unknown}; the labels are {labels}")
    values = {}
    for k in labels:
        try:
            v = float(truth[k])
        except (TypeError, ValueError):
            raise ModelError(f"truth[{k!r}] is not a number: {truth[k]!r}") from None
        if not np.isfinite(v):
            raise ModelError(f"truth[{k!r}] is not finite: {v}")
        values[k] = v
    sd: dict[str, np.ndarray] = {}
    corr: dict[str, np.ndarray] = {}
    for t in design.reterms:
        s = np.array([values[sd_label(t.label, c)] for c in t.cnames])
        if np.any(s < 0):
            raise ModelError(f"SDs of term {t.label!r} must be >= 0; got {s.tolist()}")
        r = np.eye(t.q)
        for a, b in corr_pairs(list(t.cnames)):
            rho = values[cor_label(t.label, a, b)]
            if not -1 < rho < 1:
                raise ModelError(f"truth[{cor_label(t.label, a, b)!r}] = {rho} is not in (-1, 1)")
            i, j = t.cnames.index(a), t.cnames.index(b)
            r[i, j] = r[j, i] = rho
        if np.linalg.eigvalsh(r).min() <= 0:
            raise ModelError(f"the correlations of term {t.label!r} do not form a positive "
                             "definite matrix")
        sd[t.label], corr[t.label] = s, r
    disp = dispersion_name(design)
    dispersion = values[disp] if disp else 1.0
    if disp and not dispersion > 0:
        raise ModelError(f"truth[{disp!r}] must be positive; got {dispersion}")
    beta = np.array([values[n] for n in design.fixef_names])
    return Truth(values=values, beta=beta, sd=sd, corr=corr, dispersion=dispersion)
