"""Slow tier (``pytest -m slow tests/bayes``): real posteriors against independent references.

3. The bridge between posterior and likelihood: with the ``flat`` preset and much simulated data
   (60 groups x 30 observations), posterior medians of beta are within 0.1 posterior SD of the
   maximum-likelihood estimates. The reference ML is computed here, independently of hiermix,
   by maximising the closed-form marginal likelihood of a random-intercept model with
   scipy.optimize (beta profiled out by generalised least squares). Monte Carlo error of a
   median from ~3,000 effective draws is about 0.025 SD, so 0.1 SD is four MC SEs.
4. Simulation-based calibration (Talts et al. 2018, "Validating Bayesian inference algorithms
   with simulation-based calibration"): parameters drawn from the prior, data from the model,
   posterior drawn; the rank of each true value among 99 thinned posterior draws must be
   uniform. 80 replications, 5 bins; a chi-square test per parameter at level 0.001 (four
   parameters tested, so a false alarm rate near 0.4 %).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import hiermix
from hiermix.bayes import Exponential, HalfNormal, Normal, SamplingWarning

pytestmark = pytest.mark.slow


def _random_intercept_data(seed: int, J: int = 60, n_per: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(J), n_per)
    x1 = rng.normal(size=J * n_per)
    x2 = rng.uniform(size=J * n_per)
    y = 1.0 + 0.5 * x1 - 2.0 * x2 + rng.normal(0, 0.7, J)[g] + rng.normal(0, 1.2, J * n_per)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": [f"g{k:02d}" for k in g]})


def _ml_random_intercept(df: pd.DataFrame) -> np.ndarray:
    """ML of beta in y = X beta + u_g + e, u ~ N(0, tau^2), e ~ N(0, sigma^2)."""
    X = np.column_stack([np.ones(len(df)), df["x1"], df["x2"]])
    y = df["y"].to_numpy()
    groups = [np.flatnonzero(df["g"].to_numpy() == lev) for lev in np.unique(df["g"])]

    def gls(log_tau: float, log_sigma: float) -> tuple[float, np.ndarray]:
        t2, s2 = np.exp(2 * log_tau), np.exp(2 * log_sigma)
        A, c, parts = np.zeros((3, 3)), np.zeros(3), []
        for idx in groups:
            n = idx.size
            # V^{-1} = (I - t2 / (s2 + n t2) 1 1') / s2 ; log det V = n log s2 + log(1 + n t2/s2)
            k = t2 / (s2 + n * t2)
            Xg, yg = X[idx], y[idx]
            Xs, ys = Xg.sum(0), yg.sum()
            A += (Xg.T @ Xg - k * np.outer(Xs, Xs)) / s2
            c += (Xg.T @ yg - k * Xs * ys) / s2
            parts.append((idx, k, s2, n))
        beta = np.linalg.solve(A, c)
        ll = 0.0
        for idx, k, s2_, n in parts:
            r = y[idx] - X[idx] @ beta
            quad = (r @ r - k * r.sum() ** 2) / s2_
            ll -= 0.5 * (n * np.log(2 * np.pi * s2_) + np.log1p(n * t2 / s2_) + quad)
        return ll, beta

    opt = optimize.minimize(lambda p: -gls(p[0], p[1])[0], x0=np.zeros(2), method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 2000})
    return gls(*opt.x)[1]


@pytest.mark.parametrize("marginal", [True, False])
def test_flat_prior_posterior_median_is_ml(marginal: bool) -> None:
    df = _random_intercept_data(seed=7)
    ml = _ml_random_intercept(df)
    m = hiermix.Model("y ~ x1 + x2 + (1 | g)", df)
    r = m.sample(priors="flat", random_seed=3, marginal=marginal)
    assert r.record.n_divergent == 0
    beta = r.posterior["beta"].values.reshape(-1, 3)
    med, sd = np.median(beta, axis=0), beta.std(axis=0, ddof=1)
    assert np.all(np.abs(med - ml) < 0.1 * sd), (med, ml, sd)


def test_simulation_based_calibration() -> None:
    J, n_per, sims, L = 6, 4, 80, 99
    priors = {"intercept": Normal(0.0, 1.0), "sd": HalfNormal(1.0), "sigma": Exponential(1.0)}
    rng = np.random.default_rng(2018)
    g = np.repeat(np.arange(J), n_per)
    ranks: dict[str, list[int]] = {"Intercept": [], "sd": [], "sigma": [], "b0": []}
    for k in range(sims):
        alpha, tau, sigma = rng.normal(0, 1), abs(rng.normal(0, 1)), rng.exponential(1.0)
        b = rng.normal(0, tau, J)
        y = alpha + b[g] + rng.normal(0, sigma, J * n_per)
        df = pd.DataFrame({"y": y, "g": [f"g{i}" for i in g]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            r = hiermix.Model("y ~ 1 + (1 | g)", df).sample(
                draws=500, tune=500, chains=2, random_seed=k, priors=priors)
        post = r.posterior
        thin = slice(None, None, 10)  # 1,000 draws -> 100, roughly independent
        draws = {"Intercept": post["beta"].values[..., 0],
                 "sd": post["sd_g"].values[..., 0], "sigma": post["sigma"].values,
                 "b0": post["b_g"].values[..., 0, 0]}
        truth = {"Intercept": alpha, "sd": tau, "sigma": sigma, "b0": b[0]}
        for name, d in draws.items():
            flat = d.reshape(-1)[thin][:L]
            ranks[name].append(int(np.sum(flat < truth[name])))
    for name, rk in ranks.items():
        counts = np.histogram(rk, bins=5, range=(0, L + 1))[0]
        p = stats.chisquare(counts).pvalue
        assert p > 0.001, (name, counts, p)
