"""One random-effects term with q <= 2: the marginal log density written in PyTensor itself.

For a gaussian identity-link model with one term (levels j = 1..J, columns Z_j (n_j, q) of the
rows of level j), prior weights W, Sigma = L L' (q x q) and r = y - offset - X beta, the
levels are independent given (beta, L, sigma)::

    y_j ~ N(X_j beta + offset_j, sigma^2 W_j^{-1} + Z_j L L' Z_j')

and by Woodbury's identity and the matrix determinant lemma, with G_j = Z_j' W_j Z_j,
M_j = sigma^2 I_q + L' G_j L and c_j = L' Z_j' W_j r_j,

    log p(y | beta, L, sigma) = -1/2 [n log(2 pi) + (n - J q) log sigma^2 - sum_i log w_i
                                      + sum_j log|M_j|
                                      + (r'W r - sum_j c_j' M_j^{-1} c_j) / sigma^2].

Everything enters through sufficient statistics, G (J, q, q), Z'WX (J, q, p), Z'W(y - offset)
(J, q), X'WX, X'W(y - offset) and (y - offset)'W(y - offset), so one evaluation costs O(J q^3
+ p^2) whatever n is, and for q <= 2 the inverse and determinant of M_j are written out.
The density is then an ordinary PyTensor graph: PyTensor differentiates it, compiles it with
the rest of the log posterior into one function (no Python Op per evaluation, as
:mod:`hiermix.bayes.marginal`'s blocked factorisation needs for the general case), and the
compile cache of :mod:`hiermix.bayes.nutpie_backend` lifts the statistics to inputs, so a new
response of the same design reuses the compiled function. It is the same density as
:class:`hiermix.pls.density.MarginalDensity` (tests/bayes/test_marginal_small.py checks
1e-9); b is drawn afterwards by :func:`hiermix.bayes.marginal.draw_b` as for the general case.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..design import Design
from .build import BuiltModel, coords_of, fixed_part, term_cholesky
from .marginal import marginal_reason
from .priors import Priors, resolve_priors

#: Largest q_k written out in closed form.
Q_MAX = 2
_LOG_2PI = float(np.log(2.0 * np.pi))


def applies(design: Design) -> bool:
    """True for a design :func:`marginal_reason` accepts with one term of q <= 2."""
    return (marginal_reason(design)[0] and len(design.reterms) == 1
            and design.reterms[0].q <= Q_MAX)


def statistics(design: Design) -> dict[str, np.ndarray]:
    """The sufficient statistics of the module docstring.

    Returns
    -------
    dict
        ``G`` (J, q, q), ``ZX`` (J, q, p), ``Zy`` (J, q), ``XX`` (p, p), ``Xy`` (p,),
        ``yy`` (), ``n`` (), ``logw`` () (sum of log w).
    """
    t = design.reterms[0]
    w = np.asarray(design.weights, dtype=float)
    X = np.asarray(design.X, dtype=float)
    y = np.asarray(design.y, dtype=float) - np.asarray(design.offset, dtype=float)
    Z = np.asarray(t.X, dtype=float)
    codes = np.asarray(t.codes, dtype=np.intp)
    J, q, p = t.nlevels, t.q, X.shape[1]
    wZ = w[:, None] * Z
    G = np.zeros((J, q, q))
    ZX = np.zeros((J, q, p))
    Zy = np.zeros((J, q))
    # (n, q, q), (n, q, p), (n, q) per-row products summed by level
    np.add.at(G, codes, wZ[:, :, None] * Z[:, None, :])
    np.add.at(ZX, codes, wZ[:, :, None] * X[:, None, :])
    np.add.at(Zy, codes, wZ * y[:, None])
    wX = w[:, None] * X
    return {"G": G, "ZX": ZX, "Zy": Zy, "XX": X.T @ wX, "Xy": wX.T @ y,
            "yy": np.asarray(float(y @ (w * y))), "n": np.asarray(float(len(y))),
            "logw": np.asarray(float(np.log(w).sum()))}


def marginal_loglik(stats: dict[str, Any], beta: Any, L: Any, sigma: Any, J: int,
                    q: int) -> Any:
    """log p(y | beta, L, sigma) (module docstring) as a PyTensor scalar.

    Parameters
    ----------
    stats : dict
        From :func:`statistics` (arrays or shared variables holding them).
    beta : tensor (p,)
    L : tensor (q, q), lower triangular
    sigma : tensor ()
    J, q : int
        Levels and columns of the term (static: the closed form depends on q).
    """
    import pytensor.tensor as pt

    G, ZX, Zy = stats["G"], stats["ZX"], stats["Zy"]
    s2 = pt.sqr(sigma)
    # (J, q) - (J, q, p) @ (p,) -> (J, q): Z_j' W r_j
    zr = Zy - pt.dot(ZX, beta)
    # (J, q) @ (q, q) -> (J, q): c_j = L' Z_j' W r_j, as rows
    c = pt.dot(zr, L)
    # (q, q) @ (J, q, q) @ (q, q) -> (J, q, q): L' G_j L
    LGL = pt.tensordot(pt.tensordot(G, L, axes=[[2], [0]]), L, axes=[[1], [0]])
    LGL = LGL.dimshuffle(0, 2, 1)
    if q == 1:
        m = s2 + LGL[:, 0, 0]
        logdet = pt.log(m).sum()
        cmc = (pt.sqr(c[:, 0]) / m).sum()
    else:
        m00, m11, m01 = s2 + LGL[:, 0, 0], s2 + LGL[:, 1, 1], LGL[:, 0, 1]
        det = m00 * m11 - pt.sqr(m01)
        logdet = pt.log(det).sum()
        cmc = ((pt.sqr(c[:, 0]) * m11 - 2.0 * c[:, 0] * c[:, 1] * m01
                + pt.sqr(c[:, 1]) * m00) / det).sum()
    rr = stats["yy"] - 2.0 * pt.dot(beta, stats["Xy"]) + pt.dot(beta, pt.dot(stats["XX"], beta))
    n = stats["n"]
    return -0.5 * (n * _LOG_2PI + (n - J * q) * pt.log(s2) - stats["logw"] + logdet
                   + (rr - cmc) / s2)


def build_model(design: Design, priors: Priors | str | Any = None) -> BuiltModel:
    """The PyMC model of :func:`hiermix.bayes.marginal.build_model` (same free variables,
    priors and names) with the closed-form density of this module as ``marginal_loglik``."""
    import pymc as pm

    pri = resolve_priors(design, priors)
    stats = statistics(design)
    with pm.Model(coords=coords_of(design)) as model:
        fixed_part(design, pri, np.array(design.X, dtype=float))
        beta = model["beta"]
        t = design.reterms[0]
        L = term_cholesky(t, pri)
        sigma = pri.require("sigma").rv("sigma")
        pm.Potential("marginal_loglik", marginal_loglik(stats, beta, L, sigma, t.nlevels, t.q))
    return BuiltModel(model=model, design=design, priors=pri, centered=False)


#: Names of the statistics as shared data (``pm.Data``) in :func:`build_fed_model`.
STAT_PREFIX = "stat_"
PRIOR_PREFIX = "prior_"


def prior_parameters(pri: Priors) -> dict[str, np.ndarray]:
    """Every numeric parameter of the resolved priors that a new response can change, by the
    name of its shared variable in :func:`build_fed_model` (``prior_<class>_<field>``, and
    ``prior_location`` for the flat intercept's starting value)."""
    import dataclasses

    from .priors import LKJ

    out: dict[str, np.ndarray] = {"prior_location": np.asarray(float(pri.location))}
    classes: list[tuple[str, Any]] = [("intercept", pri.intercept), ("coef", pri.coef),
                                      ("sigma", pri.sigma)]
    classes += [(f"sd_{k}", v) for k, v in pri.sd.items()]
    for cls, prior in classes:
        if prior is None or isinstance(prior, LKJ):
            continue
        for f in dataclasses.fields(prior):
            out[f"{PRIOR_PREFIX}{cls}_{f.name}"] = np.asarray(getattr(prior, f.name),
                                                              dtype=float)
    return out


def structure_key(design: Design, pri: Priors) -> tuple[Any, ...]:
    """What :func:`build_fed_model`'s compiled model depends on besides its shared data: the
    design's shapes and names and the priors' families and shapes (LKJ's eta by value)."""
    import hashlib

    t = design.reterms[0]
    fam = tuple((k, type(v).__name__, tuple(np.shape(v))) for k, v in
                prior_parameters(pri).items())
    # X's column means are constants of the graph (the centring of beta), so X is part of
    # the structure; Z, the codes and the weights enter through the statistics.
    x_digest = hashlib.sha1(np.ascontiguousarray(design.X, dtype=float).tobytes()).hexdigest()
    return (str(design.spec), tuple(design.fixef_names), t.label, tuple(t.cnames),
            tuple(str(v) for v in t.levels), design.nobs, x_digest, fam,
            tuple((k, float(v.eta)) for k, v in pri.corr.items()),
            type(pri.intercept).__name__)


def build_fed_model(design: Design, pri: Priors) -> BuiltModel:
    """:func:`build_model` with the statistics and the priors' parameters as named shared
    data, so that one compiled model serves every response of the design
    (``CompiledPyMCModel.with_data``, :func:`fed_values`)."""
    import dataclasses

    import pymc as pm

    from .priors import LKJ

    stats = statistics(design)
    params = prior_parameters(pri)
    with pm.Model(coords=coords_of(design)) as model:
        data = {k: pm.Data(f"{STAT_PREFIX}{k}", v) for k, v in stats.items()}

        def fed(cls: str, prior: Any) -> Any:
            if prior is None or isinstance(prior, LKJ):
                return prior
            return dataclasses.replace(prior, **{
                f.name: pm.Data(f"{PRIOR_PREFIX}{cls}_{f.name}",
                                params[f"{PRIOR_PREFIX}{cls}_{f.name}"])
                for f in dataclasses.fields(prior)})

        fed_pri = dataclasses.replace(
            pri, intercept=fed("intercept", pri.intercept), coef=fed("coef", pri.coef),
            sigma=fed("sigma", pri.sigma),
            sd={k: fed(f"sd_{k}", v) for k, v in pri.sd.items()},
            location=pm.Data("prior_location", params["prior_location"]))
        fixed_part(design, fed_pri, np.array(design.X, dtype=float))
        beta = model["beta"]
        L = term_cholesky(design.reterms[0], fed_pri)
        sigma = fed_pri.require("sigma").rv("sigma")
        t = design.reterms[0]
        pm.Potential("marginal_loglik", marginal_loglik(data, beta, L, sigma, t.nlevels, t.q))
    return BuiltModel(model=model, design=design, priors=pri, centered=False)


def fed_values(design: Design, pri: Priors) -> dict[str, np.ndarray]:
    """The shared data of :func:`build_fed_model` for ``design`` and ``pri``, by name."""
    out = {f"{STAT_PREFIX}{k}": v for k, v in statistics(design).items()}
    out.update(prior_parameters(pri))
    return out
