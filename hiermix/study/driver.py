"""``simulation_study``: the driver over templates, methods, the store and the runner."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from ..errors import DataError, ModelError
from .labels import resolve_truth
from .methods import Method, resolve_method
from .progress import make_progress
from .result import StudyResult
from .runner import Job, execute, run_block, template_design
from .store import StudyStore, plan_blocks
from .templates import Condition


def _conditions(data: Any, truth: Any) -> tuple[list[Condition], bool]:
    """(conditions, is_grid) from ``data``/``truth`` or a list of conditions in ``data``."""
    if isinstance(data, pd.DataFrame):
        if truth is None:
            raise ModelError("give the truth: a mapping of parameter label -> value")
        return [Condition(data=data, truth=dict(truth))], False
    if isinstance(data, Condition):
        return [data], False
    if isinstance(data, Sequence) and data:
        if truth is not None:
            raise ModelError("with a list of conditions, each carries its own truth; "
                             "leave truth=None")
        out = []
        for k, c in enumerate(data):
            if isinstance(c, Condition):
                out.append(c)
            elif isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], pd.DataFrame):
                out.append(Condition(data=c[0], truth=dict(c[1]), factors={"condition": k}))
            else:
                raise ModelError(f"condition {k} is neither a Condition nor (data, truth)")
        return out, True
    raise DataError("data must be a template DataFrame, a Condition, or a list of conditions "
                    "(hm.study_grid(...) or (data, truth) pairs)")


def _data_hash(data: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    h.update(",".join(map(str, data.columns)).encode())
    return h.hexdigest()[:16]


def simulation_study(formula: str, data: Any, truth: Mapping[str, float] | None = None,
                     methods: Sequence[str | Method] = ("reml-wald",), nsim: int = 100,
                     seed: int = 0, family: Any = "gaussian", link: Any = None,
                     client: Any = None, store: Any = None,
                     sample_kwargs: Mapping[str, Any] | None = None, n_jobs: int | None = 1,
                     block_size: int = 10,
                     progressbar: bool | Callable[[Mapping[str, int], Mapping[str, int]], None]
                     | None = None) -> StudyResult:
    """Repeated sampling: simulate ``nsim`` responses from ``truth`` on the template ``data``,
    estimate each with every method, and measure bias, precision and coverage.

    Parameters
    ----------
    formula : str
        lme4 formula with a plain response column (``"y ~ x + (1 | g)"``).
    data : DataFrame, Condition or list
        A template (covariates and grouping columns; a response column, if any, is ignored),
        or conditions: ``hm.study_grid(...)`` or (template, truth) pairs.
    truth : mapping of str to float or None
        Parameter label -> true value (``Intercept``, ``x``, ``sd(Intercept|g)``,
        ``cor(Intercept,x|g)``, ``sigma``, ``phi``); None with a list of conditions.
    methods : sequence of str or Method
        See :mod:`hiermix.study.methods`.
    nsim : int
        Replicates per condition.
    seed : int
        Replicate i draws from ``SeedSequence(seed).spawn(nsim)[i]`` (condition c of a grid:
        ``.spawn(n_conditions)[c].spawn(nsim)[i]``).
    family, link
        As :class:`hiermix.Model`.
    client : dask.distributed.Client or None
        Run the blocks on this cluster.
    store : path or None
        Directory keeping every finished block; a rerun computes only what is missing.
    sample_kwargs : mapping or None
        Defaults for ``"bayes"`` given by name (draws, tune, chains, sampler ...).
    n_jobs : int or None
        Local processes when ``client`` is None (1: this process; None: every CPU).
    block_size : int
        Replicates per job and per stored file; a job (and a file) holds one method.
    progressbar : bool, callable or None
        Show replicates done per method, with the ETA of each (rich bars on stderr); None:
        when stderr is a terminal. A callable is called as ``progressbar(done, total)``, two
        mappings of method name -> replicates, at the start and after every finished block.

    Returns
    -------
    StudyResult
    """
    if int(nsim) != nsim or nsim < 1:
        raise DataError(f"nsim must be a positive integer; got {nsim!r}")
    if not isinstance(seed, int) or seed < 0:
        raise DataError(f"seed must be a non-negative integer; got {seed!r}")
    conds, grid = _conditions(data, truth)
    ms = tuple(resolve_method(m, dict(sample_kwargs or {})) for m in methods)
    names = [m.name for m in ms]
    if not ms or len(set(names)) != len(names):
        raise ModelError(f"methods must be non-empty with distinct names; got {names}")
    checked = []
    for c in conds:  # fail here, naming the label, not in a worker
        d = template_design(formula, c.data, family, link)
        resolve_truth(d, c.truth)
        checked.append(_data_hash(c.data))
    factor_names = list(dict.fromkeys(k for c in conds for k in c.factors))
    st = StudyStore(store) if store is not None else None
    if st is not None:
        st.open({"formula": formula, "family": str(family), "link": str(link), "seed": seed,
                 "methods": [asdict(m) for m in ms],
                 "conditions": [{"truth": c.truth, "factors": c.factors, "data": h}
                                for c, h in zip(conds, checked, strict=True)]})
    # One job per (condition, block, method), methods interleaved: each method's count moves
    # as its own blocks finish, and a block of a fast method is stored without waiting for
    # the slow ones. A replicate's data depend on its seed only, so every method still sees
    # the same data sets.
    jobs = []
    total = {m: len(conds) * int(nsim) for m in names}
    done = dict.fromkeys(names, 0)
    for k, (c, h) in enumerate(zip(conds, checked, strict=True)):
        plans = []
        for j, m in enumerate(ms):
            have = {i for i in st.done(k, j) if i < nsim} if st is not None else set()
            done[m.name] += len(have)
            plans.append(plan_blocks(have, int(nsim), block_size))
        for b in range(max(len(p) for p in plans)):
            for j, m in enumerate(ms):
                if b < len(plans[j]):
                    a, z = plans[j][b]
                    jobs.append(Job(formula=formula, family=family, link=link, data=c.data,
                                    truth=c.truth, methods=(m,), seed=seed,
                                    key=(k,) if grid else (), cond=k, start=a, stop=z,
                                    design_id=f"{formula}|{family}|{link}|{h}"))
    collected: dict[int, list[pd.DataFrame]] = {k: [] for k in range(len(conds))}
    number = {m: j for j, m in enumerate(names)}
    with make_progress(progressbar, total, done, sys.stderr.isatty()) as bar:
        def on_done(job: Job, rows: pd.DataFrame) -> None:
            name = job.methods[0].name
            if st is not None:
                st.write_block(job.cond, job.start, job.stop, rows, number[name])
            else:
                collected[job.cond].append(rows)
            bar.advance(name, job.stop - job.start)

        execute(jobs, on_done, n_jobs=n_jobs, client=client)
    frames = [st.read(k, int(nsim)) for k in range(len(conds))] if st is not None else \
        [pd.concat(v, ignore_index=True) for v in collected.values() if v]
    est = pd.concat([f for f in frames if len(f)], ignore_index=True)
    for name in factor_names:
        est[name] = est["cond"].map({k: c.factors.get(name) for k, c in enumerate(conds)})
    # Rows within a replicate come in a fixed order (methods as given, then labels); blocks
    # arrive in any order, so a stable sort on (cond, rep, method) makes the table the same
    # however it ran.
    est["_m"] = est["method"].map(number)
    est = est.sort_values(["cond", "rep", "_m"], kind="stable").drop(columns="_m")
    for col in ("error", "interval_error"):
        est[col] = est[col].astype(object).where(est[col].notna(), None)
    est = est[[*factor_names, *[c for c in est.columns if c not in factor_names]]]
    return StudyResult(estimates=est.reset_index(drop=True), conditions=tuple(factor_names),
                       methods=tuple(names), formula=formula, seed=seed, nsim=int(nsim),
                       family=str(family))


__all__ = ["run_block", "simulation_study"]
