"""A formula is data, never code: a corpus of escapes, each refused before anything runs.

Every escape would create a marker file if any part of it were evaluated. Each is tried
through the API at build (``Model``), fit (``lmer``/``glmer``), predict and simulate, and
through the command line; each must raise a :class:`HiermixError` (exit code 2 for the CLI)
*and* leave no marker behind.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiermix as hm
from hiermix.cli import main as cli_main
from hiermix.design.matrices import ColumnEncoding
from hiermix.errors import (
    FormulaSyntaxError,
    HiermixError,
    TransformDomainError,
    UnsafeFormulaError,
)
from hiermix.spec import ModelSpec, RandomTermSpec, ResponseSpec

MARK = "MARKER"  # replaced by the marker file's path in each test

#: Python that creates the marker when evaluated, in every way the issue lists and more.
PAYLOADS: dict[str, str] = {
    "import": "__import__('os').system('touch MARKER')",
    "eval": "eval(\"__import__('os').system('touch MARKER')\")",
    "exec": "exec(\"open('MARKER', 'w')\")",
    "open": "open('MARKER', 'w')",
    "lambda": "(lambda: __import__('os').system('touch MARKER'))()",
    "subclasses": "[c for c in ().__class__.__base__.__subclasses__() "
                  "if c.__name__ == 'Popen'][0](['touch', 'MARKER'])",
    "savetxt": "np.savetxt('MARKER', x)",
    "dotted": "os.system('touch MARKER')",
    "getattr": "getattr(__import__('os'), 'system')('touch MARKER')",
    "walrus": "(f := open)('MARKER', 'w')",
    "builtins": "__builtins__['open']('MARKER', 'w')",
    "star": "log(*[open('MARKER', 'w')])",
    "kwargs": "log(**{'x': open('MARKER', 'w')})",
    "fstring": "f\"{open('MARKER', 'w')}\"",
    "compile": "compile('open(1)', 'MARKER', 'exec')",
}

#: Where a payload can sit in a formula; {p} is the payload.
PLACES: dict[str, str] = {
    "I() in the fixed part": "y ~ x + I({p}) + (1 | g)",
    "bare call in the fixed part": "y ~ x + {p} + (1 | g)",
    "inside a bar": "y ~ x + (1 + I({p}) | g)",
    "response": "I({p}) ~ x + (1 | g)",
    "offset": "y ~ x + offset({p}) + (1 | g)",
    "C(f, <expr>)": "y ~ C(f, {p}) + (1 | g)",
    "C(f, levels=<expr>)": "y ~ C(f, levels={p}) + (1 | g)",
    "poly(x, degree=<expr>)": "y ~ poly(x, degree={p}) + (1 | g)",
    "scale(x, center=<expr>)": "y ~ scale(x, center={p}) + (1 | g)",
    "Q(<expr>)": "y ~ Q({p}) + (1 | g)",
    "log(<expr>)": "y ~ log({p}) + (1 | g)",
}

#: Escapes that do not fit the payload x place grid.
OTHERS: dict[str, str] = {
    "formulaic python block": "y ~ x + {__import__('os').system('touch MARKER')} + (1 | g)",
    "python block in a bar": "y ~ x + ({__import__('os').system('touch MARKER')} | g)",
    "python block in a call": "y ~ x + I({__import__('os').system('touch MARKER')}) + (1 | g)",
    "cbind": "cbind(I(__import__('os').system('touch MARKER')), x) ~ x + (1 | g)",
    "subscript": "y ~ I(x[open('MARKER', 'w')]) + (1 | g)",
    "call a call": "y ~ log(x)(open('MARKER', 'w')) + (1 | g)",
    "dunder name": "y ~ __import__ + (1 | g)",
    "backticked dunder": "y ~ `__builtins__` + (1 | g)",
    "contrast call": "y ~ C(f, Treatment(open('MARKER', 'w'))) + (1 | g)",
    "contr attribute": "y ~ C(f, contr.__class__) + (1 | g)",
    "formulaic transform": "y ~ lag(x, open('MARKER', 'w')) + (1 | g)",
    "huge power": "y ~ I(9 ** 9 ** 9 ** 9) + (1 | g)",
    "backslash in backticks": "y ~ `x\\` + {open('MARKER', 'w')} + `y` + (1 | g)",
}


def _corpus() -> list[tuple[str, str]]:
    out = [(f"{name} / {place}", template.replace("{p}", payload))
           for name, payload in PAYLOADS.items() for place, template in PLACES.items()]
    out += list(OTHERS.items())
    return out


CORPUS = _corpus()


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(20261201)
    n = 48
    g = np.repeat(np.arange(8), 6)
    x = rng.uniform(1.0, 3.0, n)
    return pd.DataFrame({
        "y": 1.0 + 0.5 * x + rng.normal(0, 0.5, 8)[g] + rng.normal(0, 0.3, n),
        "x": x,
        "t": rng.uniform(1.0, 2.0, n),
        "f": np.tile(["a", "b", "c"], n // 3),
        "s": rng.integers(0, 5, n),
        "g": [f"g{k}" for k in g],
    })


def _marked(formula: str, marker: Path) -> str:
    return formula.replace(MARK, str(marker))


@pytest.mark.parametrize(("label", "formula"), CORPUS, ids=[c[0] for c in CORPUS])
def test_escape_refused_at_build_and_fit(label: str, formula: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    text = _marked(formula, marker)
    df = _data()
    for attempt in (lambda: hm.Model(text, df),
                    lambda: hm.lmer(text, df),
                    lambda: hm.glmer(text, df, family="poisson"),
                    lambda: hm.lmer(text, df).simulate(2)):
        with pytest.raises(HiermixError):
            attempt()
        assert not marker.exists(), f"{label}: the formula ran code"


@pytest.mark.parametrize(("label", "formula"), CORPUS, ids=[c[0] for c in CORPUS])
def test_escape_refused_with_a_caret(label: str, formula: str, tmp_path: Path) -> None:
    text = _marked(formula, tmp_path / "marker")
    with pytest.raises(FormulaSyntaxError) as info:
        hm.parse(text)
    err = info.value
    assert err.formula == text
    if isinstance(err, UnsafeFormulaError):
        assert "allowed:" in str(err)
        assert err.position is not None and 0 <= err.position < len(text)
    assert not (tmp_path / "marker").exists()


def _evil_specs(marker: Path) -> list[ModelSpec]:
    """Hand-built specs (no parser) holding payloads in every field a design evaluates."""
    out = []
    for payload in ("__import__('os').system('touch MARKER')", "open('MARKER', 'w')",
                    "np.savetxt('MARKER', x)"):
        p = _marked(payload, marker)
        out += [
            ModelSpec(ResponseSpec(f"I({p})"), "1 + x", (RandomTermSpec("1", ("g",)),)),
            ModelSpec(ResponseSpec("s", f"I({p})"), "1 + x", (RandomTermSpec("1", ("g",)),)),
            ModelSpec(ResponseSpec("y"), f"1 + I({p})", (RandomTermSpec("1", ("g",)),)),
            ModelSpec(ResponseSpec("y"), "1 + {" + p + "}", (RandomTermSpec("1", ("g",)),)),
            ModelSpec(ResponseSpec("y"), "1 + x", (RandomTermSpec(f"1 + I({p})", ("g",)),)),
            ModelSpec(ResponseSpec("y"), "1 + x", (RandomTermSpec("1", ("g",)),),
                      offsets=(p,)),
        ]
    return out


def test_hand_built_specs_are_checked_too(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    df = _data()
    for spec in _evil_specs(marker):
        with pytest.raises(HiermixError):
            hm.Model(spec, df)
        assert not marker.exists(), str(spec)


def test_escape_refused_at_predict_and_simulate(tmp_path: Path) -> None:
    """A fitted model's expressions are checked again when they meet new data: a design
    tampered with after fitting (or unpickled from a stranger) runs nothing."""
    marker = tmp_path / "marker"
    df = _data()
    fit = hm.lmer("y ~ x + offset(log(t)) + (1 | g)", df)
    new = df.head(5)
    assert np.isfinite(fit.predict(new)).all()  # the honest model predicts
    payload = f"__import__('os').system('touch {marker}')"
    d = fit.design
    tampered = [
        dataclasses.replace(d, spec=dataclasses.replace(d.spec, offsets=(payload,))),
        dataclasses.replace(d, fixed_encoding=ColumnEncoding(
            f"1 + I({payload})", d.fixed_encoding.model_spec, d.fixed_encoding.names,
            d.fixed_encoding.keep)),
        dataclasses.replace(d, reterms=tuple(
            dataclasses.replace(t, encoding=ColumnEncoding(
                f"0 + I({payload})", None, t.encoding.names, t.encoding.keep))
            for t in d.reterms)),
    ]
    for design in tampered:
        bad = dataclasses.replace(fit, design=design)
        with pytest.raises(HiermixError):
            bad.predict(new)
        with pytest.raises(HiermixError):
            design.encode_new(new)
        bad.simulate(1)  # simulation reuses the fitted matrices: nothing is evaluated
        assert not marker.exists()


def test_tampered_formulaic_spec_is_checked(tmp_path: Path) -> None:
    """Even the formulaic spec stored in an encoding is walked before it is evaluated."""
    from formulaic import model_matrix

    marker = tmp_path / "marker"
    df = _data()
    fit = hm.lmer("y ~ log(x) + (1 | g)", df)
    evil = model_matrix(f"1 + I(x) + I(0 * len(open('{marker}', 'w').name))",
                        df.assign(x=1.0).head(3)).model_spec
    enc = fit.design.fixed_encoding
    bad = dataclasses.replace(fit, design=dataclasses.replace(
        fit.design, fixed_encoding=ColumnEncoding(enc.formula, evil, enc.names, enc.keep)))
    marker.unlink()  # building `evil` above ran formulaic directly, outside hiermix
    with pytest.raises(UnsafeFormulaError):
        bad.predict(df.head(3))
    assert not marker.exists()
    # formulaic reads its factors as plain Python: there a dotted name is attribute access
    dotted = model_matrix("1 + I(x.values)", df).model_spec
    bad = dataclasses.replace(fit, design=dataclasses.replace(
        fit.design, fixed_encoding=ColumnEncoding(enc.formula, dotted, enc.names, enc.keep)))
    with pytest.raises(UnsafeFormulaError, match="attribute access"):
        bad.predict(df.head(3))


def test_only_allowed_names_resolve_in_formulaic() -> None:
    """Defence in depth: formulaic evaluates in a context where every builtin and every
    formulaic transform outside the allow-list resolves to a refusal, never to the caller's
    frame or to Python's builtins."""
    import builtins

    from formulaic.transforms import TRANSFORMS

    from hiermix.formula import allowlist
    from hiermix.formula.transforms import Refused, formula_context

    allowed = {*allowlist.TRANSFORMS, *allowlist.CONTRASTS, *allowlist.CONSTANTS} - {
        "offset", "cbind"}
    ctx = formula_context()
    for name in [*dir(builtins), *TRANSFORMS]:
        assert name in allowed or isinstance(ctx[name], Refused), name
    with pytest.raises(UnsafeFormulaError):
        ctx["open"]("x", "w")
    assert "np" in ctx and isinstance(ctx["np"], Refused)


def test_log_of_negative_values_gives_no_numpy_warning() -> None:
    import warnings

    df = _data().assign(z=lambda d: d.x - 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(TransformDomainError):
            hm.Model("y ~ log(z) + (1 | g)", df)
        with pytest.raises(TransformDomainError):
            hm.Model("log(z) ~ x + (1 | g)", df)


@pytest.mark.parametrize(("label", "formula"), CORPUS[::7] + list(OTHERS.items())[:4],
                         ids=[c[0] for c in CORPUS[::7] + list(OTHERS.items())[:4]])
def test_escape_refused_by_the_cli(label: str, formula: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "marker"
    data = tmp_path / "d.csv"
    _data().to_csv(data, index=False)
    out = tmp_path / "report"
    rc = cli_main(["compare", _marked(formula, marker), "--data", str(data), "--out", str(out),
                   "--draws", "5", "--tune", "5", "--chains", "1"])
    assert rc == 2
    assert "hiermix: error:" in capsys.readouterr().err
    assert not marker.exists()
    assert not out.exists()


def test_cli_accepts_no_user_functions(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    _data().to_csv(data, index=False)
    rc = cli_main(["compare", "y ~ logit(x) + (1 | g)", "--data", str(data),
                   "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "unknown function 'logit'" in capsys.readouterr().err


# ---- realistic mistakes (issue 10, part 4) ------------------------------------------------

@pytest.mark.parametrize(("formula", "culprit"), [
    ("sqrtt(y) ~ x + (1 | g)", "sqrtt"),
    ("y ~ x + offset(logg(t)) + (1 | g)", "logg"),
    ("y ~ sqrtt(x) + (1 | g)", "sqrtt"),
    ("y ~ x + (1 + sqrtt(x) | g)", "sqrtt"),
    ("cbind(s, nn(s)) ~ x + (1 | g)", "nn"),
])
def test_unknown_function_is_named(formula: str, culprit: str) -> None:
    with pytest.raises(UnsafeFormulaError) as info:
        hm.Model(formula, _data())
    assert f"unknown function {culprit!r}" in str(info.value)
    assert info.value.position == info.value.formula.index(culprit)


@pytest.mark.parametrize(("formula", "fn", "where"), [
    ("y ~ log(z) + (1 | g)", "log", "'z'"),
    ("y ~ x + (1 + log(z) | g)", "log", "'z'"),
    ("log(z) ~ x + (1 | g)", "log", "'z'"),
    ("y ~ x + offset(log(z)) + (1 | g)", "log", "'z'"),
    ("y ~ sqrt(z) + (1 | g)", "sqrt", "'z'"),
    ("y ~ I(log(z) + 1) + (1 | g)", "log", "'z'"),
    ("y ~ log1p(z - 5) + (1 | g)", "log1p", "'z"),
])
def test_log_of_negative_values_names_the_column(formula: str, fn: str, where: str) -> None:
    df = _data().assign(z=lambda d: d.x - 2.0)  # about half negative
    with pytest.raises(TransformDomainError) as info:
        hm.Model(formula, df)
    msg = str(info.value)
    assert f"{fn}()" in msg and where in msg


def test_log_of_negative_new_data_names_the_column() -> None:
    df = _data()
    fit = hm.lmer("y ~ log(x) + (1 | g)", df)
    with pytest.raises(TransformDomainError, match=r"log\(\).*'x'"):
        fit.predict(df.head(4).assign(x=[1.0, -1.0, 2.0, 0.0]))


@pytest.mark.parametrize("formula", ["y ~ x + offset(f) + (1 | g)",
                                     "y ~ x + offset(log(f)) + (1 | g)",
                                     "y ~ log(f) + (1 | g)", "f ~ x + (1 | g)",
                                     "cbind(f, s) ~ x + (1 | g)"])
def test_text_where_numbers_are_needed(formula: str) -> None:
    with pytest.raises(HiermixError, match=r"'f'|offset\(f\)"):
        hm.Model(formula, _data(), family="binomial" if "cbind" in formula else "gaussian")


@pytest.mark.parametrize("formula", [None, 3, b"y ~ x + (1 | g)", ["y ~ x"], 2.5])
def test_a_formula_must_be_a_string(formula: object) -> None:
    df = _data()
    for call in (lambda: hm.Model(formula, df), lambda: hm.lmer(formula, df),  # type: ignore[arg-type]
                 lambda: hm.glmer(formula, df, family="poisson")):  # type: ignore[arg-type]
        with pytest.raises(FormulaSyntaxError, match="a formula must be a string"):
            call()


@pytest.mark.parametrize("formula", [
    "y ~ " + "(" * 3000 + "x" + ")" * 3000 + " + (1 | g)",
    "y ~ x + " + "(" * 3000 + "1 | g" + ")" * 3000,
    "y ~ I(" + "(" * 3000 + "x" + ")" * 3000 + ") + (1 | g)",
    "(" * 3000 + "y" + ")" * 3000 + " ~ x + (1 | g)",
    "y ~ I(" + "-" * 3000 + "x) + (1 | g)",
    "y ~ I(" + "log(" * 3000 + "x" + ")" * 3000 + ") + (1 | g)",
    "y ~ I(x" + " + x" * 3000 + ") + (1 | g)",
    "y ~ x" + " + x" * 3000 + " + (1 | g)",
])
def test_deep_nesting_is_parsed_or_refused(formula: str) -> None:
    try:
        hm.Model(formula, _data())
    except FormulaSyntaxError:
        pass
