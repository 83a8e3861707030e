"""The analytic gradient of the profiled criterion (scalar terms) and the L-BFGS-B path.

Sources: central finite differences of the criterion itself (step 1e-6, agreement 1e-5
relative), and lme4 1.1-31's fits (tests/reference/lme4) for the optimiser that uses it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catalogue import lme4_reference, model_args

import hiermix
from hiermix.errors import ModelError
from hiermix.frequentist.lmm import LmmObjective

SCALAR_IDS = ("dyestuff", "dyestuff2_singular", "penicillin_crossed", "pastes_nested",
              "seed_normal_intercept", "sleepstudy_intercept")


def _fd(obj: LmmObjective, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array([(obj(theta + h * e) - obj(theta - h * e)) / (2 * h)
                     for e in np.eye(theta.size)])


@pytest.mark.parametrize("REML", [True, False])
@pytest.mark.parametrize("ref_id", ["penicillin_crossed", "pastes_nested", "dyestuff"])
def test_gradient_matches_finite_differences(ref_id: str, REML: bool) -> None:
    args = model_args(ref_id)
    design = hiermix.Model(args["formula"], args["data"]).design
    obj = LmmObjective(design, REML)
    theta = np.linspace(0.4, 1.3, obj.start.size)
    _, grad = obj.value_and_gradient(theta)
    np.testing.assert_allclose(grad, _fd(obj, theta), rtol=1e-5, atol=1e-6)


def test_gradient_with_weights_and_three_terms() -> None:
    """Prior weights and three crossed scalar terms (the kernel path for A_Z0 W A_Z0')."""
    rng = np.random.default_rng(5)
    n = 4000
    df = pd.DataFrame({"a": rng.integers(0, 400, n).astype(str),
                       "b": rng.integers(0, 150, n).astype(str),
                       "c": rng.integers(0, 9, n).astype(str), "x": rng.standard_normal(n)})
    df["y"] = df["x"] + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    design = hiermix.Model("y ~ x + (1 | a) + (1 | b) + (1 | c)", df, weights=w).design
    for REML in (True, False):
        obj = LmmObjective(design, REML)
        theta = np.array([0.6, 0.9, 0.3])
        _, grad = obj.value_and_gradient(theta)
        np.testing.assert_allclose(grad, _fd(obj, theta), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ref_id", SCALAR_IDS)
def test_lbfgsb_matches_lme4(ref_id: str) -> None:
    """With optimizer='lbfgsb' the objective is within 1e-6 relative of lme4's (lower
    allowed) and theta within 1e-3 relative + 1e-4 absolute (lme4 JSON)."""
    ref = lme4_reference(ref_id)
    fit = hiermix.Model(**model_args(ref_id)).fit(REML=ref["REML"], optimizer="lbfgsb")
    assert fit.objective <= ref["objective"] * (1 + 1e-6)
    np.testing.assert_allclose(fit.theta, np.atleast_1d(np.array(ref["theta"], dtype=float)),
                               rtol=1e-3, atol=1e-4)
    assert fit.is_singular == ref["singular"]
    assert fit.optsummary.optimizer.startswith("scipy L-BFGS-B")


def test_lbfgsb_needs_scalar_terms() -> None:
    args = model_args("sleepstudy_reml")
    with pytest.raises(ModelError, match="one column"):
        hiermix.Model(args["formula"], args["data"]).fit(optimizer="lbfgsb")
    with pytest.raises(ModelError, match="unknown optimizer"):
        hiermix.Model(args["formula"], args["data"]).fit(optimizer="newton")
