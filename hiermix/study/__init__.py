"""Simulation studies: ML and Bayes in repeated sampling, from one call.

Modules::

    labels.py       parameter labels (``sd(Intercept|g)``) and the truth stated with them
    templates.py    design templates, conditions and grids of design factors
    simulate.py     one replicate's response from the truth
    methods.py      estimation methods (REML/ML with Wald, profile or bootstrap intervals; Bayes)
    runner.py       replicates in blocks, local processes or Dask, seeds per replicate
    progress.py     replicates done per method and the ETA (rich bars or a callback)
    store.py        one small file per finished block; resuming
    performance.py  bias, empirical SE, RMSE, coverage, width, with Monte Carlo SEs
    result.py       StudyResult
    plots.py        coverage and bias with Monte Carlo error bars; zip plot
    report.py       HTML report and CSVs
    config.py       a study from a TOML file (the ``hiermix study`` command)
    driver.py       simulation_study

A stage after the engines: it uses both and nothing below imports it.
"""

from __future__ import annotations

from ..naming import cor_label, sd_label, varcorr_label
from .driver import simulation_study
from .methods import Method, bayes_method, ml_method
from .result import StudyResult
from .templates import Condition, design_template, random_intercept, study_grid

__all__ = [
           "Condition",
           "Method",
           "StudyResult",
           "bayes_method",
           "cor_label",
           "design_template",
           "ml_method",
           "random_intercept",
           "sd_label",
           "simulation_study",
           "study_grid",
           "varcorr_label",
]
