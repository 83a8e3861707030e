"""The Bayesian engine: the frequentist engine's mixed model, with priors, sampled by NUTS.

The model, with the symbols of the whole package (see :mod:`hiermix.bayes.build`)::

    y | b ~ family(g^{-1}(X beta + Z b + offset), phi / w)
    b_k[j] ~ N(0, Sigma_k),  Sigma_k = s^2 Lambda_k Lambda_k' = S_k R_k S_k  (theta_k <-> S_k, R_k)

Stages: :func:`resolve_priors` -> :func:`build_model` -> :func:`sample` -> :class:`BayesResult`.
This package never imports :mod:`hiermix.frequentist`; both build on the design, the families,
the covariance parameterisation and the naming contract.
"""

from __future__ import annotations

import warnings

# PyTensor warns at import when its C backend finds no BLAS to link (pip wheels). hiermix's
# samplers run PyTensor's numba backend (nutpie) or PyMC's default, which do not need it, so
# the warning only alarms users; every other PyTensor warning is left alone.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")
# The marginal log density (hiermix.bayes.marginal) is a Python Op by design (LAPACK through
# scipy); numba says so when it compiles the graph around it.
warnings.filterwarnings("ignore", message="Numba will use object mode to run MarginalLoglik")

from .build import BuiltModel, build_model
from .diagnostics import Diagnostic, SamplingWarning
from .priors import (
    LKJ,
    Exponential,
    Flat,
    HalfNormal,
    HalfStudentT,
    InverseSqrt,
    Normal,
    Prior,
    Priors,
    StudentT,
    resolve_priors,
)
from .result import BayesResult, SamplerRecord
from .sample import default_sampler, sample, sample_prior_predictive

__all__ = [
    "LKJ",
    "BayesResult",
    "BuiltModel",
    "Diagnostic",
    "Exponential",
    "Flat",
    "HalfNormal",
    "HalfStudentT",
    "InverseSqrt",
    "Normal",
    "Prior",
    "Priors",
    "SamplerRecord",
    "SamplingWarning",
    "StudentT",
    "build_model",
    "default_sampler",
    "resolve_priors",
    "sample",
    "sample_prior_predictive",
]
