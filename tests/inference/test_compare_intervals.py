"""``hm.compare(..., ml_interval=...)``: the variance-component rows carry the chosen ML
intervals, and the tables say which."""

from __future__ import annotations

import numpy as np
import pytest

import hiermix as hm
from hiermix.errors import CompareError
from hiermix.frequentist.datatree import fit_datatree

from .references import reference_fit


class StandIn:
    """The parts of a Bayesian result that compare() reads."""

    def __init__(self, design, datatree) -> None:
        self.design = design
        self.datatree = datatree


@pytest.mark.slow
def test_compare_uses_the_chosen_interval() -> None:
    fit = reference_fit("sleepstudy_reml")
    post = StandIn(fit.design, fit_datatree(fit, draws=200, seed=1))
    prof = hm.compare(fit, post)
    assert prof.ml_interval == "profile"
    assert set(prof.varcorr["ml_interval"]) == {"profile"}
    assert set(prof.fixef["ml_interval"]) == {"wald"}
    ci = fit.confint(parm="theta_")
    vc = prof.varcorr
    # varcorr rows: sd(Intercept), sd(Days), corr, sigma; confint rows in theta's order
    np.testing.assert_allclose(vc["ml_lower"], ci["lower"].iloc[[0, 2, 1, 3]], rtol=1e-9)
    np.testing.assert_allclose(vc["ml_upper"], ci["upper"].iloc[[0, 2, 1, 3]], rtol=1e-9)
    wald = hm.compare(fit, post, ml_interval="wald")
    np.testing.assert_allclose(wald.varcorr["ml_lower"],
                               fit.varcorr_intervals(0.95)["ml_lower"])
    boot = hm.compare(fit, post, ml_interval="boot", nsim=30, seed=4)
    bci = fit.bootstrap(30, seed=4).confint()
    assert vc["ml"].iloc[3] == pytest.approx(fit.sigma)
    assert boot.varcorr["ml_lower"].iloc[3] == pytest.approx(bci.loc["sigma", "lower"])
    assert set(boot.varcorr["ml_interval"]) == {"boot"}
    with pytest.raises(CompareError, match="ml_interval"):
        hm.compare(fit, post, ml_interval="spline")
