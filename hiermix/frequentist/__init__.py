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

import numpy as np
import pandas as pd

from ..arguments import check_count
from ..design import Design
from ..errors import ArgumentError, ModelError
from ..spec import ModelSpec
from .checks import ConvergenceWarning
from .glmm import fit_glmm
from .glmm_result import GlmerResult
from .lmm import LmmObjective, fit_lmm
from .optimizer import OptSummary
from .result import LmerResult
from .simulate import simulate, theta_from_varcorr


def fit(design: Design, REML: bool | None = None, nAGQ: int = 1, **kwargs: Any) -> LmerResult:
    """Fit a design: gaussian with the identity link goes to the LMM engine (lmer), every
    other family or link to the GLMM engine (glmer; REML does not apply there).

    Parameters
    ----------
    design : Design
    REML : bool or None
        Linear mixed models: REML (True, the default when None) or maximum likelihood.
        GLMMs have no REML criterion: True is refused, False and None fit by maximum
        likelihood.
    nAGQ : int
        GLMMs: 0, 1 (Laplace) or up to 25 quadrature nodes; must be 1 for a linear mixed model.
    **kwargs
        See :func:`hiermix.frequentist.lmm.fit_lmm` and
        :func:`hiermix.frequentist.glmm.fit_glmm`.

    Raises
    ------
    ModelError
        nAGQ != 1 for a linear mixed model; a bad nAGQ for a GLMM.
    ArgumentError
        ``REML=True`` for a GLMM; ``REML`` not a bool; ``nAGQ`` not a whole number.
    """
    if REML is not None and not isinstance(REML, bool | np.bool_):
        raise ArgumentError(f"REML must be True or False, not {REML!r}")
    nAGQ = check_count(nAGQ, "nAGQ", 0)
    fam = design.family
    if not fam.is_lmm:
        if REML:
            raise ArgumentError(_NO_REML.format(family=f"{fam.r_name}({fam.link.name})"))
        return fit_glmm(design, nAGQ=nAGQ, **kwargs)
    if nAGQ != 1:
        raise ModelError(f"nAGQ = {nAGQ} applies to GLMMs only; a linear mixed model's "
                         "likelihood is exact (use nAGQ = 1)")
    return fit_lmm(design, REML=True if REML is None else bool(REML), **kwargs)


# lme4's glmer has no REML argument either (it disregards one with a warning).
_NO_REML = ("REML=True applies to linear mixed models only; a {family} GLMM is fitted by "
            "maximum likelihood (Laplace or adaptive quadrature, as lme4's glmer): leave REML "
            "out")


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

    Raises
    ------
    ArgumentError
        ``family`` or ``link`` given: lmer fits gaussian identity-link models only.
    """
    from ..model import Model

    for name in ("family", "link"):
        if name in kwargs:
            raise ArgumentError(
                f"lmer() fits linear mixed models (gaussian family, identity link) and takes "
                f"no {name}; for {name}={kwargs[name]!r} use hiermix.glmer(formula, data, "
                f"{name}=...) or Model(formula, data, {name}=...).fit()")
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
        ``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian``, ``negative_binomial``
        (``nbinom2``; its theta is estimated with the other parameters and held in ``phi``) or
        ``gaussian`` (with a non-identity link).
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

    Raises
    ------
    ArgumentError
        ``REML=True`` (use :func:`lmer` for REML).
    """
    from ..model import Model

    if kwargs.pop("REML", None):
        raise ArgumentError(_NO_REML.format(family=f"{family}") + "; for REML fit a linear "
                            "mixed model with hiermix.lmer()")

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
