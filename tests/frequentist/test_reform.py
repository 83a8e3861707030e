"""Partial random-effects formulas in ``predict(re_form=...)``, as lme4's ``re.form``.

lme4 1.1-31's ``predict.merMod`` (``mkNewReTrms``) keeps, for each term of ``re.form``, the
named columns of the conditional modes of that grouping factor (``re_x[[rname]][, Rcnms[[i]]]``)
and builds Z from ``re.form``'s own terms; the checks below restate that rule on the fitted
b, exactly (to rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catalogue import load_data

import hiermix
from hiermix.errors import DataError, UnknownColumnError


@pytest.fixture(scope="module")
def sleep() -> tuple[pd.DataFrame, object]:
    data = load_data("sleepstudy")
    return data, hiermix.lmer("Reaction ~ Days + (Days | Subject)", data)


def _codes(fit: object, data: pd.DataFrame) -> np.ndarray:
    levels = list(fit.design.reterms[0].levels)  # type: ignore[attr-defined]
    return np.array([levels.index(str(s)) for s in data["Subject"]])


def test_intercepts_only(sleep: tuple[pd.DataFrame, object]) -> None:
    data, fit = sleep
    b = fit.b[0]  # type: ignore[attr-defined]
    fixed = fit.predict(re_form="NA")  # type: ignore[attr-defined]
    code = _codes(fit, data)
    expected = fixed + b[code, 0]
    np.testing.assert_allclose(fit.predict(re_form="~(1 | Subject)"), expected, rtol=1e-12)
    slope = fixed + b[code, 1] * data["Days"].to_numpy()
    np.testing.assert_allclose(fit.predict(re_form="~(0 + Days | Subject)"), slope, rtol=1e-12)
    np.testing.assert_allclose(fit.predict(re_form="~(Days | Subject)"), fit.fitted, rtol=1e-12)
    np.testing.assert_allclose(fit.predict(re_form="(1 | Subject)"), expected, rtol=1e-12)


def test_newdata(sleep: tuple[pd.DataFrame, object]) -> None:
    data, fit = sleep
    new = data.iloc[[0, 15, 100]].copy()
    out = fit.predict(new, re_form="~(1 | Subject)")  # type: ignore[attr-defined]
    full = fit.predict(re_form="~(1 | Subject)")  # type: ignore[attr-defined]
    np.testing.assert_allclose(out, full[[0, 15, 100]], rtol=1e-12)
    np.testing.assert_allclose(fit.predict(new, re_form="~0"),  # type: ignore[attr-defined]
                               fit.predict(re_form="~0")[[0, 15, 100]], rtol=1e-12)


def test_unselected_factor_not_needed_in_newdata() -> None:
    data = load_data("Penicillin")
    fit = hiermix.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    new = data[["plate"]].iloc[:5]
    out = fit.predict(new, re_form="~(1 | plate)")
    plate = fit.ranef["plate"]
    expected = fit.beta[0] + plate.loc[[str(p) for p in new["plate"]]].to_numpy()[:, 0]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    with pytest.raises(UnknownColumnError):
        fit.predict(new)


def test_uncorrelated_terms_and_glmm() -> None:
    data = load_data("sleepstudy")
    fit = hiermix.lmer("Reaction ~ Days + (Days || Subject)", data)
    np.testing.assert_allclose(fit.predict(re_form="~(Days || Subject)"), fit.fitted,
                               rtol=1e-12)
    assert not np.allclose(fit.predict(re_form="~(1 | Subject)"), fit.fitted)
    cbpp = load_data("cbpp")
    g = hiermix.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                      family="binomial")
    np.testing.assert_allclose(g.predict(re_form="~(1 | herd)", type="response"),
                               g.predict(type="response"), rtol=1e-12)


def test_bad_re_form(sleep: tuple[pd.DataFrame, object]) -> None:
    _, fit = sleep
    with pytest.raises(DataError, match="grouping factor 'Batch'"):
        fit.predict(re_form="~(1 | Batch)")  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="'x'"):
        fit.predict(re_form="~(0 + x | Subject)")  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="not supported"):
        fit.predict(re_form=3)  # type: ignore[attr-defined]
