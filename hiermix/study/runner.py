"""Running the replicates of a study: one job per block, in local processes or on Dask.

Replicate i of condition c draws everything from its own seed sequence,
``SeedSequence(seed, spawn_key=key + (i,))`` (which is ``SeedSequence(seed).spawn(...)[i]``
for a single condition, key ``()``, and ``.spawn(...)[c].spawn(...)[i]`` in a grid, key
``(c,)``): the first child draws the response, the second seeds each method (by a hash of the
method's name). Its estimates therefore do not depend on which process runs it, in which
order, nor on the other methods of the study.

A worker keeps the design of each template it has seen (``_DESIGNS``) and only swaps the
response per replicate.
"""

from __future__ import annotations

import multiprocessing
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import ModelError
from .labels import resolve_truth
from .methods import Method
from .simulate import simulate_response

FLAG_COLUMNS = ["converged", "singular", "divergences", "rhat_max", "seconds", "error",
                "interval_error"]
ROW_COLUMNS = ["cond", "rep", "method", "param", "truth", "estimate", "lower", "upper",
               *FLAG_COLUMNS]
PLACEHOLDER = "__hiermix_response__"


@dataclass(frozen=True)
class Job:
    """Replicates start..stop-1 of one condition; everything a worker needs, picklable."""

    formula: str
    family: Any
    link: Any
    data: pd.DataFrame
    truth: dict[str, float]
    methods: tuple[Method, ...]
    seed: int
    key: tuple[int, ...]
    cond: int
    start: int
    stop: int
    design_id: str


_DESIGNS: dict[str, Design] = {}


def template_design(formula: str, data: pd.DataFrame, family: Any, link: Any) -> Design:
    """The template's design: the formula's response column set to a placeholder value that
    every family accepts (1.0); each replicate replaces it."""
    from ..formula import parse
    from ..model import Model

    spec = parse(formula)
    response = spec.response
    if response.is_cbind or not response.expr.isidentifier():
        raise ModelError(f"a study simulates the response, so its formula needs a plain "
                         f"response column; got {str(response)!r}")
    frame = data.copy()
    frame[response.expr] = 1.0
    return Model(spec, frame, family=family, link=link).design


def _design(job: Job) -> Design:
    d = _DESIGNS.get(job.design_id)
    if d is None:
        d = template_design(job.formula, job.data, job.family, job.link)
        _DESIGNS[job.design_id] = d
    return d


def method_seed(rep_seq: np.random.SeedSequence, name: str) -> int:
    """The seed of method ``name`` in one replicate (independent of the other methods)."""
    child = np.random.SeedSequence(rep_seq.entropy,
                                   spawn_key=(*rep_seq.spawn_key, 1, zlib.crc32(name.encode())))
    return int(child.generate_state(1)[0])


def replicate_seq(seed: int, key: tuple[int, ...], i: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(*key, i))


def run_block(job: Job) -> pd.DataFrame:
    """Simulate and estimate replicates job.start..job.stop-1; long rows (ROW_COLUMNS)."""
    design = _design(job)
    truth = resolve_truth(design, job.truth)
    rows = []
    for i in range(job.start, job.stop):
        seq = replicate_seq(job.seed, job.key, i)
        data_seq = np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 0))
        y = simulate_response(design, truth, np.random.default_rng(data_seq))
        d = design.with_response(y)
        for m in job.methods:
            est, flags = m.run(d, method_seed(seq, m.name))
            for label, value in truth.values.items():
                e, lo, hi = est.get(label, (np.nan, np.nan, np.nan))
                rows.append((job.cond, i, m.name, label, value, e, lo, hi,
                             *(flags[k] for k in FLAG_COLUMNS)))
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def _local_context() -> Any:
    # forkserver: workers start from a clean interpreter (no inherited threads of BLAS or
    # PyTensor), cheaper than spawn; spawn where there is no forkserver.
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def execute(jobs: list[Job], on_done: Callable[[Job, pd.DataFrame], None],
            n_jobs: int | None = 1, client: Any = None) -> None:
    """Run the jobs and call ``on_done(job, rows)`` in this process as each finishes.

    Parameters
    ----------
    jobs : list of Job
    on_done : callable
        Stores the block and advances the progress bar.
    n_jobs : int or None
        Local worker processes; 1 runs in this process; None uses every CPU.
    client : dask.distributed.Client or None
        Submit the jobs to this client's cluster instead.
    """
    if not jobs:
        return
    if client is not None:
        from dask.distributed import as_completed

        futures = {client.submit(run_block, job, pure=False): job for job in jobs}
        try:
            for fut in as_completed(list(futures)):
                on_done(futures[fut], fut.result())
        finally:
            client.cancel([f for f in futures if not f.done()])
        return
    if n_jobs == 1:
        for job in jobs:
            on_done(job, run_block(job))
        return
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=_local_context()) as pool:
        pending = {pool.submit(run_block, job): job for job in jobs}
        try:
            while pending:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in finished:
                    on_done(pending.pop(fut), fut.result())
        finally:
            for fut in pending:
                fut.cancel()

