"""The naming contract: formulaic names <-> lme4 names, term labels."""

from __future__ import annotations

import pytest

from hiermix.naming import from_lme4_name, lme4_name, param_label, term_labels, varcorr_label

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


LABELS = [
    (("beta", "Days"), "Days"),
    (("beta", "Intercept"), "Intercept"),
    (("sd_Subject", "Intercept"), "sd(Intercept|Subject)"),
    (("sd_Subject.1", "Days"), "sd(Days|Subject.1)"),
    (("corr_Subject", "Intercept, Days"), "cor(Intercept,Days|Subject)"),
    (("sigma", None), "sigma"),
    (("phi", None), "phi"),
]


@pytest.mark.parametrize(("key", "label"), LABELS)
def test_param_label(key: tuple[str, str | None], label: str) -> None:
    assert param_label(*key) == label


def test_param_label_comma_in_column_names() -> None:
    cnames = ["Intercept", "poly(x, 2)[1]"]
    assert (param_label("corr_g", "Intercept, poly(x, 2)[1]", cnames)
            == "cor(Intercept,poly(x, 2)[1]|g)")


def test_param_label_unknown() -> None:
    with pytest.raises(KeyError):
        param_label("z_Subject", "Intercept")
    with pytest.raises(KeyError):
        param_label("beta")


def test_varcorr_label() -> None:
    assert varcorr_label("Subject", "Days", None) == "sd(Days|Subject)"
    assert varcorr_label("Subject", "Intercept", "Days") == "cor(Intercept,Days|Subject)"
    assert varcorr_label("Residual", None, None) == "sigma"
    assert varcorr_label("Residual", None, None, dispersion="phi") == "phi"
