"""The naming contract: formulaic names <-> lme4 names, term labels."""

from __future__ import annotations

import pytest

from hiermix.naming import from_lme4_name, lme4_name, term_labels

PAIRS = [
    ("Intercept", "(Intercept)"),
    ("Days", "Days"),
    ("period[T.2]", "period2"),
    ("f[a]", "fa"),
    ("x:f[T.b]", "x:fb"),
    ("f[T.b]:g[T.c]", "fb:gc"),
    ("C(x)[T.2]", "C(x)2"),
    ("I(x ** 2)", "I(x ** 2)"),
    ("btype[T.scold]", "btypescold"),
]


@pytest.mark.parametrize(("ours", "lme4"), PAIRS)
def test_lme4_names(ours: str, lme4: str) -> None:
    assert lme4_name(ours) == lme4
    assert from_lme4_name(lme4, [p[0] for p in PAIRS]) == ours


def test_unknown_lme4_name() -> None:
    with pytest.raises(KeyError):
        from_lme4_name("nope", ["Intercept"])


def test_term_labels() -> None:
    assert term_labels(["Subject", "Subject", "item", "Subject"]) == [
        "Subject", "Subject.1", "item", "Subject.2"]
