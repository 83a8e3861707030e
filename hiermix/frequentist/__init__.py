"""The frequentist engine: linear mixed models fitted as lme4's ``lmer`` fits them.

Stages (one module each)::

    gram.py       Gram matrix of [Z X y] in blocks, once per response and weights
    blocked.py    blocked Cholesky L(theta), profiled criteria, beta and u, condVar blocks
    optimizer.py  BOBYQA over theta and the OptSummary record
    checks.py     singular fit, gradient and Hessian checks
    lmm.py        the driver (LmmObjective, fit_lmm)
    result.py     LmerResult, immutable, lme4's extractors in snake_case
    summary.py    lme4's summary() text (lmerTest's with ddf=)
    reform.py     which random effects predict() includes (lme4's re.form)
    simulate.py   responses from given parameters

Generalised linear mixed models (``glmer``), holding the LMM machinery as their local
approximation::

    reweight.py     the Gram matrix rebuilt for PIRLS's working weights
    pirls.py        PIRLS: conditional modes u for given theta, beta, phi
    laplace.py      the Laplace criterion over (theta, beta, [log phi])
    agq.py          adaptive Gauss-Hermite quadrature (one scalar term)
    glmm.py         the driver (GLM start, nAGQ = 0 stage, joint stage, Hessian)
    glmm_result.py  GlmerResult, the LmerResult extractors for a GLMM
    glmm_summary.py lme4's summary() text for a glmerMod
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..design import Design
from ..errors import ModelError
from ..spec import ModelSpec
from .checks import ConvergenceWarning
from .glmm import fit_glmm
from .glmm_result import GlmerResult
from .lmm import LmmObjective, fit_lmm
from .optimizer import OptSummary
from .result import LmerResult
from .simulate import simulate, theta_from_varcorr


def fit(design: Design, REML: bool = True, nAGQ: int = 1, **kwargs: Any) -> LmerResult:
    """Fit a design: gaussian with the identity link goes to the LMM engine (lmer), every
    other family or link to the GLMM engine (glmer; REML does not apply there).

    Parameters
    ----------
    design : Design
    REML : bool
    nAGQ : int
        GLMMs: 0, 1 (Laplace) or up to 25 quadrature nodes; must be 1 for a linear mixed model.
    **kwargs
        See :func:`hiermix.frequentist.lmm.fit_lmm` and
        :func:`hiermix.frequentist.glmm.fit_glmm`.

    Raises
    ------
    ModelError
        nAGQ != 1 for a linear mixed model; a bad nAGQ for a GLMM.
    """
    fam = design.family
    if fam.name != "gaussian" or fam.link.name != "identity":
        # GLMMs have no REML criterion (lme4's glmer has none): REML is not used for them.
        return fit_glmm(design, nAGQ=nAGQ, **kwargs)
    if nAGQ != 1:
        raise ModelError(f"nAGQ = {nAGQ} applies to GLMMs only; a linear mixed model's "
                         "likelihood is exact (use nAGQ = 1)")
    return fit_lmm(design, REML=REML, **kwargs)


def lmer(formula: str | ModelSpec, data: pd.DataFrame | Mapping[str, Sequence[Any]],
         REML: bool = True, weights: Any = None, offset: Any = None, na_action: str = "omit",
         transforms: Mapping[str, Any] | None = None, **kwargs: Any) -> LmerResult:
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
    transforms : dict of str to callable, optional
        Your own functions the formula may call (see :class:`hiermix.Model`).
    **kwargs
        ``start``, ``check_derivs``, ``data_name``.

    Returns
    -------
    LmerResult
    """
    from ..model import Model

    model = Model(formula, data, weights=weights, offset=offset, na_action=na_action,
                  data_name=kwargs.pop("data_name", None), transforms=transforms)
    return fit(model.design, REML=REML, **kwargs)


def glmer(formula: str | ModelSpec, data: pd.DataFrame | Mapping[str, Sequence[Any]],
          family: Any = "binomial", link: Any = None, nAGQ: int = 1, weights: Any = None,
          offset: Any = None, na_action: str = "omit",
          transforms: Mapping[str, Any] | None = None, **kwargs: Any) -> GlmerResult:
    """Fit a generalised linear mixed model from an lme4 formula (lme4's ``glmer``).

    Parameters
    ----------
    formula : str or ModelSpec
        e.g. ``"cbind(incidence, size - incidence) ~ period + (1 | herd)"``.
    data : DataFrame or mapping of columns
    family : str or Family
        ``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian`` or ``gaussian`` (with a
        non-identity link).
    link : str or None
        The family's default link when None.
    nAGQ : int
        0 (beta inside PIRLS), 1 (Laplace, default) or 2..25 (adaptive Gauss-Hermite
        quadrature; one scalar random-effects term).
    weights, offset : column name, array-like or None
        Prior weights (binomial: trials for proportions) and an offset added to eta.
    na_action : {"omit", "raise"}
    transforms : dict of str to callable, optional
        Your own functions the formula may call (see :class:`hiermix.Model`).
    **kwargs
        ``start``, ``check_derivs``, ``use_hessian``, ``lme4_compat``, ``data_name``: see
        :func:`hiermix.frequentist.glmm.fit_glmm`.

    Returns
    -------
    GlmerResult
        A gaussian family with the identity link is a linear mixed model and gives the
        :class:`LmerResult` of an ML fit, as lme4's ``glmer`` hands it to ``lmer``.
    """
    from ..model import Model

    model = Model(formula, data, family=family, link=link, weights=weights, offset=offset,
                  na_action=na_action, data_name=kwargs.pop("data_name", None),
                  transforms=transforms)
    if model.design.family.is_lmm:
        return fit(model.design, REML=False, **kwargs)  # type: ignore[return-value]
    return fit_glmm(model.design, nAGQ=nAGQ, **kwargs)


__all__ = [
    "ConvergenceWarning",
    "GlmerResult",
    "LmerResult",
    "LmmObjective",
    "OptSummary",
    "fit",
    "fit_glmm",
    "fit_lmm",
    "glmer",
    "lmer",
    "simulate",
    "theta_from_varcorr",
]
