"""The JAX samplers (``sampler="numpyro"``, ``"blackjax"``): which route they take, and that
they sample the same model.

PyTensor translates a model's log density to JAX for these samplers, and the blocked-factor
density of integrated-out b is a Python Op without a translation. References, computed
without the code under test:

* the route against the rule's statement (:func:`hiermix.bayes.sample.jax_route`): one term
  with q <= 2 keeps b integrated out, in the graph; more terms sample b jointly, partially
  centred as :func:`hiermix.bayes.centring.plan_joint` says; ``marginal=True`` there is an
  error naming the sampler;
* numpyro's posterior against nutpie's of the same model (slow): the 10/50/90% quantiles of
  every parameter and of b within 4.5 combined Monte Carlo SEs (``points.assert_same_quantiles``);
  data lme4's Penicillin (tests/data, lme4 1.1-31).
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import pandas as pd
import pytest

import hiermix
from hiermix.bayes import SamplingWarning
from hiermix.bayes.sample import JAX_SAMPLERS, jax_route
from hiermix.datasets import load
from hiermix.errors import ModelError

from .points import assert_same_quantiles

# the module, not the function of the same name that hiermix.bayes exports
sample_mod = importlib.import_module("hiermix.bayes.sample")

DATA = Path(__file__).parent.parent / "data"
SLEEP = "Reaction ~ Days + (Days | Subject)"
PENICILLIN = "diameter ~ 1 + (1 | plate) + (1 | sample)"


def _penicillin() -> hiermix.Model:
    return hiermix.Model(PENICILLIN, pd.read_csv(DATA / "Penicillin.csv"))


@pytest.mark.parametrize("sampler", JAX_SAMPLERS)
def test_one_small_term_keeps_b_integrated_out(sampler: str) -> None:
    d = hiermix.Model(SLEEP, load("sleepstudy")).design
    use, plan, why = jax_route(d, sampler, "auto", "b integrated out (reason)")
    assert use is True and plan is None and why == "b integrated out (reason)"


@pytest.mark.parametrize("sampler", JAX_SAMPLERS)
def test_two_terms_sample_b_jointly_partially_centred(sampler: str) -> None:
    use, plan, why = jax_route(_penicillin().design, sampler, "auto", "unused")
    assert use is False
    assert plan is not None and set(plan.lam) == {"plate", "sample"}
    assert why.startswith("b sampled jointly") and repr(sampler) in why and "JAX" in why
    assert "partially centred per level" in why


@pytest.mark.parametrize("sampler", JAX_SAMPLERS)
def test_marginal_true_that_needs_the_op_is_refused(sampler: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The refusal comes before anything is built or sampled, so the package need not exist.
    monkeypatch.setattr(sample_mod, "_installed", lambda module: True)
    with pytest.raises(ModelError, match=f"marginal=True cannot be honoured: sampler '{sampler}'"):
        _penicillin().sample(draws=10, tune=10, chains=1, sampler=sampler, marginal=True)


def test_blackjax_version_mismatch_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyMC 6.4 with blackjax 1.7.1 fails deep in JAX with a TypeError about progress_bar;
    hiermix says which packages disagree and what to use instead."""
    import importlib.metadata as md

    import pymc as pm

    def refuse(*args: object, **kwargs: object) -> None:
        raise TypeError("build_kernel.<locals>.kernel() got an unexpected keyword argument "
                        "'progress_bar'")

    monkeypatch.setattr(sample_mod, "_installed", lambda module: True)
    monkeypatch.setattr(pm, "sample", refuse)
    real_version = md.version
    monkeypatch.setattr(md, "version", lambda pkg: "1.7.1" if pkg == "blackjax"
                        else real_version(pkg))
    m = hiermix.Model(SLEEP, load("sleepstudy"))
    with pytest.raises(ModelError, match=r"blackjax 1\.7\.1.*sampler='numpyro'"):
        m.sample(draws=10, tune=10, chains=1, sampler="blackjax")


def test_nuts_options_go_by_the_keyword_pymc_reads() -> None:
    """The keyword is "nuts" where PyMC's dispatcher takes ``nuts_kwargs``, else the old one."""
    import inspect

    from pymc.sampling import mcmc

    new = "nuts_kwargs" in inspect.signature(mcmc._sample_external_nuts).parameters
    assert sample_mod._nuts_key() == ("nuts" if new else "nuts_sampler_kwargs")


def test_numpyro_samples_the_same_variables_as_nutpie() -> None:
    pytest.importorskip("numpyro")
    m = hiermix.Model(SLEEP, load("sleepstudy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        # PyMC's own deprecation of nuts_sampler_kwargs must not reach a user.
        warnings.simplefilter("error", FutureWarning)
        jx = m.sample(draws=30, tune=30, chains=2, random_seed=2, sampler="numpyro",
                      nuts={"max_tree_depth": 1})
        nt = m.sample(draws=30, tune=30, chains=2, random_seed=2)
    assert jx.record.sampler == "numpyro" and jx.record.marginal is True
    for name in nt.posterior.data_vars:
        assert jx.posterior[name].dims == nt.posterior[name].dims, name
        assert jx.posterior[name].shape == nt.posterior[name].shape, name
    assert set(jx.datatree.children) == set(nt.datatree.children)
    # max_tree_depth reached numpyro: one leapfrog step per draw (its own default, 10, takes
    # several steps per draw here).
    steps = jx.datatree["sample_stats"].to_dataset()["n_steps"]
    assert int(steps.max()) == 1


@pytest.mark.slow
def test_numpyro_joint_and_nutpie_marginal_posteriors_agree() -> None:
    pytest.importorskip("numpyro")
    m = _penicillin()
    runs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        for sampler in ("numpyro", "nutpie"):
            runs[sampler] = m.sample(draws=1000, tune=1000, chains=2, random_seed=11,
                                     sampler=sampler, target_accept=0.95,
                                     log_likelihood=False)
    assert runs["numpyro"].record.marginal is False and runs["nutpie"].record.marginal is True
    assert_same_quantiles(runs["numpyro"], runs["nutpie"],
                          runs["nutpie"].parameter_names(with_b=True), "Penicillin")
