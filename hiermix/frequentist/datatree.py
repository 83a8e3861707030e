"""The frequentist fit as an ArviZ DataTree, with the posterior's variable names and dims.

ArviZ plots draws, so the fit is represented by draws from the large-sample (Wald)
distribution of its estimates, in a group named ``posterior`` (independent draws, split into
"chains" only so that its shape matches a posterior's):

* ``beta ~ N(beta-hat, vcov)``;
* the variance components from ``psi ~ N(psi-hat, 2 H^{-1})`` on the unconstrained scale of
  :mod:`hiermix.frequentist.wald` (log SDs, atanh correlations, log sigma or log phi),
  transformed back, so SDs stay positive and correlations inside (-1, 1); components on the
  boundary (singular fits) stay at their estimate;
* ``b_<label>`` per level from N(conditional mode, conditional variance), lme4's ``condVar``.

beta and psi are drawn independently: for linear mixed models they are asymptotically
orthogonal; for GLMMs this ignores their (usually small) correlation. The names follow
:mod:`hiermix.naming`, so ``arviz.plot_forest({"ML": fit.to_datatree(), "Bayes":
post.datatree}, combined=True)`` shows both without renaming (ArviZ aligns the two along chain
and draw, so keep their shapes equal: the defaults match ``Model.sample``'s). The group's attrs
say what the draws are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..arguments import check_count, make_rng
from ..naming import (
    FIXEF_DIM,
    b_var,
    coef_dim,
    corr_pairs,
    corr_var,
    level_dim,
    pair_dim,
    pair_label,
    posterior_var_order,
    sd_var,
)
from .wald import PsiEstimate, estimate_psi


def fit_datatree(fit: Any, draws: int = 1000, seed: Any = 0,
                 psi: PsiEstimate | None = None, chains: int = 4) -> xr.DataTree:
    """Draws from the asymptotic distribution of a fit's estimates, as a DataTree.

    Parameters
    ----------
    fit
        An LMM or GLMM result.
    draws, chains : int
        Draws per chain and number of chains. ArviZ lines several DataTrees up along (chain,
        draw), so match them to the posterior you compare with (the defaults match
        ``Model.sample``'s).
    seed : int, Generator or None
    psi : PsiEstimate or None
        psi-hat and its covariance; computed from the fit when None.

    Returns
    -------
    xarray.DataTree
        Group ``posterior`` with ``beta``, ``sd_<label>``, ``corr_<label>``, ``b_<label>`` and
        ``sigma`` or ``phi``, dims ``(chain, draw, ...)``.
    """
    rng = make_rng(seed, "seed")
    per_chain = check_count(draws, "draws", 1)
    chains = check_count(chains, "chains", 1)
    draws = chains * per_chain
    design = fit.design
    if psi is None:
        psi = fit.psi_estimate() if hasattr(fit, "psi_estimate") else estimate_psi(fit)
    est = psi
    data: dict[str, xr.DataArray] = {}

    names = list(design.fixef_names)
    beta = np.asarray(fit.fixef.loc[names], dtype=float)
    V = np.asarray(fit.vcov.loc[names, names], dtype=float)
    bdraws = rng.multivariate_normal(beta, V, size=draws, method="eigh") if names \
        else np.zeros((draws, 0))
    def chained(a: np.ndarray) -> np.ndarray:
        """(chains * per_chain, ...) -> (chains, per_chain, ...)."""
        return a.reshape((chains, per_chain, *a.shape[1:]))

    data["beta"] = xr.DataArray(chained(bdraws), dims=("chain", "draw", FIXEF_DIM),
                                coords={FIXEF_DIM: names})

    cov = np.nan_to_num(est.cov)
    pdraws = rng.multivariate_normal(est.psi, cov, size=draws, method="eigh")
    pdraws[:, est.boundary] = est.psi[est.boundary]
    per_draw = [est.varcorr(p) for p in pdraws]
    for k, t in enumerate(design.reterms):
        sds = np.stack([terms[k][0] for terms, _ in per_draw])  # (draws, q_k)
        data[sd_var(t.label)] = xr.DataArray(
            chained(sds), dims=("chain", "draw", coef_dim(t.label)),
            coords={coef_dim(t.label): list(t.cnames)})
        pairs = corr_pairs(list(t.cnames))
        if pairs:
            idx = [(t.cnames.index(b), t.cnames.index(a)) for a, b in pairs]
            cors = np.stack([[terms[k][1][i, j] for i, j in idx] for terms, _ in per_draw])
            data[corr_var(t.label)] = xr.DataArray(
                chained(cors), dims=("chain", "draw", pair_dim(t.label)),
                coords={pair_dim(t.label): [pair_label(a, b) for a, b in pairs]})
    fam = design.family
    if est.has_resid:
        resid = np.array([r for _, r in per_draw])
        data["sigma" if fam.name == "gaussian" else "phi"] = xr.DataArray(
            chained(resid), dims=("chain", "draw"))

    condvar = fit.ranef_condvar
    for t, bk in zip(design.reterms, fit.b, strict=True):
        Vk = condvar[t.label]
        # (l, q) modes, (l, q, q) conditional covariances -> (draws, l, q). A symmetric
        # square root by eigenvalues, because singular fits have singular blocks.
        w, U = np.linalg.eigh(np.asarray(Vk))
        root = U * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
        zdraw = rng.standard_normal((draws, t.nlevels, t.q))
        bd = np.asarray(bk)[None] + np.einsum("lij,dlj->dli", root, zdraw)
        data[b_var(t.label)] = xr.DataArray(
            chained(bd), dims=("chain", "draw", level_dim(t.label), coef_dim(t.label)),
            coords={level_dim(t.label): list(t.levels), coef_dim(t.label): list(t.cnames)})

    # Variables in the naming contract's order, so that the dims are declared in the order
    # b lists them and ArviZ labels b correctly (:mod:`hiermix.naming`, "Variable and dim
    # order").
    terms = [(t.label, t.q) for t in design.reterms]
    ds = xr.Dataset({k: data[k] for k in posterior_var_order(terms, data)},
                    coords={"chain": np.arange(chains), "draw": np.arange(per_chain)})
    ds.attrs.update({
        "inference_library": "hiermix",
        "hiermix_kind": "maximum likelihood: draws from the asymptotic normal distribution of "
                        "the estimates (beta; log SD, atanh correlation, log sigma/phi), "
                        "random effects from N(conditional mode, conditional variance)",
        "formula": str(design.spec),
    })
    return xr.DataTree.from_dict({"posterior": ds})
