"""nutpie's NUTS (Rust) driving a log-density compiled by PyTensor's own function compiler.

``pm.sample(nuts_sampler="nutpie")`` builds one whole-graph numba function that Rust can call
without Python; numba compiles it afresh in every process, 8 to 15 s on a 2-core machine
before the first draw, more than the whole PyMC run for the models of this package. PyMC's
own NUTS starts quickly (PyTensor's default numba backend caches each operation's compiled
code on disk) but spends about 100 microseconds of Python per leapfrog step. This backend
takes the best of both: the log-density and its gradient are compiled once by PyTensor (the
cached route), and nutpie's sampler calls that function from Rust through
:func:`nutpie.compiled_pyfunc.from_pyfunc`, so the tree building, adaptation and bookkeeping
run at native speed (benchmarks/bayes.py). PyTensor's C backend (mode ``"CVM"``) was slower to
start here: 19 s warm, 100 s on a cold cache.

The unconstrained point x (d,) is the concatenation of PyMC's value variables (transformed
where PyMC transforms: log for SDs, the packed Cholesky transform of ``LKJCholeskyCov``), in
``model.free_RVs`` order; the draws kept are every free variable on its natural scale and
every deterministic, named and dimensioned as PyMC names them, so the posterior group is the
one ``pm.sample`` would give.

Compile once: the compiled function is cached at module level, keyed by the structure of the
graph. Before compiling, every floating-point constant of the graph (data such as X and the
centring of its columns, the priors' parameters, the response where it enters the graph) is
lifted to an input; the key is the printed graph with those inputs in place of the constants
(types and shapes included, values not) and the integer constants as they are. A model with
the same structure (new response values, new prior parameters; same formula, priors'
families, levels and sizes) finds its function there and only passes its own constants; the
marginal model's data sits in a :class:`~hiermix.bayes.marginal.DensitySlot`, which the cached
function's Op is pointed at. PyTensor types a Python float that float32 represents exactly
(50.0, not 0.1) as float32, so a prior parameter that moves between the two kinds changes the
structure. :data:`COMPILATIONS` counts this process's compilations. The initial-point function
is still built per model (quick, in FAST_COMPILE mode). Only this backend caches:
``sampler="pymc"`` and the others compile through PyMC each time.

Compile once, natively (:func:`sample_fed`): for a loop over many responses of one design (a
simulation study), calling Python per gradient is what costs, about 0.1 ms a call. There the
model is built with every number a new response changes (sufficient statistics, the priors'
parameters) as named shared data (:func:`hiermix.bayes.marginal_small.build_fed_model`),
compiled once by nutpie's numba backend into one native function (a minute or more on a busy
2-core machine), and each later model of the same structure only swaps the data
(``with_data``) and samples with no Python in the loop. The draws are returned from nutpie's
raw trace (:func:`_datatree`: posterior and the scalar sample statistics, no warm-up), which
is quicker than nutpie's conversion through ArviZ.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: PyTensor mode for the log-density: the default (numba) backend, whose per-operation
#: compiled code is cached on disk across processes.
MODE = "FAST_RUN"

#: Compilations of the log density made by this process (see "Compile once" above).
COMPILATIONS = 0
#: Structure key -> (compiled function, the slots of its marginal Ops, a lock).
_CACHE: dict[str, tuple[Any, list[Any], threading.Lock]] = {}
_CACHE_MAX = 32


def _flat_layout(model: Any, point: dict[str, np.ndarray]) -> tuple[list[Any], list[slice],
                                                                     list[tuple[int, ...]]]:
    values, slices, shapes = [], [], []
    start = 0
    for rv in model.free_RVs:
        vv = model.rvs_to_values[rv]
        shape = tuple(np.shape(point[vv.name]))
        size = int(np.prod(shape, dtype=int))
        values.append(vv)
        slices.append(slice(start, start + size))
        shapes.append(shape)
        start += size
    return values, slices, shapes


def compile_model(model: Any) -> Any:
    """A nutpie ``CompiledModel`` of a PyMC model (see the module docstring)."""
    import pytensor
    import pytensor.tensor as pt
    from nutpie.compiled_pyfunc import from_pyfunc
    from pymc.initial_point import make_initial_point_fn
    from pytensor.graph import graph_replace

    # The initial-point function runs once per chain: compile it in the quickest mode.
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        init_fn = make_initial_point_fn(model=model, return_transformed=True,
                                        jitter_rvs=set(model.free_RVs))
        point0 = init_fn(0)
    values, slices, shapes = _flat_layout(model, point0)
    ndim = slices[-1].stop if slices else 0

    x = pt.vector("x", dtype="float64")
    replace = {vv: x[sl].reshape(shape) if shape else x[sl][0]
               for vv, sl, shape in zip(values, slices, shapes, strict=True)}
    logp = model.logp()
    grads: Any = pt.grad(logp, values)  # a list, one gradient per value variable
    grad = pt.concatenate([pt.as_tensor(g).ravel() for g in grads])
    kept = list(model.free_RVs) + list(model.deterministics)
    names = [v.name for v in kept]
    # One function for the log-density, its gradient and the kept variables: compiling (graph
    # rewriting) dominates the set-up, and the kept variables cost little next to the gradient.
    outs = graph_replace([logp, grad, *model.replace_rvs_by_values(kept)], replace,
                         strict=False)
    fn, consts, lock = _compiled(x, outs)
    out_shapes = [tuple(np.shape(v))
                  for v in fn(_flatten(point0, values), *consts)[2:]]
    dims = {n: tuple(model.named_vars_to_dims[n]) for n in names
            if n in model.named_vars_to_dims}
    used = {d for ds in dims.values() for d in ds}
    # nutpie takes coordinates as text; only the dims of kept variables are needed.
    coords = {k: [str(c) for c in v] for k, v in model.coords.items()
              if v is not None and k in used}

    # nutpie calls these from its worker threads, and a compiled PyTensor function reuses its
    # output storage: calls are serialised by the function's lock (the GIL serialises them
    # anyway) and the outputs copied before it is released.

    def make_logp() -> Any:
        def logp_and_grad(q: np.ndarray, **_: Any) -> tuple[float, np.ndarray]:
            with lock:
                lp, g, *_ = fn(q, *consts)
                return float(lp), np.array(g, dtype=np.float64, order="C")
        return logp_and_grad

    def make_expand(seed1: int, seed2: int, chain: int) -> Any:
        def expand(q: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
            with lock:
                vals = fn(q, *consts)[2:]
                return {n: np.array(v, dtype=np.float64).reshape(s)
                        for n, v, s in zip(names, vals, out_shapes, strict=True)}
        return expand

    def make_init(seed: int) -> np.ndarray:
        with lock:
            return _flatten(init_fn(int(seed) % (2**32)), values)

    return from_pyfunc(ndim=ndim, make_logp_fn=make_logp, make_expand_fn=make_expand,
                       expanded_dtypes=[np.dtype("float64")] * len(names),
                       expanded_shapes=out_shapes, expanded_names=names, coords=coords,
                       dims=dims, make_initial_point_fn=make_init)


def _slots(outs: list[Any]) -> list[Any]:
    """The :class:`~hiermix.bayes.marginal.DensitySlot` of each marginal Op, in graph order."""
    from pytensor.graph.traversal import apply_ancestors

    return [node.op.slot for node in apply_ancestors(outs) if hasattr(node.op, "slot")]


def _compiled(x: Any, outs: list[Any]) -> tuple[Any, list[np.ndarray], threading.Lock]:
    """(function of (x, *constants), the constants' values, its lock), from the cache when a
    graph of the same structure was compiled before (see the module docstring)."""
    global COMPILATIONS
    import pymc as pm
    import pytensor.tensor as pt
    from pytensor.graph import graph_replace
    from pytensor.graph.traversal import ancestors
    from pytensor.printing import debugprint
    from pytensor.tensor.variable import TensorConstant

    consts = [v for v in ancestors(outs)
              if isinstance(v, TensorConstant) and v.dtype in ("float64", "float32")]
    arrays = [c for c in consts if c.ndim >= 1]
    holders = [c.type() for c in arrays]
    subs: dict[Any, Any] = dict(zip(arrays, holders, strict=True))
    values = [np.ascontiguousarray(c.data) for c in arrays]
    # The scalars are packed into one vector input per dtype and indexed: numba's fused
    # elementwise kernels fail to type a 0-d input where a constant was (PyTensor 3.3).
    for dtype in ("float64", "float32"):
        scalars = [c for c in consts if c.ndim == 0 and c.dtype == dtype]
        packed = pt.vector(f"scalar_constants_{dtype}", dtype=dtype, shape=(len(scalars),))
        subs.update({c: packed[i] for i, c in enumerate(scalars)})
        holders.append(packed)
        values.append(np.array([c.data for c in scalars], dtype=dtype))
    lifted = graph_replace(outs, subs, strict=False)
    key = str(debugprint(lifted, file="str", print_type=True, print_shape=True,
                         id_type="CHAR"))
    slots = _slots(outs)
    hit = _CACHE.get(key)
    if hit is not None and len(hit[1]) == len(slots):
        fn, cached_slots, lock = hit
        with lock:
            for old, new in zip(cached_slots, slots, strict=True):
                old.density = new.density
        return fn, values, lock
    fn = pm.compile([x, *holders], lifted, mode=MODE, on_unused_input="ignore")
    fn.trust_input = True
    COMPILATIONS += 1
    lock = threading.Lock()
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (fn, _slots(lifted), lock)
    return fn, values, lock


def _flatten(point: dict[str, np.ndarray], values: list[Any]) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(point[v.name], dtype=np.float64))
                           for v in values])


def sample(model: Any, draws: int, tune: int, chains: int, seed: int, cores: int | None,
           target_accept: float, progressbar: bool, **kwargs: Any) -> Any:
    """Draws from ``model``'s posterior as a DataTree (``posterior``, ``sample_stats``)."""
    import nutpie

    compiled = compile_model(model)
    return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                         cores=cores, progress_bar=progressbar, save_warmup=False,
                         target_accept=target_accept, **kwargs)


#: Structure key -> (nutpie's numba-compiled model, the PyMC model it was compiled from), for
#: :func:`sample_fed`.
_FED: dict[Any, tuple[Any, Any]] = {}


def sample_fed(key: Any, build: Any, values: dict[str, np.ndarray], draws: int, tune: int,
               chains: int, seed: int, cores: int | None, target_accept: float,
               progressbar: bool, **kwargs: Any) -> Any:
    """Sample a model whose data all sit in named shared variables, compiled once per
    structure by nutpie's numba backend (one native function for the log density and its
    gradient, no Python per leapfrog step).

    Parameters
    ----------
    key : hashable
        The structure: models with equal keys differ only in the values of their shared
        variables.
    build : callable
        () -> PyMC model with shared variables named as in ``values``; called on a miss.
    values : dict
        This model's shared data by name; each replaces the cached model's value, both in
        nutpie's compiled functions (``with_data``) and in the PyMC model, whose initial-point
        function reads them, so that a warm cache gives the draws a cold one gives.

    Returns
    -------
    DataTree (``posterior``, ``sample_stats``)
    """
    global COMPILATIONS
    import nutpie

    hit = _FED.get(key)
    if hit is None:
        model = build()
        compiled = nutpie.compile_pymc_model(model, backend="numba")
        COMPILATIONS += 1
        if len(_FED) >= _CACHE_MAX:
            _FED.pop(next(iter(_FED)))
        _FED[key] = hit = (compiled, model)
    compiled, model = hit
    known = {v.name for v in compiled.shared_var_keys}
    for name, val in values.items():
        model[name].set_value(np.asarray(val, dtype=model[name].dtype))
    compiled = compiled.with_data(**{k: v for k, v in values.items() if k in known})
    raw = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                        cores=cores, progress_bar=progressbar, save_warmup=False,
                        target_accept=target_accept, return_raw_trace=True, **kwargs)
    return _datatree(raw, model)


def _datatree(raw: Any, model: Any) -> Any:
    """``posterior`` and ``sample_stats`` (the scalar statistics per draw) from nutpie's raw
    Arrow trace, without the warm-up, named and dimensioned as the model names them.

    nutpie's own conversion (through ArviZ's ``from_dict``, every statistic and the warm-up
    included) takes longer than sampling a small model; this keeps what the result reads.
    """
    import pyarrow
    import xarray as xr

    draw_batches, stat_batches = raw.get_arrow_trace()
    post: dict[str, list[np.ndarray]] = {}
    stats: dict[str, list[np.ndarray]] = {}
    for draw, stat in zip(draw_batches, stat_batches, strict=True):
        tuning = int(np.asarray(stat.column("tuning")).sum())
        for batch, out, scalar_only in ((draw, post, False), (stat, stats, True)):
            for name in batch.column_names:
                col = batch.column(name)
                shape = col.field.metadata.get(b"shape", b"") if col.field.metadata else b""
                item = tuple(int(k) for k in shape.decode().split(",") if k)
                if scalar_only and (item or name == "tuning"):
                    continue
                arr = pyarrow.array(col)
                if hasattr(arr, "flatten"):
                    arr = arr.flatten()
                vals = np.asarray(arr.to_numpy(zero_copy_only=False))
                if vals.dtype == object:
                    continue
                out.setdefault(name, []).append(vals.reshape(-1, *item)[tuning:])
    dims = model.named_vars_to_dims
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}

    def dataset(data: dict[str, list[np.ndarray]], with_dims: bool) -> Any:
        variables = {}
        for name, chunks in data.items():
            a = np.stack(chunks)  # (chain, draw, ...)
            extra = tuple(dims.get(name, ())) if with_dims else ()
            if len(extra) != a.ndim - 2:
                extra = tuple(f"{name}_dim_{i}" for i in range(a.ndim - 2))
            variables[name] = (("chain", "draw", *extra), a)
        ds = xr.Dataset(variables)
        used: dict[Any, Any] = {str(d): coords[str(d)] for d in ds.dims if str(d) in coords}
        used.update(chain=np.arange(ds.sizes["chain"]), draw=np.arange(ds.sizes["draw"]))
        return ds.assign_coords(used)

    return xr.DataTree.from_dict({"posterior": dataset(post, True),
                                  "sample_stats": dataset(stats, False)})
