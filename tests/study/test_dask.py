"""A real dask.distributed LocalCluster gives the local run's estimates (same seed)."""

from __future__ import annotations

import pandas as pd
import pytest

import hiermix as hm
from hiermix.study import random_intercept

distributed = pytest.importorskip("dask.distributed")


def test_local_cluster_equals_local_run() -> None:
    """... and its progress moves per method as the cluster's blocks come back."""
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    kw = dict(methods=["reml-wald", "ml-wald"], nsim=6, seed=21, block_size=2)
    local = hm.simulation_study("y ~ 1 + (1 | g)", data, truth, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        calls: list[dict[str, int]] = []
        remote = hm.simulation_study("y ~ 1 + (1 | g)", data, truth, client=client,
                                     progressbar=lambda done, total: calls.append(dict(done)),
                                     **kw)
    assert calls[0] == {"reml-wald": 0, "ml-wald": 0}
    assert calls[-1] == {"reml-wald": 6, "ml-wald": 6}
    assert len(calls) == 1 + 2 * 3  # one call per block of 2 of each method
    cols = ["rep", "method", "param", "estimate", "lower", "upper", "converged", "singular"]
    pd.testing.assert_frame_equal(local.estimates[cols], remote.estimates[cols],
                                  check_exact=True)
