"""The closed-form one-term marginal density (hiermix/bayes/marginal_small.py).

Reference: :class:`hiermix.pls.density.MarginalDensity` (the blocked factorisation, itself
checked against dense linear algebra in tests/pls/test_density.py and against the joint model
integrated numerically in tests/bayes/test_marginal.py): value and gradient in beta and sigma
equal to 1e-9 relative, with prior weights and an offset, for q = 1 and q = 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest

import hiermix
from hiermix.bayes.marginal_small import (
    applies,
    build_fed_model,
    fed_values,
    marginal_loglik,
    statistics,
    structure_key,
)
from hiermix.bayes.priors import resolve_priors
from hiermix.pls.density import MarginalDensity
from hiermix.pls.gram import build_gram


def _design(formula: str, seed: int = 7) -> hiermix.design.Design:
    rng = np.random.default_rng(seed)
    n = 30
    df = pd.DataFrame({"x": rng.normal(size=n), "g": pd.Categorical(np.arange(n) % 5),
                       "w": rng.uniform(0.5, 2.0, n), "off": rng.normal(0, 0.1, n)})
    df["y"] = 1.0 + df["x"] + rng.normal(size=n)
    return hiermix.Model(f"{formula} + offset(off)", df, weights="w").design


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + (x | g)"])
def test_density_and_gradient_equal_the_blocked_factorisation(formula: str) -> None:
    d = _design(formula)
    t = d.reterms[0]
    beta, L, sigma = pt.dvector("beta"), pt.dmatrix("L"), pt.dscalar("sigma")
    lp = marginal_loglik(statistics(d), beta, L, sigma, t.nlevels, t.q)
    fn = pytensor.function([beta, L, sigma], [lp, *pt.grad(lp, [beta, sigma])],
                           mode="FAST_COMPILE")
    ref = MarginalDensity(build_gram(d))
    rng = np.random.default_rng(1)
    for _ in range(3):
        b = rng.normal(1.0, 0.5, d.p)
        Lv = np.tril(rng.normal(0, 0.5, (t.q, t.q)))
        Lv[np.diag_indices(t.q)] = np.abs(np.diag(Lv)) + 0.3
        s = float(rng.uniform(0.5, 1.5))
        val, g_beta, g_sigma = fn(b, Lv, s)
        r_val, r_beta, _, r_sigma = ref.logp_and_grad(b, [Lv], s)
        np.testing.assert_allclose(val, r_val, rtol=1e-9)
        np.testing.assert_allclose(g_beta, r_beta, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(g_sigma, r_sigma, rtol=1e-9)


def test_applies_to_one_term_of_q_at_most_two_only() -> None:
    assert applies(_design("y ~ x + (x | g)"))
    assert not applies(_design("y ~ x + (1 | g) + (0 + x | g)"))
    df = pd.DataFrame({"y": np.arange(8) % 2, "g": list("aabbccdd")})
    assert not applies(hiermix.Model("y ~ 1 + (1 | g)", df, family="binomial").design)


def test_fed_model_reads_the_new_responses_data() -> None:
    """The fed model's shared data are this design's statistics and priors; a flat intercept
    starts at the prior location (a shared value too); the key ignores the response."""
    d1 = _design("y ~ x + (1 | g)")
    y2 = np.asarray(d1.y) * 3.0 + 2.0
    d2 = d1.with_response(y2)
    p1 = resolve_priors(d1, {"preset": "flat"})
    p2 = resolve_priors(d2, {"preset": "flat"})
    assert structure_key(d1, p1) == structure_key(d2, p2)
    d3 = _design("y ~ x + (1 | g)", seed=8)  # other x: other centring constants
    assert structure_key(d3, resolve_priors(d3, {"preset": "flat"})) != structure_key(d1, p1)
    built = build_fed_model(d1, p1)
    for name, val in fed_values(d2, p2).items():
        built.model[name].set_value(val)
    np.testing.assert_allclose(built.model["stat_yy"].get_value(),
                               statistics(d2)["yy"], rtol=1e-15)
    start = built.model.initial_point()
    assert start["intercept_c"] == pytest.approx(p2.location, rel=1e-12)
