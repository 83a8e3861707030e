"""hiermix: mixed-effects models from one lme4 formula, fitted by maximum likelihood and in PyMC.

The pipeline, each stage public::

    parse(formula) -> ModelSpec -> Model(formula, data).design -> engine -> result -> compare
"""

from __future__ import annotations

from . import errors
from .compare import Comparison, compare
from .design import Design
from .family import Family, Link, get_family, get_link
from .formula import parse
from .model import Model
from .spec import ModelSpec, RandomTermSpec, ResponseSpec

__version__ = "0.1.0"

# The engines import the optimiser and PyMC; load them on first use so that ``import hiermix``
# (and parsing) stays fast. ``compare`` is imported eagerly: as a lazy attribute it would be
# shadowed by the subpackage of the same name once that is imported.
_LAZY = {"lmer": "frequentist", "glmer": "frequentist", "anova": "inference.lrt",
         "simulation_study": "study", "study_grid": "study", "design_template": "study",
         "prior_sweep": "sensitivity"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'hiermix' has no attribute {name!r}")


__all__ = [
    "Comparison",
    "Design",
    "Family",
    "Link",
    "Model",
    "ModelSpec",
    "RandomTermSpec",
    "ResponseSpec",
    "compare",
    "errors",
    "get_family",
    "get_link",
    "parse",
]
