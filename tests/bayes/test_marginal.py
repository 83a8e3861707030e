"""The integrated-out gaussian model (hiermix/bayes/marginal.py).

References, computed here without the code under test:
* the joint model of :func:`hiermix.bayes.build.build_model` (b sampled, centred), its log
  density integrated over b numerically with scipy's adaptive quadrature, level by level (the
  levels of a one-term model are independent given the parameters): equal to the marginal
  model's log density at the same point, priors and Jacobians included, to 1e-8 absolute;
* the Op's value and gradient against :class:`hiermix.pls.density.MarginalDensity` itself
  (checked against dense linear algebra in tests/pls/test_density.py), to 1e-12 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate

import hiermix
from hiermix.bayes.build import build_model as build_joint
from hiermix.bayes.marginal import build_model, can_marginalize, marginal_loglik, marginal_reason
from hiermix.errors import ModelError
from hiermix.pls.density import MarginalDensity
from hiermix.pls.gram import build_gram

from .points import FAST, model_for


def _small(formula: str = "y ~ x + (1 | g)") -> hiermix.design.Design:
    rng = np.random.default_rng(7)
    n = 12
    df = pd.DataFrame({"x": rng.normal(size=n), "g": pd.Categorical(np.arange(n) % 3),
                       "w": rng.uniform(0.5, 2.0, n), "off": rng.normal(0, 0.1, n)})
    df["y"] = 1.0 + df["x"] + rng.normal(size=n)
    return hiermix.Model(f"{formula} + offset(off)", df, weights="w").design


def test_marginal_logp_equals_joint_integrated_numerically() -> None:
    d = _small()
    joint = build_joint(d, centered=True).model
    marg = build_model(d).model
    point = {"intercept_c": np.array(0.9), "beta_slope": np.array([1.1]),
             "sd_g_log__": np.log(np.array([0.7])), "sigma_log__": np.array(np.log(0.8))}
    lp_marg = float(marg.compile_logp(jacobian=True)(point))
    f_joint = joint.compile_logp(jacobian=True)
    J = d.reterms[0].nlevels

    def f(j: int, bj: float) -> float:
        b = np.zeros((J, 1))
        b[j, 0] = bj
        return float(f_joint({**point, "b_g": b}))

    f0 = f(0, 0.0)
    total = -(J - 1) * f0
    for j in range(J):
        val, err = integrate.quad(lambda x, j=j: np.exp(f(j, x) - f0), -np.inf, np.inf,
                                  epsabs=0.0, epsrel=1e-13, limit=200)
        assert err < 1e-11 * val
        total += f0 + np.log(val)
    np.testing.assert_allclose(lp_marg, total, rtol=0, atol=1e-8)


@pytest.mark.parametrize("formula", ["y ~ x + (x | g)", "y ~ x + (1 | g) + (x | h)"])
def test_op_value_and_gradient_are_the_density(formula: str) -> None:
    d = model_for("gaussian", "identity", variant="weights").design if "h" in formula \
        else _small(formula)
    beta = pt.dvector("beta")
    sigma = pt.dscalar("sigma")
    Ls = [pt.dmatrix(f"L{k}") for k in range(len(d.reterms))]
    lp = marginal_loglik(d, beta, Ls, sigma)
    fn = pytensor.function([beta, sigma, *Ls], [lp, *pytensor.grad(lp, [beta, sigma, *Ls])],
                           mode=FAST)
    rng = np.random.default_rng(1)
    b0 = rng.normal(size=d.p)
    L0 = [np.tril(rng.uniform(0.2, 1.0, (t.q, t.q))) for t in d.reterms]
    got = fn(b0, 0.7, *L0)
    ref = MarginalDensity(build_gram(d)).logp_and_grad(b0, L0, 0.7)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12)
    np.testing.assert_allclose(got[2], ref[3], rtol=1e-12)
    for g, r in zip(got[3:], ref[2], strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-300)


def test_every_gaussian_identity_model_can_be_marginal() -> None:
    assert can_marginalize(model_for("gaussian", "identity").design)  # crossed, q = 2
    ok, why = marginal_reason(model_for("poisson", "log").design)
    assert not ok and "poisson" in why
    ok, why = marginal_reason(model_for("gaussian", "log").design)
    assert not ok
    names = [rv.name for rv in build_model(model_for("gaussian", "identity").design).model.free_RVs]
    assert not any(n.startswith("z_") or n.startswith("b_") for n in names)
    with pytest.raises(ModelError, match="poisson"):
        build_model(model_for("poisson", "log").design)


def test_zero_weights_never_reach_the_marginal_sampler() -> None:
    """A gaussian model with a zero prior weight is refused when the design is built (both
    engines refuse it with one message: hiermix.design.design.check_zero_weights), so the
    marginal sampler, whose density needs W > 0, never sees one."""
    from hiermix.errors import DataError

    d = _small()
    df = pd.DataFrame({"y": d.y, "x": d.X[:, 1], "g": d.reterms[0].codes.astype(str),
                       "w": np.r_[0.0, np.ones(d.nobs - 1)]})
    with pytest.raises(DataError, match="weights must be > 0"):
        hiermix.Model("y ~ x + (1 | g)", df, weights="w")
