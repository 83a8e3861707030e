"""Printing a GLMM fit as lme4's ``summary(fit)`` prints a ``glmerMod``, block by block.

Blocks, in lme4's order: title (the approximation), Family line, formula, data, the AIC / BIC /
logLik / deviance / df.resid table, scaled (Pearson) residuals, random effects (Groups, Name,
Variance, Std.Dev., Corr; a Residual row only with a dispersion), numbers of observations and
groups, fixed effects (Estimate, Std. Error, z value, Pr(>|z|)), correlation of fixed effects,
messages. The table layouts are those of :mod:`hiermix.frequentist.summary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..covariance import sd_corr_from_theta
from ..naming import RESIDUAL, lme4_name
from .summary import _table, layout

if TYPE_CHECKING:
    from .glmm_result import GlmerResult


def _title(fit: GlmerResult) -> str:
    if fit.nAGQ > 1:
        how = f"Adaptive Gauss-Hermite Quadrature, nAGQ = {fit.nAGQ}"
    elif fit.nAGQ == 0:
        how = "Laplace Approximation, nAGQ = 0"
    else:
        how = "Laplace Approximation"
    return f"Generalized linear mixed model fit by maximum likelihood ({how}) ['glmerMod']"


def _residual_block(fit: GlmerResult) -> list[str]:
    r = fit.residuals("pearson") / fit.sigma
    q = np.quantile(r, [0, 0.25, 0.5, 0.75, 1])
    vals = [f"{v:.4f}" for v in q]
    names = ["Min", "1Q", "Median", "3Q", "Max"]
    w = max(len(v) for v in [*vals, *names])
    return ["Scaled residuals: ", " ".join(n.rjust(w) for n in names),
            " ".join(v.rjust(w) for v in vals)]


def _random_block(fit: GlmerResult) -> list[str]:
    rows: list[list[str]] = []
    any_corr = any(t.q > 1 for t in fit.design.reterms)
    start = 0
    for t in fit.design.reterms:
        th = fit.theta[start:start + t.n_theta]
        start += t.n_theta
        sd, corr = sd_corr_from_theta(th, t.q, fit.re_scale)
        for j, name in enumerate(t.cnames):
            rows.append([t.group if j == 0 else "", lme4_name(name), f"{sd[j] ** 2:.4g}",
                         f"{sd[j]:.4g}", " ".join(f"{corr[j, i]:.2f}" for i in range(j))])
    if fit.family.has_scale:
        rows.append([RESIDUAL, "", f"{fit.phi:.4g}", f"{fit.sigma:.4g}", ""])
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if any_corr else [""])
    return ["Random effects:", *_table(rows, header, ["l", "l", "r", "r", "l"])]


def _pvalue(p: float) -> str:
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def _fixed_block(fit: GlmerResult) -> list[str]:
    names = [lme4_name(n) for n in fit.design.fixef_names]
    se = fit.fixef_se.to_numpy()
    z = fit.beta / se
    p = 2.0 * stats.norm.sf(np.abs(z))
    tab = pd.DataFrame({"Estimate": fit.beta, "Std. Error": se, "z value": z}, index=names)
    text = tab.to_string(float_format=lambda v: f"{v:.4g}" if abs(v) >= 1e-3 or v == 0
                         else f"{v:.3e}").splitlines()
    width = max(len("Pr(>|z|)"), *(len(_pvalue(x)) for x in p))
    out = [text[0] + " " + "Pr(>|z|)".rjust(width)]
    out += [line + " " + _pvalue(x).rjust(width) for line, x in zip(text[1:], p, strict=True)]
    return ["Fixed effects:", *out]


def format_glmm_summary(fit: GlmerResult) -> str:
    """lme4's ``summary(fit)`` text for a GLMM fit."""
    d = fit.design
    fam = d.family
    name = fam.r_name
    if fam.name == "negative_binomial":
        # MASS's family name, format(round(theta, 4)): R's format keeps 7 significant digits
        name = f"{name}({round(fit.phi, 4):.7g})"
    lines = [_title(fit), f" Family: {name}  ( {fam.link.name} )",
             f"Formula: {d.spec.formula or d.spec}"]
    return layout(fit, lines, _residual_block(fit), _random_block(fit), _fixed_block(fit))
