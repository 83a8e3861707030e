"""PyTensor's numba backend runs the marginal Ops by reference (hiermix/bayes/op_numba.py).

Reference: the density objects' own ``logp_and_grad`` (tests/pls check them against dense
linear algebra), to 1e-12 relative. Pointing the slot at new data must reach the compiled
function, as the compile cache of nutpie_backend relies on.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

import hiermix
from hiermix.bayes.marginal import DensitySlot, marginal_loglik
from hiermix.datasets import load
from hiermix.pls.gram import build_gram
from hiermix.pls.one_term import make_density


def test_compiled_op_calls_the_live_density() -> None:
    df = load("sleepstudy")
    d1 = hiermix.Model("Reaction ~ Days + (Days | Subject)", df).design
    d2 = hiermix.Model("Reaction ~ Days + (Days | Subject)",
                       df.assign(Reaction=0.9 * df["Reaction"])).design
    slot = DensitySlot(make_density(build_gram(d1)))
    beta, sigma, L = pt.dvector("beta"), pt.dscalar("sigma"), pt.dmatrix("L")
    logp = marginal_loglik(d1, beta, [L], sigma, slot=slot)
    fn = pytensor.function([beta, sigma, L], [logp, *pt.grad(logp, [beta, sigma, L])],
                           mode="NUMBA")
    point = (np.array([250.0, 10.0]), 25.0, np.array([[24.0, 0.0], [1.0, 6.0]]))
    for design in (d1, d2):
        slot.density = make_density(build_gram(design))
        lp, d_beta, d_sigma, d_L = fn(*point)
        ref = slot.density.logp_and_grad(point[0], [point[2]], point[1])
        np.testing.assert_allclose(lp, ref[0], rtol=1e-12)
        np.testing.assert_allclose(d_beta, ref[1], rtol=1e-12)
        np.testing.assert_allclose(d_sigma, ref[3], rtol=1e-12)
        np.testing.assert_allclose(d_L, ref[2][0], rtol=1e-12)
