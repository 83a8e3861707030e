"""Slow tier: a negative binomial posterior against the maximum-likelihood fit (grouseticks).

With 403 counts in 63 locations and the weakly informative defaults (Exponential(1) on
1 / sqrt(theta)), the posterior is dominated by the likelihood: posterior medians of beta lie
within 0.5 posterior SD of the ML estimates (which match glmmTMB, tests/frequentist/
test_glmm_nbinom.py), and the median of theta within 10% of its ML value (its posterior SD is
about 14% of it). The comparison holds theta in its ``phi`` row.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from catalogue import load_data

import hiermix
from hiermix.bayes import SamplingWarning

pytestmark = pytest.mark.slow


def test_grouseticks_posterior_near_ml() -> None:
    m = hiermix.Model("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", load_data("grouseticks"),
                      family="nbinom2")
    fit = m.fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        post = m.sample(draws=500, tune=500, chains=2, random_seed=11)
    cmp = hiermix.compare(fit, post)
    assert (cmp.fixef["std_diff"].abs() < 0.5).all(), cmp.fixef
    row = cmp.varcorr.set_index("param").loc["phi"]
    assert row["ml"] == pytest.approx(fit.phi)
    assert row["post_median"] == pytest.approx(fit.phi, rel=0.10)
    yrep = post.posterior_predictive(random_seed=1).values
    assert yrep.shape == (2, 500, fit.nobs) and np.all(yrep == np.round(yrep))
    # the pointwise log-likelihood is the family's, at theta = phi
    assert "y" in post.datatree["log_likelihood"]
