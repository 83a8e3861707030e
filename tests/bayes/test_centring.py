"""The joint sampler's re-parameterisation for large gaussian models (hiermix.bayes.centring).

References, computed here without the code under test:

* the chain's prior density of a (coarse levels and mu integrated out) against the dense
  multivariate normal a ~ N(m0 1, s0^2 11' + sum_k sd_k^2 P_k P_k' + sd_0^2 I) with P_k the
  indicator of T_k's levels (scipy.stats.multivariate_normal), to 1e-10 absolute;
* the exact conditional draws of mu and of the chain terms' total effects given a, against the
  dense Gaussian conditional (Schur complement of that joint covariance): means within 5
  Monte Carlo standard errors over 200,000 draws, and the variances within 2%;
* the posterior of the re-parameterised joint sampler against the marginal sampler's (b
  integrated out, exact): the 10%, 50% and 90% quantiles of every parameter and of b within
  4.5 sqrt(mcse_1^2 + mcse_2^2), as tests/bayes/test_marginal_slow.py; on Pastes (nested:
  the chain cask:batch in batch) in the default run, on Penicillin (crossed: both terms
  partially centred) in the slow one. Data: lme4's (tests/data, lme4 1.1-31).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hiermix
from hiermix.bayes import SamplingWarning
from hiermix.bayes import marginal as marginal_mod
from hiermix.bayes.centring import (
    NestedChain,
    Root,
    chain_logp,
    draw_chain,
    find_chain,
    plan_joint,
)

from .points import assert_same_quantiles

DATA = Path(__file__).parent.parent / "data"

# T_0: 12 levels, T_1: 4 levels (3 children each), T_2: 2 levels (2 children each)
CHAIN = NestedChain(("t0", "t1", "t2"), (np.repeat(np.arange(4), 3), np.repeat(np.arange(2), 2)))
SDS = (0.7, 1.3, 0.4)


def _joint_cov(root: Root) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """(mean of a, covariance of a, indicator matrices P_1, P_2 of the levels of a)."""
    p1 = np.eye(4)[CHAIN.parents[0]]               # (12, 4)
    p2 = p1 @ np.eye(2)[CHAIN.parents[1]]          # (12, 2)
    cov = SDS[0] ** 2 * np.eye(12) + SDS[1] ** 2 * p1 @ p1.T + SDS[2] ** 2 * p2 @ p2.T
    if root.kind == "normal":
        cov = cov + root.s0**2
    return np.full(12, root.m0), cov, (p1, p2)


def _logp_fn(root: Root):
    import pytensor
    import pytensor.tensor as pt

    a = pt.vector("a")
    s = [pt.scalar(f"s{k}") for k in range(3)]
    return pytensor.function([a, *s], chain_logp(a, s, CHAIN, root))


@pytest.mark.parametrize("root", [Root("normal", 2.0, 1.5), Root("none")])
def test_chain_density_is_the_dense_normal(root: Root) -> None:
    mean, cov, _ = _joint_cov(root)
    f = _logp_fn(root)
    rng = np.random.default_rng(4)
    for _ in range(5):
        a = rng.multivariate_normal(mean, cov)
        assert abs(float(f(a, *SDS)) - stats.multivariate_normal(mean, cov).logpdf(a)) < 1e-10


def test_flat_root_is_the_limit_of_a_wide_normal() -> None:
    """With a Flat root the density is the Normal root's times sqrt(2 pi) s0 as s0 grows."""
    s0 = 1e5
    a = np.random.default_rng(5).normal(size=12)
    flat = float(_logp_fn(Root("flat"))(a, *SDS))
    wide = float(_logp_fn(Root("normal", 0.3, s0))(a, *SDS))
    assert abs(flat - (wide + 0.5 * np.log(2 * np.pi * s0**2))) < 1e-8


def test_conditional_draws_are_the_dense_conditional() -> None:
    root = Root("normal", 2.0, 1.5)
    _, cov_a, (p1, _p2) = _joint_cov(root)
    # x = (mu, c2 (2), c1 (4)): the totals of the root, T_2 and T_1; a = c1[par] + b0.
    q2 = np.eye(2)[CHAIN.parents[1]]               # (4, 2): T_1 -> T_2
    cov_x = np.zeros((7, 7))
    cov_x[0, 0] = root.s0**2
    cov_c2 = root.s0**2 + SDS[2] ** 2 * np.eye(2)
    cov_x[1:3, 1:3] = cov_c2
    cov_x[0, 1:3] = cov_x[1:3, 0] = root.s0**2
    cov_c1 = q2 @ cov_c2 @ q2.T + SDS[1] ** 2 * np.eye(4)
    cov_x[3:, 3:] = cov_c1
    cov_x[0, 3:] = cov_x[3:, 0] = root.s0**2
    cov_x[1:3, 3:] = cov_c2 @ q2.T
    cov_x[3:, 1:3] = cov_x[1:3, 3:].T
    cov_xa = cov_x[:, 3:] @ p1.T                   # cov(x, a) = cov(x, c1) P_1'
    a = np.random.default_rng(6).normal(2.0, 1.0, 12)
    gain = cov_xa @ np.linalg.inv(cov_a)
    mean = root.m0 + gain @ (a - root.m0)
    cov = cov_x - gain @ cov_xa.T
    S = 200_000
    mu, (b0, b1, b2) = draw_chain(CHAIN, root, np.tile(a, (S, 1)),
                                  [np.full(S, s) for s in SDS], np.random.default_rng(7))
    c2 = mu[:, None] + b2
    c1 = c2[:, CHAIN.parents[1]] + b1
    np.testing.assert_allclose(c1[:, CHAIN.parents[0]] + b0, np.tile(a, (S, 1)), atol=1e-12)
    x = np.column_stack([mu, c2, c1])
    se = np.sqrt(np.diag(cov) / S)
    assert np.all(np.abs(x.mean(axis=0) - mean) < 5 * se)
    np.testing.assert_allclose(np.var(x, axis=0), np.diag(cov), rtol=0.02)


def _pastes() -> pd.DataFrame:
    return pd.read_csv(DATA / "Pastes.csv")


def test_find_chain_nested_and_crossed() -> None:
    d = hiermix.Model("strength ~ 1 + (1 | batch/cask)", _pastes()).design
    plan = plan_joint(d)
    assert plan.chain is not None and plan.chain.labels == ("cask:batch", "batch")
    casks = d.reterms[0]
    batch = d.reterms[1]
    par = plan.chain.parents[0]
    assert np.array_equal(par[np.asarray(casks.codes)], np.asarray(batch.codes))
    assert plan.lam == {}
    pen = hiermix.Model("diameter ~ 1 + (1 | plate) + (1 | sample)",
                        pd.read_csv(DATA / "Penicillin.csv")).design
    crossed = plan_joint(pen)
    assert crossed.chain is None and set(crossed.lam) == {"plate", "sample"}
    # a finest term the data inform poorly is not centred: no chain
    assert find_chain(d, {"cask:batch": 0.5, "batch": 3.0}) is None


def _agree(formula: str, data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch,
           draws: int) -> None:
    m = hiermix.Model(formula, data)
    runs = {}
    for marginal in (True, "auto"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            if marginal == "auto":  # the joint route of "auto", as for a large model
                monkeypatch.setattr(marginal_mod, "AUTO_MAX_REST", 0)
            r = m.sample(draws=draws, tune=draws, chains=2, random_seed=11, marginal=marginal,
                         target_accept=0.95, log_likelihood=False)
        runs[marginal] = r
    assert runs[True].record.marginal and not runs["auto"].record.marginal
    assert "centred" in runs["auto"].record.marginal_why
    assert_same_quantiles(runs[True], runs["auto"], runs[True].parameter_names(with_b=True),
                          formula)


def test_nested_chain_posterior_is_the_marginal_samplers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _agree("strength ~ 1 + (1 | batch/cask)", _pastes(), monkeypatch, draws=1000)


def _nested_with_slope() -> pd.DataFrame:
    """Simulated: 24 groups g of 5 rows nested in 6 parents h; x varies between and within
    g (its group means differ), so a' = a + shift @ beta_slope is a real shift."""
    rng = np.random.default_rng(12)
    g = np.repeat(np.arange(24), 5)
    h = g // 4
    x = rng.normal(0, 1, 24)[g] + rng.normal(0, 1, g.size)
    y = 1.0 + 0.5 * x + rng.normal(0, 0.8, 6)[h] + rng.normal(0, 1.0, 24)[g] \
        + rng.normal(0, 0.5, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g), "h": pd.Categorical(h)})


def test_nested_chain_with_a_slope_posterior_is_the_marginal_samplers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    df = _nested_with_slope()
    d = hiermix.Model("y ~ x + (1 | h/g)", df).design
    assert plan_joint(d).chain is not None
    _agree("y ~ x + (1 | h/g)", df, monkeypatch, draws=500)


@pytest.mark.slow
def test_partially_centred_posterior_is_the_marginal_samplers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _agree("diameter ~ 1 + (1 | plate) + (1 | sample)", pd.read_csv(DATA / "Penicillin.csv"),
           monkeypatch, draws=1000)


def test_stores_and_labels_of_the_chain_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    """store_ranef "summary" keeps the chain's b as mean and SD, "none" nothing; beta is
    always rebuilt; a_<label> is kept only with every draw of b."""
    monkeypatch.setattr(marginal_mod, "AUTO_MAX_REST", 0)
    m = hiermix.Model("strength ~ 1 + (1 | batch/cask)", _pastes())
    kw = dict(draws=100, tune=100, chains=1, random_seed=3, warn=False)
    full = m.sample(**kw)
    post = full.posterior
    assert {"beta", "b_batch", "b_cask:batch", "a_cask:batch", "intercept_c"} <= set(post)
    # the totals: a = Intercept + b_batch[batch] + b_cask[cask] for every draw
    d = m.design
    casks, batch = d.reterms[0], d.reterms[1]
    par = plan_joint(d).chain.parents[0]  # type: ignore[union-attr]
    total = (np.asarray(post["beta"])[..., 0, None]
             + np.asarray(post["b_batch"])[..., par, 0] + np.asarray(post["b_cask:batch"])[..., 0])
    np.testing.assert_allclose(total, np.asarray(post["a_cask:batch"]), atol=1e-10)
    assert list(post["b_batch"].coords["batch_level"].values) == list(batch.levels)
    assert casks.nlevels == post.sizes["cask:batch_level"]
    summ = m.sample(store_ranef="summary", **kw)
    rs = summ.datatree["ranef_summary"]
    assert {"b_batch_mean", "b_batch_sd", "b_cask:batch_mean"} <= set(rs.data_vars)
    assert not any(n.startswith(("a_", "b_")) for n in summ.posterior.data_vars)
    np.testing.assert_allclose(np.asarray(rs["b_batch_mean"]),
                               np.asarray(post["b_batch"].mean(("chain", "draw"))), atol=1e-12)
    none = m.sample(store_ranef="none", **kw)
    assert "beta" in none.posterior and "ranef_summary" not in none.datatree.children
    np.testing.assert_allclose(np.asarray(none.posterior["beta"]), np.asarray(post["beta"]),
                               atol=1e-12)
