"""A mocked sampler for build-only tests (the idea of Bambi's tests/conftest.py).

``mock_sample`` replaces ``pymc.sample`` with draws from the prior, shaped (chain, draw) like a
posterior and with a ``sample_stats`` group of no divergences, so that the path from design to
result runs without paying for MCMC. The draws are then not a posterior: tests that use it
check plumbing, shapes and names, never posterior values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytest
import xarray as xr


def _prior_as_posterior(draws: int = 1000, chains: int = 4, random_seed: Any = None,
                        model: Any = None, **_: Any) -> Any:
    model = pm.modelcontext(model)
    # FAST_COMPILE: the mocked draws are taken once, so compile speed is what matters.
    prior = pm.sample_prior_predictive(draws * chains, model=model, random_seed=random_seed,
                                       var_names=[v.name for v in model.unobserved_RVs],
                                       compile_kwargs={"mode": "FAST_COMPILE"})
    ds = prior["prior"].to_dataset()
    out = {}
    for name, da in ds.data_vars.items():
        vals = np.asarray(da)[0].reshape(chains, draws, *da.shape[2:])
        out[name] = (("chain", "draw", *da.dims[2:]), vals)
    coords = {k: v for k, v in ds.coords.items() if k not in ("chain", "draw")}
    post = xr.Dataset(out, coords={"chain": np.arange(chains), "draw": np.arange(draws),
                                   **coords})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))},
                       coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


@pytest.fixture
def mock_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch ``pymc.sample`` with prior draws (see the module docstring)."""
    monkeypatch.setattr(pm, "sample", _prior_as_posterior)
