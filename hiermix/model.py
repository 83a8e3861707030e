"""``Model``: one formula bound to one data set, the starting point of both engines.

``Model(formula, data, ...)`` parses the formula once (:attr:`spec`), binds it to the data
(:attr:`design`) and hands that design to whichever engine is asked for. It is the short driver
over public stages, in the manner of lme4's ``lmer()`` over ``lFormula`` and ``mkLmerDevfun``::

    parse(formula) -> ModelSpec -> build_design(spec, data) -> Design -> engine -> result
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from .design import Design, build_design
from .errors import FormulaSyntaxError
from .family import Family, Link, get_family
from .formula import parse
from .formula.transforms import validate_transforms
from .spec import ModelSpec


class Model:
    """A mixed model: a formula bound to data, a family and a link.

    Parameters
    ----------
    formula : str or ModelSpec
        lme4-style formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame or mapping of columns
        Never modified.
    family : str or Family
        ``"gaussian"`` (default), ``"binomial"``, ``"poisson"``, ``"gamma"``/``"Gamma"``,
        ``"inverse_gaussian"``/``"inverse.gaussian"``, ``"negative_binomial"``/``"nbinom2"``/
        ``"negative.binomial"``.
    link : str or None
        None takes the family's R default.
    weights, offset : str, array-like or None
        A column name or an array with one value per row of ``data``.
    na_action : {"omit", "raise"}
        ``"omit"`` (default) drops rows with missing values in used columns and reports how
        many (``design.n_dropped``); ``"raise"`` refuses them.
    data_name : str or None
        The name summaries print after "Data:"; defaults to ``data.attrs["name"]`` if set.
    transforms : dict of str to callable, optional
        Your own functions the formula may call, e.g. ``{"logit": my_logit}``. A formula can
        call nothing else but the allowed transforms (``log``, ``sqrt``, ``I``, ``C``,
        ``poly``, ``scale`` ...; see :mod:`hiermix.formula.allowlist`). Each function takes
        arrays by position and returns an array of the same length; module-level functions
        keep the model picklable.

    Attributes
    ----------
    spec : ModelSpec
    design : Design
    family : Family
    """

    def __init__(
        self,
        formula: str | ModelSpec,
        data: pd.DataFrame | Mapping[str, Sequence[Any]],
        family: str | Family = "gaussian",
        link: str | Link | None = None,
        weights: Any = None,
        offset: Any = None,
        na_action: str = "omit",
        data_name: str | None = None,
        transforms: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        user = validate_transforms(transforms)
        if isinstance(formula, str):
            self._spec = parse(formula, transforms=tuple(user))
        elif isinstance(formula, ModelSpec):
            self._spec = formula
        else:
            raise FormulaSyntaxError("a formula must be a string such as 'y ~ x + (1 | g)' "
                                     f"(or a ModelSpec), not {type(formula).__name__}", "")
        self._family = get_family(family, link)
        if data_name is None and isinstance(data, pd.DataFrame):
            data_name = str(data.attrs.get("name", ""))
        self._design = build_design(self._spec, data, self._family, weights=weights,
                                    offset=offset, na_action=na_action,
                                    data_name=data_name or "", transforms=user)

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def design(self) -> Design:
        return self._design

    @property
    def family(self) -> Family:
        return self._family

    @property
    def formula(self) -> str:
        return self._spec.formula or str(self._spec)

    def __repr__(self) -> str:
        d = self._design
        grps = ", ".join(f"{k}: {v}" for k, v in d.ngrps.items())
        dropped = f", {d.n_dropped} rows dropped (missing values)" if d.n_dropped else ""
        return (f"Model({self.formula!r}, family={self._family.r_name}({self._family.link.name})"
                f", n={d.nobs}, p={d.p}, groups {{{grps}}}{dropped})")

    def fit(self, REML: bool | None = None, nAGQ: int = 1, **kwargs: Any) -> Any:
        """Fit by maximum likelihood (REML for linear mixed models by default), as lme4 does.

        Gaussian models with the identity link go to the LMM engine (``lmer``); every other
        family or link to the GLMM engine (``glmer``, Laplace for ``nAGQ=1``), which refuses
        ``REML=True`` (:class:`~hiermix.errors.ArgumentError`). See
        :func:`hiermix.lmer` and :func:`hiermix.glmer` for the keyword arguments.
        """
        from .frequentist import fit as fit_design

        return fit_design(self._design, REML=REML, nAGQ=nAGQ, **kwargs)

    def priors(self, priors: Any = None) -> Any:
        """The priors :meth:`sample` would use (print it for the report), after ``priors``
        overrides; see :func:`hiermix.bayes.resolve_priors`."""
        from .bayes import resolve_priors

        return resolve_priors(self._design, priors)

    def sample(self, draws: int = 1000, tune: int = 1000, chains: int = 4,
               random_seed: Any = None, priors: Any = None, **kwargs: Any) -> Any:
        """Sample the same model's posterior with NUTS in PyMC; see :func:`hiermix.bayes.sample`."""
        from .bayes import sample as sample_design

        return sample_design(self._design, draws=draws, tune=tune, chains=chains,
                             random_seed=random_seed, priors=priors, **kwargs)
