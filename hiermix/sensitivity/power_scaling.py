"""Power-scaling sensitivity of a posterior: glue between :class:`BayesResult` and ArviZ.

Power-scaling (Kallioinen, Paananen, Buerkner & Vehtari 2024, Statistics and Computing 34:57;
the R package priorsense) asks how much the posterior moves when the prior, or the likelihood,
is raised to a power alpha near 1::

    p_alpha(theta | y) ∝ p(theta)^alpha p(y | theta)         (prior power-scaling)
    p_alpha(theta | y) ∝ p(theta) p(y | theta)^alpha         (likelihood power-scaling)

Each perturbed posterior is reached by Pareto-smoothed importance weights on the existing
draws, with log weights (alpha - 1) log p(theta) (from the ``log_prior`` group) or
(alpha - 1) sum_i log p(y_i | theta) (the ``log_likelihood`` group); nothing is refitted. The
sensitivity of one quantity is the derivative, at alpha = 1 and by central differences in
log2(alpha) over ``alphas``, of the cumulative Jensen-Shannon distance between its perturbed
and unperturbed marginal posteriors. Every number is ``arviz_stats.psense``'s; this module
only chooses the variables, labels the rows and words the diagnosis.

Diagnosis, in priorsense's words, with threshold t (0.05 by default, priorsense's and
ArviZ's; a distance of 0.05 per doubling of the power is about what separates a visible shift
of the marginal from Monte Carlo noise at a few thousand draws):

==========================================  ====================================================
diagnosis                                   when
==========================================  ====================================================
``"potential prior-data conflict"``         prior >= t and likelihood >= t: both pull, apart
``"potential strong prior / weak            prior > t > likelihood: the prior dominates
likelihood"``
``"-"``                                     otherwise
==========================================  ====================================================

The prior is the product of the prior classes of :mod:`hiermix.bayes.log_prior` (fixed
effects, SDs, correlations, sigma or phi); the random effects' own distribution is part of the
model, not of the prior, as in priorsense on brms models. The likelihood is conditional on the
random effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..naming import FIXEF_DIM, coef_dim, corr_pairs, corr_var, pair_dim, pair_label, sd_var
from ..naming import param_label as _label

#: priorsense's threshold on the sensitivities (cumulative Jensen-Shannon distance per
#: doubling of the power).
THRESHOLD = 0.05
#: alphas of the finite difference (ArviZ's and priorsense's).
ALPHAS = (0.99, 1.01)
#: alphas of the power-scaled posterior plots (priorsense's ``powerscale_plot_dens``).
PLOT_ALPHAS = (0.8, 1.25)
NO_ISSUE = "-"
CONFLICT = "potential prior-data conflict"
STRONG_PRIOR = "potential strong prior / weak likelihood"
COMPONENTS = ("prior", "likelihood", "both")


def diagnose(prior: float, likelihood: float, threshold: float = THRESHOLD) -> str:
    """priorsense's diagnosis of one parameter (see the module docstring)."""
    if prior >= threshold and likelihood >= threshold:
        return CONFLICT
    if prior > threshold > likelihood:
        return STRONG_PRIOR
    return NO_ISSUE


def sensitivity_datatree(post: Any, need_likelihood: bool = True) -> Any:
    """The posterior's DataTree, with a ``log_prior`` group computed when it lacks one (a
    posterior sampled before hiermix stored it).

    Raises
    ------
    ModelError
        ``need_likelihood`` and no ``log_likelihood`` group: sampled with
        ``log_likelihood=False``, or left out by size or by ``store_ranef``
        (:func:`hiermix.bayes.sample.loglik_rule`); the message says which.
    """
    from ..bayes.log_prior import log_prior_dataset

    dt = post.datatree
    if need_likelihood and "log_likelihood" not in dt.children:
        note = getattr(getattr(post, "record", None), "log_likelihood", "")
        why = f" (this posterior's: {note})" if note and note != "stored" else ""
        raise ModelError("power-scaling the likelihood needs the pointwise log-likelihood"
                         f"{why}; sample with log_likelihood=True and store_ranef='all', or "
                         "ask for component='prior'")
    if "log_prior" not in dt.children:
        dt = dt.copy()
        dt["log_prior"] = log_prior_dataset(post.posterior, post.design, post.priors)
    return dt


def parameter_cells(post: Any) -> list[tuple[str, dict[str, str], str]]:
    """(variable, coordinate selection, label) of every scalar parameter but b, in model
    order: fixed effects, then per term its SDs and correlations, then sigma or phi."""
    design = post.design
    cells: list[tuple[str, dict[str, str], str]] = []
    for c in design.fixef_names:
        cells.append(("beta", {FIXEF_DIM: c}, _label("beta", c)))
    for t in design.reterms:
        for c in t.cnames:
            cells.append((sd_var(t.label), {coef_dim(t.label): c}, _label(sd_var(t.label), c)))
        for a, b in corr_pairs(t.cnames):
            pair = pair_label(a, b)
            cells.append((corr_var(t.label), {pair_dim(t.label): pair},
                          _label(corr_var(t.label), pair, t.cnames)))
    for v in ("sigma", "phi"):
        if v in post.posterior:
            cells.append((v, {}, v))
    return cells


def _variables(cells: Sequence[tuple[str, dict[str, str], str]]) -> list[str]:
    return list(dict.fromkeys(v for v, _, _ in cells))


def sensitivity(post: Any, component: str = "both", threshold: float = THRESHOLD,
                alphas: tuple[float, float] = ALPHAS) -> pd.DataFrame:
    """Power-scaling sensitivity of every parameter of a posterior.

    Parameters
    ----------
    post : BayesResult
    component : {"both", "prior", "likelihood"}
        Which component to power-scale; ``"both"`` adds the diagnosis.
    threshold : float
        The threshold of the diagnosis (priorsense's 0.05).
    alphas : (float, float)
        Lower and upper power of the finite difference.

    Returns
    -------
    DataFrame, one row per parameter label (``Days``, ``sd(Intercept|Subject)``,
    ``cor(Intercept,Days|Subject)``, ``sigma``), columns ``param`` and ``prior`` and/or
    ``likelihood`` (the sensitivities) and, for ``"both"``, ``diagnosis``.

    Raises
    ------
    ModelError
        Unknown component, bad alphas or threshold, or no log-likelihood in the posterior
        (which only ``component="prior"`` does without).
    """
    import arviz_stats as azs

    if component not in COMPONENTS:
        raise ModelError(f"component must be one of {', '.join(COMPONENTS)}; got {component!r}")
    lo, hi = (float(a) for a in alphas)
    if not 0 < lo < 1 < hi:
        raise ModelError(f"alphas must bracket 1 as 0 < lower < 1 < upper; got {alphas!r}")
    if not threshold > 0:
        raise ModelError(f"threshold must be positive; got {threshold!r}")
    dt = sensitivity_datatree(post, need_likelihood=component != "prior")
    cells = parameter_cells(post)
    names = _variables(cells)
    parts = ["prior", "likelihood"] if component == "both" else [component]
    rows: dict[str, list[Any]] = {"param": [c[2] for c in cells]}
    for part in parts:
        ds = azs.psense(dt, var_names=names, group=part, alphas=(lo, hi))
        rows[part] = [float(np.asarray(ds[v].sel(sel))) for v, sel, _ in cells]
    out = pd.DataFrame(rows)
    if component == "both":
        out["diagnosis"] = [diagnose(p, lik, threshold)
                            for p, lik in zip(out["prior"], out["likelihood"], strict=True)]
    out.attrs["threshold"] = threshold
    return out


def plot_power_scaled(post: Any, params: Sequence[str] | None = None, kind: str = "dist",
                      alphas: tuple[float, float] = PLOT_ALPHAS, **kwargs: Any) -> Any:
    """Marginal posteriors (``kind="dist"``) or their mean, SD and quantiles
    (``kind="quantities"``) with the prior and the likelihood power-scaled by each alpha in
    ``alphas`` (priorsense's ``powerscale_plot_dens`` and ``powerscale_plot_quantities``).

    Parameters
    ----------
    post : BayesResult
    params : list of str or None
        Parameter labels to show (``["Days", "sd(Intercept|Subject)"]``); all when None.
    kind : {"dist", "quantities"}
    alphas : (float, float)
        Default (0.8, 1.25), priorsense's.
    **kwargs
        Passed to ``arviz_plots.plot_psense_dist`` or ``plot_psense_quantities``.

    Returns
    -------
    arviz_plots.PlotCollection
    """
    import arviz_plots as azp

    if kind not in ("dist", "quantities"):
        raise ModelError(f"kind must be 'dist' or 'quantities'; got {kind!r}")
    dt = sensitivity_datatree(post)
    cells = parameter_cells(post)
    if params is not None:
        known = {c[2]: c for c in cells}
        unknown = [p for p in params if p not in known]
        if unknown:
            raise ModelError(f"unknown parameter labels {unknown}; the model has "
                             f"{', '.join(known)}")
        cells = [known[p] for p in params]
    coords: dict[str, list[str]] = {}
    for _, sel, _ in cells:
        for dim, val in sel.items():
            coords.setdefault(dim, []).append(val)
    draw = azp.plot_psense_dist if kind == "dist" else azp.plot_psense_quantities
    kwargs.setdefault("labeller", _labeller(parameter_cells(post)))
    return draw(dt, var_names=_variables(cells), coords=coords or None, alphas=alphas,
                **kwargs)


def _labeller(cells: Sequence[tuple[str, dict[str, str], str]]) -> Any:
    """An ArviZ labeller that titles each panel with the parameter label (``Days``,
    ``sd(Intercept|Subject)``) and the other selections (the power-scaled component)."""
    from arviz_base.labels import BaseLabeller

    labels = {(v, tuple(sorted(sel.items()))): lab for v, sel, lab in cells}
    dims = {d for _, sel, _ in cells for d in sel}

    class ParamLabeller(BaseLabeller):  # type: ignore[misc]
        def _split(self, var_name: Any, sel: Any) -> tuple[str | None, dict[Any, Any]]:
            own = tuple(sorted((k, str(v)) for k, v in sel.items() if k in dims))
            rest = {k: v for k, v in sel.items() if k not in dims}
            return labels.get((var_name, own)), rest

        def _label(self, var_name: Any, sel: Any, isel: Any, template: str) -> str | None:
            """The hiermix label, with what is left of ``sel`` put into ``template``;
            None where the variable has no hiermix label (ArviZ's own then)."""
            label, rest = self._split(var_name, sel)
            if label is None:
                return None
            extra = self.sel_to_str(rest, {k: isel[k] for k in rest if k in isel})
            return template.format(label=label, extra=extra) if extra else label

        def make_label_vert(self, var_name: Any, sel: Any, isel: Any) -> str:
            own = self._label(var_name, sel, isel, "{label}\n{extra}")
            return own if own is not None else str(super().make_label_vert(var_name, sel, isel))

        def make_label_flat(self, var_name: Any, sel: Any, isel: Any) -> str:
            own = self._label(var_name, sel, isel, "{label}[{extra}]")
            return own if own is not None else str(super().make_label_flat(var_name, sel, isel))

    return ParamLabeller()
