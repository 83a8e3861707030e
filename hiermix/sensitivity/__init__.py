"""Sensitivity analyses: how much the answers depend on the prior, the likelihood and the groups.

Stages after the fit, imported by nothing below them::

    power_scaling.py  power-scaling sensitivity of a posterior (glue to arviz_stats.psense)
    prior_sweep.py    one model sampled under several named prior sets, beside the ML fit
    report.py         the HTML report of both

Influence of single groups on the maximum-likelihood fit is inference on a fitted model and
lives in :mod:`hiermix.inference.influence`.
"""

from __future__ import annotations

from .power_scaling import THRESHOLD, diagnose, plot_power_scaled, sensitivity
from .prior_sweep import PriorSweep, prior_sweep

__all__ = ["THRESHOLD", "PriorSweep", "diagnose", "plot_power_scaled", "prior_sweep",
           "sensitivity"]
