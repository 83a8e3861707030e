"""Printing a linear mixed model fit as lme4's ``summary(fit)`` prints it, block by block.

Blocks, in lme4's order: title, formula, data, criterion (REML criterion, or the AIC / BIC /
logLik / deviance / df.resid table for ML), scaled residuals, random effects (Groups, Name,
Variance, Std.Dev., Corr), numbers of observations and groups, fixed effects (Estimate,
Std. Error, t value), correlation of fixed effects, messages. Names are spelt as lme4 spells
them (``(Intercept)``, ``period2``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from ..covariance import sd_corr_from_theta
from ..naming import RESIDUAL, lme4_name

if TYPE_CHECKING:
    from .result import LmerResult


def _abbrev(name: str, width: int = 6) -> str:
    """R's ``abbreviate(name, 6)`` for the usual names: ``(Intercept)`` -> ``(Intr)``."""
    if len(name) <= width:
        return name
    if name == "(Intercept)":
        return "(Intr)"
    vowels = [i for i, c in enumerate(name) if c in "aeiou" and i > 0]
    chars = list(name)
    for i in reversed(vowels):
        if len(chars) <= width:
            break
        chars[i] = ""
        chars = [c for c in chars if c]
    return "".join(chars)[:width]


def format_r(values: np.ndarray, digits: int = 4) -> list[str]:
    """R's ``format(x, digits = digits)`` for a numeric vector: one number of decimals for all,
    the fewest that show every element to ``digits`` significant digits."""
    vals = np.asarray(values, dtype=float)
    dec = 0
    for v in vals:
        if not np.isfinite(v) or v == 0:
            continue
        text = f"{abs(v):.{digits}g}"
        if "e" in text:
            mag = int(np.floor(np.log10(abs(v))))
            dec = max(dec, digits - 1 - mag)
        elif "." in text:
            dec = max(dec, len(text.split(".")[1]))
    dec = min(dec, 15)
    out = [f"{v:.{dec}f}" for v in vals]
    width = max(len(t) for t in out) if out else 0
    return [t.rjust(width) for t in out]


def _table(rows: list[list[str]], header: list[str], align: list[str]) -> list[str]:
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if a == "l" else c.rjust(w)
                 for c, w, a in zip(r, widths, align, strict=True)]
        out.append(" " + " ".join(cells).rstrip())
    return out


def _criterion_block(fit: LmerResult) -> list[str]:
    if fit.REML:
        return [f"REML criterion at convergence: {fit.objective:.1f}"]
    vals = [f"{fit.aic:.1f}", f"{fit.bic:.1f}", f"{fit.loglik:.1f}", f"{fit.deviance:.1f}",
            f"{fit.df_resid}"]
    names = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    w = [max(len(a), len(b)) + 2 for a, b in zip(vals, names, strict=True)]
    return ["".join(n.rjust(k) for n, k in zip(names, w, strict=True)),
            "".join(v.rjust(k) for v, k in zip(vals, w, strict=True))]


def _residual_block(fit: LmerResult) -> list[str]:
    q = np.quantile(fit.residuals("scaled"), [0, 0.25, 0.5, 0.75, 1])
    vals = format_r(q)
    names = ["Min", "1Q", "Median", "3Q", "Max"]
    w = max(len(v) for v in [*vals, *names])
    return ["Scaled residuals: ",
            " ".join(n.rjust(w) for n in names),
            " ".join(v.rjust(w) for v in vals)]


def _random_block(fit: LmerResult) -> list[str]:
    groups: list[str] = []
    names: list[str] = []
    sds: list[float] = []
    corrs: list[str] = []
    any_corr = any(t.q > 1 for t in fit.design.reterms)
    start = 0
    for t in fit.design.reterms:
        th = fit.theta[start:start + t.n_theta]
        start += t.n_theta
        sd, corr = sd_corr_from_theta(th, t.q, fit.sigma)
        for j, name in enumerate(t.cnames):
            groups.append(t.label if j == 0 else "")
            names.append(lme4_name(name))
            sds.append(float(sd[j]))
            corrs.append(" ".join(f"{corr[j, i]:.2f}".rjust(5) for i in range(j)))
    groups.append(RESIDUAL)
    names.append("")
    sds.append(fit.sigma)
    corrs.append("")
    var_txt = format_r(np.square(sds))
    sd_txt = format_r(np.array(sds))
    rows = [list(r) for r in zip(groups, names, var_txt, sd_txt, corrs, strict=True)]
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if any_corr else [""])
    return ["Random effects:", *_table(rows, header, ["l", "l", "l", "l", "l"])]


def _fixed_block(fit: LmerResult) -> list[str]:
    names = [lme4_name(n) for n in fit.design.fixef_names]
    se = fit.fixef_se.to_numpy()
    p = len(names)
    est_se = format_r(np.concatenate([fit.beta, se]))
    tval = format_r(np.round(fit.beta / se, 3))
    rows = [[names[i], est_se[i], est_se[p + i], tval[i]] for i in range(p)]
    lines = _table(rows, ["", "Estimate", "Std. Error", "t value"], ["l", "r", "r", "r"])
    return ["Fixed effects:", *[line[1:] for line in lines]]


def _corr_block(fit: LmerResult) -> list[str]:
    p = fit.design.p
    if p < 2:
        return []
    v = fit.vcov_unscaled
    d = np.sqrt(np.diag(v))
    corr = v / np.outer(d, d)
    names = [lme4_name(n) for n in fit.design.fixef_names]
    abbrev = [_abbrev(n) for n in names]
    rows = [[names[i]] + [f"{corr[i, j]:.3f}" for j in range(i)] for i in range(1, p)]
    width = max(len(n) for n in names[1:])
    col_w = [max(6, len(a)) for a in abbrev[:-1]]
    out = ["Correlation of Fixed Effects:",
           " " * width + " " + " ".join(a.rjust(w) for a, w in zip(abbrev[:-1], col_w,
                                                                   strict=True))]
    for r in rows:
        out.append(r[0].ljust(width) + " "
                   + " ".join(c.rjust(w) for c, w in zip(r[1:], col_w, strict=False)))
    return out


def _fixed_block_ddf(fit: LmerResult, table: Any) -> list[str]:
    """lmerTest's fixed-effects block: Estimate, Std. Error, df, t value, Pr(>|t|)."""
    names = [lme4_name(n) for n in table.index]
    p = len(names)
    est_se = format_r(np.concatenate([table["estimate"], table["se"]]))
    df = format_r(table["df"].to_numpy())
    tval = format_r(np.round(table["t"].to_numpy(), 3))
    pval = ["<2e-16" if x < 2e-16 else f"{x:.3g}" for x in table["p"]]
    rows = [[names[i], est_se[i], est_se[p + i], df[i], tval[i], pval[i]] for i in range(p)]
    lines = _table(rows, ["", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"],
                   ["l", "r", "r", "r", "r", "r"])
    return ["Fixed effects:", *[line[1:] for line in lines]]


def format_summary(fit: LmerResult, ddf: str | None = None) -> str:
    """lme4's ``summary(fit)`` text for a linear mixed model fit; with ``ddf``, lmerTest's
    (t tests with Satterthwaite or Kenward-Roger degrees of freedom)."""
    how = "REML" if fit.REML else "maximum likelihood "
    d = fit.design
    fixed = _fixed_block(fit)
    title = f"Linear mixed model fit by {how} ['lmerMod']"
    if ddf is not None:
        from ..inference.ddf import coef_table

        table = coef_table(fit, ddf)
        if table.attrs["ddf"] is not None:
            how = "REML" if fit.REML else "maximum likelihood"
            title = (f"Linear mixed model fit by {how}. t-tests use {table.attrs['ddf']}'s "
                     "method ['lmerModLmerTest']")
            fixed = _fixed_block_ddf(fit, table)
    lines = [title, f"Formula: {d.spec.formula or d.spec}"]
    if d.has_weights:
        lines.append("Weights: " + (d.user_weights if isinstance(d.user_weights, str)
                                    else "(given)"))
    return layout(fit, lines, _residual_block(fit), _random_block(fit), fixed)


def layout(fit: Any, head: list[str], residual: list[str], random: list[str],
           fixed: list[str]) -> str:
    """lme4's summary order, shared by LMM and GLMM summaries: the head lines (title, family,
    formula, weights), data, criterion, scaled residuals, random effects, numbers of
    observations and groups, fixed effects, their correlations, and the messages."""
    d = fit.design
    lines = list(head)
    if fit.data_name:
        lines.append(f"   Data: {fit.data_name}")
    lines += ["", *_criterion_block(fit), "", *residual, "", *random]
    grps = "; ".join(f"{g}, {n}" for g, n in d.ngrps.items())
    lines.append(f"Number of obs: {d.nobs}, groups:  {grps}")
    lines += ["", *fixed]
    corr = _corr_block(fit)
    if corr:
        lines += ["", *corr]
    notes = list(fit.optsummary.messages)
    if d.n_dropped:
        notes.append(f"{d.n_dropped} observation{'s' if d.n_dropped > 1 else ''} deleted due "
                     "to missingness")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def format_html(fit: LmerResult) -> str:
    """A compact HTML view for notebooks: the summary text in a preformatted block."""
    return ("<div class='hiermix-lmer'><pre>" + html.escape(format_summary(fit))
            + "</pre></div>")
