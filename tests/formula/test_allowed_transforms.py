"""Every allowed transform still fits, and fits exactly as the same column precomputed.

Each case fits ``y ~ <transform>`` and ``y ~ <precomputed column>`` on the same data with
``lmer`` (or ``glmer``) and compares the fits. The reference is hiermix's own fit on a column
computed with numpy here, so the two fits see the same numbers: beta, theta, sigma and the
log-likelihood must agree to a relative 1e-10 (the same arithmetic, up to the last bits of
the optimiser's path). ``poly`` builds an orthonormal basis whose column signs are a
convention, so its fitted values, theta and log-likelihood are compared, to 1e-6.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import hiermix as hm
from hiermix.errors import FormulaSyntaxError, ModelError, UnsafeFormulaError

RTOL = 1e-10  # identical columns: identical fits up to the last bits
RTOL_BASIS = 1e-6  # a different basis of the same column space (poly)


def logit(p: np.ndarray) -> np.ndarray:
    """A user's own transform (module level, so a model using it pickles)."""
    p = np.asarray(p, dtype=float)
    return np.log(p / (1.0 - p))


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(20261201)
    n, k = 120, 10
    g = np.repeat(np.arange(k), n // k)
    x = rng.uniform(1.0, 3.0, n)
    u = rng.uniform(-0.9, 0.9, n)
    f = np.tile(["a", "b", "c"], n // 3)
    t = rng.uniform(1.0, 4.0, n)
    b0 = rng.normal(0.0, 0.7, k)
    b1 = rng.normal(0.0, 0.3, k)
    y = (1.0 + 0.8 * x + 0.5 * u + (f == "b") * 0.4 + b0[g] + b1[g] * x
         + rng.normal(0.0, 0.5, n))
    size = rng.integers(5, 15, n)
    prob = 1.0 / (1.0 + np.exp(-(-0.5 + 0.6 * u + b0[g])))
    s = rng.binomial(size, prob)
    return pd.DataFrame({"y": y, "x": x, "u": u, "f": f, "k": (np.arange(n) % 3) + 1,
                         "t": t, "g": [f"g{j:02d}" for j in g], "s": s, "size": size,
                         "p": rng.uniform(0.05, 0.95, n), "my x": x, "my.x": x,
                         "ypos": np.exp(y / 4.0)})


DF = _data()

_NUMPY = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}
_ELEMENTWISE_X = ["log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs", "sin", "cos",
                  "tan", "sinh", "cosh", "tanh"]
_ELEMENTWISE_U = ["asin", "acos", "atan", "arcsin", "arccos", "arctan"]


def _sum_coded(f: pd.Series) -> pd.DataFrame:
    """R's contr.sum for levels a, b, c: a -> (1, 0), b -> (0, 1), c -> (-1, -1)."""
    return pd.DataFrame({"fs1": (f == "a") * 1.0 - (f == "c"),
                         "fs2": (f == "b") * 1.0 - (f == "c")})


def _orthonormal_poly(x: np.ndarray, degree: int) -> np.ndarray:
    """Orthonormal polynomial columns of x (R's ``poly``), up to the sign of each column."""
    v = np.vander(x, degree + 1, increasing=True)
    q, _ = np.linalg.qr(v)
    return q[:, 1:]


# (id, formula with the transform, formula on precomputed columns, columns to add)
CASES: list[tuple[str, str, str, dict[str, object]]] = [
    *[(fn, f"y ~ {fn}(x) + (1 | g)", "y ~ w + (1 | g)",
       {"w": getattr(np, fn)(DF.x)}) for fn in _ELEMENTWISE_X],
    *[(fn, f"y ~ {fn}(u) + (1 | g)", "y ~ w + (1 | g)",
       {"w": getattr(np, _NUMPY.get(fn, fn))(DF.u)}) for fn in _ELEMENTWISE_U],
    ("round", "y ~ round(x, 1) + (1 | g)", "y ~ w + (1 | g)", {"w": np.round(DF.x, 1)}),
    ("round digits", "y ~ round(x, digits=1) + (1 | g)", "y ~ w + (1 | g)",
     {"w": np.round(DF.x, 1)}),
    ("I power", "y ~ x + I(x^2) + (1 | g)", "y ~ x + w + (1 | g)", {"w": DF.x ** 2}),
    ("I product pi", "y ~ I(x * pi) + (1 | g)", "y ~ w + (1 | g)", {"w": DF.x * np.pi}),
    ("I comparison", "y ~ I(x > 2) + (1 | g)", "y ~ w + (1 | g)", {"w": DF.x > 2}),
    ("nested", "y ~ I(log(x) + sqrt(abs(u))) + (1 | g)", "y ~ w + (1 | g)",
     {"w": np.log(DF.x) + np.sqrt(np.abs(DF.u))}),
    ("backticks", "y ~ `my x` + (1 + `my x` | g)", "y ~ x + (1 + x | g)", {}),
    ("Q", "y ~ Q('my x') + (1 | g)", "y ~ x + (1 | g)", {}),
    ("Q in a bar", "y ~ x + (1 + Q('my x') | g)", "y ~ x + (1 + x | g)", {}),
    ("dotted name", "y ~ log(my.x) + (1 | g)", "y ~ w + (1 | g)", {"w": np.log(DF.x)}),
    ("dotted bare", "y ~ my.x + (my.x | g)", "y ~ x + (x | g)", {}),
    ("transform in a bar", "y ~ x + (1 + log(x) | g)", "y ~ x + (1 + w | g)",
     {"w": np.log(DF.x)}),
    ("C treatment", "y ~ C(f, 'Treatment') + (1 | g)", "y ~ f + (1 | g)", {}),
    ("C Treatment name", "y ~ C(f, Treatment) + (1 | g)", "y ~ f + (1 | g)", {}),
    ("C contr.treatment", "y ~ C(f, contr.treatment) + (1 | g)", "y ~ f + (1 | g)", {}),
    ("C sum", "y ~ C(f, 'sum') + (1 | g)", "y ~ fs1 + fs2 + (1 | g)", dict(_sum_coded(DF.f))),
    ("C contr.sum", "y ~ C(f, contr.sum) + (1 | g)", "y ~ fs1 + fs2 + (1 | g)",
     dict(_sum_coded(DF.f))),
    ("C reference", "y ~ C(f, Treatment('c')) + (1 | g)", "y ~ fc + (1 | g)",
     {"fc": pd.Categorical(DF.f, categories=["c", "a", "b"])}),
    ("C levels", "y ~ C(f, levels=['c', 'a', 'b']) + (1 | g)", "y ~ fc + (1 | g)",
     {"fc": pd.Categorical(DF.f, categories=["c", "a", "b"])}),
    ("factor", "y ~ factor(k) + (1 | g)", "y ~ ks + (1 | g)", {"ks": DF.k.astype(str)}),
    ("as.factor", "y ~ as.factor(k) + (1 | g)", "y ~ ks + (1 | g)", {"ks": DF.k.astype(str)}),
    ("scale", "y ~ scale(x) + (1 | g)", "y ~ w + (1 | g)",
     {"w": (DF.x - DF.x.mean()) / DF.x.std(ddof=1)}),
    ("center", "y ~ center(x) + (1 + center(x) | g)", "y ~ w + (1 + w | g)",
     {"w": DF.x - DF.x.mean()}),
    ("response log", "log(ypos) ~ x + (1 | g)", "w ~ x + (1 | g)", {"w": np.log(DF.ypos)}),
    ("response I", "I(y * 2 + 1) ~ x + (1 | g)", "w ~ x + (1 | g)", {"w": DF.y * 2 + 1}),
]


def _assert_same_fit(a: object, b: object, rtol: float) -> None:
    for attr in ("beta", "theta"):
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(a.sigma, b.sigma, rtol=rtol)  # type: ignore[attr-defined]
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=rtol)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("label", "with_transform", "precomputed", "extra"), CASES,
                         ids=[c[0] for c in CASES])
def test_transform_equals_precomputed_column(label: str, with_transform: str, precomputed: str,
                                             extra: dict[str, object]) -> None:
    df = DF.assign(**extra)
    a = hm.lmer(with_transform, df)
    b = hm.lmer(precomputed, df)
    _assert_same_fit(a, b, RTOL)


def test_poly_equals_an_orthonormal_basis() -> None:
    basis = _orthonormal_poly(DF.x.to_numpy(), 2)
    df = DF.assign(p1=basis[:, 0], p2=basis[:, 1])
    for formula in ("y ~ poly(x, 2) + (1 | g)", "y ~ poly(x, degree=2) + (1 | g)"):
        a = hm.lmer(formula, df)
        b = hm.lmer("y ~ p1 + p2 + (1 | g)", df)
        np.testing.assert_allclose(a.fitted, b.fitted, rtol=RTOL_BASIS)
        np.testing.assert_allclose(a.theta, b.theta, rtol=RTOL_BASIS)
        np.testing.assert_allclose(a.loglik, b.loglik, rtol=RTOL_BASIS)
    raw = hm.lmer("y ~ poly(x, 2, raw=True) + (1 | g)", df)
    ref = hm.lmer("y ~ x + w + (1 | g)", df.assign(w=df.x ** 2))
    _assert_same_fit(raw, ref, RTOL)


def test_offset_transform_equals_the_offset_argument() -> None:
    a = hm.lmer("y ~ x + offset(log(t)) + (1 | g)", DF)
    b = hm.lmer("y ~ x + (1 | g)", DF, offset=np.log(DF.t.to_numpy()))
    _assert_same_fit(a, b, RTOL)
    new = DF.head(6)
    np.testing.assert_allclose(a.predict(new), a.fitted[:6], rtol=RTOL)


def test_cbind_equals_precomputed_failures() -> None:
    a = hm.glmer("cbind(s, size - s) ~ u + (1 | g)", DF, family="binomial")
    b = hm.glmer("cbind(s, fails) ~ u + (1 | g)", DF.assign(fails=DF["size"] - DF.s),
                 family="binomial")
    np.testing.assert_allclose(a.beta, b.beta, rtol=RTOL)
    np.testing.assert_allclose(a.theta, b.theta, rtol=RTOL)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=RTOL)


def test_user_transforms_pass_through_glmer() -> None:
    a = hm.glmer("cbind(s, size - s) ~ logit(p) + (1 | g)", DF, family="binomial",
                 transforms={"logit": logit})
    b = hm.glmer("cbind(s, size - s) ~ w + (1 | g)", DF.assign(w=logit(DF.p)),
                 family="binomial")
    np.testing.assert_allclose(a.beta, b.beta, rtol=RTOL)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=RTOL)


def test_user_transforms_are_opt_in() -> None:
    with pytest.raises(UnsafeFormulaError, match="unknown function 'logit'"):
        hm.Model("y ~ logit(p) + (1 | g)", DF)
    a = hm.lmer("y ~ logit(p) + (1 | g)", DF, transforms={"logit": logit})
    b = hm.lmer("y ~ w + (1 | g)", DF.assign(w=logit(DF.p)))
    _assert_same_fit(a, b, RTOL)
    r = hm.lmer("logit(p) ~ x + (1 | g)", DF, transforms={"logit": logit})
    s = hm.lmer("w ~ x + (1 | g)", DF.assign(w=logit(DF.p)))
    _assert_same_fit(r, s, RTOL)
    # the fitted model remembers the transform for new data, and pickles with it
    np.testing.assert_allclose(a.predict(DF.head(5)), a.fitted[:5], rtol=RTOL)
    m = hm.Model("y ~ logit(p) + (1 | g)", DF, transforms={"logit": logit})
    assert pickle.loads(pickle.dumps(m.design.transforms)) == {"logit": logit}


@pytest.mark.parametrize(("transforms", "match"), [
    ({"log": np.log}, "already an allowed name"),
    ({"__import__": logit}, "not a plain function name"),
    ({"my.fun": logit}, "not a plain function name"),
    ({"f1": 3}, "must be a function"),
    (["logit"], "must be a dict"),
])
def test_bad_transforms_argument(transforms: object, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        hm.Model("y ~ x + (1 | g)", DF, transforms=transforms)  # type: ignore[arg-type]


def test_user_transform_takes_only_positional_expressions() -> None:
    with pytest.raises(UnsafeFormulaError, match="by position"):
        hm.Model("y ~ logit(p=p) + (1 | g)", DF, transforms={"logit": logit})
    with pytest.raises(FormulaSyntaxError):
        hm.Model("y ~ logit(p).real + (1 | g)", DF, transforms={"logit": logit})
    with pytest.raises(UnsafeFormulaError, match="attribute"):
        hm.Model("y ~ I(logit(p).real) + (1 | g)", DF, transforms={"logit": logit})
