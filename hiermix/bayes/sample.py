"""Sampling: build the model, run NUTS, and assemble the result's DataTree.

The stages, each callable on its own::

    build_model(design, priors) -> BuiltModel -> pm.sample (NUTS) -> DataTree -> BayesResult

The DataTree gets, besides PyMC's ``posterior``, ``sample_stats`` and ``observed_data``:
``log_likelihood`` (pointwise log p(y_i | beta, b, phi), computed with
:meth:`hiermix.family.Family.loglik`, the frequentist engine's own function) and
``constant_data`` (X, weights, offset, and each term's codes and columns) and ``log_prior``
(the log density of each prior class per draw, :mod:`hiermix.bayes.log_prior`), so that
ArviZ's power-scaling sensitivity (``arviz_stats.psense``) works on the DataTree as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..arguments import check_count, check_seed
from ..design import Design
from ..errors import ArgumentError, ModelError
from ..naming import FIXEF_DIM, b_var, coef_dim, posterior_var_order
from .build import OBS_DIM, RESPONSE, BuiltModel, build_model
from .centring import build_model as build_joint
from .centring import draw_posterior as draw_chain_posterior
from .centring import plan_joint
from .diagnostics import diagnose, emit
from .level_centring import build_model as build_levels
from .level_centring import plan_levels
from .log_prior import log_prior_dataset
from .marginal import build_model as build_marginal
from .marginal import draw_b, marginal_reason, sampler_choice
from .marginal_small import applies as small_applies
from .marginal_small import build_model as build_small
from .priors import Priors
from .result import BayesResult, SamplerRecord, mu_draws

#: Above this many stored numbers of b (chains x draws x sum_k l_k q_k), ``store_ranef``
#: defaults to "summary": 25 million doubles are 200 MB; 100,000 levels of a (1 + x | g) term
#: over 2 x 1000 draws would be 3.2 GB.
RANEF_DRAWS_MAX = 25_000_000
STORE_RANEF = ("all", "summary", "none")
#: Above this many stored numbers of the pointwise log-likelihood (chains x draws x n),
#: ``log_likelihood=None`` leaves the group out: 25 million doubles are 200 MB, while 1M rows
#: over 2 x 500 draws would be 8 GB (and its b draws, needed to compute it, more).
LOGLIK_DRAWS_MAX = 25_000_000

SAMPLERS = ("nutpie", "pymc", "nutpie-numba", "numpyro", "blackjax")
#: Samplers that run PyTensor's JAX translation of the log density (CPU, or an accelerator
#: where JAX finds one). The blocked-factor density of integrated-out b is a Python Op
#: (:mod:`hiermix.bayes.marginal`) with no JAX translation; these samplers integrate b out
#: only through the closed-form one-term density written into the graph
#: (:mod:`hiermix.bayes.marginal_small`), and otherwise sample b (see :func:`jax_route`).
JAX_SAMPLERS = ("numpyro", "blackjax")
_MODULE = {"nutpie": "nutpie", "pymc": "pymc", "nutpie-numba": "nutpie", "numpyro": "numpyro",
           "blackjax": "blackjax"}


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def default_sampler() -> str:
    """``"nutpie"`` (nutpie's NUTS over PyTensor's compiled log-density) where installed,
    else ``"pymc"``: the faster end to end in benchmarks/bayes.py."""
    return "nutpie" if _installed("nutpie") else "pymc"


def _resolve_sampler(sampler: str | None) -> str:
    name = default_sampler() if sampler is None else sampler
    if name not in SAMPLERS:
        raise ModelError(f"unknown sampler {name!r}; use one of {', '.join(SAMPLERS)}")
    module = _MODULE[name]
    if not _installed(module):
        raise ModelError(f"sampler {name!r} needs the {module!r} package, which is not "
                         f"installed (pip install {module})")
    return name


def sample(design: Design, draws: int = 1000, tune: int = 1000, chains: int = 4,
           random_seed: int | None = None, priors: Priors | str | Mapping[str, Any] | None = None,
           *, centered: bool = False, marginal: bool | str = "auto", sampler: str | None = None,
           target_accept: float = 0.8, cores: int | None = None, progressbar: bool = False,
           log_likelihood: bool | None = None, warn: bool = True,
           store_ranef: str | None = None, lean: bool = False, **kwargs: Any) -> BayesResult:
    """Sample the posterior of ``design``'s mixed model with NUTS.

    Parameters
    ----------
    design : Design
    draws, tune, chains : int
        Draws kept per chain, tuning steps per chain, number of chains.
    random_seed : int or None
        Equal seeds give identical draws; None draws a seed and records it.
    priors : None, "default", "flat", mapping or Priors
        See :func:`hiermix.bayes.priors.resolve_priors`.
    centered : bool
        Sample b of every term directly (centred) instead of through standardised effects.
        False (the default) leaves the parameterisation to hiermix: where b cannot be
        integrated out (GLMMs), the well-informed random intercepts are centred
        hierarchically with the predictors constant within their levels
        (:mod:`hiermix.bayes.level_centring`), and the other terms are non-centred.
    marginal : bool or "auto"
        Integrate b out while sampling and draw it afterwards from its exact conditional
        posterior (:mod:`hiermix.bayes.marginal`); every gaussian identity-link model with
        positive weights. "auto" does it where possible and not ``centered``, unless the
        terms after the first are too many for its dense block
        (:func:`~hiermix.bayes.marginal.sampler_choice`: b is then sampled, parameterised by
        :mod:`hiermix.bayes.centring`); the result's ``record.marginal_why`` says which sampler
        ran and why.
    sampler : {"nutpie", "pymc", "nutpie-numba", "numpyro", "blackjax"} or None
        NUTS implementation: ``"nutpie"`` runs nutpie's sampler on PyTensor's compiled
        log-density (:mod:`hiermix.bayes.nutpie_backend`), ``"nutpie-numba"`` is PyMC's own
        nutpie route (numba), the others are ``pm.sample(nuts_sampler=...)``. None takes
        :func:`default_sampler`.
    target_accept : float
    cores : int or None
        Parallel chains; None lets PyMC choose.
    progressbar : bool
        Show the sampler's progress bar.
    log_likelihood : bool or None
        Store the pointwise log-likelihood, group ``log_likelihood`` (chains x draws x n
        doubles, needed by LOO and by the likelihood side of power-scaling sensitivity). None
        stores it when that is at most :data:`LOGLIK_DRAWS_MAX` numbers and every draw of b
        is kept, and otherwise leaves it out and says why in ``record.log_likelihood`` (and
        in an INFO message of the ``hiermix`` logger); True insists (and needs
        ``store_ranef="all"``); False never stores it. See :func:`loglik_rule`.
    warn : bool
        Issue failed diagnostics as :class:`SamplingWarning`.
    store_ranef : {"all", "summary", "none"} or None
        What is kept of b: every draw (``b_<label>`` in the posterior), only its posterior
        mean and SD per level and column (group ``ranef_summary``, variables
        ``b_<label>_mean`` and ``b_<label>_sd``; with b integrated out these are accumulated
        draw by draw, so the draws are never all in memory), or nothing. None takes "all"
        up to :data:`RANEF_DRAWS_MAX` stored numbers (chains x draws x sum of l_k q_k) and
        "summary" above, and says so in ``record.store_ranef``. Without b draws the pointwise
        log-likelihood is not stored, and ``ranef``, ``fitted``, ``predict`` and
        ``posterior_predictive`` raise :class:`~hiermix.errors.ModelError`.
    lean : bool
        Keep only ``posterior`` and ``sample_stats``: no b draws (``store_ranef`` is taken as
        "none"), no ``log_likelihood``, ``log_prior``, ``observed_data`` or
        ``constant_data``, and no diagnostics (the result's ``diagnostics`` is empty and
        nothing is warned). For loops over many responses, such as a simulation study, that
        read the parameters' draws only.
    **kwargs
        Passed to ``pymc.sample``, or to ``nutpie.sample`` for ``sampler="nutpie"`` (with b
        integrated out, nutpie's low-rank mass matrix adaptation is the default there).

    Notes
    -----
    ``sampler="nutpie-numba"`` with b integrated out of a one-term model of q <= 2
    (:mod:`hiermix.bayes.marginal_small`) compiles the model once per structure and process
    with nutpie's numba backend and feeds each later model of that structure its data
    (:func:`hiermix.bayes.nutpie_backend.sample_fed`): the first call pays a whole-graph
    compilation, each later one only sampling, in native code.

    Returns
    -------
    BayesResult
    """
    name = _resolve_sampler(sampler)
    draws = check_count(draws, "draws", 1)
    tune = check_count(tune, "tune", 0)
    chains = check_count(chains, "chains", 1)
    if cores is not None:
        cores = check_count(cores, "cores", 1)
    random_seed = check_seed(random_seed, "random_seed")
    if isinstance(target_accept, bool) or not isinstance(target_accept, int | float) \
            or not 0.0 < target_accept < 1.0:
        raise ArgumentError(f"target_accept must be a number in (0, 1); got {target_accept!r}")
    if marginal not in (True, False, "auto"):
        raise ModelError(f"marginal must be True, False or 'auto'; got {marginal!r}")
    possible, why = marginal_reason(design)
    if marginal is True and not possible:
        raise ModelError(f"marginal=True cannot be honoured: {why}")
    use_marginal = bool(possible and marginal in (True, "auto") and not centered)
    if possible and not use_marginal:
        why = ("b sampled jointly: marginal=False was asked for" if marginal is False
               else "b sampled jointly: centered=True asks for b in the sampler")
    plan = None
    if use_marginal and name in JAX_SAMPLERS:
        use_marginal, plan, why = jax_route(design, name, marginal, why)
    elif use_marginal and marginal == "auto":  # too large a dense block: joint, re-parameterised
        use_marginal, plan, why = sampler_choice(design)
    store, store_note = _resolve_store_ranef(design, "none" if lean else store_ranef, draws,
                                             chains)
    keep_ll, ll_note = loglik_rule(design, False if lean else log_likelihood, store, draws,
                                   chains)
    seed = (int(np.random.SeedSequence().generate_state(1)[0]) if random_seed is None
            else random_seed)

    _marginal_nutpie_defaults(use_marginal, name, kwargs)
    t0 = time.perf_counter()
    chain_model = None
    fed = name == "nutpie-numba" and use_marginal and small_applies(design)
    if fed:
        built, dt = _run_fed(design, priors, draws, tune, chains, seed, target_accept, cores,
                             progressbar, kwargs)
    else:
        if use_marginal:
            # One term with q <= 2: the closed-form density compiles into the log posterior
            # (no Python Op per evaluation); the general case uses the blocked factorisation.
            # A JAX sampler reaches here only where the closed form applies (jax_route).
            in_graph = _small_in_graph(design) or name in JAX_SAMPLERS
            built = (build_small(design, priors) if in_graph
                     else build_marginal(design, priors))
        elif plan is not None:
            built, chain_model = build_joint(design, priors, plan)
        elif centered is False and not possible \
                and (levels := plan_levels(design)) is not None:
            # b cannot be integrated out (a GLMM): centre the well-informed intercepts.
            built = build_levels(design, priors, levels)
            why = f"{why}; {levels.sentence(list(design.fixef_names))}"
        else:
            built = build_model(design, priors, centered=centered)
        dt = _run_nuts(built, name, draws, tune, chains, seed, target_accept, cores,
                       progressbar, kwargs)
    if use_marginal:
        drawn = draw_b(built, dt["posterior"].to_dataset(), np.random.default_rng(seed + 1),
                       store=store)
        if store == "all":
            dt = _add_posterior_vars(dt, drawn)
        elif store == "summary":
            dt["ranef_summary"] = _ranef_summary_dataset(drawn)
    else:
        if chain_model is not None:
            dt = _add_chain_draws(dt, chain_model, design, np.random.default_rng(seed + 1),
                                  store)
        if store != "all":
            dt = _drop_b(dt, design, store)
    dt = _order_posterior(dt, design)
    if not lean:
        dt = _add_data_groups(dt, design, keep_ll)
        dt["log_prior"] = log_prior_dataset(dt["posterior"].to_dataset(), design,
                                            built.priors)
    seconds = time.perf_counter() - t0

    stats = dt["sample_stats"].to_dataset() if "sample_stats" in dt.children else None
    n_div = int(np.asarray(stats["diverging"]).sum()) if stats is not None else 0
    record = SamplerRecord(sampler=name, draws=draws, tune=tune, chains=chains,
                           random_seed=seed, target_accept=target_accept, centered=centered,
                           marginal=use_marginal, seconds=seconds, n_divergent=n_div,
                           marginal_why=why, store_ranef=store_note,
                           log_likelihood=ll_note)
    if lean:
        return BayesResult(datatree=dt, design=design, priors=built.priors, record=record)
    result = BayesResult(datatree=dt, design=design, priors=built.priors, record=record)
    diags = diagnose(result.posterior, stats, result.parameter_names(), chains, centered,
                     target_accept)
    if warn:
        emit(diags)
    return BayesResult(datatree=dt, design=design, priors=built.priors, record=record,
                       diagnostics=tuple(diags))


def _run_fed(design: Design, priors: Any, draws: int, tune: int, chains: int, seed: int,
             target_accept: float, cores: int | None, progressbar: bool,
             kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(built model, DataTree) from the compile-once numba route (see ``sample``'s Notes)."""
    from . import marginal_small as ms
    from . import nutpie_backend
    from .priors import resolve_priors

    pri = resolve_priors(design, priors)
    holder: list[BuiltModel] = []

    def build() -> Any:
        holder.append(ms.build_fed_model(design, pri))
        return holder[0].model

    dt = nutpie_backend.sample_fed(ms.structure_key(design, pri), build,
                                   ms.fed_values(design, pri), draws=draws, tune=tune,
                                   chains=chains, seed=seed, cores=cores,
                                   target_accept=target_accept, progressbar=progressbar,
                                   **kwargs)
    # A warm cache builds no model: draw_b and log_prior read the design and the priors only.
    return (holder[0] if holder
            else BuiltModel(model=None, design=design, priors=pri, centered=False)), dt


#: Levels above which a one-term model's marginal density runs as one compiled pass over the
#: levels (:mod:`hiermix.pls.one_term`, behind an Op) rather than as PyTensor vector
#: operations on the per-level statistics (:mod:`hiermix.bayes.marginal_small`): the graph
#: wins where the Op's per-call Python cost dominates, the fused pass where the graph's
#: level-sized temporaries do. See ``_small_in_graph`` for the measurements.
SMALL_MAX_LEVELS = 1_000


def jax_route(design: Design, sampler: str, marginal: bool | str,
              why: str) -> tuple[bool, Any, str]:
    """(integrate b out, the joint sampler's plan, why) for a sampler of :data:`JAX_SAMPLERS`.

    ``design`` is one whose b may be integrated out (:func:`marginal_reason`). With one term
    of q <= 2 the closed-form density goes into the graph, which JAX translates, at any
    number of levels (the level-sized temporaries that make the compiled pass quicker on a
    CPU above :data:`SMALL_MAX_LEVELS` are what an accelerator does well). Otherwise the
    blocked-factor Op cannot run under JAX: ``marginal=True`` is refused, and "auto" samples
    b jointly, parameterised as :func:`hiermix.bayes.centring.plan_joint` says.
    """
    if small_applies(design):
        return True, None, why
    reason = (f"sampler {sampler!r} runs a JAX translation of the log density, and integrating "
              "b out of this model needs the blocked-factor density, a Python Op that JAX "
              "cannot translate (only one term with at most two columns has a closed form "
              "in the graph)")
    if marginal is True:
        raise ModelError(f"marginal=True cannot be honoured: {reason}; use sampler='nutpie' "
                         "or 'pymc', or marginal='auto' to sample b jointly")
    plan = plan_joint(design)
    return False, plan, f"b sampled jointly: {reason}; {plan.sentence()}"


def _small_in_graph(design: Design) -> bool:
    """Write the one-term marginal density into the PyTensor graph?

    Measured 2026-12-01 on the 2-core machine (load average 1 to 2), ``y ~ x + (1 + x | g)``
    with 10 rows per level, whole ``sample()`` calls of 2 x (500 + 500), two seeds: 2,000
    levels 26.4 / 17.7 s through the graph against 22.9 / 15.7 s through the compiled pass;
    10,000 levels 70.6 / 69.2 s against 58.7 / 61.6 s; 100,000 levels (``benchmarks/bayes.py
    --scale``) 123 s of sampling against 25 s. The crossover lies below 2,000 levels and was
    not measured further; below the cap the graph keeps the Python call per gradient out of
    small models such as sleepstudy (18 levels) and the studies' data sets.
    """
    return small_applies(design) and design.reterms[0].nlevels <= SMALL_MAX_LEVELS


def _marginal_nutpie_defaults(use_marginal: bool, sampler: str, kwargs: dict[str, Any]) -> None:
    """nutpie's low-rank modified mass matrix for the marginal model, unless asked otherwise.

    The marginal model has few parameters (beta, the SDs, correlations and sigma), so the
    low-rank correction of the diagonal mass matrix costs little, and it follows their
    posterior correlations: on the 1M-row model of issue 14 (benchmarks/bayes.py --scale)
    the largest R-hat of 2 x (500 + 500) draws went from 1.010 to 1.013 (3 of 4 seeds above
    1.01) to 1.001 to 1.006, at the same wall time; sleepstudy's ESS/s did not drop.
    """
    if not (use_marginal and sampler == "nutpie"):
        return
    if "adaptation" in kwargs or "low_rank_modified_mass_matrix" in kwargs:
        return  # the user's choice, in either spelling
    import inspect

    import nutpie

    # nutpie 0.16.11 spells it adaptation="low_rank" and warns on the old keyword
    if "adaptation" in inspect.signature(nutpie.sample).parameters:
        kwargs["adaptation"] = "low_rank"
    else:
        kwargs["low_rank_modified_mass_matrix"] = True


def _run_nuts(built: BuiltModel, sampler: str, draws: int, tune: int, chains: int, seed: int,
              target_accept: float, cores: int | None, progressbar: bool,
              kwargs: dict[str, Any]) -> Any:
    import pymc as pm

    if sampler == "nutpie":
        from . import nutpie_backend

        return nutpie_backend.sample(built.model, draws=draws, tune=tune, chains=chains,
                                     seed=seed, cores=cores, target_accept=target_accept,
                                     progressbar=progressbar, **kwargs)
    extra = dict(kwargs)
    if sampler == "pymc":
        extra.setdefault("target_accept", target_accept)
    else:
        # A user's NUTS options may come in either spelling; PyMC takes one (see _nuts_key).
        nuts_kw = dict(extra.pop("nuts_sampler_kwargs", {}) or {})
        nuts_kw.update(extra.pop("nuts", {}) or {})
        nuts_kw.setdefault("target_accept", target_accept)
        extra[_nuts_key()] = nuts_kw
    with built.model:
        try:
            return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores,
                             random_seed=seed,
                             nuts_sampler="nutpie" if sampler == "nutpie-numba" else sampler,
                             progressbar=progressbar, compute_convergence_checks=False, **extra)
        except TypeError as err:
            # PyMC 6.4 hands blackjax.window_adaptation a progress_bar keyword that blackjax
            # 1.7.1 passes on to the NUTS kernel, which refuses it: say so, not the kernel's
            # own message from deep inside a JAX trace.
            if sampler == "blackjax" and "progress_bar" in str(err):
                raise ModelError(_blackjax_mismatch(err)) from err
            raise


def _blackjax_mismatch(err: Exception) -> str:
    import importlib.metadata as md

    versions = {pkg: md.version(pkg) for pkg in ("pymc", "blackjax")}
    return (f"sampler 'blackjax' failed inside PyMC {versions['pymc']} with blackjax "
            f"{versions['blackjax']} ({err}): this PyMC passes a progress_bar option that this "
            "blackjax no longer accepts; use sampler='numpyro' (the same JAX log density), "
            "or blackjax 1.2.5, which works with PyMC 6.4")


def _nuts_key() -> str:
    """The keyword of ``pm.sample`` that carries an external sampler's NUTS options.

    PyMC 6.4 reads ``nuts={...}`` and warns (FutureWarning) on ``nuts_sampler_kwargs``, which
    earlier 6.x releases read; the new route shows as the ``nuts_kwargs`` parameter of the
    function that dispatches to external samplers, a private name, hence the fallback.
    """
    import inspect

    from pymc.sampling import mcmc

    external = getattr(mcmc, "_sample_external_nuts", None)
    if external is not None and "nuts_kwargs" in inspect.signature(external).parameters:
        return "nuts"
    return "nuts_sampler_kwargs"


def _add_posterior_vars(dt: Any, extra: dict[str, Any]) -> Any:
    post = dt["posterior"].to_dataset().assign(extra)
    dt["posterior"] = post
    return dt


def _resolve_store_ranef(design: Design, store_ranef: str | None, draws: int,
                         chains: int) -> tuple[str, str]:
    """("all" | "summary" | "none", the sentence the record keeps)."""
    size = chains * draws * sum(t.nlevels * t.q for t in design.reterms)
    if store_ranef is None:
        if size <= RANEF_DRAWS_MAX:
            return "all", "all"
        return "summary", (f"summary: b would take {size:,} stored numbers, more than "
                           f"{RANEF_DRAWS_MAX:,}; only its posterior mean and SD are kept "
                           "(store_ranef='all' keeps every draw)")
    if store_ranef not in STORE_RANEF:
        raise ModelError(f"store_ranef must be one of {', '.join(STORE_RANEF)}; got "
                         f"{store_ranef!r}")
    return store_ranef, store_ranef


def loglik_rule(design: Design, log_likelihood: bool | None, store: str, draws: int,
                chains: int) -> tuple[bool, str]:
    """(store the pointwise log-likelihood?, the sentence ``record.log_likelihood`` keeps).

    The group has chains x draws x n numbers and is computed from the draws of b, so the
    default (None) stores it only when every draw of b is kept and the group has at most
    :data:`LOGLIK_DRAWS_MAX` numbers; above, it is left out with an INFO message of the
    ``hiermix`` logger. True stores it whatever its size (``store`` must be "all"); False
    never does.

    Raises
    ------
    ArgumentError
        ``log_likelihood`` not True, False or None.
    ModelError
        True with b not kept draw by draw.
    """
    if log_likelihood is not None and not isinstance(log_likelihood, bool):
        raise ArgumentError(f"log_likelihood must be True, False or None; got "
                            f"{log_likelihood!r}")
    if log_likelihood is False:
        return False, "not stored: log_likelihood=False"
    if store != "all":
        if log_likelihood:
            raise ModelError(f"log_likelihood=True needs every draw of b, but store_ranef is "
                             f"{store!r}; sample with store_ranef='all'")
        return False, (f"not stored: computed from the draws of b, which store_ranef={store!r} "
                       "does not keep (log_likelihood=True with store_ranef='all' stores it)")
    size = chains * draws * design.nobs
    if log_likelihood is None and size > LOGLIK_DRAWS_MAX:
        note = (f"not stored: {size:,} numbers (chains x draws x observations), more than "
                f"{LOGLIK_DRAWS_MAX:,} (log_likelihood=True stores it)")
        logging.getLogger("hiermix").info("pointwise log-likelihood %s", note)
        return False, note
    return True, "stored"


def _ranef_summary_dataset(drawn: dict[str, Any]) -> Any:
    import xarray as xr

    return xr.Dataset({f"{name}_{stat}": da for name, (mean, sd) in drawn.items()
                       for stat, da in (("mean", mean), ("sd", sd))})


def _add_chain_draws(dt: Any, cm: Any, design: Design, rng: np.random.Generator,
                     store: str) -> Any:
    """beta and the nested chain's b drawn after sampling (:mod:`hiermix.bayes.centring`);
    with ``store="summary"`` the chain's b summaries go to ``ranef_summary`` at once."""
    drawn = draw_chain_posterior(cm, design, dt["posterior"].to_dataset(), rng, store=store)
    summaries = {k: v for k, v in drawn.items() if isinstance(v, tuple)}
    dt = _add_posterior_vars(dt, {k: v for k, v in drawn.items() if k not in summaries})
    if summaries:
        dt["ranef_summary"] = _ranef_summary_dataset(summaries)
    return dt


def _drop_b(dt: Any, design: Design, store: str) -> Any:
    """The joint sampler's b draws replaced by their mean and SD ("summary") or dropped, with
    the auxiliary variables of the same size (``z_<label>``, ``a_<label>``)."""
    post = dt["posterior"].to_dataset()
    names = [b_var(t.label) for t in design.reterms if b_var(t.label) in post]
    if store == "summary":
        found = {n: (post[n].mean(("chain", "draw")), post[n].std(("chain", "draw"), ddof=1))
                 for n in names}
        if "ranef_summary" in dt.children:
            found.update({n[:-5]: (dt["ranef_summary"][n], dt["ranef_summary"][f"{n[:-5]}_sd"])
                          for n in dt["ranef_summary"].data_vars if n.endswith("_mean")})
        dt["ranef_summary"] = _ranef_summary_dataset(found)
    aux = [f"{p}_{t.label}" for t in design.reterms for p in ("z", "a")
           if f"{p}_{t.label}" in post]
    dt["posterior"] = post.drop_vars(names + aux)
    return dt


def _order_posterior(dt: Any, design: Design) -> Any:
    """The posterior's variables in the naming contract's order, so that its dims are declared
    in the order b lists them and ArviZ labels b correctly (:mod:`hiermix.naming`)."""
    post = dt["posterior"].to_dataset()
    terms = [(t.label, t.q) for t in design.reterms]
    dt["posterior"] = post[posterior_var_order(terms, post.data_vars)]
    return dt


def _add_data_groups(dt: Any, design: Design, log_likelihood: bool = True) -> Any:
    """log_likelihood (pointwise, with Family.loglik), observed_data and constant_data."""
    import xarray as xr

    post = dt["posterior"].to_dataset()
    y, w = np.asarray(design.y), np.asarray(design.weights)
    if "observed_data" not in dt.children:
        # The marginal model's likelihood is a Potential, which PyMC does not record as data.
        dt["observed_data"] = xr.Dataset({RESPONSE: ((OBS_DIM,), y)},
                                         coords={OBS_DIM: np.arange(design.nobs)})
    if log_likelihood:
        dt["log_likelihood"] = _pointwise_loglik(post, design)

    const: dict[str, Any] = {
        "X": ((OBS_DIM, FIXEF_DIM), np.asarray(design.X)),
        "weights": ((OBS_DIM,), w),
        "offset": ((OBS_DIM,), np.asarray(design.offset)),
    }
    ccoords: dict[str, Any] = {OBS_DIM: np.arange(design.nobs),
                               FIXEF_DIM: list(design.fixef_names)}
    for t in design.reterms:
        const[f"codes_{t.label}"] = ((OBS_DIM,), np.asarray(t.codes))
        const[f"X_{t.label}"] = ((OBS_DIM, coef_dim(t.label)), np.asarray(t.X))
        ccoords[coef_dim(t.label)] = list(t.cnames)
    dt["constant_data"] = xr.Dataset(const, coords=ccoords)
    return dt


def _pointwise_loglik(post: Any, design: Design) -> Any:
    """log p(y_i | beta, b, phi) per draw, Dataset with ``y`` (chain, draw, obs)."""
    import xarray as xr

    c, d = post.sizes["chain"], post.sizes["draw"]
    beta = np.asarray(post["beta"])
    bs = [np.asarray(post[b_var(t.label)]) for t in design.reterms]
    phi = _phi(post)
    y, w = np.asarray(design.y), np.asarray(design.weights)
    codes = [t.codes for t in design.reterms]
    Xk = [np.asarray(t.X) for t in design.reterms]
    ll = np.empty((c, d, design.nobs))
    # One chain at a time keeps the (draws, n) intermediates small for large n.
    for ch in range(c):
        mu = mu_draws(design, beta[ch], [b[ch] for b in bs], np.asarray(design.X),
                      np.asarray(design.offset), codes, Xk)
        ll[ch] = design.family.loglik(y[None, :], mu, w[None, :], phi[ch][:, None])
    coords = {"chain": post["chain"], "draw": post["draw"], OBS_DIM: np.arange(design.nobs)}
    return xr.Dataset({RESPONSE: (("chain", "draw", OBS_DIM), ll)}, coords=coords)


def _phi(post: Any) -> Any:
    """Draws of the dispersion phi, shape (chain, draw)."""
    if "sigma" in post:
        return np.asarray(post["sigma"]) ** 2
    if "phi" in post:
        return np.asarray(post["phi"])
    return np.ones((post.sizes["chain"], post.sizes["draw"]))


def sample_prior_predictive(design: Design, draws: int = 500,
                            priors: Priors | str | Mapping[str, Any] | None = None,
                            random_seed: int | None = None) -> Any:
    """Draws of the parameters and of y from the prior (groups ``prior``,
    ``prior_predictive``, ``observed_data``).

    Raises
    ------
    ModelError
        With the ``flat`` preset, which has nothing to draw from.
    ArgumentError
        ``draws`` not a positive whole number, or a ``random_seed`` that is not one.
    """
    import pymc as pm

    draws = check_count(draws, "draws", 1)
    random_seed = check_seed(random_seed, "random_seed")

    built = build_model(design, priors)
    with built.model:
        return pm.sample_prior_predictive(draws, random_seed=random_seed)
