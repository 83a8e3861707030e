"""lme4's post-fit checks (checkConv): singular flag, gradient and Hessian messages.

Expected messages and tolerances are lme4 1.1-31's (``lmerControl``: check.conv.grad tol 2e-3,
check.conv.hess tol 1e-6, isSingular tol 1e-4).
"""

from __future__ import annotations

import numpy as np
import pytest

from hiermix.frequentist.checks import (
    Derivatives,
    convergence_messages,
    deriv12,
    is_singular,
)


def test_is_singular_uses_lower_bounds() -> None:
    lower = np.array([0.0, -np.inf, 0.0])
    assert is_singular(np.array([0.5, 0.0, 5e-5]), lower)
    assert not is_singular(np.array([0.5, -3.0, 2e-4]), lower)


def test_deriv12_on_a_quadratic() -> None:
    """Central differences are exact for a quadratic (to rounding, 1e-6)."""
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    x = np.array([0.3, -0.2])
    d = deriv12(lambda v: float(v @ A @ v), x, float(x @ A @ x))
    np.testing.assert_allclose(d.gradient, 2 * A @ x, atol=1e-6)
    np.testing.assert_allclose(d.hessian, 2 * A, atol=1e-4)


def test_gradient_message() -> None:
    d = Derivatives(gradient=np.array([1e-5, 0.5]), hessian=np.eye(2))
    msgs = convergence_messages(d, np.array([True, True]))
    assert msgs == ["Model failed to converge with max|grad| = 0.5 (tol = 0.002, component 2)"]
    assert convergence_messages(d, np.array([True, False])) == []


def test_hessian_messages() -> None:
    d = Derivatives(gradient=np.zeros(2), hessian=np.diag([1.0, -1.0]))
    msgs = convergence_messages(d, np.array([True, True]))
    assert "unable to evaluate scaled gradient" in msgs
    assert any("degenerate Hessian with 1 negative eigenvalues" in m for m in msgs)
    d = Derivatives(gradient=np.zeros(2), hessian=np.diag([1.0, 1e-9]))
    msgs = convergence_messages(d, np.array([True, True]))
    assert any("nearly unidentifiable" in m for m in msgs)


@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_clean_optimum_has_no_messages(scale: float) -> None:
    d = Derivatives(gradient=np.array([1e-6, -1e-6]) * scale, hessian=np.diag([3.0, 2.0]))
    assert convergence_messages(d, np.array([True, True])) == []
