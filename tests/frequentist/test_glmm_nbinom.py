"""The negative binomial (NB2) GLMM against glmmTMB, and its Laplace and AGQ criteria against
brute-force computations.

Source: tests/reference/ml/grouseticks_nb.json (copied from the project's shared reference
folder): ``TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)`` on lme4's grouseticks (cHEIGHT = HEIGHT
minus its mean) by glmmTMB 1.1.5 (``nbinom2``, exact-Hessian Laplace) and by lme4 1.1-31's
``glmer.nb`` (reproduced with ``lme4_compat=True``).

Tolerances (issue 16): log-likelihood not below glmmTMB's by more than 1e-3; fixed effects
within 2e-3 absolute; theta and the SD of the random intercept within 0.5% relative. The
criteria themselves are checked against per-group computations with scipy to 1e-8 relative
(Laplace) and 1e-7 (nAGQ = 25 against adaptive integration).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from catalogue import load_data, ml_reference
from scipy import integrate, optimize

import hiermix
from hiermix.errors import ModelError
from hiermix.family import Family
from hiermix.frequentist import GlmerResult
from hiermix.frequentist.laplace import GlmmObjective

FORMULA = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)"
_FITS: dict[int, GlmerResult] = {}


def model() -> hiermix.Model:
    return hiermix.Model(FORMULA, load_data("grouseticks"), family="nbinom2")


def fitted(nAGQ: int = 1) -> GlmerResult:
    if nAGQ not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no convergence warning
            _FITS[nAGQ] = model().fit(nAGQ=nAGQ)
    return _FITS[nAGQ]


def test_matches_glmmtmb() -> None:
    """logLik >= glmmTMB's - 1e-3; beta within 2e-3; theta and SD within 0.5% (ml JSON)."""
    ref = ml_reference("grouseticks_nb")["glmmTMB"]
    fit = fitted()
    assert fit.loglik >= ref["logLik"] - 1e-3
    assert list(fit.fixef.index) == ["Intercept", "YEAR[T.96]", "YEAR[T.97]", "cHEIGHT"]
    np.testing.assert_allclose(fit.beta, list(ref["fixef"].values()), rtol=0, atol=2e-3)
    assert fit.phi == pytest.approx(ref["theta"], rel=5e-3)
    assert fit.varcorr.sdcor.iloc[0] == pytest.approx(ref["re_sd"], rel=5e-3)


def test_nb_result_conventions() -> None:
    """phi holds theta; sigma is 1 and varcorr has no Residual row (as lme4's glmer.nb);
    df counts theta; the family prints as lme4 prints it, theta rounded to 4 decimals."""
    fit = fitted()
    assert fit.sigma == 1.0
    assert list(fit.varcorr.grp) == ["LOCATION"]
    assert fit.df == fit.design.p + 1 + 1
    assert fit.aic == pytest.approx(-2.0 * fit.loglik + 2.0 * fit.df)
    text = fit.summary()
    assert f" Family: Negative Binomial({round(fit.phi, 4):.7g})  ( log )" in text
    assert "Residual" not in text
    # Pearson residuals use V(mu) = mu + mu^2 / theta (R's negative.binomial(theta)).
    mu = fit.fitted
    np.testing.assert_allclose(fit.residuals("pearson"),
                               (fit.design.y - mu) / np.sqrt(mu + mu**2 / fit.phi), rtol=1e-12)
    dev = fit.residuals("deviance")
    np.testing.assert_allclose(np.sum(dev**2),
                               np.sum(fit.family.dev_resids(fit.design.y, mu, 1.0, fit.phi)),
                               rtol=1e-12)


def test_theta_interval_and_draws() -> None:
    """Wald intervals carry theta in a last row, on the log-theta scale; the DataTree of the
    fit holds theta as ``phi`` (the name the comparison joins on)."""
    fit = fitted()
    ci = fit.varcorr_intervals()
    assert len(ci) == 2
    row = ci.iloc[-1]
    assert row.ml == pytest.approx(fit.phi)
    assert row.ml_lower < fit.phi < row.ml_upper
    assert row.ml_lower * row.ml_upper == pytest.approx(fit.phi**2, rel=1e-10)
    post = fit.to_datatree(draws=200, seed=1, chains=2)["posterior"]
    assert "phi" in post and "sigma" not in post
    assert float(post["phi"].median()) == pytest.approx(fit.phi, rel=0.1)


def test_predict_and_simulate() -> None:
    """predict(type="response") is exp(eta); simulate draws counts with the fitted theta,
    reproducibly from a seed; refit takes a simulated response (a bootstrap replicate)."""
    fit = fitted()
    d = load_data("grouseticks").head(5)
    np.testing.assert_allclose(fit.predict(d, type="response"), np.exp(fit.predict(d)),
                               rtol=1e-14)
    np.testing.assert_allclose(fit.predict(type="response"), fit.fitted, rtol=1e-14)
    sims = fit.simulate(3, seed=4)
    assert sims.shape == (fit.nobs, 3)
    assert np.all(sims.to_numpy() >= 0) and np.all(sims.to_numpy() == np.round(sims.to_numpy()))
    assert sims.equals(fit.simulate(3, seed=4))
    # a parametric-bootstrap replicate: the model refitted to simulated counts estimates theta
    again = fit.refit(sims["sim_1"].to_numpy())
    assert np.isfinite(again.loglik) and 0.5 * fit.phi < again.phi < 2.0 * fit.phi


def _group_terms(beta: np.ndarray) -> tuple[hiermix.Model, list[tuple[np.ndarray, np.ndarray]]]:
    """The model and, per LOCATION, its counts and X beta."""
    m = model()
    d = m.design
    eta0 = d.X @ beta
    codes = d.reterms[0].codes
    return m, [(d.y[codes == j], eta0[codes == j]) for j in range(d.reterms[0].nlevels)]


def _f(u: float, y: np.ndarray, eta0: np.ndarray, sd: float, nb_theta: float,
       fam: Family) -> float:
    """-2 log p(y_j | u) + u^2 for one group."""
    mu = np.exp(eta0 + sd * u)
    return float(-2.0 * np.sum(fam.loglik(y, mu, np.ones_like(y), nb_theta)) + u * u)


def test_laplace_is_exact_hessian_laplace_per_group() -> None:
    """The engine's criterion at glmmTMB's estimates equals a brute-force Laplace per
    LOCATION: the mode by scalar minimisation and the curvature by a central second
    difference of -2 log p (the exact Hessian, as glmmTMB's; not the Fisher weight), 1e-8."""
    ref = ml_reference("grouseticks_nb")["glmmTMB"]
    sd, nb_theta = ref["re_sd"], ref["theta"]
    beta = np.array(list(ref["fixef"].values()))
    m, groups = _group_terms(beta)
    fam = m.design.family
    total = 0.0
    for y, eta0 in groups:
        u = optimize.minimize_scalar(_f, bounds=(-8, 8), method="bounded",
                                     args=(y, eta0, sd, nb_theta, fam),
                                     options={"xatol": 1e-12}).x
        h = 1e-4
        curv = (_f(u + h, y, eta0, sd, nb_theta, fam) - 2.0 * _f(u, y, eta0, sd, nb_theta, fam)
                + _f(u - h, y, eta0, sd, nb_theta, fam)) / (2.0 * h * h)
        total += _f(u, y, eta0, sd, nb_theta, fam) + np.log(curv)
    engine = GlmmObjective(m.design)(np.concatenate([[sd], beta, [np.log(nb_theta)]]))
    assert engine == pytest.approx(total, rel=1e-8)
    assert -0.5 * engine == pytest.approx(ref["logLik"], abs=1e-4)


def test_agq_is_the_integral() -> None:
    """nAGQ = 25 equals the marginal -2 log L by numerical integration (scipy quad) per
    LOCATION, with every constant, to 1e-7 relative, at glmmTMB's estimates."""
    ref = ml_reference("grouseticks_nb")["glmmTMB"]
    sd, nb_theta = ref["re_sd"], ref["theta"]
    beta = np.array(list(ref["fixef"].values()))
    m, groups = _group_terms(beta)
    fam = m.design.family
    total = 0.0
    for y, eta0 in groups:
        val, _ = integrate.quad(
            lambda u, y=y, eta0=eta0: np.exp(-0.5 * _f(u, y, eta0, sd, nb_theta, fam))
            / np.sqrt(2.0 * np.pi), -12, 12, epsabs=0, epsrel=1e-12, limit=200)
        total += -2.0 * np.log(val)
    engine = GlmmObjective(m.design, nAGQ=25)(np.concatenate([[sd], beta, [np.log(nb_theta)]]))
    assert engine == pytest.approx(total, rel=1e-7)


def test_agq_fit_is_near_laplace() -> None:
    """An nAGQ = 9 fit estimates theta as a parameter of the quadrature criterion too; its
    log-likelihood is the better approximation, within 1 of the Laplace one here."""
    lap, agq = fitted(1), fitted(9)
    assert abs(agq.loglik - lap.loglik) < 1.0
    assert agq.phi == pytest.approx(lap.phi, rel=0.05)


def test_lme4_compat_matches_glmer_nb() -> None:
    """``lme4_compat=True`` reproduces lme4's glmer.nb (ml JSON, ``lme4``): theta, the SD
    and beta within 1e-3 relative (1e-3 absolute for beta), and its -2 log L (Fisher-weight
    Laplace) not above lme4's by more than 1e-6 relative (lower is a better optimum of the
    same criterion: lme4 stops its PIRLS and its theta search earlier)."""
    ref = ml_reference("grouseticks_nb")["lme4"]
    fit = model().fit(lme4_compat=True)
    assert fit.lme4_compat
    assert fit.phi == pytest.approx(ref["theta"], rel=1e-3)
    assert fit.varcorr.sdcor.iloc[0] == pytest.approx(ref["re_sd"], rel=1e-3)
    np.testing.assert_allclose(fit.beta, list(ref["fixef"].values()), rtol=0, atol=1e-3)
    assert -2.0 * fit.loglik <= -2.0 * ref["logLik"] * (1 + 1e-6)
    assert fit.loglik == pytest.approx(ref["logLik"], abs=2e-3)
    assert fit.df == fit.design.p + 2  # lme4's logLik counts theta
    assert " Family: Negative Binomial(2.0522)  ( log )" in fit.summary()
    with pytest.raises(ModelError, match="nAGQ > 1"):
        model().fit(lme4_compat=True, nAGQ=3)


def test_theta_ml_is_the_profile_maximum() -> None:
    """glmer.nb's starting theta (MASS's theta.ml, Newton's method) maximises the NB
    log-likelihood in theta at fixed means: scipy's bounded search agrees to 1e-6."""
    from hiermix.frequentist.glmer_nb import theta_ml

    rng = np.random.default_rng(2)
    mu = rng.uniform(0.5, 10.0, 400)
    y = rng.negative_binomial(1.3, 1.3 / (1.3 + mu)).astype(float)
    fam = model().design.family
    w = np.ones_like(y)
    best = optimize.minimize_scalar(lambda t: -np.sum(fam.loglik(y, mu, w, np.exp(t))),
                                    bounds=(-5, 5), method="bounded",
                                    options={"xatol": 1e-10}).x
    assert theta_ml(y, mu, w, limit=100, eps=1e-12) == pytest.approx(np.exp(best), rel=1e-6)


def test_observation_level_effect_is_allowed() -> None:
    """As for poisson (lme4's glmer: no residual scale, so check.nobs.vs.nlev does not apply),
    a random effect with one level per observation is accepted and fitted alongside theta."""
    fit = hiermix.glmer("TICKS ~ YEAR + cHEIGHT + (1 | INDEX)", load_data("grouseticks"),
                        family="nbinom2", check_derivs=False)
    assert fit.ngrps == {"INDEX": 403}
    assert np.isfinite(fit.loglik) and fit.phi > 0


@pytest.mark.parametrize(("link", "beta"), [("sqrt", [2.0, 1.0]), ("identity", [6.0, 3.0])])
def test_laplace_exact_hessian_other_links(link: str, beta: list[float]) -> None:
    """The sqrt and identity links (R's negative.binomial offers both): the engine's criterion
    equals the brute-force exact-Hessian Laplace per group (as above) on simulated counts,
    to 1e-7 relative (the second difference's own error is about 1e-8)."""
    rng = np.random.default_rng(1)
    n, n_groups = 600, 30
    g = rng.integers(0, n_groups, n)
    x = rng.uniform(0.0, 1.0, n)
    eta = beta[0] + beta[1] * x + rng.normal(0.0, 0.5, n_groups)[g]
    mu = eta**2 if link == "sqrt" else eta
    y = rng.negative_binomial(2.5, 2.5 / (2.5 + mu)).astype(float)
    df = pd.DataFrame({"y": y, "x": x, "g": [f"g{i:02d}" for i in g]})
    d = hiermix.Model("y ~ x + (1 | g)", df, family="nbinom2", link=link).design
    fam, codes = d.family, d.reterms[0].codes
    sd, nb_theta = 0.5, 2.0
    eta0 = d.X @ np.array(beta)

    def f(u: float, m: np.ndarray) -> float:
        mu_u = fam.linkinv(eta0[m] + sd * u)
        return float(-2.0 * np.sum(fam.loglik(d.y[m], mu_u, np.ones(m.sum()), nb_theta)) + u * u)

    total = 0.0
    for j in range(d.reterms[0].nlevels):
        m = codes == j
        u = optimize.minimize_scalar(f, bounds=(-3, 3), method="bounded", args=(m,),
                                     options={"xatol": 1e-12}).x
        h = 1e-4
        curv = (f(u + h, m) - 2.0 * f(u, m) + f(u - h, m)) / (2.0 * h * h)
        total += f(u, m) + np.log(curv)
    engine = GlmmObjective(d)(np.concatenate([[sd], beta, [np.log(nb_theta)]]))
    assert engine == pytest.approx(total, rel=1e-7)
