"""Binding a spec to data: responses, factors, weights, offsets, missing values, new data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from catalogue import load_data

import hiermix as hm
from hiermix.design import RankDeficiencyWarning
from hiermix.errors import MissingValueError, NewLevelError


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame({
        "y": rng.normal(size=n) + 5,
        "x": rng.normal(size=n),
        "z": rng.uniform(1, 2, size=n),
        "f": rng.choice(["b", "a", "c"], size=n),
        "g": np.repeat(np.arange(6), 10),
        "h": np.tile(["p", "q", "r"], 20),
        "s": rng.integers(0, 5, size=n),
        "n": np.full(n, 5),
        "w": rng.uniform(0.5, 2, size=n),
    })


def test_sleepstudy_design() -> None:
    d = hm.Model("Reaction ~ Days + (Days | Subject)", load_data("sleepstudy")).design
    assert d.y.shape == (180,) and d.X.shape == (180, 2)
    assert d.fixef_names == ("Intercept", "Days")
    (t,) = d.reterms
    assert (t.q, t.nlevels, t.cnames) == (2, 18, ("Intercept", "Days"))
    assert t.levels[:3] == ("308", "309", "310")
    Z = d.Z
    assert sp.issparse(Z) and Z.shape == (180, 36)
    # level-major layout: observation 0 (Subject 308, Days 0) has 1 in column 0, 0 in column 1
    row1 = Z.getrow(1).toarray().ravel()
    assert row1[0] == 1.0 and row1[1] == 1.0 and row1[2:].sum() == 0
    assert d.n_dropped == 0


def test_arrays_are_read_only(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + (1 | g)", df).design
    for a in (d.y, d.X, d.weights, d.offset, d.reterms[0].codes, d.reterms[0].X):
        with pytest.raises(ValueError):
            a[0] = 1.0


def test_user_data_never_modified(df: pd.DataFrame) -> None:
    before = df.copy()
    df.loc[3, "x"] = np.nan
    before.loc[3, "x"] = np.nan
    hm.Model("y ~ x + f + (1 | g)", df)
    pd.testing.assert_frame_equal(df, before)


def test_missing_rows_dropped_and_counted(df: pd.DataFrame) -> None:
    df.loc[[1, 7], "x"] = np.nan
    df.loc[11, "g"] = np.nan
    df.loc[20, "unused"] = 1.0  # missing values in unused columns do not count
    d = hm.Model("y ~ x + (1 | g)", df).design
    assert d.n_dropped == 3 and d.nobs == 57
    assert 1 not in d.rows and 11 not in d.rows
    assert "3 dropped" in d.summary()
    with pytest.raises(MissingValueError, match="'x' \\(2\\)"):
        hm.Model("y ~ x + (1 | g)", df, na_action="raise")


def test_missing_weights_dropped(df: pd.DataFrame) -> None:
    w = df["w"].to_numpy().copy()
    w[4] = np.nan
    d = hm.Model("y ~ x + (1 | g)", df, weights=w).design
    assert d.n_dropped == 1 and d.nobs == 59


def test_treatment_contrasts_sorted_levels(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ f + (1 | g)", df).design
    assert d.fixef_names == ("Intercept", "f[T.b]", "f[T.c]")
    assert d.fixef_names_lme4 == ("(Intercept)", "fb", "fc")


def test_categorical_order_respected(df: pd.DataFrame) -> None:
    df["f"] = pd.Categorical(df["f"], categories=["c", "a", "b"])
    d = hm.Model("y ~ f + (1 | g)", df).design
    assert d.fixef_names == ("Intercept", "f[T.a]", "f[T.b]")


def test_unused_categories_dropped(df: pd.DataFrame) -> None:
    df["f"] = pd.Categorical(df["f"], categories=["a", "b", "c", "zz"])
    df["g"] = pd.Categorical(df["g"], categories=list(range(8)))
    d = hm.Model("y ~ f + (1 | g)", df).design
    assert d.fixef_names == ("Intercept", "f[T.b]", "f[T.c]")
    assert d.ngrps == {"g": 6}


def test_grouping_any_dtype(df: pd.DataFrame) -> None:
    for col in (df["g"], df["g"].astype(float), df["g"].astype(str), df["g"] > 2,
                pd.Categorical(df["g"])):
        d = hm.Model("y ~ x + (1 | gg)", df.assign(gg=col)).design
        assert d.ngrps == {"gg": len(pd.unique(np.asarray(col)))}
    d = hm.Model("y ~ x + (1 | gg)", df.assign(gg=df["g"].astype(float))).design
    assert d.reterms[0].levels == ("0", "1", "2", "3", "4", "5")
    # numeric levels sort numerically, not as text
    d = hm.Model("y ~ x + (1 | gg)", df.assign(gg=df["g"] * 5)).design
    assert d.reterms[0].levels == ("0", "5", "10", "15", "20", "25")


def test_interaction_and_nesting(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + (1 | g/h)", df).design
    assert d.ngrps == {"h:g": 18, "g": 6}
    assert d.reterms[0].levels[:2] == ("p:0", "p:1")
    d2 = hm.Model("y ~ x + (1 | g:h)", df).design
    assert d2.ngrps == {"g:h": 18}


def test_uncorrelated_split_per_column(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + (x + z || g)", df).design
    assert [(t.label, t.cnames) for t in d.reterms] == [
        ("g", ("Intercept",)), ("g.1", ("x",)), ("g.2", ("z",))]
    d = hm.Model("y ~ x + (0 + f || g)", df).design
    assert [t.cnames for t in d.reterms] == [("f[a]",), ("f[b]",), ("f[c]",)]


def test_categorical_inside_bar(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + (0 + f | g)", df).design
    assert d.reterms[0].cnames == ("f[a]", "f[b]", "f[c]")
    d = hm.Model("y ~ x + (f | g)", df).design
    assert d.reterms[0].cnames == ("Intercept", "f[T.b]", "f[T.c]")


def test_same_factor_in_several_bars_and_lme4_order(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + (1 | h) + (1 | g) + (0 + x | g)", df).design
    assert [t.label for t in d.reterms] == ["g", "g.1", "h"]  # 6 levels before 3
    assert d.ngrps == {"g": 6, "h": 3}


def test_lme4_reverses_ties_when_it_reorders(df: pd.DataFrame) -> None:
    """lme4 1.1-31's mkReTrms: ``if (any(diff(nl) > 0)) ord <- rev(order(nl))``. R's order()
    is stable, so terms with equal numbers of levels come out in reverse formula order, and
    nothing moves when the levels already decrease along the formula."""
    parts = df.assign(Part=np.tile(["a", "b", "c"], 20), Operator=np.repeat(["x", "y", "z"], 20))
    d = hm.Model("y ~ 1 + (1 | Part) + (1 | Operator) + (1 | Part:Operator)", parts).design
    assert [t.label for t in d.reterms] == ["Part:Operator", "Operator", "Part"]
    d = hm.Model("y ~ 1 + (1 | Part:Operator) + (1 | Part) + (1 | Operator)", parts).design
    assert [t.label for t in d.reterms] == ["Part:Operator", "Part", "Operator"]  # no reorder
    d = hm.Model("y ~ x + (1 | h) + (1 | g) + (0 + x | g)", df).design
    assert [t.cnames for t in d.reterms] == [("x",), ("Intercept",), ("Intercept",)]
    d = hm.Model("y ~ x + (x || g)", df).design  # 6, 6: already non-increasing
    assert [t.cnames for t in d.reterms] == [("Intercept",), ("x",)]


def test_responses(df: pd.DataFrame) -> None:
    d = hm.Model("log(z) ~ x + (1 | g)", df).design
    np.testing.assert_allclose(d.y, np.log(df["z"]))
    d = hm.Model("cbind(s, n - s) ~ x + (1 | g)", df, family="binomial").design
    np.testing.assert_allclose(d.y, df["s"] / 5)
    np.testing.assert_allclose(d.weights, 5.0)
    d = hm.Model("b ~ x + (1 | g)", df.assign(b=df["x"] > 0), family="binomial").design
    np.testing.assert_allclose(d.y, (df["x"] > 0).astype(float))
    lab = np.where(df["x"] > 0, "yes", "no")
    d = hm.Model("r ~ x + (1 | g)", df.assign(r=lab), family="binomial").design
    np.testing.assert_allclose(d.y, (lab == "yes").astype(float))  # first level = failure
    assert d.response_levels == ("no", "yes")
    cat = pd.Categorical(lab, categories=["yes", "no"])
    d = hm.Model("r ~ x + (1 | g)", df.assign(r=cat), family="binomial").design
    np.testing.assert_allclose(d.y, (lab == "no").astype(float))
    d = hm.Model("y ~ x + (1 | g)", df.assign(y=(df["x"] > 0).astype(int)),
                 family="binomial").design
    assert set(np.unique(d.y)) == {0.0, 1.0}


def test_proportions_with_weights(df: pd.DataFrame) -> None:
    d = hm.Model("p ~ x + (1 | g)", df.assign(p=df["s"] / df["n"]), family="binomial",
                 weights="n").design
    np.testing.assert_allclose(d.weights, 5.0)
    np.testing.assert_allclose(d.y * d.weights, df["s"])


def test_offsets_add_up(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + offset(log(z)) + (1 | g)", df, offset="w").design
    np.testing.assert_allclose(d.offset, np.log(df["z"]) + df["w"])
    d = hm.Model("y ~ x + (1 | g)", df, offset=np.ones(len(df))).design
    np.testing.assert_allclose(d.offset, 1.0)


def test_transforms_in_fixed_part(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + I(x^2) + log(z) + C(s) + (1 | g)", df).design
    assert "I(x ** 2)" in d.fixef_names
    j = d.fixef_names.index("I(x ** 2)")
    np.testing.assert_allclose(d.X[:, j], df["x"] ** 2)
    assert any(n.startswith("C(s)[T.") for n in d.fixef_names)
    d = hm.Model("y ~ factor(s) + (1 | g)", df).design
    assert d.fixef_names_lme4[1].startswith("factor(s)")


def test_no_intercept_and_interactions(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ 0 + f + (1 | g)", df).design
    assert d.fixef_names == ("f[a]", "f[b]", "f[c]")
    d = hm.Model("y ~ x * f + (1 | g)", df).design
    assert d.fixef_names == ("Intercept", "x", "f[T.b]", "f[T.c]", "x:f[T.b]", "x:f[T.c]")
    assert d.fixef_names_lme4[-1] == "x:fc"


def test_rank_deficient_columns_dropped_with_warning(df: pd.DataFrame) -> None:
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column"):
        d = hm.Model("y ~ x + x2 + (1 | g)", df.assign(x2=2 * df["x"])).design
    assert d.fixef_names == ("Intercept", "x")
    assert d.dropped_fixef == ("x2",)


def test_encode_new_data_and_new_levels(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + f + (1 + x | g)", df).design
    new = pd.DataFrame({"x": [0.5, 1.0], "f": ["a", "c"], "g": [3, 99]})
    with pytest.raises(NewLevelError, match="'g' has new level"):
        d.encode_new(new)
    enc = d.encode_new(new, allow_new_levels=True)
    assert enc.codes[0].tolist() == [3, -1]
    np.testing.assert_allclose(enc.X, [[1, 0.5, 0, 0], [1, 1.0, 0, 1]])
    np.testing.assert_allclose(enc.Xk[0], [[1, 0.5], [1, 1.0]])
    with pytest.raises(NewLevelError, match="'f'"):
        d.encode_new(new.assign(f=["a", "zz"]), allow_new_levels=True)
    fixed_only = d.encode_new(new.drop(columns="g"), with_random=False)
    assert fixed_only.codes == ()


def test_new_data_rebuilds_stateful_transforms(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ center(x) + (1 | g)", df).design
    enc = d.encode_new(df.iloc[:5])
    np.testing.assert_allclose(enc.X, d.X[:5])


def test_with_response(df: pd.DataFrame) -> None:
    d = hm.Model("y ~ x + (1 | g)", df).design
    d2 = d.with_response(np.arange(len(df), dtype=float))
    assert d2.y[3] == 3.0 and d.y[3] != 3.0
    assert d2.fingerprint != d.fingerprint
    assert hm.Model("y ~ x + (1 | g)", df).design.fingerprint == d.fingerprint


def test_reprs(df: pd.DataFrame) -> None:
    m = hm.Model("y ~ x + (1 | g)", df)
    assert "n=60" in repr(m) and "g: 6" in repr(m)
    assert "Design" in repr(m.design)


@pytest.mark.parametrize("formula", ["1", "1 + x", "0 + x", "1 + x + z", "0 + z + x"])
def test_plain_numeric_formulas_match_formulaic(df: pd.DataFrame, formula: str) -> None:
    """Plain numeric formulas skip formulaic; the columns and names must be formulaic's."""
    from formulaic import model_matrix

    from hiermix.design.matrices import learn_encoding

    mat, enc = learn_encoding(formula, df, "test")
    assert enc.model_spec is None
    ref = model_matrix(formula, df)
    assert enc.names == tuple(ref.columns)
    np.testing.assert_array_equal(mat, np.asarray(ref, dtype=float))
    np.testing.assert_array_equal(enc.transform(df.iloc[:7]), mat[:7])
    # a categorical column goes through formulaic as before
    _, enc_f = learn_encoding("1 + f", df, "test")
    assert enc_f.model_spec is not None
