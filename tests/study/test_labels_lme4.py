"""truth may name fixed effects in lme4's spelling (YEAR96) as well as hiermix's (YEAR[T.96])."""

from __future__ import annotations

import pytest

import hiermix as hm
from hiermix.datasets import load
from hiermix.errors import ModelError
from hiermix.study.labels import resolve_truth

TRUTH = {"cHEIGHT": -0.024, "sd(Intercept|LOCATION)": 0.9, "phi": 2.0}


def _design():
    return hm.Model("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", load("grouseticks"),
                    family="negative_binomial").design


def test_lme4_spelling_is_an_alias() -> None:
    d = _design()
    ours = resolve_truth(d, {"Intercept": 0.6, "YEAR[T.96]": 1.1, "YEAR[T.97]": -1.1, **TRUTH})
    lme4 = resolve_truth(d, {"(Intercept)": 0.6, "YEAR96": 1.1, "YEAR97": -1.1, **TRUTH})
    assert repr(ours) == repr(lme4)


def test_both_spellings_of_one_coefficient_are_refused() -> None:
    with pytest.raises(ModelError, match="twice"):
        resolve_truth(_design(), {"Intercept": 0.6, "YEAR[T.96]": 1.1, "YEAR96": 1.1,
                                  "YEAR[T.97]": -1.1, **TRUTH})


@pytest.mark.slow
def test_negative_binomial_study_and_bootstrap_run() -> None:
    """Issue 16: the simulation study and the bootstrap work for the negative binomial."""
    d = load("grouseticks")
    f = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)"
    truth = {"(Intercept)": 0.6, "YEAR96": 1.1, "YEAR97": -1.1, **TRUTH}
    res = hm.simulation_study(f, d, truth=truth, methods=["ml-wald"], nsim=2, seed=1,
                              family="negative_binomial")
    perf = res.performance.set_index("param")
    assert (perf["n_ok"] == 2).all()
    assert abs(perf.loc["phi", "mean"] - 2.0) < 1.5  # two replicates: a loose sanity bound
    boot = hm.glmer(f, d, family="negative_binomial").bootstrap(5, seed=2)
    assert boot.replicates.shape[0] == 5 and "phi" in boot.confint().index
