"""The frequentist engine: linear mixed models fitted as lme4's ``lmer`` fits them.

Stages (one module each)::

    gram.py       Gram matrix of [Z X y] in blocks, once per response and weights
    blocked.py    blocked Cholesky L(theta), profiled criteria, beta and u, condVar blocks
    optimizer.py  BOBYQA over theta and the OptSummary record
    checks.py     singular fit, gradient and Hessian checks
    lmm.py        the driver (LmmObjective, fit_lmm)
    result.py     LmerResult, immutable, lme4's extractors in snake_case
    summary.py    lme4's summary() text
    simulate.py   responses from given parameters

Generalised linear mixed models (``glmer``) are not available yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..design import Design
from ..errors import ModelError
from ..spec import ModelSpec
from .checks import ConvergenceWarning
from .lmm import LmmObjective, fit_lmm
from .optimizer import OptSummary
from .result import LmerResult
from .simulate import simulate, theta_from_varcorr


def fit(design: Design, REML: bool = True, nAGQ: int = 1, **kwargs: Any) -> LmerResult:
    """Fit a design by (RE)ML: gaussian with identity link goes to the LMM engine.

    Parameters
    ----------
    design : Design
    REML : bool
    nAGQ : int
        Only meaningful for GLMMs; must be 1 for a linear mixed model.
    **kwargs
        ``start``, ``check_derivs``, ``data_name``: see :func:`hiermix.frequentist.lmm.fit_lmm`.

    Raises
    ------
    ModelError
        Non-gaussian families or links (GLMMs are not available yet), nAGQ != 1.
    """
    fam = design.family
    if fam.name != "gaussian" or fam.link.name != "identity":
        raise ModelError(f"generalised linear mixed models ({fam.name} family, "
                         f"{fam.link.name} link) are not available yet in the frequentist "
                         "engine; only gaussian models with the identity link (lmer) can be "
                         "fitted")
    if nAGQ != 1:
        raise ModelError(f"nAGQ = {nAGQ} applies to GLMMs only; a linear mixed model's "
                         "likelihood is exact (use nAGQ = 1)")
    return fit_lmm(design, REML=REML, **kwargs)


def lmer(formula: str | ModelSpec, data: pd.DataFrame | Mapping[str, Sequence[Any]],
         REML: bool = True, weights: Any = None, offset: Any = None, na_action: str = "omit",
         **kwargs: Any) -> LmerResult:
    """Fit a linear mixed model from an lme4 formula (lme4's ``lmer``).

    Parameters
    ----------
    formula : str or ModelSpec
        e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : DataFrame or mapping of columns
    REML : bool
        REML (default) or maximum likelihood.
    weights, offset : column name, array-like or None
        Prior weights (rows scaled by sqrt(w)) and an offset added to the linear predictor.
    na_action : {"omit", "raise"}
    **kwargs
        ``start``, ``check_derivs``, ``data_name``.

    Returns
    -------
    LmerResult
    """
    from ..model import Model

    model = Model(formula, data, weights=weights, offset=offset, na_action=na_action,
                  data_name=kwargs.pop("data_name", None))
    return fit(model.design, REML=REML, **kwargs)


__all__ = [
    "ConvergenceWarning",
    "LmerResult",
    "LmmObjective",
    "OptSummary",
    "fit",
    "fit_lmm",
    "lmer",
    "simulate",
    "theta_from_varcorr",
]
