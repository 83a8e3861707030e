"""Likelihood-ratio tests between nested models (lme4's ``anova(fit0, fit1, ...)``).

Models are ordered by their number of parameters (npar); each row after the first tests it
against the row above: chisq = 2 (log L_i - log L_{i-1}) (0 when negative), df the difference
in npar, p = P(chi^2_df > chisq). REML criteria of models with different fixed effects are not
comparable, so REML fits are refitted by maximum likelihood first (lme4's ``refit = TRUE``),
and the table says so.

The boundary problem. A variance is tested at the edge of its parameter space (H0: sigma_b^2
= 0, which it cannot cross), where the chi^2_df reference of the LRT does not hold: under H0
the estimate sits on the boundary in about half of the samples and the statistic is then 0.
For one added variance component (a new scalar term, or one new column of a term whose
existing columns are correlated with it) the statistic follows the 50:50 mixture
chi-bar^2 = 0.5 chi^2_{df-1} + 0.5 chi^2_df (Self and Liang 1987; Stram and Lee 1994), with
chi^2_0 the point mass at 0. The naive chi^2_df p-value is conservative: for one variance
component it is exactly twice the mixture's. ``boundary="chibar"`` gives the mixture p-value
where it applies; with several variance components tested at once, the mixture weights depend
on the information matrix and no simple rule holds (a parametric bootstrap is the safe
reference).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import PACKAGE_DIR, DataError, ModelError

REFIT_NOTE = "refitting model(s) with ML (instead of REML)"
BOUNDARY_CHOICES = (None, "chibar")


class RefitWarning(UserWarning):
    """REML fits were refitted by maximum likelihood before a likelihood-ratio test."""


def _is_lmm(fit: Any) -> bool:
    return getattr(fit, "nAGQ", None) is None


def _ml(fit: Any) -> Any:
    """The same model fitted by maximum likelihood (lme4's ``refitML``)."""
    from ..frequentist.lmm import fit_lmm

    return fit_lmm(fit.design, REML=False, data_name=fit.data_name)


def _n_re_columns(fit: Any) -> int:
    return sum(t.q for t in fit.design.reterms)


def _chibar_p(chisq: float, df: int) -> float:
    """p-value of the 50:50 mixture of chi^2_{df-1} and chi^2_df."""
    low = float(stats.chi2.sf(chisq, df - 1)) if df > 1 else float(chisq <= 0)
    return 0.5 * low + 0.5 * float(stats.chi2.sf(chisq, df))


def anova(*fits: Any, names: Sequence[str] | None = None, refit: bool = True,
          boundary: str | None = None) -> pd.DataFrame:
    """Likelihood-ratio tests between nested models fitted to the same data.

    Parameters
    ----------
    *fits : LmerResult or GlmerResult
        Two or more fits (one fit gives its own row without a test).
    names : sequence of str or None
        Row labels in the order given; the formulas when None.
    refit : bool
        Refit REML fits by maximum likelihood first (lme4's default); False compares the
        criteria as fitted (valid for REML fits only when the fixed effects are the same).
    boundary : {None, "chibar"}
        ``"chibar"`` replaces p by the 50:50 chi-bar-square mixture p-value for tests that add
        one variance component with the same fixed effects (see the module docstring); other
        rows keep the chi^2 p-value.

    Returns
    -------
    DataFrame
        One row per model, ordered by npar; columns npar, aic, bic, loglik, deviance, chisq,
        df, p. ``attrs["notes"]`` lists what was done (refitting, the mixture).

    Raises
    ------
    DataError
        Models fitted to different observations.
    ModelError
        Fewer than one fit, a bad ``boundary``, or ``"chibar"`` asked for a test it does not
        apply to.

    Warns
    -----
    RefitWarning
        REML fits were refitted by ML.
    """
    if not fits:
        raise ModelError("anova needs at least one fitted model")
    if boundary not in BOUNDARY_CHOICES:
        raise ModelError(f"unknown boundary {boundary!r}; use None or 'chibar'")
    labels = list(names) if names is not None else [str(f.design.spec.formula or f.design.spec)
                                                   for f in fits]
    if len(labels) != len(fits):
        raise ModelError(f"{len(labels)} names for {len(fits)} models")
    if len(set(labels)) != len(labels):
        labels = [f"{lab} [{i + 1}]" for i, lab in enumerate(labels)]
    y0 = fits[0].design.y
    for lab, f in zip(labels, fits, strict=True):
        if f.design.nobs != fits[0].design.nobs or not np.array_equal(f.design.y, y0):
            raise DataError(f"model {lab!r} was fitted to other observations than "
                            f"{labels[0]!r} ({f.design.nobs} against {fits[0].design.nobs}); "
                            "likelihood-ratio tests need the same data")
    notes: list[str] = []
    mods = list(fits)
    if refit and any(_is_lmm(f) and f.REML for f in mods):
        warnings.warn(REFIT_NOTE, RefitWarning, skip_file_prefixes=(PACKAGE_DIR,))
        notes.append(REFIT_NOTE)
        mods = [_ml(f) if _is_lmm(f) and f.REML else f for f in mods]
    npar = np.array([f.df for f in mods])
    order = np.argsort(npar, kind="stable")
    mods = [mods[i] for i in order]
    labels = [labels[i] for i in order]
    npar = npar[order]
    loglik = np.array([f.loglik for f in mods])
    chisq = np.full(len(mods), np.nan)
    dfs = np.full(len(mods), np.nan)
    pval = np.full(len(mods), np.nan)
    for i in range(1, len(mods)):
        chisq[i] = 2.0 * max(0.0, loglik[i] - loglik[i - 1])
        dfs[i] = npar[i] - npar[i - 1]
        if dfs[i] != 0:
            pval[i] = float(stats.chi2.sf(chisq[i], dfs[i]))
    if boundary == "chibar":
        for i in range(1, len(mods)):
            small, big = mods[i - 1], mods[i]
            if tuple(small.design.fixef_names) != tuple(big.design.fixef_names) or \
                    _n_re_columns(big) - _n_re_columns(small) != 1 or dfs[i] < 1:
                raise ModelError(
                    f"boundary='chibar' applies to a test that adds one variance component "
                    f"with the same fixed effects; {labels[i - 1]!r} -> {labels[i]!r} does not "
                    "(use boundary=None, or a parametric bootstrap)")
            pval[i] = _chibar_p(chisq[i], int(dfs[i]))
        notes.append("p: 50:50 mixture of chi-square(df - 1) and chi-square(df) "
                     "(a variance component tested on its boundary)")
    out = pd.DataFrame({
        "npar": npar.astype(int),
        "aic": [f.aic for f in mods],
        "bic": [f.bic for f in mods],
        "loglik": loglik,
        "deviance": -2.0 * loglik,
        "chisq": chisq,
        "df": dfs,
        "p": pval,
    }, index=pd.Index(labels, name="model"))
    out.attrs["notes"] = notes
    return out
