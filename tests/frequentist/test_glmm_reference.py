"""Every GLMM of the catalogue against its reference.

Sources: lme4 1.1-31 (R 4.2.2) in tests/reference/lme4/<id>.json for binomial and poisson;
true maximum likelihood (glmmTMB 1.1.5 and an independent AGQ computation) in
tests/reference/ml/<id>.json for the Gamma and inverse Gaussian seed data, where lme4's
plug-in dispersion makes it no reference.

Tolerances (the issue's accuracy table):

* Laplace -2 log L: ours <= lme4 * (1 + 1e-6); lower is a better optimum and passes. lme4's
  reported criterion is itself about 3e-6 relative above the exact Laplace approximation at
  lme4's own estimates (cbpp: 184.05313 against 184.05257, and a brute-force one-dimensional
  Laplace per herd, :func:`test_laplace_is_exact_per_group`, agrees with ours to 1e-9), so a
  lower bound would fail for the right reason and is not asserted.
* fixed effects: |ours - lme4| <= 1e-3 max(|lme4|, SE_lme4). The floor at one standard error
  covers coefficients near zero: VerbAgg's intercept, 0.1993 with SE 0.41, differs by 2.2e-4
  (1.1e-3 relative, half a thousandth of its SE), because the two Laplace criteria differ as
  above; at our estimates a Newton step on our criterion moves it by less than 1e-5.
* variance components (every varcorr vcov and sdcor): 3e-3 relative; for nAGQ = 25 1e-3.
* standard errors: 2e-2 relative for Laplace fits (the Hessians of two slightly different
  criteria), 1e-3 for nAGQ = 25, where both are the exact likelihood to quadrature accuracy.
* true-ML references: log-likelihood within 2e-3 absolute, parameters within 2% relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from catalogue import ML_IDS, lme4_reference, load_data, ml_reference, model_args
from scipy import integrate, optimize, special

import hiermix
from hiermix.frequentist import GlmerResult
from hiermix.frequentist.laplace import GlmmObjective
from hiermix.naming import lme4_name

LME4_GLMM_IDS = ("cbpp_laplace", "cbpp_agq25", "grouseticks_poisson", "verbagg_crossed")

_FITS: dict[str, GlmerResult] = {}


def fitted(ref_id: str) -> GlmerResult:
    if ref_id not in _FITS:
        if ref_id in ML_IDS:
            ref = ml_reference(ref_id)
            model = hiermix.Model(ref["formula"], load_data(ref["data"]), family=ref["family"],
                                  link=ref["link"])
        else:
            ref = lme4_reference(ref_id)
            model = hiermix.Model(**model_args(ref_id))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no convergence warning on any reference model
            _FITS[ref_id] = model.fit(nAGQ=ref["nAGQ"])
    return _FITS[ref_id]


def _rel(ours: float, ref: float) -> float:
    return abs(ours - ref) / max(abs(ref), 1e-300)


@pytest.mark.parametrize("ref_id", LME4_GLMM_IDS)
def test_criterion(ref_id: str) -> None:
    """-2 log L no worse than lme4's by 1e-6 relative (Laplace); sizes and df (lme4 JSON)."""
    ref = lme4_reference(ref_id)
    fit = fitted(ref_id)
    if ref["nAGQ"] == 1:
        assert fit.objective <= ref["objective"] * (1 + 1e-6)
        assert fit.deviance == fit.objective
        assert fit.aic <= ref["AIC"] * (1 + 1e-6)
    assert fit.df == ref["df"]
    assert fit.nobs == ref["nobs"]
    assert fit.ngrps == ref["ngrps"]
    assert fit.is_singular == ref["singular"]
    assert fit.sigma == 1.0


@pytest.mark.parametrize("ref_id", LME4_GLMM_IDS)
def test_fixed_effects(ref_id: str) -> None:
    """beta within 1e-3 of max(|beta|, SE) (lme4 JSON); SEs within 2e-2 (Laplace) or 1e-3."""
    ref = lme4_reference(ref_id)
    fit = fitted(ref_id)
    assert [lme4_name(n) for n in fit.fixef.index] == list(ref["fixef"])
    beta_ref = np.array(list(ref["fixef"].values()))
    se_ref = np.array(list(ref["fixef_se"].values()))
    tol = 1e-3 * np.maximum(np.abs(beta_ref), se_ref)
    assert np.all(np.abs(fit.beta - beta_ref) <= tol), fit.beta - beta_ref
    se_tol = 1e-3 if ref["nAGQ"] > 1 else 2e-2
    assert fit.vcov_source == "hessian"
    np.testing.assert_allclose(fit.fixef_se.to_numpy(), se_ref, rtol=se_tol)


@pytest.mark.parametrize("ref_id", LME4_GLMM_IDS)
def test_variance_components(ref_id: str) -> None:
    """theta and every varcorr row within 3e-3 relative (1e-3 for nAGQ = 25) (lme4 JSON)."""
    ref = lme4_reference(ref_id)
    fit = fitted(ref_id)
    tol = 1e-3 if ref["nAGQ"] > 1 else 3e-3
    np.testing.assert_allclose(fit.theta, np.atleast_1d(ref["theta"]), rtol=tol)
    vc = fit.varcorr
    assert len(vc) == len(ref["varcorr"])  # no Residual row for binomial and poisson
    for row in ref["varcorr"]:
        ours = vc[vc.grp == row["grp"]].iloc[0]
        assert _rel(ours.vcov, row["vcov"]) < 2 * tol
        assert _rel(ours.sdcor, row["sdcor"]) < tol


@pytest.mark.parametrize("ref_id", LME4_GLMM_IDS)
def test_conditional_modes(ref_id: str) -> None:
    """Conditional modes within 1e-2 of the largest |mode| and conditional SDs within 2e-2
    relative (lme4 JSON; looser than the parameters since they inherit their differences)."""
    ref = lme4_reference(ref_id)
    fit = fitted(ref_id)
    for grp, r in ref["ranef"].items():
        ours = fit.ranef[grp]
        assert [str(x) for x in ours.index] == r["levels"]
        mode = np.array(r["mode"])
        np.testing.assert_allclose(ours.to_numpy(), mode, atol=1e-2 * np.abs(mode).max())
        np.testing.assert_allclose(fit.ranef_condsd[grp].to_numpy(), np.array(r["condsd"]),
                                   rtol=2e-2)


@pytest.mark.parametrize("ref_id", ML_IDS)
def test_true_ml(ref_id: str) -> None:
    """log L within 2e-3 absolute, beta, phi and SDs/correlations within 2% (ml JSON)."""
    ref = ml_reference(ref_id)
    fit = fitted(ref_id)
    assert fit.loglik == pytest.approx(ref["logLik"], abs=2e-3)
    np.testing.assert_allclose(fit.beta, list(ref["fixef"].values()), rtol=2e-2)
    assert fit.phi == pytest.approx(ref["dispersion"], rel=2e-2)
    assert fit.sigma == pytest.approx(np.sqrt(ref["dispersion"]), rel=2e-2)
    vc = fit.varcorr
    for grp, sds in ref["re_sd"].items():
        for name, sd in sds.items():
            row = vc[(vc.grp == grp) & (vc.var2.isna())].iloc[list(sds).index(name)]
            assert row.sdcor == pytest.approx(sd, rel=2e-2)
    for grp, corr in ref.get("re_corr", {}).items():
        row = vc[(vc.grp == grp) & vc.var2.notna()].iloc[0]
        assert row.sdcor == pytest.approx(corr, rel=2e-2)
    resid = vc[vc.grp == "Residual"].iloc[0]
    assert resid.vcov == pytest.approx(fit.phi)  # lme4 prints phi as the Residual variance
    assert resid.sdcor == pytest.approx(np.sqrt(fit.phi))
    assert fit.df == fit.design.p + fit.theta.size + 1


def test_gamma_contrast_with_lme4() -> None:
    """The true-ML SD of the Gamma data's intercepts is near the simulated 3, not lme4's 2.08
    (ml JSON ``lme4_for_contrast``): the dispersion is not a plug-in moment estimate."""
    ref = ml_reference("seed_gamma_intercept")
    sd = fitted("seed_gamma_intercept").varcorr.sdcor.iloc[0]
    assert abs(sd - ref["true_values"]["re_sd"]) < 0.05
    assert abs(sd - ref["lme4_for_contrast"]["re_sd"]) > 0.9


def test_laplace_is_exact_per_group() -> None:
    """The engine's Laplace criterion equals a brute-force one-dimensional Laplace per herd
    (cbpp at lme4's estimates; scalar minimisation, curvature by the Fisher weights = the
    Hessian for the logit link), to 1e-8 relative."""
    ref = lme4_reference("cbpp_laplace")
    d = hiermix.Model(**model_args("cbpp_laplace")).design
    theta = float(ref["theta"])
    beta = np.array(list(ref["fixef"].values()))
    fam, y, wt, codes = d.family, d.y, d.weights, d.reterms[0].codes
    eta0 = d.X @ beta
    total = 0.0
    for j in range(d.reterms[0].nlevels):
        m = codes == j

        def f(u: float, m: np.ndarray = m) -> float:
            mu = special.expit(eta0[m] + theta * u)
            return float(-2.0 * np.sum(fam.loglik(y[m], mu, wt[m], 1.0)) + u * u)

        u = optimize.minimize_scalar(f, bounds=(-6, 6), method="bounded",
                                     options={"xatol": 1e-12}).x
        mu = special.expit(eta0[m] + theta * u)
        total += f(u) + np.log(1.0 + theta**2 * np.sum(wt[m] * mu * (1.0 - mu)))
    engine = GlmmObjective(d)(np.concatenate([[theta], beta]))
    assert engine == pytest.approx(total, rel=1e-8)


def test_agq_is_the_integral() -> None:
    """nAGQ = 25 equals the marginal -2 log L by adaptive numerical integration (scipy quad)
    per herd, with every constant, to 1e-7 relative (cbpp at lme4's nAGQ = 25 estimates)."""
    ref = lme4_reference("cbpp_agq25")
    d = hiermix.Model(**model_args("cbpp_agq25")).design
    theta = float(ref["theta"])
    beta = np.array(list(ref["fixef"].values()))
    fam, y, wt, codes = d.family, d.y, d.weights, d.reterms[0].codes
    eta0 = d.X @ beta
    total = 0.0
    for j in range(d.reterms[0].nlevels):
        m = codes == j

        def dens(u: float, m: np.ndarray = m) -> float:
            mu = special.expit(eta0[m] + theta * u)
            return float(np.exp(np.sum(fam.loglik(y[m], mu, wt[m], 1.0)) - 0.5 * u * u)
                         / np.sqrt(2 * np.pi))

        val, _ = integrate.quad(dens, -12, 12, epsabs=0, epsrel=1e-12, limit=200)
        total += -2.0 * np.log(val)
    engine = GlmmObjective(d, nAGQ=25)(np.concatenate([[theta], beta]))
    assert engine == pytest.approx(total, rel=1e-7)
    laplace = GlmmObjective(d, nAGQ=1)(np.concatenate([[theta], beta]))
    assert abs(laplace - total) > 1e-3  # the quadrature is not the Laplace value relabelled


def test_glm_limit_has_every_constant() -> None:
    """At theta = 0 the criterion is the GLM's -2 log L (poisson, grouseticks): u = 0 and
    log|L| = 0, so any missing normalising constant shows."""
    d = hiermix.Model(**model_args("grouseticks_poisson")).design
    beta = np.array([0.5, 1.0, -1.0, -0.02])
    mu = np.exp(d.X @ beta)
    glm = -2.0 * np.sum(y_log_dpois(d.y, mu))
    engine = GlmmObjective(d)(np.concatenate([np.zeros(3), beta]))
    assert engine == pytest.approx(glm, rel=1e-12)


def y_log_dpois(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return y * np.log(mu) - mu - special.gammaln(y + 1)


@pytest.mark.parametrize("ref_id", ML_IDS)
def test_lme4_compat_reproduces_lme4(ref_id: str) -> None:
    """``lme4_compat=True`` reproduces lme4's plug-in-dispersion fit (lme4 JSON): -2 log L
    (lme4's, with R's ``aic`` + 2) within 1e-6 relative either way, beta within 1e-3 of
    max(|beta|, SE), sigma and the SDs within 3e-3 relative. The inverse Gaussian optimum is
    flat in the correlation, which lme4 and we place within 3e-2 of each other; the SEs of
    the inverse Gaussian fit agree to 1e-2 (lme4's Gamma SE of x, 0.041, is not reproduced:
    the likelihood's curvature gives 0.18, near the GLM's sqrt(phi (X'WX)^{-1}) = 0.17)."""
    ref = lme4_reference(ref_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = hiermix.Model(**model_args(ref_id)).fit(lme4_compat=True)
    assert fit.objective == pytest.approx(ref["objective"], rel=1e-6)
    assert fit.df == ref["df"]
    beta_ref = np.array(list(ref["fixef"].values()))
    se_ref = np.array(list(ref["fixef_se"].values()))
    assert np.all(np.abs(fit.beta - beta_ref) <= 1e-3 * np.maximum(np.abs(beta_ref), se_ref))
    assert fit.sigma == pytest.approx(ref["sigma"], rel=3e-3)
    vc = fit.varcorr
    for ours, row in zip(vc.itertuples(), ref["varcorr"], strict=True):
        assert ours.grp == row["grp"]
        tol = 3e-2 if row["var2"] is not None else 3e-3
        assert _rel(ours.sdcor, row["sdcor"]) < tol
    if ref_id == "seed_invgauss_slope":
        np.testing.assert_allclose(fit.fixef_se.to_numpy(), se_ref, rtol=1e-2)


def test_gamma_agq15_true_ml() -> None:
    """Adaptive quadrature with a dispersion: the Gamma seed fit with nAGQ = 15 against the
    reference's own nAGQ = 15 maximum (ml JSON ``nAGQ_15``): log L within 2e-3 absolute (it
    keeps every constant, so it is comparable with the Laplace value), SD and phi within 1e-3
    relative."""
    ref = ml_reference("seed_gamma_intercept")
    fit = hiermix.glmer(ref["formula"], load_data(ref["data"]), family=ref["family"],
                        link=ref["link"], nAGQ=15)
    agq = ref["nAGQ_15"]
    assert fit.loglik == pytest.approx(agq["logLik"], abs=2e-3)
    assert fit.varcorr.sdcor.iloc[0] == pytest.approx(agq["re_sd"], rel=1e-3)
    assert fit.phi == pytest.approx(agq["dispersion"], rel=1e-3)
    assert fit.loglik > fitted("seed_gamma_intercept").loglik  # Laplace is 0.02 below here


# lme4 1.1.31 on R 4.2.2, fitted with Rscript on the catalogue's cbpp and grouseticks data
# (cbpp's obs = row number): -2 log L, fixef, theta. Non-canonical links are compared with
# ``lme4_compat=True`` (lme4's Fisher weights in the Laplace determinant); nAGQ > 1 compares
# parameters only (lme4's criterion drops constants there).
_CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
_EXTRA = {
    "cbpp_obs": (dict(formula=_CBPP + " + (1 | obs)"), 174.6383271472,
                 [-1.500290, -1.226498, -1.328831, -1.866248], [0.891069, 0.183956]),
    "cbpp_probit": (dict(formula=_CBPP, link="probit", lme4_compat=True), 185.2424851430,
                    [-0.835475, -0.528033, -0.616854, -0.799573], [0.337989]),
    "cbpp_cloglog_agq10": (dict(formula=_CBPP, link="cloglog", nAGQ=10), None,
                           [-1.532828, -0.912100, -1.030160, -1.478386], [0.590308]),
    "grouse_nested": (dict(formula="TICKS ~ YEAR + cHEIGHT + (1 | LOCATION/BROOD)",
                           family="poisson"), 1975.8763138727,
                      [0.466862, 1.165582, -0.977932, -0.023546], [0.769651, 0.574137]),
    "grouse_offset": (dict(formula="TICKS ~ YEAR + (1 | BROOD) + offset(log(cHEIGHT + 100))",
                           family="poisson"), 2067.9976216502,
                      [-4.341016, 1.502245, -0.879641], [1.580516]),
}


@pytest.mark.parametrize("case", sorted(_EXTRA))
def test_more_models_against_lme4(case: str) -> None:
    """Nested and observation-level terms, probit, cloglog AGQ and an offset() term against
    lme4 (numbers above): -2 log L no worse than 1e-6 relative, fixef and theta within 1e-3
    relative or 1e-3 absolute, whichever is larger."""
    kw, objective, beta, theta = _EXTRA[case]
    kw = dict(kw)
    data = load_data("cbpp" if case.startswith("cbpp") else "grouseticks")
    if case == "cbpp_obs":
        data["obs"] = [str(i) for i in range(len(data))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lme4 warns on none of these, nor may hiermix
        fit = hiermix.glmer(kw.pop("formula"), data, **kw)
    if objective is not None:
        assert fit.objective <= objective * (1 + 1e-6)
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-3, atol=1e-3)


def test_nagq0_pirls_matches_lme4() -> None:
    """nAGQ = 0: at lme4's theta (0.948940 for TICKS ~ YEAR + cHEIGHT + (1 | BROOD), lme4
    1.1.31 via Rscript), PIRLS over (beta, u) gives lme4's beta to 1e-5. lme4 reports
    -2 log L = 1979.13869 there; the exact Laplace value at its estimates is 1979.12387 (ours,
    and its minimum over theta is lower still), so only the criterion's upper bound is
    checked for the fit."""
    gt = load_data("grouseticks")
    d = hiermix.Model("TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", gt, family="poisson").design
    obj = GlmmObjective(d)
    beta_lme4 = np.array([0.613540, 1.075958, -0.958007, -0.022666])
    obj.beta0 = beta_lme4 + 0.1  # PIRLS must find beta itself
    obj.stage0(np.array([0.948940]))
    assert obj.state is not None
    np.testing.assert_allclose(obj.state.beta, beta_lme4, atol=1e-5)
    fit = hiermix.glmer("TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", gt, family="poisson", nAGQ=0)
    assert fit.objective <= 1979.1386882488
