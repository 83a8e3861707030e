"""Satterthwaite and Kenward-Roger t tests against lmerTest 3.1-3 and pbkrtest (R 4.2.2, lme4
1.1-31): tests/data/inference/<id>.json, copied from the project's shared reference folder
(``satterthwaite`` and ``kenward_roger`` fields; see its README).

Tolerances (issue 11): degrees of freedom within 1e-3 relative; Kenward-Roger standard errors
within 1e-4 relative. Estimates, Satterthwaite SEs and t values follow lme4's fit (1e-3
relative, as the LMM reference tests); p-values within 1e-2 relative (they move with the df).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from catalogue import load_data

import hiermix
from hiermix.errors import ModelError
from hiermix.inference.ddf import Satterthwaite, fstat_ddf, richardson, satterthwaite
from hiermix.inference.kenward_roger import kenward_roger
from hiermix.naming import lme4_name

REF = Path(__file__).parent.parent / "data" / "inference"
LMM_REFS = {"sleepstudy_reml": "sleepstudy", "penicillin_crossed": "Penicillin",
            "dyestuff": "Dyestuff", "seed_normal_intercept": "seed_normal_intercept"}
_FITS: dict[str, object] = {}


def reference(ref_id: str) -> dict:
    return json.loads((REF / f"{ref_id}.json").read_text())


def fitted(ref_id: str) -> Any:
    if ref_id not in _FITS:
        ref = reference(ref_id)
        _FITS[ref_id] = hiermix.lmer(ref["formula"], load_data(LMM_REFS[ref_id]))
    return _FITS[ref_id]


def _vec(x: object) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=float))


@pytest.mark.parametrize("ref_id", sorted(LMM_REFS))
def test_satterthwaite_matches_lmertest(ref_id: str) -> None:
    ref = reference(ref_id)["satterthwaite"]
    tab = fitted(ref_id).coef_table("Satterthwaite")
    assert [lme4_name(n) for n in tab.index] == list(np.atleast_1d(ref["terms"]))
    np.testing.assert_allclose(tab["df"], _vec(ref["df"]), rtol=1e-3)
    np.testing.assert_allclose(tab["estimate"], _vec(ref["estimate"]), rtol=1e-3)
    np.testing.assert_allclose(tab["se"], _vec(ref["se"]), rtol=1e-3)
    np.testing.assert_allclose(tab["t"], _vec(ref["t"]), rtol=1e-3)
    p_ref = _vec(ref["p"])
    nonzero = p_ref > 0
    np.testing.assert_allclose(tab["p"].to_numpy()[nonzero], p_ref[nonzero], rtol=1e-2)
    assert np.all(tab["p"].to_numpy()[~nonzero] < 1e-300)


@pytest.mark.parametrize("ref_id", sorted(LMM_REFS))
def test_kenward_roger_matches_pbkrtest(ref_id: str) -> None:
    ref = reference(ref_id)["kenward_roger"]
    tab = fitted(ref_id).coef_table("Kenward-Roger")
    np.testing.assert_allclose(tab["df"], _vec(ref["df"]), rtol=1e-3)
    np.testing.assert_allclose(tab["se"], _vec(ref["se"]), rtol=1e-4)
    p_ref = _vec(ref["p"])
    nonzero = p_ref > 0
    np.testing.assert_allclose(tab["p"].to_numpy()[nonzero], p_ref[nonzero], rtol=1e-2)


def test_richardson_exact_on_a_known_function() -> None:
    """Derivatives of f(x) = (exp(x0) sin(x1), x0^2 x1^3) against their closed forms."""
    x = np.array([0.3, 1.2])

    def f(v: np.ndarray) -> np.ndarray:
        return np.array([np.exp(v[0]) * np.sin(v[1]), v[0] ** 2 * v[1] ** 3])

    _, g, H = richardson(f, x)
    e, s, c = np.exp(x[0]), np.sin(x[1]), np.cos(x[1])
    np.testing.assert_allclose(g, [[e * s, e * c], [2 * x[0] * x[1] ** 3,
                                                     3 * x[0] ** 2 * x[1] ** 2]], rtol=1e-9)
    np.testing.assert_allclose(H[0], [[e * s, e * c], [e * c, -e * s]], rtol=1e-8)
    np.testing.assert_allclose(H[1], [[2 * x[1] ** 3, 6 * x[0] * x[1] ** 2],
                                      [6 * x[0] * x[1] ** 2, 6 * x[0] ** 2 * x[1]]], rtol=1e-8)


def test_satterthwaite_hessian_matches_wald_module_scale() -> None:
    """vcov(varpar) at the optimum: the sigma entry of 2 H^+ equals the analytic inverse
    information sigma^2 / (2 nu) when theta is held fixed (Schur complement check), and H is
    positive definite at an interior optimum."""
    fit = fitted("dyestuff")
    info = satterthwaite(fit)
    assert np.all(np.linalg.eigvalsh(info.hessian) > 0)
    nu = fit.nobs - fit.design.p
    np.testing.assert_allclose(info.hessian[-1, -1], 4.0 * nu / fit.sigma**2, rtol=1e-10)
    np.testing.assert_allclose(info.vcov_beta, fit.vcov.to_numpy(), rtol=1e-12)


def test_f_test_of_one_column_is_the_squared_t_test() -> None:
    fit = fitted("seed_normal_intercept")
    tab = fit.coef_table("Satterthwaite")
    aov = fit.anova("Satterthwaite")
    assert list(aov.index) == ["x"]
    np.testing.assert_allclose(aov.loc["x", "F"], tab.loc["x", "t"] ** 2, rtol=1e-12)
    np.testing.assert_allclose(aov.loc["x", "den_df"], tab.loc["x", "df"], rtol=1e-12)
    kr = fit.anova("Kenward-Roger")
    np.testing.assert_allclose(kr.loc["x", "den_df"], 489.008029186511, rtol=1e-3)


def test_multi_df_f_test_balanced_split_plot() -> None:
    """A balanced split-plot design (whole plots w in blocks, subplot factor s): the exact
    classical F tests have den_df = (blocks - 1)(levels of w - 1) for w and
    blocks (levels w)(levels s - 1) minus the s degrees of freedom for s. Kenward-Roger
    reproduces the exact df and F in balanced designs (Kenward and Roger 1997), and so does
    Satterthwaite when the t statistics are independent."""
    rng = np.random.default_rng(11)
    blocks, nw, ns = 6, 3, 4
    rows = [(b, w, s) for b in range(blocks) for w in range(nw) for s in range(ns)]
    df = pd.DataFrame(rows, columns=["block", "w", "s"]).astype(str)
    plot_effect = rng.normal(0, 2.0, size=(blocks, nw))
    block_effect = rng.normal(0, 3.0, size=blocks)
    df["y"] = (rng.normal(0, 1.0, len(df)) + df["w"].astype(int) * 0.5
               + block_effect[df["block"].astype(int)]
               + df["s"].astype(int) * 0.3
               + plot_effect[df["block"].astype(int), df["w"].astype(int)])
    fit = hiermix.lmer("y ~ w + s + (1 | block) + (1 | block:w)", df)
    assert not fit.is_singular  # the exact df hold for interior estimates
    for method in ("Kenward-Roger", "Satterthwaite"):
        aov = fit.anova(method)
        np.testing.assert_allclose(aov.loc["w", "den_df"], (blocks - 1) * (nw - 1), rtol=1e-3)
        # s: residual df of the subplot stratum = blocks nw (ns - 1) - (ns - 1)
        np.testing.assert_allclose(aov.loc["s", "den_df"],
                                   blocks * nw * (ns - 1) - (ns - 1), rtol=1e-3)
        assert list(aov["num_df"]) == [nw - 1, ns - 1]


def test_fstat_ddf_rules() -> None:
    assert fstat_ddf(np.array([7.0])) == 7.0
    assert fstat_ddf(np.array([5.0, 5.0])) == 5.0
    assert fstat_ddf(np.array([1.5, 9.0])) == 2.0
    E = 4 / 2 + 8 / 6
    assert fstat_ddf(np.array([4.0, 8.0])) == pytest.approx(2 * E / (E - 2))


def _two_way(drop: list[int] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    nb, na, nc = 5, 3, 2
    rows = [(b, a, c) for b in range(nb) for a in range(na) for c in range(nc)]
    df = pd.DataFrame(rows, columns=["block", "A", "B"]).astype(str)
    block = rng.normal(0, 3, nb)
    df["y"] = (rng.normal(0, 1, len(df)) + block[df["block"].astype(int)]
               + 0.4 * df["A"].astype(int) + 0.3 * df["B"].astype(int) * df["A"].astype(int))
    return df.drop(index=drop or []).reset_index(drop=True)


def test_type3_balanced_two_way_is_the_classical_anova() -> None:
    """Randomised complete blocks (5 random blocks, factors A with 3 and B with 2 levels and
    their interaction), balanced: REML's F tests are exact, so every type III F and its df
    equal the classical ANOVA's, computed here from sums of squares (error df 20). F within
    1e-5: lmerTest rounds its contrast matrices to 7 significant digits (``zapsmall``), and
    hiermix does the same, so entries such as 1/3 move the hypothesis by about 1e-7."""
    df = _two_way()
    nb, na, nc = 5, 3, 2
    y, gm = df["y"].to_numpy(), df["y"].mean()
    mA, mB = df.groupby("A")["y"].mean(), df.groupby("B")["y"].mean()
    mAB, mBl = df.groupby(["A", "B"])["y"].mean(), df.groupby("block")["y"].mean()
    ssa = nb * nc * np.sum((mA - gm) ** 2)
    ssb = nb * na * np.sum((mB - gm) ** 2)
    ssab = nb * sum((mAB[(a, c)] - mA[a] - mB[c] + gm) ** 2 for a in mA.index for c in mB.index)
    sse = np.sum((y - gm) ** 2) - ssa - ssb - ssab - na * nc * np.sum((mBl - gm) ** 2)
    mse = sse / 20
    expected = [ssa / 2 / mse, ssb / mse, ssab / 2 / mse]
    fit = hiermix.lmer("y ~ A * B + (1 | block)", df)
    for method in ("Satterthwaite", "Kenward-Roger"):
        aov = fit.anova(method)
        assert list(aov.index) == ["A", "B", "A:B"]
        np.testing.assert_allclose(aov["F"], expected, rtol=1e-5)
        np.testing.assert_allclose(aov["den_df"], 20, rtol=1e-4)
        assert list(aov["num_df"]) == [2, 1, 2]


def test_type3_unbalanced_tests_the_equally_weighted_marginal_means() -> None:
    """Unbalanced data: the type III hypothesis of A is 'A's marginal means, averaged over B's
    levels with equal weights, are equal'; of A:B, 'all interaction contrasts of the cell means
    are zero'. Written independently on the cell means, the Wald F (which does not depend on
    the rows chosen for L) matches the table's Satterthwaite F."""
    df = _two_way(drop=[0, 7, 8, 19])
    fit = hiermix.lmer("y ~ A * B + (1 | block)", df)
    cells = pd.DataFrame([(a, c) for a in "012" for c in "01"], columns=["A", "B"])
    C = fit.design.fixed_encoding.transform(cells)  # (6, p): cell means = C beta
    mu = C.reshape(3, 2, -1)
    marg = mu.mean(axis=1)  # (3, p)
    L_A = marg[1:] - marg[0]
    L_AB = np.array([mu[a, 1] - mu[a, 0] - mu[0, 1] + mu[0, 0] for a in (1, 2)])
    V = fit.vcov.to_numpy()
    beta = fit.beta
    aov = fit.anova()
    for term, L in (("A", L_A), ("A:B", L_AB)):
        Lb = L @ beta
        F = Lb @ np.linalg.solve(L @ V @ L.T, Lb) / L.shape[0]
        np.testing.assert_allclose(aov.loc[term, "F"], F, rtol=1e-5)  # zapsmall, as above


def test_ddf_errors_and_lme4_table() -> None:
    fit = fitted("dyestuff")
    plain = fit.coef_table(None)
    assert np.isnan(plain["df"]).all() and np.isnan(plain["p"]).all()
    with pytest.raises(ModelError, match="unknown ddf"):
        fit.coef_table("Welch")
    ml = hiermix.lmer("Yield ~ 1 + (1 | Batch)", load_data("Dyestuff"), REML=False)
    with pytest.raises(ModelError, match="REML"):
        ml.coef_table("Kenward-Roger")
    assert np.isfinite(ml.coef_table("Satterthwaite")["df"]).all()
    with pytest.raises(ModelError, match="ddf"):
        fit.anova(None)  # type: ignore[arg-type]


def test_glmm_coef_table_is_wald_z() -> None:
    cbpp = load_data("cbpp")
    fit = hiermix.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                        family="binomial")
    tab = fit.coef_table(None)
    assert np.isinf(tab["df"]).all()
    with pytest.raises(ModelError, match="linear mixed models"):
        fit.coef_table("Satterthwaite")
    with pytest.raises(ModelError):
        fit.summary(ddf="Satterthwaite")


def test_summary_with_ddf_prints_df_and_p() -> None:
    text = fitted("sleepstudy_reml").summary(ddf="Satterthwaite")
    assert "t-tests use Satterthwaite's method" in text
    assert "Pr(>|t|)" in text and "3.26e-06" in text
    assert "Kenward-Roger" in fitted("sleepstudy_reml").summary(ddf="Kenward-Roger")


def test_results_pickle() -> None:
    import pickle

    info = satterthwaite(fitted("dyestuff"))
    again = pickle.loads(pickle.dumps(info))
    assert isinstance(again, Satterthwaite)
    kr = pickle.loads(pickle.dumps(kenward_roger(fitted("dyestuff"))))
    np.testing.assert_allclose(kr.vcov_adjusted, kenward_roger(fitted("dyestuff")).vcov_adjusted)


def test_hypothesis_rows_follow_lmertest() -> None:
    """lmerTest's rows: with one term, type I rows (unit upper triangular over the term's
    columns, from the Doolittle factor of X'X); with several, the identity rows of a term no
    other term contains; a contained term's rows change with the coding of the others."""
    from hiermix.inference.ddf import hypotheses

    df = _two_way(drop=[0, 7])
    one = hypotheses(hiermix.lmer("y ~ A + (1 | block)", df))
    L = one["A"]
    assert L.shape == (2, 3) and np.all(L[:, 0] == 0)
    np.testing.assert_allclose(np.diag(L[:, 1:]), 1.0)
    assert L[1, 1] == 0.0
    two = hypotheses(hiermix.lmer("y ~ A * B + (1 | block)", df))
    np.testing.assert_array_equal(two["A:B"], np.eye(6)[[4, 5]])
    assert not np.allclose(two["A"], np.eye(6)[[1, 2]])


@pytest.mark.parametrize(("formula", "expected"), [
    ("y ~ A * B", {"A": ["A:B"], "B": ["A:B"], "A:B": []}),
    ("y ~ A * x", {"A": [], "x": ["A:x"], "A:x": []}),
    ("y ~ A + B:x", {"A": [], "B:x": []}),
])
def test_containment(formula: str, expected: dict[str, list[str]]) -> None:
    """SAS's containment (lmerTest's ``term_contain``): same continuous variables, a proper
    subset of the variables."""
    from formulaic import Formula

    from hiermix.inference.contrasts import containment

    terms = [t for t in Formula(formula.split("~")[1]) if str(t) != "1"]
    assert containment(terms, {"A", "B"}) == expected
