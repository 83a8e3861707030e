"""Marginal and joint samplers give the same posterior (slow: several NUTS runs).

For sleepstudy (one term, q = 2), Penicillin (crossed) and Pastes (nested), the draws of every
parameter but b, and of b, from the marginal sampler (b integrated out, then drawn exactly) and
from the joint sampler (b in NUTS, non-centred) must have the same 10%, 50% and 90% quantiles
within Monte Carlo error: |q_marginal - q_joint| < 4.5 sqrt(mcse_m^2 + mcse_j^2), with ArviZ's
quantile MCSE of each run (arviz_stats.mcse, method="quantile"). Data: lme4's data sets
(tests/data, lme4 1.1-31).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import hiermix
from hiermix.bayes import SamplingWarning
from hiermix.datasets import load

from .points import assert_same_quantiles

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent.parent / "data"

CASES = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", lambda: load("sleepstudy")),
    "Penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)",
                   lambda: pd.read_csv(DATA / "Penicillin.csv")),
    "Pastes": ("strength ~ 1 + (1 | batch/cask)", lambda: pd.read_csv(DATA / "Pastes.csv")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_marginal_and_joint_posteriors_agree(case: str) -> None:
    formula, data = CASES[case]
    m = hiermix.Model(formula, data())
    runs = {}
    for marginal in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            r = m.sample(draws=1000, tune=1000, chains=2, random_seed=11, marginal=marginal,
                         target_accept=0.95, log_likelihood=False)
        assert r.record.marginal is marginal
        runs[marginal] = r
    assert_same_quantiles(runs[True], runs[False], runs[True].parameter_names(with_b=True),
                          case)
