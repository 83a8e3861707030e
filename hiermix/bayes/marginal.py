"""Gaussian models with b integrated out: sample (beta, Sigma, sigma), then draw b exactly.

For every gaussian identity-link mixed model (any number of terms, crossed or nested, any
q_k) with positive prior weights, the random effects can be integrated out analytically:

    y ~ N(X beta + offset, sigma^2 W^{-1} + Z Sigma Z'),  Sigma = blockdiag(I_{l_k} (x) L_k L_k').

NUTS then explores beta, the SDs and correlations (through L_k, :func:`term_cholesky`) and
sigma, with the documented priors of :mod:`hiermix.bayes.priors`, instead of adding the
sum_k l_k q_k effects, and b is drawn afterwards from its exact conditional posterior
p(b | y, beta, L, sigma) for each draw, so the pairs (parameters, b) are exact joint posterior
draws. The log density and its gradient come from :mod:`hiermix.pls.density`, the blocked
Cholesky factorisation of the Gram matrix of [Z X y] that the frequentist engine profiles: one
evaluation costs one factor update, whatever n is. It enters the PyMC model as a
``pm.Potential`` named ``marginal_loglik`` through :class:`MarginalLoglik`, a PyTensor Op with
a gradient (:class:`MarginalLoglikGrad`).

:func:`marginal_reason` says why a design can or cannot be sampled this way;
:func:`sampler_choice` decides for ``marginal="auto"``: every gradient factors and inverts the
dense m_z x m_z block of the terms after the first (O(m_z^3)), so above
:data:`AUTO_MAX_REST` columns the joint sampler, whose gradient costs O(n), is faster (InstEval,
m_z = 1,142: 0.34 s per marginal gradient against about 2 ms per joint one,
benchmarks/bayes.py ``--model insteval``); it then parameterises b by
:func:`hiermix.bayes.centring.plan_joint`. The result's
:class:`~hiermix.bayes.result.SamplerRecord` keeps the sentence saying which ran and why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..design import Design
from ..errors import ModelError
from ..naming import b_var, coef_dim, corr_var, level_dim, sd_var
from ..pls.density import MarginalDensity
from ..pls.gram import MAX_DENSE_REST, build_gram
from ..pls.one_term import OneTermDensity, make_density
from .build import BuiltModel, coords_of, fixed_part, term_cholesky
from .centring import JointPlan, plan_joint
from .priors import Priors, resolve_priors
from .result import chol_draws


def marginal_reason(design: Design) -> tuple[bool, str]:
    """(possible, why): whether b can be integrated out of ``design``'s model, and why."""
    fam = design.family
    if not fam.is_lmm:
        return False, (f"b sampled jointly: the {fam} model has no closed-form marginal "
                       "likelihood (only gaussian identity-link models do)")
    if not design.reterms:
        return False, "b sampled jointly: the model has no random-effects terms"
    if not bool(np.all(design.weights > 0)):
        return False, "b sampled jointly: some prior weights are zero"
    rest = sum(t.ncols for t in design.reterms[1:]) + design.p + 1
    if rest > MAX_DENSE_REST:
        return False, (f"b sampled jointly: the terms after the first have {rest} columns, "
                       f"more than the {MAX_DENSE_REST} the blocked factor keeps dense")
    return True, ("b integrated out (gaussian identity link): beta, SDs, correlations and "
                  "sigma sampled from their marginal posterior, b drawn exactly per draw")


#: Largest dense block (columns of the terms after the first) for which ``marginal="auto"``
#: integrates b out; see the module docstring.
AUTO_MAX_REST = 400


def sampler_choice(design: Design) -> tuple[bool, JointPlan | None, str]:
    """(integrate b out, the joint sampler's plan, why) for ``marginal="auto"``.

    b is integrated out when :func:`marginal_reason` allows it and the terms after the first
    have at most :data:`AUTO_MAX_REST` columns; otherwise b is sampled, parameterised by
    :func:`hiermix.bayes.centring.plan_joint` (nested chains centred hierarchically, other
    one-column terms centred partially per level). For a model that cannot be marginalised
    at all the plan is None: the joint sampler's default stays non-centred there.
    """
    possible, why = marginal_reason(design)
    if not possible:
        return False, None, why
    mz = sum(t.ncols for t in design.reterms[1:])
    if mz <= AUTO_MAX_REST:
        return True, None, why
    plan = plan_joint(design)
    return False, plan, (
        f"b sampled jointly: the terms after the first have {mz} columns, more than the "
        f"{AUTO_MAX_REST} up to which integrating b out (one dense {mz} x {mz} factor and "
        f"inverse per gradient) is faster; {plan.sentence()}")


def can_marginalize(design: Design) -> bool:
    """True when :func:`marginal_reason` allows integrating b out."""
    return marginal_reason(design)[0]


def _op_classes() -> tuple[type, type]:
    """The two Ops, defined on first use so that importing this module needs no PyTensor."""
    global _OPS
    if _OPS is not None:
        return _OPS
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class MarginalLoglikGrad(Op):
        """(d/d beta (p,), d/d sigma (), d/d L_k (q_k, q_k) ...) of log p(y | beta, L, sigma)."""

        __props__ = ("slot",)

        def __init__(self, slot: DensitySlot) -> None:
            self.slot = slot

        def __str__(self) -> str:  # no address: the compile cache keys on printed graphs
            return type(self).__name__

        def make_node(self, beta: Any, sigma: Any, *Ls: Any) -> Apply:  # type: ignore[override]
            inputs = [pt.as_tensor_variable(beta), pt.as_tensor_variable(sigma),
                      *[pt.as_tensor_variable(L) for L in Ls]]
            return Apply(self, inputs, [v.type() for v in inputs])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:
            beta, sigma, *Ls = inputs
            _, d_beta, d_L, d_sigma = self.slot.density.logp_and_grad(beta, Ls, sigma)
            # Copies: the density keeps its last result, and PyTensor may work in place on
            # an Op's outputs.
            outputs[0][0] = np.array(d_beta, dtype=node.outputs[0].dtype)
            outputs[1][0] = np.array(d_sigma, dtype=node.outputs[1].dtype)
            for k, g in enumerate(d_L):
                outputs[2 + k][0] = np.array(g, dtype=node.outputs[2 + k].dtype)

    class MarginalLoglik(Op):
        """log p(y | beta, L, sigma) with b integrated out, a scalar; inputs beta (p,),
        sigma () and L_k (q_k, q_k) per term in design order."""

        __props__ = ("slot",)

        def __init__(self, slot: DensitySlot) -> None:
            self.slot = slot
            self.grad_op = MarginalLoglikGrad(slot)

        def __str__(self) -> str:
            return type(self).__name__

        def make_node(self, beta: Any, sigma: Any, *Ls: Any) -> Apply:  # type: ignore[override]
            inputs = [pt.as_tensor_variable(beta), pt.as_tensor_variable(sigma),
                      *[pt.as_tensor_variable(L) for L in Ls]]
            return Apply(self, inputs, [pt.dscalar()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:
            beta, sigma, *Ls = inputs
            outputs[0][0] = np.asarray(self.slot.density.logp(beta, Ls, sigma), dtype="float64")

        def pullback(self, inputs: Any, outputs: Any, output_grads: Any) -> list[Any]:
            (gz,) = output_grads
            grads: Any = self.grad_op(*inputs)
            return [gz * g for g in grads]

    from .op_numba import register_numba

    register_numba(MarginalLoglik, MarginalLoglikGrad)  # called by reference, not pickled
    _OPS = (MarginalLoglik, MarginalLoglikGrad)
    return _OPS


_OPS: tuple[type, type] | None = None


class DensitySlot:
    """Holds the :class:`~hiermix.pls.density.MarginalDensity` an Op evaluates.

    The Ops refer to the slot, not to the data, so a compiled log density can be pointed at
    new data of the same structure by replacing ``density``. Ops compare by slot identity.
    """

    def __init__(self, density: MarginalDensity | OneTermDensity) -> None:
        self.density = density


def marginal_loglik(design: Design, beta: Any, Ls: list[Any], sigma: Any,
                    slot: DensitySlot | None = None) -> Any:
    """log p(y | beta, L, sigma) as a PyTensor scalar (b integrated out)."""
    op_cls, _ = _op_classes()
    slot = slot if slot is not None else DensitySlot(make_density(build_gram(design)))
    return op_cls(slot)(beta, sigma, *Ls)


def build_model(design: Design, priors: Priors | str | Any = None) -> BuiltModel:
    """The PyMC model of a gaussian design with b integrated out.

    The free variables and priors are those of :func:`hiermix.bayes.build.build_model`
    without ``z_<label>``; the likelihood is a ``pm.Potential`` named ``marginal_loglik``.

    Raises
    ------
    ModelError
        When :func:`marginal_reason` refuses the design.
    """
    import pymc as pm

    ok, why = marginal_reason(design)
    if not ok:
        raise ModelError(f"cannot integrate the random effects out: {why}")
    pri = resolve_priors(design, priors)
    with pm.Model(coords=coords_of(design)) as model:
        fixed_part(design, pri, np.array(design.X, dtype=float))
        beta = model["beta"]
        Ls = [term_cholesky(t, pri) for t in design.reterms]
        sigma = pri.require("sigma").rv("sigma")
        pm.Potential("marginal_loglik", marginal_loglik(design, beta, Ls, sigma))
    return BuiltModel(model=model, design=design, priors=pri, centered=False)


def draw_b(built: BuiltModel, posterior: Any, rng: np.random.Generator,
           store: str = "all") -> dict[str, Any]:
    """b drawn from its exact conditional posterior for each posterior draw.

    Parameters
    ----------
    built : BuiltModel
    posterior : xarray.Dataset
        Draws of beta, the SDs and correlations, and sigma.
    rng : numpy.random.Generator
    store : {"all", "summary", "none"}
        Keep every draw, or only the running mean and SD (Welford's updates, so that the
        draws of b are never all in memory), or nothing (no draws made).

    Returns
    -------
    dict
        "all": ``{"b_<label>": DataArray (chain, draw, <label>_level, <label>_coef)}``;
        "summary": ``{"b_<label>": (mean, sd)}``, DataArrays (<label>_level, <label>_coef);
        "none": ``{}``.
    """
    import xarray as xr

    if store == "none":
        return {}
    design = built.design
    density = make_density(build_gram(design))
    C, D = posterior.sizes["chain"], posterior.sizes["draw"]
    S = C * D
    beta = np.asarray(posterior["beta"]).reshape(S, -1)
    sigma = np.asarray(posterior["sigma"]).reshape(S)
    Ls = []
    for t in design.reterms:
        sd = np.asarray(posterior[sd_var(t.label)]).reshape(S, t.q)
        corr = (np.asarray(posterior[corr_var(t.label)]).reshape(S, -1) if t.q > 1 else None)
        Ls.append(chol_draws(sd, corr))  # (S, q_k, q_k)
    keep_all = store == "all"
    shape = [(t.nlevels, t.q) for t in design.reterms]
    out = [np.empty((S, *sh)) if keep_all else np.zeros((2, *sh)) for sh in shape]
    for s in range(S):
        bs = density.draw_b(beta[s], [L[s] for L in Ls], float(sigma[s]), rng)
        for k, b in enumerate(bs):
            if keep_all:
                out[k][s] = b
            else:
                # Welford: out[k][0] the running mean, out[k][1] the sum of squared deviations
                delta = b - out[k][0]
                out[k][0] += delta / (s + 1)
                out[k][1] += delta * (b - out[k][0])
    result: dict[str, Any] = {}
    for t, b in zip(design.reterms, out, strict=True):
        dims = (level_dim(t.label), coef_dim(t.label))
        coords = {level_dim(t.label): list(t.levels), coef_dim(t.label): list(t.cnames)}
        if keep_all:
            result[b_var(t.label)] = xr.DataArray(
                b.reshape(C, D, t.nlevels, t.q), dims=("chain", "draw", *dims),
                coords={"chain": posterior["chain"], "draw": posterior["draw"], **coords})
        else:
            sd = np.sqrt(b[1] / max(S - 1, 1))
            result[b_var(t.label)] = (xr.DataArray(b[0], dims=dims, coords=coords),
                                      xr.DataArray(sd, dims=dims, coords=coords))
    return result
