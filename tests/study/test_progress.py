"""Progress of a study: replicates done per method (and the ETA of each), whichever runs it;
stores are per method, and older stores (a block holding every method) still resume."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

import pandas as pd
import pytest

import hiermix as hm
from hiermix.errors import ModelError
from hiermix.study import random_intercept
from hiermix.study.progress import RichProgress, Silent, make_progress
from hiermix.study.store import block_name

FORMULA = "y ~ 1 + (1 | g)"
COLS = ["cond", "rep", "method", "param", "estimate", "lower", "upper", "converged"]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, int], dict[str, int]]] = []

    def __call__(self, done: Mapping[str, int], total: Mapping[str, int]) -> None:
        self.calls.append((dict(done), dict(total)))


def _check_steps(calls: list[tuple[dict[str, int], dict[str, int]]], start: dict[str, int],
                 total: dict[str, int], block_size: int) -> None:
    """Calls start at ``start``, end at ``total``, and each moves one method by one block
    (the last block of a method may be shorter)."""
    assert calls[0] == (start, total)
    assert calls[-1][0] == total
    for (a, _), (b, t) in pairwise(calls):
        assert t == total
        moved = {m: b[m] - a[m] for m in a if b[m] != a[m]}
        assert len(moved) == 1
        assert 0 < next(iter(moved.values())) <= block_size


def test_callback_gets_replicates_done_per_method() -> None:
    """Two methods, 2 conditions x 5 replicates in blocks of 2: every block moves its own
    method's count, from 0 to 10 each."""
    grid = hm.study_grid(J=[6], n=4, icc=[0.1, 0.3])
    rec = Recorder()
    res = hm.simulation_study(FORMULA, grid, None, ["reml-wald", "ml-wald"], nsim=5, seed=4,
                              block_size=2, progressbar=rec)
    total = {"reml-wald": 10, "ml-wald": 10}
    _check_steps(rec.calls, {"reml-wald": 0, "ml-wald": 0}, total, 2)
    assert len(rec.calls) == 1 + 2 * 2 * 3  # start, then 3 blocks per method and condition
    # methods are interleaved: both counts move before either finishes
    first_done = min(i for i, (d, _) in enumerate(rec.calls) if max(d.values()) == 10)
    assert min(rec.calls[first_done][0].values()) > 0
    assert len(res.estimates) == 2 * 2 * 5 * 3


def test_callback_counts_stored_replicates_from_the_start(tmp_path) -> None:
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    store = tmp_path / "s"
    hm.simulation_study(FORMULA, data, truth, ["reml-wald", "ml-wald"], nsim=4, seed=5,
                        store=store, block_size=2)
    rec = Recorder()
    hm.simulation_study(FORMULA, data, truth, ["reml-wald", "ml-wald"], nsim=7, seed=5,
                        store=store, block_size=2, progressbar=rec)
    _check_steps(rec.calls, {"reml-wald": 4, "ml-wald": 4}, {"reml-wald": 7, "ml-wald": 7}, 2)
    assert len(rec.calls) == 1 + 2 * 2  # blocks 4-5 and 6 of each method


def test_rich_bars_name_each_method_with_an_eta(capsys) -> None:
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    hm.simulation_study(FORMULA, data, truth, ["reml-wald", "ml-wald"], nsim=3, seed=1,
                        block_size=2, progressbar=True)
    err = capsys.readouterr().err
    for text in ("reml-wald", "ml-wald", "all methods", "3/3", "6/6", "ETA"):
        assert text in err


def test_make_progress_choices() -> None:
    total, done = {"a": 4}, {"a": 1}
    assert type(make_progress(False, total, done, True)) is Silent
    assert type(make_progress(None, total, done, False)) is Silent
    assert isinstance(make_progress(None, total, done, True), RichProgress)
    assert type(make_progress(True, total, {"a": 4}, True)) is Silent  # nothing left to do
    with pytest.raises(ModelError, match="progressbar"):
        make_progress("yes", total, done, True)  # type: ignore[arg-type]


def test_store_of_blocks_holding_every_method_still_resumes(tmp_path) -> None:
    """A store written before blocks were split by method (one file per block, every method
    in it) counts its replicates as done for every method."""
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    methods = ["reml-wald", "ml-wald"]
    fresh = hm.simulation_study(FORMULA, data, truth, methods, nsim=4, seed=9, block_size=2)
    store = tmp_path / "s"
    hm.simulation_study(FORMULA, data, truth, methods, nsim=2, seed=9, store=store,
                        block_size=2)
    names = sorted(p.name for p in store.glob("c*.csv"))
    assert names == [block_name(0, 0, 2, 0), block_name(0, 0, 2, 1)]
    rows = pd.concat([pd.read_csv(store / n) for n in names]).sort_values("rep", kind="stable")
    for n in names:
        (store / n).unlink()
    rows.to_csv(store / block_name(0, 0, 2), index=False, float_format="%.17g")
    rec = Recorder()
    res = hm.simulation_study(FORMULA, data, truth, methods, nsim=4, seed=9, store=store,
                              block_size=2, progressbar=rec)
    assert rec.calls[0][0] == {"reml-wald": 2, "ml-wald": 2}
    assert sorted(p.name for p in store.glob("c*.csv")) == sorted([
        block_name(0, 0, 2), block_name(0, 2, 4, 0), block_name(0, 2, 4, 1)])
    pd.testing.assert_frame_equal(res.estimates[COLS], fresh.estimates[COLS], check_exact=True)
