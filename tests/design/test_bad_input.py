"""Bad input gets a HiermixError subclass that names the culprit; nothing is lost silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermix as hm
from hiermix import errors as E


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame({
        "y": rng.gamma(2.0, size=n),
        "x": rng.normal(size=n),
        "g": np.repeat(list("abcd"), 10),
        "k": rng.integers(0, 4, size=n),
        "txt": rng.choice(["u", "v", "w"], size=n),
        "id": np.arange(n),
    })


CASES = [
    # (formula, kwargs, error class, text the message must contain)
    ("y ~ x + (1 | g)", {"data": "EMPTY"}, E.EmptyDataError, "no rows"),
    ("y ~ nope + (1 | g)", {}, E.UnknownColumnError, "'nope'"),
    ("y ~ x + (nope | g)", {}, E.UnknownColumnError, "'nope'"),
    ("y ~ x + (1 | nope)", {}, E.UnknownColumnError, "'nope'"),
    ("nope ~ x + (1 | g)", {}, E.UnknownColumnError, "'nope'"),
    ("log(nope) ~ x + (1 | g)", {}, E.UnknownColumnError, "'nope'"),
    ("y ~ x + offset(nope) + (1 | g)", {}, E.UnknownColumnError, "'nope'"),
    ("y ~ center(nope) + (1 | g)", {}, E.UnknownColumnError, "'nope'"),
    ("y ~ x + (1 | g)", {"weights": "nope"}, E.UnknownColumnError, "'nope'"),
    ("y ~ x + (1 | g)", {"offset": "nope"}, E.UnknownColumnError, "'nope'"),
    ("Y ~ x + (1 | g)", {}, E.UnknownColumnError, "did you mean 'y'"),
    ("y ~ x + (1 | one)", {"data": "ONE_LEVEL"}, E.GroupingFactorError, "'one' has only 1 level"),
    ("y ~ x + (1 | id)", {}, E.GroupingFactorError, "'id' has 40 levels for 40 observations"),
    ("y ~ x + (1 | g)", {"data": "INF"}, E.NonFiniteError, "column 'x'"),
    ("txt ~ x + (1 | g)", {}, E.ResponseTypeError, "'txt'"),
    ("txt ~ x + (1 | g)", {"family": "binomial"}, E.ResponseTypeError, "exactly two levels"),
    ("y ~ x + (1 | g)", {"family": "tweedie"}, E.FamilyError, "'tweedie'"),
    ("y ~ x + (1 | g)", {"link": "softplus"}, E.FamilyError, "'softplus'"),
    ("y ~ x + (1 | g)", {"family": "poisson", "link": "logit"}, E.FamilyError, "'logit'"),
    ("x ~ y + (1 | g)", {"family": "poisson"}, E.ResponseSupportError, "'x'"),
    ("x ~ y + (1 | g)", {"family": "Gamma"}, E.ResponseSupportError, "at or below zero"),
    ("x ~ y + (1 | g)", {"family": "inverse.gaussian"}, E.ResponseSupportError, "'x'"),
    ("y ~ x + (1 | g)", {"family": "binomial"}, E.ResponseSupportError, "outside [0, 1]"),
    ("cbind(k, k - 3) ~ x + (1 | g)", {"family": "binomial"}, E.ResponseSupportError,
     "'k - 3' is negative"),
    ("cbind(k, 3 - k) ~ x + (1 | g)", {}, E.ModelError, "family='binomial'"),
    ("y ~ x + (1 | g)", {"weights": "NEG"}, E.DataError, "weights must be >= 0"),
    ("y ~ x + (1 | g)", {"weights": "SHORT"}, E.DataError, "length 3"),
    ("y ~ x + (1 | g)", {"na_action": "ignore"}, E.DataError, "na_action"),
    ("y ~ x + (1 | g)", {"data": "ALL_NA"}, E.EmptyDataError, "no complete rows"),
    ("y ~ x + (1 | g)", {"data": "NOT_A_FRAME"}, E.DataError, "DataFrame"),
    ("y ~ x +", {}, E.FormulaSyntaxError, "missing term"),
    ("y ~ when + (1 | g)", {"data": "DATES"}, E.ColumnTypeError, "column 'when'"),
    ("y ~ x + (when | g)", {"data": "DATES"}, E.ColumnTypeError, "date-time"),
    ("y ~ x + offset(when) + (1 | g)", {"data": "DATES"}, E.ColumnTypeError, "column 'when'"),
    ("y ~ span + (1 | g)", {"data": "DATES"}, E.ColumnTypeError, "dt.total_seconds()"),
    ("y ~ x + (1 | g)", {"data": "DUPLICATE"}, E.DuplicateColumnError, "2 columns named 'x'"),
    ("y ~ k + (1 | g)", {"data": "DUPLICATE", "weights": "x"}, E.DuplicateColumnError,
     "columns named 'x'"),
    ("y ~ x + (1 | g)", {"weights": "ZERO"}, E.DataError, "2 row(s) have weight 0"),
    ("y ~ x + (1 | g)", {"weights": "ZERO", "family": "Gamma"}, E.DataError,
     "weights must be > 0 for the Gamma family"),
    ("y ~ x + (1 | g)", {"weights": "ZERO", "family": "inverse.gaussian"}, E.DataError,
     "the first at position 3 of the data"),
]


def _data(df: pd.DataFrame, key: str) -> object:
    if key == "EMPTY":
        return df.iloc[:0]
    if key == "ONE_LEVEL":
        return df.assign(one="z")
    if key == "INF":
        out = df.copy()
        out.loc[5, "x"] = np.inf
        return out
    if key == "ALL_NA":
        return df.assign(x=np.nan)
    if key == "NOT_A_FRAME":
        return 3.5
    if key == "DATES":
        return df.assign(when=pd.date_range("2024-01-01", periods=len(df), freq="D"),
                         span=pd.to_timedelta(df["k"], unit="h"))
    if key == "DUPLICATE":
        return pd.concat([df, df[["x"]]], axis=1)
    return df


@pytest.mark.parametrize(("formula", "kwargs", "cls", "text"), CASES,
                         ids=[f"{c[2].__name__}:{c[3]}" for c in CASES])
def test_bad_input_is_named(df: pd.DataFrame, formula: str, kwargs: dict, cls: type,
                            text: str) -> None:
    kwargs = dict(kwargs)
    data = _data(df, kwargs.pop("data", ""))
    zero = np.ones(len(df))
    zero[[3, 17]] = 0.0
    special = {"NEG": -np.ones(len(df)), "SHORT": [1.0, 2.0, 3.0], "ZERO": zero}
    if kwargs.get("weights") in special:
        kwargs["weights"] = special[kwargs["weights"]]
    with pytest.raises(cls) as info:
        hm.Model(formula, data, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, E.HiermixError)
    assert text in str(info.value)


def test_grouping_with_as_many_levels_as_rows_is_fine_for_poisson(df: pd.DataFrame) -> None:
    # lme4's glmer allows observation-level random effects (grouseticks' INDEX); lmer does not
    d = hm.Model("k ~ x + (1 | id)", df, family="poisson").design
    assert d.ngrps == {"id": 40}


def test_error_classes_are_builtin_compatible() -> None:
    assert issubclass(E.FormulaSyntaxError, ValueError)
    assert issubclass(E.UnknownColumnError, KeyError)
    assert issubclass(E.ResponseTypeError, TypeError)
    for name in E.__all__:
        cls = getattr(E, name)
        assert issubclass(cls, E.HiermixWarning if issubclass(cls, Warning) else E.HiermixError)


def test_unknown_column_message_is_readable() -> None:
    err = E.UnknownColumnError("Reactoin", ["Reaction", "Days", "Subject"], where="response")
    assert str(err).startswith("unknown column 'Reactoin' (in response)")


def test_a_date_may_group(df: pd.DataFrame) -> None:
    """Only values that enter y, X, Z or the offset must be numbers: dates label groups fine."""
    data = df.assign(day=pd.Timestamp("2024-01-01") + pd.to_timedelta(df.index // 10, unit="D"))
    d = hm.Model("y ~ x + (1 | day)", data).design
    assert d.ngrps == {"day": 4}


def test_unused_duplicate_columns_are_fine(df: pd.DataFrame) -> None:
    data = pd.concat([df, df[["txt"]]], axis=1)
    assert hm.Model("y ~ x + (1 | g)", data).design.nobs == len(df)


@pytest.mark.filterwarnings("ignore::hiermix.errors.SingularFitWarning")
def test_newdata_is_checked_as_the_data(df: pd.DataFrame) -> None:
    fit = hm.lmer("y ~ x + (1 | g)", df)
    with pytest.raises(E.DuplicateColumnError, match="newdata have 2 columns named 'x'"):
        fit.predict(pd.concat([df, df[["x"]]], axis=1))
    dates = df.assign(x=pd.date_range("2024-01-01", periods=len(df)))
    with pytest.raises(E.ColumnTypeError, match="column 'x' of newdata is a date-time"):
        fit.predict(dates)


@pytest.mark.filterwarnings("ignore::hiermix.errors.SingularFitWarning")
@pytest.mark.parametrize(("family", "formula"), [
    ("binomial", "cbind(k, 3 - k) ~ x + (1 | g)"),
    ("poisson", "k ~ x + (1 | g)"),
])
def test_zero_weights_drop_the_row_where_the_likelihood_allows(
        df: pd.DataFrame, family: str, formula: str) -> None:
    """binomial and poisson: a row of weight 0 adds exactly 0 to the log-likelihood, so the
    fit equals the fit without it (criterion to 1e-10 relative, the optimiser's rounding),
    and the pointwise log-likelihood both engines use is 0 there."""
    w = np.ones(len(df))
    w[[3, 17]] = 0.0
    with_zero = hm.glmer(formula, df, family=family, weights=w)
    dropped = hm.glmer(formula, df.drop(index=[3, 17]).reset_index(drop=True), family=family)
    assert with_zero.objective == pytest.approx(dropped.objective, rel=1e-10)
    np.testing.assert_allclose(with_zero.beta, dropped.beta, rtol=1e-5, atol=1e-7)
    d = with_zero.design
    ll = d.family.loglik(d.y, np.full(d.nobs, 0.4), d.weights)
    assert np.all(ll[[3, 17]] == 0.0)
