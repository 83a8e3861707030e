"""The GLMM engine beyond the reference numbers: extractors, summary, predict / simulate /
refit, nAGQ = 0, every family and link, the PIRLS building blocks, and bad input.

Sources of expected values are stated per test: identities of the model (eta = X beta + Z b +
offset, residual definitions), invariances (an offset shifts the intercept; cbind equals
proportions with weights), numerical derivatives, helper-1's :func:`build_gram`, or lme4's
printed layout.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from catalogue import load_data, model_args

import hiermix
from hiermix.errors import (
    ConvergenceError,
    DataError,
    FamilyError,
    HiermixError,
    ModelError,
    NewLevelError,
    ResponseSupportError,
    SingularFitWarning,
)
from hiermix.family import get_family
from hiermix.frequentist import GlmerResult, LmerResult, glmer
from hiermix.frequentist.pirls import observed_weights
from hiermix.frequentist.reweight import WorkingGram
from hiermix.pls.gram import build_gram

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return load_data("cbpp")


@pytest.fixture(scope="module")
def fit(cbpp: pd.DataFrame) -> GlmerResult:
    return glmer(CBPP, cbpp, family="binomial")


def simulated(family: str, link: str, seed: int = 7, n_groups: int = 25,
              per_group: int = 16) -> pd.DataFrame:
    """y ~ x + (1 | g) from the family with known parameters (phi 0.3 where it applies)."""
    rng = np.random.default_rng(seed)
    fam = get_family(family, link)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.uniform(0, 1, g.size)
    b = rng.normal(0, 0.3, n_groups)
    base = {"logit": 0.2, "probit": 0.1, "cloglog": -0.3, "log": 1.0, "sqrt": 2.0,
            "identity": 3.0, "inverse": 0.5, "1/mu^2": 0.4}[link]
    slope = {"identity": 0.5, "inverse": 0.2, "1/mu^2": 0.1}.get(link, 0.4)
    eta = base + slope * x + b[g] * (0.2 if link in ("inverse", "1/mu^2") else 1.0)
    mu = fam.linkinv(eta)
    wt = np.full(g.size, 10.0) if family == "binomial" else np.ones(g.size)
    y = fam.sample(mu, wt, 0.3, rng)
    df = pd.DataFrame({"y": y, "x": x, "g": pd.Categorical([f"g{k:02d}" for k in g])})
    if family == "binomial":
        df["n"] = wt
    return df


# -- extractors and identities -------------------------------------------------------------

def test_extractors_are_consistent(fit: GlmerResult) -> None:
    """eta = X beta + Z b, mu = g^{-1}(eta), criteria from the objective, coef = fixef + ranef
    (model identities)."""
    d = fit.design
    zb = sum(t.X[:, 0] * b[t.codes, 0] for t, b in zip(d.reterms, fit.b, strict=True))
    np.testing.assert_allclose(fit.eta, d.X @ fit.beta + d.offset + zb, atol=1e-12)
    np.testing.assert_allclose(fit.fitted, d.family.linkinv(fit.eta))
    assert fit.loglik == pytest.approx(-0.5 * fit.objective)
    assert fit.deviance == fit.objective
    assert fit.aic == pytest.approx(fit.objective + 2 * fit.df)
    assert fit.bic == pytest.approx(fit.objective + np.log(fit.nobs) * fit.df)
    assert fit.df == 5 and fit.df_resid == 51
    assert fit.reml_crit is None
    V = fit.vcov.to_numpy()
    np.testing.assert_allclose(V, V.T)
    assert np.all(np.linalg.eigvalsh(V) > 0)
    np.testing.assert_allclose(fit.fixef_se.to_numpy(), np.sqrt(np.diag(V)))
    coef = fit.coef["herd"]
    np.testing.assert_allclose(coef.iloc[:, 0], fit.beta[0] + fit.ranef["herd"].iloc[:, 0])
    assert np.all(fit.ranef_condsd["herd"].to_numpy() > 0)
    assert fit.ranef_condvar["herd"].shape == (15, 1, 1)
    assert fit.ngrps == {"herd": 15}


def test_residuals(fit: GlmerResult) -> None:
    """Residual types by their definitions (R's residuals.glm); deviance residuals square
    to the family's unit deviances."""
    d, fam, mu = fit.design, fit.design.family, fit.mu
    np.testing.assert_allclose(fit.residuals("response"), d.y - mu)
    np.testing.assert_allclose(fit.residuals("pearson"),
                               (d.y - mu) * np.sqrt(d.weights / (mu * (1 - mu))))
    np.testing.assert_allclose(fit.residuals("working"), (d.y - mu) / fam.mu_eta(fit.eta))
    dev = fit.residuals()
    np.testing.assert_allclose(dev**2, fam.dev_resids(d.y, mu, d.weights), atol=1e-12)
    assert np.all(np.sign(dev) == np.sign(d.y - mu))
    with pytest.raises(DataError, match="unknown residual type"):
        fit.residuals("scaled")


def test_summary_in_lme4_layout(fit: GlmerResult) -> None:
    """Blocks and labels as lme4 prints a glmerMod (lme4's summary layout)."""
    text = fit.summary()
    lines = text.splitlines()
    assert lines[0] == ("Generalized linear mixed model fit by maximum likelihood (Laplace "
                        "Approximation) ['glmerMod']")
    assert lines[1] == " Family: binomial  ( logit )"
    assert lines[2].startswith("Formula: cbind(incidence, size - incidence) ~ period")
    for label in ("AIC", "BIC", "logLik", "deviance", "df.resid", "Scaled residuals:",
                  "Random effects:", "Number of obs: 56, groups:  herd, 15",
                  "Fixed effects:", "z value", "Pr(>|z|)", "Correlation of Fixed Effects:"):
        assert label in text
    assert "Residual" not in text  # no dispersion for binomial
    assert "period2" in text and "(Intercept)" in text
    assert repr(fit).startswith("<GlmerResult ")
    assert "<pre>" in fit._repr_html_()


def test_summary_with_dispersion_and_agq() -> None:
    """Gamma: a Residual row with phi and sqrt(phi); nAGQ > 1 names the quadrature."""
    data = load_data("seed_gamma_intercept")
    g = glmer("y ~ x + (1 | grupo)", data, family="Gamma", link="log", check_derivs=False)
    text = g.summary()
    assert " Family: Gamma  ( log )" in text
    row = next(ln for ln in text.splitlines() if ln.startswith(" Residual"))
    assert f"{g.phi:.4g}" in row and f"{np.sqrt(g.phi):.4g}" in row
    a = glmer(CBPP, load_data("cbpp"), nAGQ=9, check_derivs=False)
    assert "Adaptive Gauss-Hermite Quadrature, nAGQ = 9" in a.summary().splitlines()[0]


def test_result_is_immutable(fit: GlmerResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.phi = 2.0  # type: ignore[misc]
    for arr in (fit.beta, fit.theta, fit.eta, fit.mu, fit.vcov_beta, fit.b[0]):
        assert not arr.flags.writeable


# -- predict, simulate, refit --------------------------------------------------------------

def test_predict(fit: GlmerResult, cbpp: pd.DataFrame) -> None:
    """Link and response scales, new data equal to the fitted data, population predictions and
    new levels with b = 0 (lme4's predict.merMod)."""
    np.testing.assert_allclose(fit.predict(), fit.eta)
    np.testing.assert_allclose(fit.predict(type="response"), fit.mu)
    np.testing.assert_allclose(fit.predict(cbpp), fit.eta, atol=1e-12)
    pop = fit.predict(re_form="NA")
    np.testing.assert_allclose(pop, fit.design.X @ fit.beta)
    new = cbpp.iloc[:4].copy()
    new["herd"] = pd.Categorical(["99"] * 4)
    np.testing.assert_allclose(fit.predict(new, allow_new_levels=True), pop[:4])
    np.testing.assert_allclose(fit.predict(new, allow_new_levels=True, type="response"),
                               1 / (1 + np.exp(-pop[:4])))
    with pytest.raises(NewLevelError):
        fit.predict(new)
    with pytest.raises(DataError, match="prediction type"):
        fit.predict(type="probability")


def test_simulate_and_refit(fit: GlmerResult) -> None:
    """Simulated binomial proportions are whole successes out of the trials; a fixed seed
    repeats; refitting the observed response reproduces the fit (to 1e-8), refitting a
    simulated one gives a different, valid fit."""
    sims = fit.simulate(nsim=3, seed=11)
    assert sims.shape == (56, 3)
    trials = fit.design.weights
    k = sims.to_numpy() * trials[:, None]
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert np.all((sims.to_numpy() >= 0) & (sims.to_numpy() <= 1))
    pd.testing.assert_frame_equal(sims, fit.simulate(nsim=3, seed=11))
    same = fit.refit(fit.design.y)
    assert same.objective == pytest.approx(fit.objective, rel=1e-8)
    other = fit.refit(sims["sim_1"].to_numpy())
    assert isinstance(other, GlmerResult) and np.isfinite(other.objective)
    assert other.objective != pytest.approx(fit.objective, rel=1e-6)
    zero = fit.simulate(nsim=1, seed=1, newparams={"theta": [0.0], "beta": [-50, 0, 0, 0]})
    assert np.all(zero.to_numpy() == 0)  # mu = expit(-50): no successes


def test_simulation_study_recovers_poisson_parameters() -> None:
    """Parameters used to simulate are recovered within 4 standard errors (beta) and 25%
    (the SD of b, 40 groups) from one large simulated data set."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(40), 30)
    x = rng.normal(size=g.size)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + rng.normal(0, 0.6, 40)[g]))
    data = pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})
    f = glmer("y ~ x + (1 | g)", data, family="poisson")
    assert np.all(np.abs(f.beta - [0.5, 0.3]) < 4 * f.fixef_se.to_numpy())
    assert f.varcorr.sdcor.iloc[0] == pytest.approx(0.6, rel=0.25)


# -- nAGQ = 0, offsets, weights, families ------------------------------------------------------

def test_nagq0(fit: GlmerResult, cbpp: pd.DataFrame) -> None:
    """nAGQ = 0 (beta inside PIRLS) gives a criterion no better than Laplace's, which
    optimises beta on it, and close to it; its SEs come from R_X as in lme4."""
    f0 = glmer(CBPP, cbpp, nAGQ=0)
    assert f0.nAGQ == 0 and f0.vcov_source == "pirls"
    assert fit.objective <= f0.objective + 1e-8
    assert f0.objective - fit.objective < 0.1
    np.testing.assert_allclose(f0.beta, fit.beta, atol=0.05)
    assert "nAGQ = 0" in f0.summary().splitlines()[0]


def test_nagq0_two_thetas_and_dispersion(cbpp: pd.DataFrame) -> None:
    """nAGQ = 0 with two terms (cbpp with an observation-level term) and with a dispersion
    (Gamma) used to crash: the stage-0 vector (theta, [log phi]) was mapped through the joint
    stage's (theta, beta, [log phi]) coordinates. The fits now end at the stage-0 optimum: the
    same from another start, and no better than Laplace's criterion, which also optimises beta.
    (No lme4 nAGQ = 0 reference exists for these models.)"""
    data = cbpp.assign(obs=np.arange(len(cbpp)).astype(str))
    formula = CBPP + " + (1 | obs)"
    f0 = glmer(formula, data, nAGQ=0)
    again = glmer(formula, data, nAGQ=0, start={"theta": [0.3, 0.6]})
    lap = glmer(formula, data)
    assert f0.theta.shape == (2,) and f0.vcov_source == "pirls"
    np.testing.assert_allclose(again.theta, f0.theta, atol=1e-3)
    assert lap.objective <= f0.objective + 1e-8 and f0.objective - lap.objective < 1.0
    seed = load_data("seed_gamma_intercept")
    g0 = glmer("y ~ x + (1 | grupo)", seed, family="Gamma", link="log", nAGQ=0)
    g1 = glmer("y ~ x + (1 | grupo)", seed, family="Gamma", link="log")
    assert g0.nAGQ == 0 and g0.phi > 0
    assert g1.objective <= g0.objective + 1e-8 and g0.objective - g1.objective < 0.01
    np.testing.assert_allclose(g0.theta, g1.theta, rtol=1e-3)


def test_offset_shifts_the_intercept() -> None:
    """A constant offset c moves the intercept by -c and leaves the likelihood unchanged
    (invariance of eta = offset + X beta + Z b)."""
    data = simulated("poisson", "log")
    a = glmer("y ~ x + (1 | g)", data, family="poisson", check_derivs=False)
    b = glmer("y ~ x + (1 | g)", data, family="poisson", offset=np.full(len(data), 0.7),
              check_derivs=False)
    assert b.objective == pytest.approx(a.objective, rel=1e-9)
    assert b.beta[0] == pytest.approx(a.beta[0] - 0.7, abs=1e-4)
    assert b.beta[1] == pytest.approx(a.beta[1], abs=1e-4)
    np.testing.assert_allclose(b.predict(type="response"), a.predict(type="response"),
                               rtol=1e-4)


def test_cbind_equals_proportions_with_weights(fit: GlmerResult, cbpp: pd.DataFrame) -> None:
    """cbind(successes, failures) and successes/trials with weights = trials are one model."""
    data = cbpp.assign(prop=cbpp.incidence / cbpp["size"])
    p = glmer("prop ~ period + (1 | herd)", data, weights="size")
    assert p.objective == pytest.approx(fit.objective, rel=1e-9)
    np.testing.assert_allclose(p.beta, fit.beta, atol=1e-5)


@pytest.mark.parametrize(("family", "link"), [
    ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "sqrt"),
    ("poisson", "identity"), ("gamma", "inverse"), ("gamma", "identity"), ("gamma", "log"),
    ("inverse_gaussian", "log"), ("inverse_gaussian", "1/mu^2"),
    ("inverse_gaussian", "inverse"), ("gaussian", "log"),
])
def test_every_family_and_link(family: str, link: str) -> None:
    """Each family/link fits simulated data without warnings; with 16 observations per group
    the Laplace and 15-node AGQ log-likelihoods agree within 0.5 (the Laplace error is small
    there), and the slope is recovered within 5 standard errors (model truth)."""
    data = simulated(family, link)
    kw = {"weights": "n"} if family == "binomial" else {}
    formula = "y ~ x + (1 | g)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lap = glmer(formula, data, family=family, link=link, **kw)
        agq = glmer(formula, data, family=family, link=link, nAGQ=15, check_derivs=False,
                    **kw)
    assert np.isfinite(lap.loglik)
    assert abs(lap.loglik - agq.loglik) < 0.5
    slope = {"identity": 0.5, "inverse": 0.2, "1/mu^2": 0.1}.get(link, 0.4)
    assert abs(lap.beta[1] - slope) < 5 * lap.fixef_se.iloc[1]
    if lap.design.family.has_dispersion:
        assert lap.df == 4 and lap.phi > 0
        assert lap.varcorr.grp.iloc[-1] == "Residual"


def test_gaussian_identity_is_an_lmm(cbpp: pd.DataFrame) -> None:
    """glmer with the gaussian family and identity link hands over to lmer by ML, as lme4."""
    data = simulated("gaussian", "identity")
    f = glmer("y ~ x + (1 | g)", data, family="gaussian")
    assert isinstance(f, LmerResult) and not isinstance(f, GlmerResult) and not f.REML


# -- building blocks --------------------------------------------------------------------------

@pytest.mark.parametrize("ref_id", ["grouseticks_poisson", "verbagg_crossed"])
def test_working_gram_matches_build_gram(ref_id: str) -> None:
    """The scatter-add Gram of PIRLS equals helper build_gram's for the same weights and
    response, every block but the r'Wr entry (deliberately replaced)."""
    d = hiermix.Model(**model_args(ref_id)).design
    rng = np.random.default_rng(0)
    w, r = rng.uniform(0.5, 2, d.nobs), rng.normal(size=d.nobs)
    ref = build_gram(d, y=r, weights=w)
    ours = WorkingGram(d).build(w, w * r, True)
    np.testing.assert_allclose(ours.D0, ref.D0, rtol=1e-13)
    np.testing.assert_allclose(ours.AXY0, ref.AXY0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.AZ0.toarray(), ref.AZ0.toarray(), rtol=1e-13)
    A, B = ours.ARR.copy(), ref.ARR.copy()
    A[-1, -1] = B[-1, -1] = 0.0
    np.testing.assert_allclose(A, B, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("family", "link"), [
    ("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
    ("poisson", "log"), ("poisson", "sqrt"), ("poisson", "identity"),
    ("gamma", "log"), ("gamma", "inverse"), ("gamma", "identity"),
    ("inverse_gaussian", "log"), ("inverse_gaussian", "inverse"),
    ("inverse_gaussian", "1/mu^2"), ("gaussian", "log"),
])
def test_observed_weights_are_the_hessian(family: str, link: str) -> None:
    """observed_weights equals the central second difference of -log p(y | eta) in eta."""
    fam = get_family(family, link)
    rng = np.random.default_rng(1)
    eta = {"identity": 2.0, "sqrt": 1.5, "inverse": 0.6, "1/mu^2": 0.5}.get(link, 0.3)
    eta = eta + rng.uniform(-0.1, 0.1, 20)
    wt = np.full(20, 5.0) if family == "binomial" else np.ones(20)
    y = fam.sample(fam.linkinv(eta), wt, 0.4, rng)
    if family == "binomial":
        y = np.clip(y, 0.2, 0.8)  # whole successes of 5 trials, away from 0 and 1
    h = 1e-4
    phi = 0.4 if fam.has_dispersion else 1.0

    def nll(e: np.ndarray) -> np.ndarray:
        return -fam.loglik(y, fam.linkinv(e), wt, phi)

    numeric = (nll(eta + h) - 2 * nll(eta) + nll(eta - h)) / h**2
    np.testing.assert_allclose(observed_weights(fam, y, wt, eta, phi), numeric,
                               rtol=1e-5, atol=1e-6)


# -- bad input -------------------------------------------------------------------------------

def test_bad_input(cbpp: pd.DataFrame) -> None:
    """Clear hiermix errors for bad nAGQ, start, support, family and link; PIRLS failures
    surface as ConvergenceError, never as a raw numpy LinAlgError."""
    two = "TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)"
    grouse = load_data("grouseticks")
    with pytest.raises(ModelError, match="single scalar random"):
        glmer(two, grouse, family="poisson", nAGQ=5)
    with pytest.raises(ModelError, match="largest supported"):
        glmer(CBPP, cbpp, nAGQ=26)
    with pytest.raises(ModelError, match="non-negative integer"):
        glmer(CBPP, cbpp, nAGQ=-1)
    with pytest.raises(ModelError, match="non-negative integer"):
        glmer(CBPP, cbpp, nAGQ=2.5)
    assert glmer(CBPP, cbpp, nAGQ=3.0, check_derivs=False).nAGQ == 3
    gam = load_data("seed_gamma_intercept")
    with pytest.raises(ModelError, match="lme4_compat with nAGQ > 1"):
        glmer("y ~ x + (1 | grupo)", gam, family="Gamma", nAGQ=5, lme4_compat=True)
    with pytest.raises(ModelError, match="start theta has 2 values"):
        glmer(CBPP, cbpp, start={"theta": [1.0, 1.0]})
    with pytest.raises(ModelError, match="unknown entries in start"):
        glmer(CBPP, cbpp, start={"sigma": 1.0})
    bad = grouse.assign(TICKS=grouse.TICKS - 5)
    with pytest.raises(ResponseSupportError, match="TICKS"):
        glmer("TICKS ~ YEAR + (1 | BROOD)", bad, family="poisson")
    with pytest.raises(ResponseSupportError):
        glmer("y ~ x + (1 | grupo)", gam.assign(y=gam.y - gam.y.median()), family="Gamma")
    with pytest.raises(FamilyError, match="unknown family"):
        glmer(CBPP, cbpp, family="tweedie")
    with pytest.raises(FamilyError, match="link"):
        glmer(CBPP, cbpp, family="binomial", link="sqrt")
    data = simulated("poisson", "identity")
    with pytest.raises(ConvergenceError) as err:
        glmer("y ~ x + (1 | g)", data, family="poisson", link="identity",
              start={"beta": [-100.0, 0.0]})
    assert isinstance(err.value, HiermixError)
    assert not isinstance(err.value, np.linalg.LinAlgError)


# -- singular fits and the standard-error fallbacks -----------------------------------------

@pytest.fixture(scope="module")
def no_group_effect() -> pd.DataFrame:
    """Poisson counts with no group effect at all (seed 1 gives a boundary fit)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = rng.poisson(np.exp(0.3 + 0.2 * x))
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(np.repeat(np.arange(10), 20))})


def test_singular_fit_is_the_glm(no_group_effect: pd.DataFrame) -> None:
    """theta = 0 is flagged with lme4's message, and the fit is then the GLM: beta and log L
    equal a direct maximisation of the poisson likelihood (scipy), to 1e-5 and 1e-7."""
    from scipy import optimize, special

    with pytest.warns(SingularFitWarning, match=r"boundary \(singular\) fit: term 'g'"):
        f = glmer("y ~ x + (1 | g)", no_group_effect, family="poisson")
    assert f.is_singular and f.theta[0] < 1e-6
    assert ("boundary (singular) fit: term 'g' (Intercept) has a zero variance"
            in f.optsummary.messages)
    assert "boundary (singular) fit" in f.summary()
    X = f.design.X
    y = f.design.y

    def nll(b: np.ndarray) -> float:
        eta = X @ b
        return float(-np.sum(y * eta - np.exp(eta) - special.gammaln(y + 1)))

    glm = optimize.minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(f.beta, glm.x, atol=1e-5)
    assert f.loglik == pytest.approx(-glm.fun, rel=1e-7)


def test_standard_error_fallbacks(fit: GlmerResult, cbpp: pd.DataFrame,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """use_hessian=False, and a Hessian that is not positive definite (forced here), give
    lme4's R_X-based vcov; the second also warns. Both agree with the Hessian SEs to 10%
    (cbpp; the R_X form ignores the dependence of the modes' weights on beta)."""
    from hiermix.frequentist import glmm
    from hiermix.frequentist.checks import ConvergenceWarning

    rx = glmer(CBPP, cbpp, use_hessian=False)
    assert rx.vcov_source == "pirls"
    np.testing.assert_allclose(rx.fixef_se, fit.fixef_se, rtol=0.1)
    monkeypatch.setattr(glmm, "_hessian_vcov", lambda H, idx: None)
    with pytest.warns(ConvergenceWarning, match="not positive definite"):
        forced = glmer(CBPP, cbpp)
    assert forced.vcov_source == "pirls"
    np.testing.assert_allclose(forced.vcov_beta, rx.vcov_beta, rtol=1e-6)


def test_top_level_entry_points(cbpp: pd.DataFrame, fit: GlmerResult) -> None:
    """hiermix.glmer and Model(..., family=...).fit() reach the GLMM engine."""
    assert hiermix.glmer is glmer
    m = hiermix.Model(CBPP, cbpp, family="binomial").fit()
    assert isinstance(m, GlmerResult)
    assert m.objective == pytest.approx(fit.objective, rel=1e-10)


def test_varcorr_intervals_profile_beta(fit: GlmerResult) -> None:
    """The Wald SE of log SD(herd) equals the one from the curvature of the criterion with beta
    re-optimised at each point (a brute-force profile: scipy BFGS over beta), to 2%; beta held
    at its estimate would give a smaller SE."""
    from scipy import optimize

    obj = fit._objective_fn
    beta0 = np.asarray(fit.beta)
    psi0 = float(np.log(fit.theta[0]))

    def profile(psi: float) -> float:
        def f(beta: np.ndarray) -> float:
            obj.anchor = fit._factor
            try:
                return float(obj(np.concatenate([[np.exp(psi)], beta])))
            finally:
                obj.anchor = None

        return float(optimize.minimize(f, beta0, method="BFGS", options={"gtol": 1e-7}).fun)

    h = 0.05
    curv = (profile(psi0 + h) - 2 * profile(psi0) + profile(psi0 - h)) / h**2
    se_profile = np.sqrt(2.0 / curv)
    w = fit.varcorr_intervals()
    assert list(w.columns[:4]) == ["grp", "var1", "var2", "ml"]
    assert w.ml.iloc[0] == pytest.approx(fit.theta[0])
    se_ours = w.ml_se.iloc[0] / w.ml.iloc[0]  # delta method: se(sd) = sd se(log sd)
    assert se_ours == pytest.approx(se_profile, rel=2e-2)
    assert w.ml_lower.iloc[0] < fit.theta[0] < w.ml_upper.iloc[0]

    def fixed(psi: float) -> float:
        return float(obj(np.concatenate([[np.exp(psi)], beta0])))

    curv_fixed = (fixed(psi0 + h) - 2 * fixed(psi0) + fixed(psi0 - h)) / h**2
    assert np.sqrt(2.0 / curv_fixed) < 0.99 * se_ours


def test_varcorr_intervals_with_dispersion() -> None:
    """Gamma: a Residual row for phi with a finite interval around it; lme4_compat fits have
    none (their phi is a plug-in, not a likelihood estimate)."""
    data = load_data("seed_gamma_intercept")
    g = glmer("y ~ x + (1 | grupo)", data, family="Gamma", link="log", check_derivs=False)
    w = g.varcorr_intervals()
    assert list(w.grp) == ["grupo", "Residual"]
    assert w.ml.iloc[1] == pytest.approx(g.phi)
    assert w.ml_lower.iloc[1] < g.phi < w.ml_upper.iloc[1]
    assert np.all(np.isfinite(w.ml_se))
    c = glmer("y ~ x + (1 | grupo)", data, family="Gamma", link="log", lme4_compat=True,
              check_derivs=False)
    assert c.varcorr_intervals().ml_se.isna().all()


def test_to_datatree(fit: GlmerResult) -> None:
    """The ArviZ view: beta draws centred at beta-hat with the fit's SEs, SD draws from the
    profiled Wald distribution (finite, positive), names from hiermix.naming."""
    post = fit.to_datatree(draws=4000, seed=1)["posterior"]
    beta = post["beta"].values.reshape(-1, fit.design.p)
    np.testing.assert_allclose(beta.mean(axis=0), fit.beta, atol=4 * fit.fixef_se.max() / 60)
    np.testing.assert_allclose(beta.std(axis=0), fit.fixef_se, rtol=0.05)
    sd = post["sd_herd"].values.ravel()
    assert np.all(sd > 0) and np.all(np.isfinite(sd))
    assert np.median(sd) == pytest.approx(fit.theta[0], rel=0.05)
