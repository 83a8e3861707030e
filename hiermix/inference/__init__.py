"""Inference on a fitted mixed model: a stage after the fit, beside the engines.

Modules::

    parameters.py     the parameters on lme4's scales (SDs, correlations, sigma, beta), names
    kernel.py         compiled criteria of small models (one-term LMM, one-scalar-term GLMM)
    criterion.py      the LMM criterion rebuilt for a new response or a fixed-effect offset
    devfun.py         the deviance with one parameter held fixed (lme4's devfun2)
    profile.py        zeta traces, plots and profile intervals (lme4's profile, confint)
    bootstrap.py      parametric bootstrap (lme4's bootMer, MixedModels.jl's parametricbootstrap)
    confint.py        confint(fit, method = "profile" | "wald" | "boot")
    ddf.py, kenward_roger.py, contrasts.py   degrees of freedom for t and F tests
    lrt.py            likelihood-ratio tests between models

Everything here takes a fitted result and the engine's public objective; nothing in
``frequentist/`` or ``bayes/`` imports it.
"""

from __future__ import annotations

from .bootstrap import BootstrapResult, bootstrap
from .confint import confint, wald_confint
from .profile import ProfileResult, profile, profile_confint

__all__ = ["BootstrapResult", "ProfileResult", "bootstrap", "confint", "profile",
           "profile_confint", "wald_confint"]
