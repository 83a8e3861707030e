"""Property tests: the design does not depend on row order or on how levels are spelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import hiermix as hm


def _frame(seed: int, n: int, n_groups: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.concatenate([np.arange(n_groups), rng.integers(0, n_groups, n - n_groups)])
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
        "f": rng.choice(["lo", "mid", "hi"], size=n),
        "g": [f"grp{k}" for k in g],
        "h": rng.integers(0, 3, size=n),
    })


FORMULA = "y ~ x + f + (1 + x | g) + (1 | h)"


def _gram(d: hm.Design) -> dict[str, np.ndarray]:
    """Order-free summaries of the design: cross-products of X, y and each term."""
    out = {"XtX": d.X.T @ d.X, "Xty": d.X.T @ d.y}
    for t in d.reterms:
        out[f"Z_{t.label}_count"] = np.bincount(t.codes, minlength=t.nlevels)
    Z = d.Z
    out["ZtZ"] = (Z.T @ Z).toarray()
    out["Zty"] = Z.T @ d.y
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_groups=st.integers(2, 8),
       perm_seed=st.integers(0, 10_000))
def test_row_order_does_not_matter(seed: int, n_groups: int, perm_seed: int) -> None:
    df = _frame(seed, 40, n_groups)
    perm = np.random.default_rng(perm_seed).permutation(len(df))
    a = hm.Model(FORMULA, df).design
    b = hm.Model(FORMULA, df.iloc[perm].reset_index(drop=True)).design
    assert a.fixef_names == b.fixef_names
    assert a.ngrps == b.ngrps
    assert [t.levels for t in a.reterms] == [t.levels for t in b.reterms]
    ga, gb = _gram(a), _gram(b)
    for key in ga:
        np.testing.assert_allclose(ga[key], gb[key], rtol=1e-10, atol=1e-10)
    # the rows map back: b's row i is a's row perm[i]
    np.testing.assert_allclose(b.y, a.y[perm])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_groups=st.integers(2, 8))
def test_relabelled_levels_give_the_same_model(seed: int, n_groups: int) -> None:
    df = _frame(seed, 40, n_groups)
    relabel = {f"grp{k}": f"G{(k * 7919) % 1000:03d}" for k in range(n_groups)}
    a = hm.Model(FORMULA, df).design
    b = hm.Model(FORMULA, df.assign(g=df["g"].map(relabel))).design
    ta, tb = a.reterms[0], b.reterms[0]
    assert ta.nlevels == tb.nlevels
    # same partition of the observations into groups
    pairs = set(zip(ta.codes.tolist(), tb.codes.tolist(), strict=True))
    assert len(pairs) == ta.nlevels
    np.testing.assert_allclose(a.X, b.X)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n_missing=st.integers(0, 10))
def test_missing_rows_are_counted_exactly(seed: int, n_missing: int) -> None:
    df = _frame(seed, 40, 4)
    rng = np.random.default_rng(seed)
    rows = rng.choice(40, size=n_missing, replace=False)
    df.loc[rows, "x"] = np.nan
    d = hm.Model(FORMULA, df).design
    assert d.n_dropped == n_missing
    assert d.nobs + d.n_dropped == 40
