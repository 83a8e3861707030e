"""theta <-> Lambda <-> (SDs, correlations): lme4's order and exact round trips."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hiermix import covariance as cv
from hiermix.naming import corr_pairs


def test_lme4_order_q2() -> None:
    # lme4 sleepstudy REML: theta = (0.9667, 0.01517, 0.2309) -> Lambda = [[t0, 0], [t1, t2]]
    lam = cv.lambda_from_theta(np.array([0.9667, 0.01517, 0.2309]), 2)
    np.testing.assert_allclose(lam, [[0.9667, 0.0], [0.01517, 0.2309]])
    np.testing.assert_array_equal(cv.lower_bounds(3), [0, -np.inf, -np.inf, 0, -np.inf, 0])
    np.testing.assert_array_equal(cv.initial_theta(2), [1.0, 0.0, 1.0])


def test_sleepstudy_varcorr_from_lme4_theta() -> None:
    # Source: tests/reference/lme4/sleepstudy_reml.json; tolerance 1e-9 relative
    theta = np.array([0.966741773967412, 0.0151690588960361, 0.230909953207795])
    sd, corr = cv.sd_corr_from_theta(theta, 2, scale=25.5917957216753)
    np.testing.assert_allclose(sd, [24.7406579949841, 5.92213765889808], rtol=1e-9)
    np.testing.assert_allclose(corr[0, 1], 9.60440895115776 / (24.7406579949841 *
                                                               5.92213765889808), rtol=1e-9)


@settings(max_examples=50, deadline=None)
@given(q=st.integers(1, 4), seed=st.integers(0, 10_000), scale=st.floats(0.1, 10))
def test_round_trip(q: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=cv.theta_size(q))
    theta[cv.diagonal_mask(q)] = np.abs(theta[cv.diagonal_mask(q)]) + 0.1
    sd, corr = cv.sd_corr_from_theta(theta, q, scale)
    back = cv.theta_from_sd_corr(sd, corr, scale)
    np.testing.assert_allclose(back, theta, rtol=1e-8, atol=1e-10)


def test_singular_covariance_round_trip() -> None:
    # zero SD and perfect correlation: a plain Cholesky would fail
    assert np.allclose(cv.theta_from_sd_corr(np.array([0.0])), [0.0])
    theta = cv.theta_from_sd_corr(np.array([2.0, 1.0]), np.array([[1, 1.0], [1.0, 1]]))
    np.testing.assert_allclose(theta, [2.0, 1.0, 0.0])


def test_corr_pairs_order() -> None:
    assert corr_pairs(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]
