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
    return df


@pytest.mark.parametrize(("formula", "kwargs", "cls", "text"), CASES,
                         ids=[f"{c[2].__name__}:{c[3]}" for c in CASES])
def test_bad_input_is_named(df: pd.DataFrame, formula: str, kwargs: dict, cls: type,
                            text: str) -> None:
    kwargs = dict(kwargs)
    data = _data(df, kwargs.pop("data", ""))
    special = {"NEG": -np.ones(len(df)), "SHORT": [1.0, 2.0, 3.0]}
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
        assert issubclass(getattr(E, name), E.HiermixError)


def test_unknown_column_message_is_readable() -> None:
    err = E.UnknownColumnError("Reactoin", ["Reaction", "Days", "Subject"], where="response")
    assert str(err).startswith("unknown column 'Reactoin' (in response)")
