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


def test_fed_numba_route_gives_the_same_draws_warm_or_cold() -> None:
    """sampler="nutpie-numba" on a one-term model: the model compiled for one response and fed
    another gives exactly the draws of a model compiled for that other response (the study's
    replicates do not depend on which ran first on a worker); the lean result pickles."""
    import pickle

    from hiermix.study import random_intercept
    from hiermix.study.runner import template_design

    data, _ = random_intercept(J=6, n=4, icc=0.3)
    d0 = template_design("y ~ 1 + (1 | g)", data, "gaussian", None)
    rng = np.random.default_rng(5)
    d1, d2 = (d0.with_response(rng.normal(size=d0.nobs)) for _ in range(2))
    kw = {"draws": 50, "tune": 50, "chains": 2, "sampler": "nutpie-numba", "lean": True,
          "warn": False}
    nb._FED.clear()
    hiermix.bayes.sample(d1, random_seed=1, **kw)
    before = nb.COMPILATIONS
    warm = hiermix.bayes.sample(d2, random_seed=2, **kw)
    assert nb.COMPILATIONS == before
    nb._FED.clear()
    cold = hiermix.bayes.sample(d2, random_seed=2, **kw)
    for name in ("beta", "sd_g", "sigma"):
        np.testing.assert_array_equal(np.asarray(warm.posterior[name]),
                                      np.asarray(cold.posterior[name]))
    assert set(warm.datatree.children) == {"posterior", "sample_stats"}
    back = pickle.loads(pickle.dumps(warm))
    np.testing.assert_array_equal(np.asarray(back.posterior["sigma"]),
                                  np.asarray(warm.posterior["sigma"]))
