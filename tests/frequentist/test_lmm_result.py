"""The LMM result beyond the reference numbers: criteria recomputed densely, weights, offsets,
summary text, predict / simulate / refit, immutability and errors.

Sources of expected values are stated per test: a dense computation of the marginal Gaussian
likelihood (scipy.stats), invariances of the model, or lme4's printed layout.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from catalogue import load_data, model_args

import hiermix
from hiermix.errors import (
    DataError,
    HiermixError,
    ModelError,
    NewLevelError,
    SingularFitWarning,
)
from hiermix.frequentist import LmerResult, lmer, simulate
from hiermix.frequentist.lmm import LmmObjective
from hiermix.pls import blocked as blocked_mod

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return load_data("sleepstudy")


@pytest.fixture(scope="module")
def fit_reml(sleep: pd.DataFrame) -> LmerResult:
    return lmer(SLEEP, sleep)


def _dense_criterion(fit: LmerResult) -> float:
    """-2 log L (ML) or the REML criterion from V = sigma^2 (Z Lambda Lambda' Z' + W^{-1}),
    with dense matrices (n = 180 only)."""
    d = fit.design
    Z = d.Z.toarray()
    blocks = []
    start = 0
    for t in d.reterms:
        th = fit.theta[start:start + t.n_theta]
        start += t.n_theta
        lam = np.zeros((t.q, t.q))
        k = 0
        for j in range(t.q):
            for i in range(j, t.q):
                lam[i, j] = th[k]
                k += 1
        blocks.append(np.kron(np.eye(t.nlevels), lam))
    from scipy.linalg import block_diag

    Lam = block_diag(*blocks)
    V = fit.sigma**2 * (Z @ Lam @ Lam.T @ Z.T + np.diag(1.0 / d.weights))
    y = d.y - d.offset
    ml = -2 * st.multivariate_normal(mean=d.X @ fit.beta, cov=V).logpdf(y)
    if not fit.REML:
        return float(ml)
    Vinv_X = np.linalg.solve(V, d.X)
    p = d.X.shape[1]
    logdet_xvx = np.linalg.slogdet(d.X.T @ Vinv_X)[1]
    return float(ml - p * np.log(2 * np.pi) + logdet_xvx)


@pytest.mark.parametrize("REML", [True, False])
def test_criterion_equals_dense_likelihood(sleep: pd.DataFrame, REML: bool) -> None:
    """The profiled criterion at the optimum equals -2 log L (or the REML criterion) of the
    marginal N(X beta, V) computed densely, to 1e-8 relative (source: scipy.stats)."""
    fit = lmer(SLEEP, sleep, REML=REML)
    assert fit.objective == pytest.approx(_dense_criterion(fit), rel=1e-8)


def test_weights_dense_and_optimal(sleep: pd.DataFrame) -> None:
    """With unequal prior weights (lme4: residual variance sigma^2 / w) the criterion equals
    the dense weighted likelihood (1e-8 relative) and is a minimum over theta."""
    w = np.tile([1.0, 2.0, 0.5], 60)
    fit = lmer(SLEEP, sleep, REML=False, weights=w)
    assert fit.objective == pytest.approx(_dense_criterion(fit), rel=1e-8)
    obj = LmmObjective(fit.design, REML=False)
    for i in range(fit.theta.size):
        for h in (1e-3, -1e-3):
            th = fit.theta.copy()
            th[i] += h
            assert obj(th) >= fit.objective - 1e-9


def test_constant_weights_rescale_theta(sleep: pd.DataFrame) -> None:
    """Weights c for every row are sigma^2 -> sigma^2 / c: the same beta, b, variance
    components and criterion, theta / sqrt(c) and sigma * sqrt(c) (model invariance; 1e-4)."""
    plain = lmer(SLEEP, sleep, REML=False)
    heavy = lmer(SLEEP, sleep, REML=False, weights=np.full(len(sleep), 2.0))
    assert heavy.objective == pytest.approx(plain.objective, rel=1e-9)
    np.testing.assert_allclose(heavy.beta, plain.beta, rtol=1e-5)
    np.testing.assert_allclose(heavy.theta, plain.theta / np.sqrt(2), rtol=1e-3, atol=1e-5)
    assert heavy.sigma == pytest.approx(plain.sigma * np.sqrt(2), rel=1e-4)
    re = heavy.varcorr.iloc[:-1]["sdcor"].to_numpy()
    np.testing.assert_allclose(re, plain.varcorr.iloc[:-1]["sdcor"].to_numpy(), rtol=1e-3)
    np.testing.assert_allclose(heavy.b[0], plain.b[0], rtol=1e-3, atol=1e-3)


def test_offset_is_shifting_y(sleep: pd.DataFrame) -> None:
    """An offset o fits as the response y - o (same theta, beta, criterion; fitted values
    shifted by o) (model identity; 1e-8)."""
    o = np.linspace(-5.0, 5.0, len(sleep))
    shifted = sleep.assign(Reaction=sleep["Reaction"] - o)
    with_off = lmer(SLEEP, sleep, offset=o)
    plain = lmer(SLEEP, shifted)
    assert with_off.objective == pytest.approx(plain.objective, rel=1e-10)
    np.testing.assert_allclose(with_off.beta, plain.beta, rtol=1e-7)
    np.testing.assert_allclose(with_off.fitted, plain.fitted + o, rtol=1e-7)
    np.testing.assert_allclose(with_off.residuals(), plain.residuals(), atol=1e-6)


def test_kernel_path_matches_sparse_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled A_Z0 W A_Z0' kernel, scipy's sparse product and the dense product give the
    same criterion (1e-10 relative) on a crossed design with a vector-valued second term."""
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({"a": rng.integers(0, 300, n).astype(str),
                       "b": rng.integers(0, 40, n).astype(str), "x": rng.standard_normal(n)})
    df["y"] = rng.standard_normal(n) + df["x"]
    design = hiermix.Model("y ~ x + (1 | a) + (1 + x | b)", df).design
    theta = np.array([0.7, 0.9, 0.2, 0.5])
    values = []
    for dense_max, kernel_min in ((0, 1), (0, 10**9), (10**9, 10**9)):
        monkeypatch.setattr(blocked_mod, "DENSE_MAX_ENTRIES", dense_max)
        monkeypatch.setattr(blocked_mod, "KERNEL_MIN_NNZ", kernel_min)
        values.append(LmmObjective(design, REML=True)(theta))
    assert values[1] == pytest.approx(values[0], rel=1e-10)
    assert values[2] == pytest.approx(values[0], rel=1e-10)


def test_summary_reml_blocks_in_lme4_order(fit_reml: LmerResult) -> None:
    """summary() prints lme4's blocks in lme4's order with lme4's names."""
    text = fit_reml.summary()
    keys = ["Linear mixed model fit by REML ['lmerMod']", "Formula: " + SLEEP,
            "REML criterion at convergence: 1743.6", "Scaled residuals:", "Random effects:",
            "Number of obs: 180, groups:  Subject, 18", "Fixed effects:",
            "Correlation of Fixed Effects:"]
    positions = [text.index(k) for k in keys]
    assert positions == sorted(positions)
    assert " Groups   Name        Variance Std.Dev. Corr" in text
    assert "(Intercept)" in text and "Residual" in text and "t value" in text
    assert "Days -0.138" in text
    assert "boundary" not in text
    # lines as lme4 1.1-31 prints them for this fit (trailing blanks stripped)
    lines = [line.rstrip() for line in text.splitlines()]
    for expected in ["            Estimate Std. Error t value",
                     "(Intercept)  251.405      6.825  36.838",
                     "Days          10.467      1.546   6.771",
                     " Subject  (Intercept) 612.10   24.741",
                     " Residual             654.94   25.592"]:
        assert expected in lines


def test_summary_ml_table_and_messages() -> None:
    """ML fits print lme4's AIC/BIC/logLik/deviance/df.resid table; singular fits and dropped
    rows add lme4's messages."""
    args = model_args("dyestuff2_singular")
    with pytest.warns(SingularFitWarning) as caught:
        fit = hiermix.Model(args["formula"], args["data"]).fit(REML=False)
    # lme4's words, the culprit named, and advice in Python terms rather than R's help page.
    warned = str(caught[0].message)
    assert warned.startswith("boundary (singular) fit: term 'Batch' (Intercept) has a zero "
                             "variance")
    assert "Model.sample()" in warned and "help(" not in warned
    assert caught[0].filename == __file__
    text = fit.summary()
    assert "Linear mixed model fit by maximum likelihood  ['lmerMod']" in text
    head = text.splitlines()
    i = next(k for k, line in enumerate(head) if "AIC" in line)
    assert head[i].split() == ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    assert float(head[i + 1].split()[2]) == pytest.approx(fit.loglik, abs=0.05)
    assert "boundary (singular) fit: term 'Batch' (Intercept) has a zero variance" in text
    data = args["data"].copy()
    data.loc[[0, 5], "Yield"] = np.nan
    text = hiermix.lmer(args["formula"], data).summary()
    assert "2 observations deleted due to missingness" in text
    assert "Number of obs: 28" in text


def test_repr_and_html(fit_reml: LmerResult) -> None:
    assert repr(fit_reml).startswith("<LmerResult ")
    assert "1743.6283" in repr(fit_reml)
    html = fit_reml._repr_html_()
    assert html.startswith("<div") and "Random effects:" in html


def test_result_is_immutable(fit_reml: LmerResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit_reml.sigma = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        fit_reml.theta[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        fit_reml.fitted[0] = 0.0
    fe = fit_reml.fixef
    fe.iloc[0] = 0.0  # a copy: the fit is unchanged
    assert fit_reml.fixef.iloc[0] == pytest.approx(251.405105, rel=1e-6)


def test_extractors_are_consistent(fit_reml: LmerResult) -> None:
    """fitted = X beta + Z b; residual types; coef = fixef + ranef; deviance of a REML fit is
    -2 log L at the REML estimates (lme4's deviance(fit, REML = FALSE): 1743.6283 REML vs the
    dense ML value)."""
    d = fit_reml.design
    b = np.concatenate([x.ravel() for x in fit_reml.b])
    np.testing.assert_allclose(fit_reml.fitted, d.X @ fit_reml.beta + d.Z @ b, rtol=1e-12)
    r = fit_reml.residuals()
    np.testing.assert_allclose(r, d.y - fit_reml.fitted)
    np.testing.assert_allclose(fit_reml.residuals("pearson"), r)
    np.testing.assert_allclose(fit_reml.residuals("scaled"), r / fit_reml.sigma)
    coef = fit_reml.coef["Subject"]
    np.testing.assert_allclose(coef["Days"], fit_reml.fixef["Days"]
                               + fit_reml.ranef["Subject"]["Days"])
    ml_at_reml = dataclasses.replace(fit_reml, REML=False,
                                     sigma=float(np.sqrt(fit_reml.pwrss / fit_reml.nobs)))
    assert fit_reml.deviance == pytest.approx(_dense_criterion(ml_at_reml), rel=1e-8)
    assert fit_reml.df_resid == 180 - 6
    assert fit_reml.optsummary.feval > 0 and fit_reml.optsummary.optimizer == "nlopt BOBYQA"
    np.testing.assert_allclose(fit_reml.optsummary.initial, [1.0, 0.0, 1.0])


def test_predict(fit_reml: LmerResult, sleep: pd.DataFrame) -> None:
    """predict() on the fitted data is fitted(); re_form='NA' is X beta; new levels need
    allow_new_levels and then get b = 0 (lme4's predict.merMod)."""
    np.testing.assert_allclose(fit_reml.predict(), fit_reml.fitted)
    np.testing.assert_allclose(fit_reml.predict(sleep), fit_reml.fitted, rtol=1e-12)
    pop = fit_reml.predict(re_form="NA")
    np.testing.assert_allclose(pop, fit_reml.design.X @ fit_reml.beta)
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "999"]})
    with pytest.raises(NewLevelError):
        fit_reml.predict(new)
    out = fit_reml.predict(new, allow_new_levels=True)
    b308 = fit_reml.ranef["Subject"].loc["308"]
    assert out[0] == pytest.approx(fit_reml.fixef["Intercept"] + b308["Intercept"])
    assert out[1] == pytest.approx(fit_reml.fixef["Intercept"] + 5 * fit_reml.fixef["Days"])
    with pytest.raises(DataError):  # partial formulas work (tests/frequentist/test_reform.py)
        fit_reml.predict(re_form="~(1|Batch)")


def test_simulate_and_refit(fit_reml: LmerResult) -> None:
    """simulate() is reproducible by seed; the mean of many simulations approaches X beta
    (4 SE); theta and sd/corr give the same draws; refit of y gives the same fit."""
    s1 = fit_reml.simulate(nsim=3, seed=11)
    s2 = fit_reml.simulate(nsim=3, seed=11)
    assert s1.shape == (180, 3) and list(s1.columns) == ["sim_1", "sim_2", "sim_3"]
    pd.testing.assert_frame_equal(s1, s2)
    many = fit_reml.simulate(nsim=400, seed=1).to_numpy()
    pop = fit_reml.design.X @ fit_reml.beta
    sd_mean = many.std(axis=1) / np.sqrt(400)
    assert np.all(np.abs(many.mean(axis=1) - pop) < 4.5 * sd_mean)
    vc = fit_reml.varcorr
    sds = {"Subject": vc["sdcor"].to_numpy()[:2]}
    rho = vc["sdcor"].to_numpy()[2]
    corr = {"Subject": np.array([[1.0, rho], [rho, 1.0]])}
    by_sd = simulate(fit_reml.design, beta=fit_reml.beta, sigma=fit_reml.sigma, sd=sds,
                     corr=corr, nsim=2, seed=5)
    by_theta = simulate(fit_reml.design, beta=fit_reml.beta, sigma=fit_reml.sigma,
                        theta=fit_reml.theta, nsim=2, seed=5)
    np.testing.assert_allclose(by_sd.to_numpy(), by_theta.to_numpy(), rtol=1e-8)
    same = fit_reml.refit(fit_reml.design.y)
    assert same.objective == pytest.approx(fit_reml.objective, rel=1e-12)
    other = fit_reml.refit(s1["sim_1"].to_numpy())
    assert other.objective != pytest.approx(fit_reml.objective, rel=1e-3)
    assert other.design.X is fit_reml.design.X


def test_simulation_study_recovers_parameters(sleep: pd.DataFrame) -> None:
    """Simulating from known parameters and refitting recovers them on average (20 fits,
    tolerance 3 Monte Carlo SEs of the mean)."""
    design = hiermix.Model(SLEEP, sleep).design
    beta = np.array([250.0, 10.0])
    sims = simulate(design, beta=beta, sigma=25.0, sd={"Subject": [24.0, 6.0]}, nsim=20,
                    seed=2024)
    est = np.array([hiermix.frequentist.fit(design.with_response(sims[c])).beta
                    for c in sims.columns])
    se = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - beta) < 3 * se + 1e-9)


def test_errors(sleep: pd.DataFrame, fit_reml: LmerResult) -> None:
    with pytest.raises(ModelError, match="gaussian"):
        LmmObjective(hiermix.Model("Reaction ~ Days + (1 | Subject)", sleep,
                                   family="Gamma").design)
    with pytest.raises(ModelError, match="nAGQ"):
        hiermix.Model(SLEEP, sleep).fit(nAGQ=5)
    with pytest.raises(HiermixError):
        lmer("Reaction ~ Days", sleep)
    with pytest.raises(DataError, match="residual type"):
        fit_reml.residuals("deviance")
    with pytest.raises(ModelError):
        simulate(fit_reml.design, beta=fit_reml.beta, sigma=1.0)
    with pytest.raises(ModelError, match="beta"):
        simulate(fit_reml.design, beta=[1.0], sigma=1.0, theta=fit_reml.theta)
    with pytest.raises(ModelError, match="start"):
        lmer(SLEEP, sleep, start=[1.0])
    with pytest.raises(DataError):
        fit_reml.refit(np.ones(3))
    with pytest.raises(DataError, match="newparams"):
        fit_reml.simulate(newparams={"gamma": 1})


@pytest.mark.parametrize("chunk", [4_000_000, 5])
def test_condvar_blocks_match_dense_inverse(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Diagonal blocks of (Lambda' Z'Z Lambda + I)^{-1} from the blocked factor equal those of
    the dense inverse (1e-10), with vector-valued crossed terms and chunked or whole pieces."""
    monkeypatch.setattr(blocked_mod, "CONDVAR_CHUNK", chunk)
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({"a": rng.integers(0, 30, n).astype(str),
                       "b": rng.integers(0, 8, n).astype(str), "x": rng.standard_normal(n)})
    df["y"] = rng.standard_normal(n)
    design = hiermix.Model("y ~ x + (1 + x | a) + (1 + x | b)", df).design
    obj = LmmObjective(design, REML=True)
    theta = np.array([0.8, 0.3, 0.6, 1.1, -0.4, 0.5])
    f = obj.chol.update(theta)
    blocks = obj.chol.inverse_diag_blocks(f)
    from scipy.linalg import block_diag

    Lam = block_diag(*[np.kron(np.eye(t.nlevels), lam)
                       for t, lam in zip(design.reterms, f.lambdas, strict=True)])
    Z = design.Z.toarray()
    Minv = np.linalg.inv(Lam.T @ Z.T @ Z @ Lam + np.eye(Z.shape[1]))
    start = 0
    for t, B in zip(design.reterms, blocks, strict=True):
        for g in range(t.nlevels):
            sl = slice(start + g * t.q, start + (g + 1) * t.q)
            np.testing.assert_allclose(B[g], Minv[sl, sl], rtol=1e-10, atol=1e-12)
        start += t.ncols


def test_evaluation_size_does_not_grow_with_n(sleep: pd.DataFrame) -> None:
    """The objective reads only the Gram blocks: their shapes depend on levels and columns,
    not on n (4 copies of the data give the same shapes; the criterion changes)."""
    big = pd.concat([sleep] * 4, ignore_index=True)
    small_obj = LmmObjective(hiermix.Model(SLEEP, sleep).design)
    big_obj = LmmObjective(hiermix.Model(SLEEP, big).design)
    for name in ("D0", "AXY0", "ARR"):
        assert getattr(small_obj.gram, name).shape == getattr(big_obj.gram, name).shape
    assert small_obj.gram.AZ0.shape == big_obj.gram.AZ0.shape
    assert big_obj(small_obj.start) != pytest.approx(small_obj(small_obj.start))


def test_to_datatree_arviz_summary_labels_by_coordinate() -> None:
    """ArviZ labels b by its own coordinates (issue 14: ``b_Subject[308, Days]`` showed subject
    309's intercept when ``Subject_coef`` was declared before ``Subject_level``)."""
    from arviz_labels import check_summary_labels

    from hiermix.datasets import load

    fit = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy")).fit()
    dt = fit.to_datatree(draws=50, chains=2)
    assert list(dt["posterior"].to_dataset().dims)[:5] == [
        "chain", "draw", "coef", "Subject_level", "Subject_coef"]
    assert check_summary_labels(dt) > 36
