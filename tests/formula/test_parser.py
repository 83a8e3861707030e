"""Parser tests: formula -> ModelSpec, table-driven (formula, canonical form, random terms).

Semantics follow lme4 (Bates et al. 2015, JSS, Table 2) and formulaic for the fixed part.
"""

from __future__ import annotations

import pytest

from hiermix import parse
from hiermix.errors import FormulaSyntaxError, HiermixError
from hiermix.formula import Kind, tokenize
from hiermix.spec import ModelSpec, RandomTermSpec, ResponseSpec

R = RandomTermSpec

# (formula, canonical str(spec), random terms)
FORMULA_TO_SPEC: list[tuple[str, str, tuple[RandomTermSpec, ...]]] = [
    # --- JSS Table 2, row by row
    ("y ~ (1 | g)", "y ~ 1 + (1 | g)", (R("1", ("g",)),)),
    ("y ~ (1 | g1/g2)", "y ~ 1 + (1 | g2:g1) + (1 | g1)",
     (R("1", ("g2", "g1")), R("1", ("g1",)))),
    ("y ~ (1 | g1) + (1 | g2)", "y ~ 1 + (1 | g1) + (1 | g2)",
     (R("1", ("g1",)), R("1", ("g2",)))),
    ("y ~ x + (x | g)", "y ~ 1 + x + (1 + x | g)", (R("1 + x", ("g",)),)),
    ("y ~ x + (x || g)", "y ~ 1 + x + (1 + x || g)", (R("1 + x", ("g",), False),)),
    # --- equivalent spellings of Table 2 rows
    ("y ~ 1 + (1 | g1) + (1 | g1:g2)", "y ~ 1 + (1 | g1) + (1 | g1:g2)",
     (R("1", ("g1",)), R("1", ("g1", "g2")))),
    ("y ~ 1 + x + (1 + x | g)", "y ~ 1 + x + (1 + x | g)", (R("1 + x", ("g",)),)),
    ("y ~ x + (1 | g) + (0 + x | g)", "y ~ 1 + x + (1 | g) + (0 + x | g)",
     (R("1", ("g",)), R("0 + x", ("g",)))),
    # --- responses
    ("log(y) ~ x + (1 | g)", "log(y) ~ 1 + x + (1 | g)", (R("1", ("g",)),)),
    ("cbind(s, f) ~ x + (1 | g)", "cbind(s, f) ~ 1 + x + (1 | g)", (R("1", ("g",)),)),
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)",
     "cbind(incidence, size - incidence) ~ 1 + period + (1 | herd)", (R("1", ("herd",)),)),
    ("`my y` ~ x + (1 | g)", "`my y` ~ 1 + x + (1 | g)", (R("1", ("g",)),)),
    ("y^2 ~ x + (1 | g)", "y ** 2 ~ 1 + x + (1 | g)", (R("1", ("g",)),)),
    # --- fixed part with formulaic semantics
    ("y ~ a * b + (1 | g)", "y ~ 1 + a + b + a:b + (1 | g)", (R("1", ("g",)),)),
    ("y ~ a:b + (1 | g)", "y ~ 1 + a:b + (1 | g)", (R("1", ("g",)),)),
    ("y ~ x - 1 + (1 | g)", "y ~ 0 + x + (1 | g)", (R("1", ("g",)),)),
    ("y ~ -1 + x + (1 | g)", "y ~ 0 + x + (1 | g)", (R("1", ("g",)),)),
    ("y ~ 0 + x + (1 | g)", "y ~ 0 + x + (1 | g)", (R("1", ("g",)),)),
    ("y ~ C(x) + (1 | g)", "y ~ 1 + C(x) + (1 | g)", (R("1", ("g",)),)),
    ("y ~ I(x^2) + (1 | g)", "y ~ 1 + I(x ** 2) + (1 | g)", (R("1", ("g",)),)),
    ("y ~ x + I(x^2) + I(x^3) + (1 | g)", "y ~ 1 + x + I(x ** 2) + I(x ** 3) + (1 | g)",
     (R("1", ("g",)),)),
    ("y ~ log(x) + (1 | g)", "y ~ 1 + log(x) + (1 | g)", (R("1", ("g",)),)),
    ("y ~ x + offset(log(n)) + (1 | g)", "y ~ 1 + x + offset(log(n)) + (1 | g)",
     (R("1", ("g",)),)),
    ("y ~ (a + b + c)^2 + (1 | g)", "y ~ 1 + a + b + c + a:b + a:c + b:c + (1 | g)",
     (R("1", ("g",)),)),
    ("y ~ 1 + (1 | g)", "y ~ 1 + (1 | g)", (R("1", ("g",)),)),
    ("y ~ 0 + (1 | g)", "y ~ 0 + (1 | g)", (R("1", ("g",)),)),
    ("y ~ x", "y ~ 1 + x", ()),
    ("y ~ factor(x) + (1 | g)", "y ~ 1 + factor(x) + (1 | g)", (R("1", ("g",)),)),
    # --- random part
    ("y ~ (0 + x | g)", "y ~ 1 + (0 + x | g)", (R("0 + x", ("g",)),)),
    ("y ~ (x - 1 | g)", "y ~ 1 + (0 + x | g)", (R("0 + x", ("g",)),)),
    ("y ~ (0 + f | g)", "y ~ 1 + (0 + f | g)", (R("0 + f", ("g",)),)),
    ("y ~ (f | g)", "y ~ 1 + (1 + f | g)", (R("1 + f", ("g",)),)),
    ("y ~ (1 | a:b)", "y ~ 1 + (1 | a:b)", (R("1", ("a", "b")),)),
    ("y ~ (1 | a/b/c)", "y ~ 1 + (1 | c:b:a) + (1 | b:a) + (1 | a)",
     (R("1", ("c", "b", "a")), R("1", ("b", "a")), R("1", ("a",)))),
    ("y ~ (1 | a/b:c)", "y ~ 1 + (1 | b:c:a) + (1 | a)",
     (R("1", ("b", "c", "a")), R("1", ("a",)))),
    ("y ~ x + (1 | g) + (1 | h) + (1 | k)", "y ~ 1 + x + (1 | g) + (1 | h) + (1 | k)",
     (R("1", ("g",)), R("1", ("h",)), R("1", ("k",)))),
    ("y ~ x + (x | g) + (1 | h)", "y ~ 1 + x + (1 + x | g) + (1 | h)",
     (R("1 + x", ("g",)), R("1", ("h",)))),
    ("y ~ (1 | g) + (0 + x | g) + (0 + z | g)",
     "y ~ 1 + (1 | g) + (0 + x | g) + (0 + z | g)",
     (R("1", ("g",)), R("0 + x", ("g",)), R("0 + z", ("g",)))),
    ("y ~ (x + z || g)", "y ~ 1 + (1 + x + z || g)", (R("1 + x + z", ("g",), False),)),
    ("y ~ (0 + x || g)", "y ~ 1 + (0 + x || g)", (R("0 + x", ("g",), False),)),
    ("y ~ ((1 | g))", "y ~ 1 + (1 | g)", (R("1", ("g",)),)),
    ("y ~ (1 | `my group`)", "y ~ 1 + (1 | `my group`)", (R("1", ("my group",)),)),
    ("y ~ (I(x^2) | g)", "y ~ 1 + (1 + I(x ** 2) | g)", (R("1 + I(x ** 2)", ("g",)),)),
    ("y ~ x + (1 + x | g) + offset(o)", "y ~ 1 + x + offset(o) + (1 + x | g)",
     (R("1 + x", ("g",)),)),
    ("Reaction ~ Days + (Days | Subject)", "Reaction ~ 1 + Days + (1 + Days | Subject)",
     (R("1 + Days", ("Subject",)),)),
    ("strength ~ 1 + (1 | batch/cask)", "strength ~ 1 + (1 | cask:batch) + (1 | batch)",
     (R("1", ("cask", "batch")), R("1", ("batch",)))),
    ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
     "r2 ~ 1 + Anger + Gender + btype + situ + (1 | id) + (1 | item)",
     (R("1", ("id",)), R("1", ("item",)))),
]


@pytest.mark.parametrize(("formula", "canonical", "random"), FORMULA_TO_SPEC,
                         ids=[f for f, _, _ in FORMULA_TO_SPEC])
def test_formula_to_spec(formula: str, canonical: str, random: tuple[RandomTermSpec, ...]) -> None:
    spec = parse(formula)
    assert str(spec) == canonical
    assert spec.random == random
    # the canonical form is a fixed point: it parses to an equal spec
    assert parse(canonical) == spec


def test_table_has_at_least_40_formulas() -> None:
    assert len(FORMULA_TO_SPEC) >= 40


def test_cbind_response() -> None:
    spec = parse("cbind(incidence, size - incidence) ~ period + (1 | herd)")
    assert spec.response == ResponseSpec("incidence", "size - incidence")
    assert spec.response.is_cbind


def test_power_inside_calls_is_python_power() -> None:
    # In Python, x^2 is xor: I(x^2) must reach formulaic as I(x ** 2).
    assert parse("y ~ I(x^2)").fixed == "1 + I(x ** 2)"
    assert parse("y ~ I((x + 1)^0.5)").fixed == "1 + I((x + 1) ** 0.5)"


def test_offsets_collected() -> None:
    spec = parse("y ~ x + offset(log(n)) + offset(z) + (1 | g)")
    assert spec.offsets == ("log(n)", "z")
    assert spec.fixed == "1 + x"


def test_spec_is_frozen_hashable_comparable() -> None:
    a = parse("y~x+(1|g)")
    b = parse("y ~ 1 + x + (1 | g)")
    assert a == b and hash(a) == hash(b)
    assert a != parse("y ~ x + (1 | h)")
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.fixed = "0"  # type: ignore[misc]
    assert isinstance(a, ModelSpec)
    assert "ModelSpec(" in repr(a)


def test_spec_properties() -> None:
    spec = parse("y ~ x + (x | g) + (1 | g) + (1 | a/b)")
    assert spec.has_intercept
    assert spec.group_names == ("g", "b:a", "a")
    assert spec.is_mixed
    assert not parse("y ~ 0 + x + (1 | g)").has_intercept


def test_tokenizer_phase() -> None:
    toks = tokenize("y ~ log(x) + (1 | g)")
    kinds = [t.kind for t in toks]
    assert kinds == [Kind.NAME, Kind.OP, Kind.CALL, Kind.OP, Kind.LPAREN, Kind.NUMBER, Kind.OP,
                     Kind.NAME, Kind.RPAREN]
    assert toks[2].name == "log" and toks[2].start == 4


BAD_FORMULAS: list[tuple[str, str, int | None]] = [
    ("y x", "needs '~'", 3),
    ("~ x", "no response", 0),
    ("y ~", "nothing after", 2),
    ("y ~ x ~ z", "only one '~'", 6),
    ("y ~ x + 1|g", "enclosed in parentheses", 9),
    ("y ~ x + (|g)", "nothing before the bar", 9),
    ("y ~ (1|)", "no grouping factor", 7),
    ("y ~ x +", "missing term", 6),
    ("y ~ x + (1|g", "never closed", 8),
    ("y ~ x)", "without '('", 5),
    ("y ~ x $ z", "unexpected character", 6),
    ("y ~ - (1|g)", "cannot subtract", 6),
    ("y ~ (1 | g + h)", "unexpected '+'", 11),
    ("y ~ (1 | g | h)", "only one '|'", 11),
    ("y ~ (1 | log(g))", "column name", 9),
    ("y ~ (0 | g)", "at least one column", 5),
    ("y ~ x + cbind(a, b)", "must stand alone", 8),
    ("cbind(a) ~ x", "takes 2 arguments", 0),
    ("y ~ offset(a, b)", "takes 1 argument", 4),
    ("y ~ `x", "unterminated backtick", 4),
    ("y ~ x + + z", "missing term", 8),
    ("y ~ (1 | g/)", "ends with an operator", 11),
    ("y ~ x - offset(o)", "cannot subtract", 8),
]


@pytest.mark.parametrize(("formula", "message", "position"), BAD_FORMULAS,
                         ids=[f for f, _, _ in BAD_FORMULAS])
def test_bad_formulas_point_at_the_culprit(formula: str, message: str,
                                           position: int | None) -> None:
    with pytest.raises(FormulaSyntaxError) as info:
        parse(formula)
    err = info.value
    assert isinstance(err, HiermixError)
    assert message in err.reason
    assert err.position == position
    assert err.formula == formula
    # the message shows the formula with a caret under the culprit
    if position is not None:
        assert "\n    " + " " * position + "^" in str(err)


def test_non_string_formula() -> None:
    with pytest.raises(FormulaSyntaxError):
        parse(42)  # type: ignore[arg-type]
