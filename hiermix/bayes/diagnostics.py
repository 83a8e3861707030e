"""Sampling diagnostics surfaced as warnings with advice, never buried in sample_stats.

Three checks, each on the parameters the result reports (beta, SDs, correlations, sigma or phi,
and b), with thresholds from Vehtari et al. (2021), "Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC":

* divergent transitions (any): the sampler met curvature it could not follow, so the draws may
  be biased;
* R-hat above 1.01: the chains disagree;
* bulk or tail ESS below 100 per chain: too few effective draws for stable means or quantiles.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import PACKAGE_DIR

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


class SamplingWarning(UserWarning):
    """A problem with the MCMC draws; the message says what to try."""


@dataclass(frozen=True)
class Diagnostic:
    """One failed check.

    Attributes
    ----------
    kind : {"divergences", "rhat", "ess_bulk", "ess_tail"}
    message : str
        What was found and what to try.
    variables : tuple of str
        The worst variables (empty for divergences).
    """

    kind: str
    message: str
    variables: tuple[str, ...] = ()


def _flagged(ds: Any, bad: Any) -> tuple[str, ...]:
    """Names of the variables with at least one flagged element."""
    return tuple(str(name) for name in ds.data_vars if np.any(np.asarray(bad[name])))


def diagnose(posterior: Any, sample_stats: Any, var_names: list[str], chains: int,
             centered: bool, target_accept: float) -> list[Diagnostic]:
    """Check the draws and return the failed checks with their advice.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims (chain, draw, ...).
    sample_stats : xarray.Dataset or None
        Needs ``diverging`` (chain, draw).
    var_names : list of str
        Variables to check.
    chains : int
    centered, target_accept
        The settings used, so that the advice can say what to change.
    """
    import arviz_stats as azs

    out: list[Diagnostic] = []
    n_div = 0
    if sample_stats is not None and "diverging" in sample_stats:
        n_div = int(np.asarray(sample_stats["diverging"]).sum())
    if n_div:
        total = int(np.asarray(sample_stats["diverging"]).size)
        reparam = ("try the non-centred parameterisation (centered=False), which suits groups "
                   "with few observations or small SDs" if centered else
                   "if groups have many observations each, try centered=True")
        out.append(Diagnostic("divergences", (
            f"{n_div} of {total} transitions diverged, so the posterior may be biased; "
            f"raise target_accept (now {target_accept}; try 0.95 or 0.99), {reparam}, or use "
            "tighter priors on the SDs")))
    ds = posterior[var_names]
    if chains > 1:
        rhat = azs.rhat(ds)
        bad = rhat > RHAT_MAX
        worst = _flagged(ds, bad)
        if worst:
            top = max(float(np.nanmax(np.asarray(rhat[v]))) for v in worst)
            out.append(Diagnostic("rhat", (
                f"R-hat above {RHAT_MAX} (max {top:.3f}) for {', '.join(worst)}: the chains "
                "disagree; draw longer (tune and draws), check for multimodality or a weakly "
                "identified parameter (an SD near zero), or "
                f"{'try centered=False' if centered else 'try centered=True'}"), worst))
    need = ESS_PER_CHAIN_MIN * chains
    for method in ("bulk", "tail"):
        ess = azs.ess(ds, method=method)
        bad = ess < need
        worst = _flagged(ds, bad)
        if worst:
            low = min(float(np.nanmin(np.asarray(ess[v]))) for v in worst)
            out.append(Diagnostic(f"ess_{method}", (
                f"{method} ESS below {need} (100 per chain; min {low:.0f}) for "
                f"{', '.join(worst)}: {'means' if method == 'bulk' else 'quantiles'} are "
                "unreliable; draw more, or reparameterise "
                f"({'centered=False' if centered else 'centered=True'} may mix better)"), worst))
    return out


def emit(diagnostics: list[Diagnostic]) -> None:
    """Issue each failed check as a :class:`SamplingWarning`."""
    for d in diagnostics:
        warnings.warn(d.message, SamplingWarning, skip_file_prefixes=(PACKAGE_DIR,))
