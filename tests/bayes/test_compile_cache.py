"""Compile once (hiermix/bayes/nutpie_backend.py): a model of the same structure, with a new
response and new prior parameters (same prior families), reuses the compiled log density.

Slow: the first compilation takes tens of seconds on the 2-core test machine. Reference for the
reused function's values: the second model's own log density and gradient compiled by PyMC
(``model.compile_logp`` / ``compile_dlogp``), tolerance 1e-9 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hiermix
from hiermix.bayes import Exponential, Normal, SamplingWarning
from hiermix.bayes import nutpie_backend as nb
from hiermix.bayes.build import build_model as build_joint
from hiermix.bayes.marginal import build_model as build_marginal
from hiermix.datasets import load

pytestmark = pytest.mark.slow
FORMULA = "Reaction ~ Days + (Days | Subject)"


def _frames() -> tuple:
    df = load("sleepstudy")
    df2 = df.copy()
    df2["Reaction"] = 1.1 * df["Reaction"] + np.random.default_rng(0).normal(0, 5, len(df))
    return df, df2


@pytest.mark.parametrize("builder", [build_marginal, build_joint])
def test_same_structure_reuses_the_compiled_log_density(builder) -> None:
    df, df2 = _frames()
    m1 = builder(hiermix.Model(FORMULA, df).design,
                 {"sigma": Exponential(0.1), "intercept": Normal(200.0, 50.0)})
    nb.compile_model(m1.model)
    before = nb.COMPILATIONS
    m2 = builder(hiermix.Model(FORMULA, df2).design,
                 {"sigma": Exponential(0.05), "intercept": Normal(250.0, 40.0)})
    c2 = nb.compile_model(m2.model)
    assert nb.COMPILATIONS == before
    rng = np.random.default_rng(3)
    ip = m2.model.initial_point()
    values, _, _ = nb._flat_layout(m2.model, ip)
    logp_fn = c2._make_logp_func()
    ref_logp, ref_dlogp = m2.model.compile_logp(), m2.model.compile_dlogp()
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.1, np.shape(v)) for k, v in ip.items()}
        lp, grad = logp_fn(nb._flatten(point, values))
        np.testing.assert_allclose(lp, ref_logp(point), rtol=1e-9)
        np.testing.assert_allclose(grad, ref_dlogp(point), rtol=1e-9, atol=1e-9)


def test_second_sample_does_not_recompile() -> None:
    df, df2 = _frames()
    kw = {"draws": 20, "tune": 20, "chains": 1, "random_seed": 1, "sampler": "nutpie"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        hiermix.Model(FORMULA, df).sample(priors={"sigma": Exponential(0.1)}, **kw)
        before = nb.COMPILATIONS
        r = hiermix.Model(FORMULA, df2).sample(priors={"sigma": Exponential(0.05)}, **kw)
    assert nb.COMPILATIONS == before
    assert r.record.marginal
