"""Property: whatever the formula text, hiermix raises only HiermixError, and runs nothing.

Formulas are generated as token soups (formula operators, names, calls, Python syntax that
could escape), nested calls of allowed and forbidden functions, random identifiers and
arbitrary strings. Each is bound to a small data set with ``Model`` and, when that works,
encoded again on new data as ``predict`` does; any exception other than a
:class:`HiermixError` fails, and so does the marker file appearing.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hiermix as hm
from hiermix.errors import HiermixError

_DIR = Path(tempfile.mkdtemp(prefix="hiermix-property-"))
MARKER = _DIR / "marker"

_rng = np.random.default_rng(7)
_N = 24
DATA = pd.DataFrame({
    "y": _rng.normal(size=_N),
    "x": _rng.uniform(-1.0, 2.0, _N),
    "z": _rng.uniform(0.5, 2.0, _N),
    "n": _rng.integers(1, 6, _N).astype(float),
    "f": np.tile(["a", "b", "c"], _N // 3),
    "g": np.repeat(["g1", "g2", "g3", "g4"], _N // 4),
    "my x": _rng.normal(size=_N),
})

_MARK = str(MARKER)
TOKENS = [
    "y", "x", "z", "n", "f", "g", "`my x`", "my.x", "pi", "1", "0", "2", "-1", "0.5", "1e3",
    "~", "+", "-", "*", "/", ":", "^", "**", "|", "||", "%in%", "(", ")", ",", "=", ".",
    "log", "exp", "sqrt", "I", "C", "Q", "poly", "scale", "center", "offset", "cbind",
    "factor", "as.factor", "round", "sin", "abs", "Treatment", "'sum'", "levels", "degree",
    "__import__", "'os'", "os", "system", f"'touch {_MARK}'", "open", f"'{_MARK}'", "'w'",
    "eval", "exec", "lambda", ":=", "[", "]", "{", "}", "np", "savetxt", "__class__",
    "__subclasses__", "__builtins__", "getattr", "*", "**", "'", '"', "`", "\\", "#", ";",
    "\n", " ", "if", "else", "for", "in", "not", "and", "or", "True", "None", "lag", "bs",
]

_token_soup = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map(" ".join)

_identifier = st.from_regex(r"[A-Za-z_.][A-Za-z0-9_.]{0,8}", fullmatch=True)
_function = st.one_of(
    st.sampled_from(["log", "exp", "sqrt", "I", "C", "poly", "scale", "factor", "Q", "round",
                     "offset", "cbind", "open", "eval", "__import__", "getattr", "np.log",
                     "os.system", "lag"]),
    _identifier,
)
_leaf = st.one_of(
    st.sampled_from(["x", "z", "y", "n", "f", "`my x`", "pi", "2", "'w'", f"'{_MARK}'"]),
    _identifier,
    st.text(max_size=6).map(repr),
)
_expression = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.tuples(_function, st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^", "**", ":", "|", "."]),
                  inner).map(" ".join),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=8,
)
_structured = st.one_of(
    st.tuples(_expression, _expression).map(lambda t: f"{t[0]} ~ {t[1]}"),
    st.tuples(_expression, _expression, _expression).map(
        lambda t: f"y ~ {t[0]} + ({t[1]} | g) + offset({t[2]})"),
    st.tuples(_expression).map(lambda t: f"y ~ x + ({t[0]} | g)"),
)
_formulas = st.one_of(_token_soup, _structured, st.text(max_size=40))


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(formula=_formulas)
def test_only_hiermix_errors_and_nothing_runs(formula: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = hm.Model(formula, DATA)
            # and again on new data, as predict() does
            model.design.encode_new(DATA.iloc[::-1].head(6), allow_new_levels=True)
        except HiermixError:
            pass
    assert not MARKER.exists(), f"{formula!r} ran code"
