"""compare(fit, post): tables, errors, figures and the report.

A stand-in posterior built from the fit's own asymptotic draws (``fit_datatree``) keeps these
tests free of MCMC: the posterior side then summarises draws centred on the ML estimates, so
every standardised difference must be small. One end-to-end run of the command line samples
for real, with few draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from catalogue import load_data

import hiermix as hm
from hiermix.cli import main
from hiermix.compare.tables import varcorr_label
from hiermix.errors import CompareError
from hiermix.frequentist.datatree import fit_datatree


@dataclass(frozen=True)
class StandIn:
    """The parts of a Bayesian result that compare() reads."""

    design: Any
    datatree: Any


@pytest.fixture(scope="module")
def fit() -> Any:
    return hm.Model("Reaction ~ Days + (Days | Subject)", load_data("sleepstudy")).fit()


@pytest.fixture(scope="module")
def cmp(fit: Any) -> Any:
    return hm.compare(fit, StandIn(fit.design, fit_datatree(fit, draws=4000, seed=2)))


def test_fixef_table_holds_every_coefficient(fit: Any, cmp: Any) -> None:
    t = cmp.fixef
    assert list(t.index) == list(fit.design.fixef_names)
    for col in ("ml", "ml_se", "ml_lower", "ml_upper", "post_mean", "post_median", "post_sd",
                "post_lower", "post_upper", "rhat", "ess_bulk", "std_diff"):
        assert col in t.columns
    np.testing.assert_allclose(t["ml"], fit.fixef)
    np.testing.assert_allclose(t["ml_se"], fit.fixef_se)
    # 95% Wald: +- 1.959964 se
    np.testing.assert_allclose(t["ml_upper"] - t["ml"], 1.959963984540054 * t["ml_se"])
    # stand-in draws centre on the estimates: |std_diff| is Monte Carlo error only
    assert (t["std_diff"].abs() < 0.1).all()


def test_varcorr_table_is_keyed_like_the_fit(fit: Any, cmp: Any) -> None:
    t = cmp.varcorr
    vc = fit.varcorr
    assert list(zip(t["grp"], t["var1"].fillna(""), t["var2"].fillna(""), strict=True)) == \
        list(zip(vc["grp"], vc["var1"].fillna(""), vc["var2"].fillna(""), strict=True))
    assert list(t["param"]) == ["sd", "sd", "corr", "sigma"]
    np.testing.assert_allclose(t["ml"], vc["sdcor"])
    assert (t.loc[t["param"] != "corr", "ml_lower"] > 0).all()
    assert not t["boundary"].any()


def test_ranef_table_long_format(fit: Any, cmp: Any) -> None:
    t = cmp.ranef
    assert len(t) == 18 * 2
    assert set(t["term"]) == {"Intercept", "Days"}
    row = t[(t["level"] == "309") & (t["term"] == "Intercept")].iloc[0]
    assert row["ml_mode"] == pytest.approx(fit.ranef["Subject"].loc["309", "Intercept"])
    assert row["ml_condsd"] == pytest.approx(fit.ranef_condsd["Subject"].loc["309",
                                                                              "Intercept"])
    assert 0 < row["ml_shrinkage"] < 1


def test_interval_level_is_honoured(fit: Any) -> None:
    post = StandIn(fit.design, fit_datatree(fit, draws=4000, seed=3))
    wide, narrow = hm.compare(fit, post, ci=0.95), hm.compare(fit, post, ci=0.5)
    for a, b in ((wide.fixef, narrow.fixef), (wide.varcorr, narrow.varcorr)):
        assert ((a["post_upper"] - a["post_lower"]) > (b["post_upper"] - b["post_lower"])).all()
        assert ((a["ml_upper"] - a["ml_lower"]) > (b["ml_upper"] - b["ml_lower"])).all()
    with pytest.raises(CompareError, match="ci"):
        hm.compare(fit, post, ci=95)


def test_different_models_refused(fit: Any) -> None:
    other = hm.Model("Reaction ~ Days + (1 | Subject)", load_data("sleepstudy")).fit()
    with pytest.raises(CompareError, match="different models or data"):
        hm.compare(fit, StandIn(other.design, fit_datatree(other, draws=100)))
    data = load_data("sleepstudy").iloc[:-1]
    refit = hm.Model("Reaction ~ Days + (Days | Subject)", data).fit()
    with pytest.raises(CompareError):
        hm.compare(fit, StandIn(refit.design, fit_datatree(refit, draws=100)))
    with pytest.raises(CompareError, match="must be a posterior"):
        hm.compare(fit, object())


def test_wrong_kinds_of_result_refused(fit: Any, cmp: Any) -> None:
    post = cmp.post
    with pytest.raises(CompareError, match=r"not two fits .*Model\(...\).sample\(\)"):
        hm.compare(fit, fit)
    with pytest.raises(CompareError, match=r"the two are swapped .*call compare\(fit, post\)"):
        hm.compare(post, fit)
    with pytest.raises(CompareError, match="not two posteriors"):
        hm.compare(post, post)
    with pytest.raises(CompareError, match=r"first argument .* must be a frequentist fit"):
        hm.compare("fit.pkl", post)
    with pytest.raises(CompareError, match=r"ci must be a number in \(0, 1\), not '95%'"):
        hm.compare(fit, post, ci="95%")


def test_singular_fit_is_flagged() -> None:
    fit = hm.Model("Yield ~ 1 + (1 | Batch)", load_data("Dyestuff2")).fit()
    post = StandIn(fit.design, fit_datatree(fit, draws=500))
    row = hm.compare(fit, post, ml_interval="wald").varcorr.iloc[0]
    assert bool(row["boundary"]) and np.isnan(row["ml_lower"])
    # the profile interval of an SD on the boundary starts at 0, as lme4's
    row = hm.compare(fit, post).varcorr.iloc[0]
    assert bool(row["boundary"]) and row["ml_lower"] == 0 and row["ml_upper"] > 0
    assert row["ml_interval"] == "profile"


def test_figures_and_report(cmp: Any, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    for draw in (cmp.plot_forest, cmp.plot_ranef, cmp.plot_varcorr):
        fig = draw(tmp_path / "f.svg")
        assert fig.axes
        plt.close(fig)
    assert (tmp_path / "f.svg").read_text().startswith("<?xml")
    from hiermix.compare.report import write_report

    d = write_report(cmp, tmp_path / "rep")
    html = (d / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="http' not in html
    for name in ("fixef.csv", "varcorr.csv", "ranef.csv", "forest.png", "ranef.png",
                 "varcorr.png"):
        assert (d / name).stat().st_size > 0
    assert list(pd.read_csv(d / "fixef.csv", index_col=0).index) == ["Intercept", "Days"]
    assert "<table" in cmp._repr_html_()


@pytest.mark.slow
def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = Path(hm.__file__).parent / "datasets" / "sleepstudy.csv"
    rc = main(["compare", "Reaction ~ Days + (Days | Subject)", "--data", str(csv),
               "--draws", "100", "--tune", "100", "--chains", "2", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr()
    assert out.out.startswith("ML and the posterior agree on")
    assert "Fixed effects" in out.out and "Variance components" in out.out
    page = (tmp_path / "report.html").read_text()
    # real NUTS draws carry sample_stats: every check has a result, none "not recorded"
    assert "not recorded" not in page and "E-BFMI per chain" in page
    assert "HalfStudentT" in page and "nutpie" in page
    assert "report written to" in out.err


@pytest.mark.parametrize(("args", "text"), [
    (["compare", "y ~ x + (1 | g", "--data", "x.csv"], "never closed"),
    (["compare", "y ~ x + (1 | g)", "--data", "nope.csv"], "does not exist"),
    (["compare", "Reactoin ~ Days + (1 | Subject)", "--data", "SLEEP"], "'Reactoin'"),
    (["compare", "Reaction ~ Days + (1 | Subject)", "--data", "SLEEP", "--family", "weibull"],
     "'weibull'"),
])
def test_cli_bad_input_one_line_no_traceback(args: list[str], text: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    csv = str(Path(hm.__file__).parent / "datasets" / "sleepstudy.csv")
    # a fresh --out: the default (hiermix-report in the working directory) may hold the
    # report of an earlier `make demo`, which the output checks rightly refuse first
    args = [csv if a == "SLEEP" else a for a in args] + ["--out", str(tmp_path / "report")]
    assert main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()
    error_at = next(i for i, line in enumerate(last) if line.startswith("hiermix: error:"))
    assert text in "\n".join(last[error_at:])
    assert "Traceback" not in err


def test_arviz_plots_both_fits_without_renaming() -> None:
    """The issue's promise: ``plot_forest({"ML": fit.to_datatree(), "Bayes": post.datatree})``."""
    import arviz as az
    import matplotlib.pyplot as plt

    model = hm.Model("Reaction ~ Days + (Days | Subject)", load_data("sleepstudy"))
    fit = model.fit()
    post = model.sample(draws=100, tune=100, chains=2, random_seed=5)
    ml = fit.to_datatree(draws=100, chains=2)
    posterior = post.datatree["posterior"]
    for var in ("beta", "sd_Subject", "corr_Subject", "sigma"):
        assert ml["posterior"][var].dims == posterior[var].dims
        assert ml["posterior"][var].shape == posterior[var].shape
    pc = az.plot_forest({"ML": ml, "Bayes": post.datatree},
                        var_names=["beta", "sd_Subject", "corr_Subject", "sigma"],
                        combined=True)
    plotted = pc.data if hasattr(pc, "data") else None
    if plotted is not None and "model" in getattr(plotted, "dims", {}):
        assert plotted.sizes["model"] == 2
    plt.close("all")


@pytest.mark.parametrize(("formula", "data", "family", "link", "resid"), [
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial", None, None),
    ("y ~ x + (1 | grupo)", "seed_gamma_intercept", "Gamma", "log", "phi"),
    ("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks", "nbinom2", None, "phi"),
])
def test_glmm_tables_hold_every_parameter(formula: str, data: str, family: str,
                                          link: str | None, resid: str | None) -> None:
    # Wald intervals: profiling the Gamma fit's SD and phi took 11-26 s; the profile path is
    # checked on cbpp below (test_glmm_tables_profile_intervals)
    fit = hm.Model(formula, load_data(data), family=family, link=link).fit()
    cmp = hm.compare(fit, StandIn(fit.design, fit.to_datatree(draws=1000, seed=4)),
                     ml_interval="wald")
    assert list(cmp.fixef.index) == list(fit.design.fixef_names)
    params = list(cmp.varcorr["param"])
    assert params == ["sd"] + ([resid] if resid else [])
    assert set(cmp.varcorr["ml_interval"]) == {"wald"}
    np.testing.assert_allclose(cmp.varcorr["ml_lower"],
                               fit.varcorr_intervals(0.95)["ml_lower"], rtol=1e-12)
    if resid == "phi":
        # the Residual row holds phi (lme4 prints it as the residual variance); for the
        # negative binomial it holds theta, which lme4's VarCorr leaves out
        row = cmp.varcorr.set_index("param").loc["phi"]
        assert row["ml"] == pytest.approx(fit.phi)
        if fit.family.has_scale:
            assert row["ml"] == pytest.approx(
                float(fit.varcorr.set_index("grp").loc["Residual", "vcov"]))
        assert cmp.varcorr["grp"].iloc[-1] == "Residual"
        assert 0 < row["ml_lower"] < row["ml"] < row["ml_upper"]
        label = varcorr_label(cmp.varcorr.iloc[-1], fit.family)
        assert label == ("dispersion (phi)" if fit.family.has_scale else "theta (NB shape)")
    assert cmp.varcorr["ml_se"].notna().all()
    assert (cmp.fixef["std_diff"].abs() < 0.2).all()
    assert len(cmp.ranef) == sum(t.nlevels * t.q for t in fit.design.reterms)


def test_glmm_tables_profile_intervals() -> None:
    """compare's default ml_interval="profile" on a GLMM (cbpp: one SD, no dispersion, a
    profile of about 2 s): the SD row holds confint's profile limits, the fixed effects
    keep their Wald intervals."""
    fit = hm.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                   load_data("cbpp"), family="binomial").fit()
    cmp = hm.compare(fit, StandIn(fit.design, fit.to_datatree(draws=200, seed=4)))
    assert cmp.ml_interval == "profile"
    assert set(cmp.varcorr["ml_interval"]) == {"profile"}
    assert set(cmp.fixef["ml_interval"]) == {"wald"}
    ci = fit.confint(parm="theta_")
    row = cmp.varcorr.iloc[0]
    assert row["ml_lower"] == pytest.approx(ci["lower"].iat[0], rel=1e-12)
    assert row["ml_upper"] == pytest.approx(ci["upper"].iat[0], rel=1e-12)
    assert row["ml_lower"] < row["ml"] < row["ml_upper"]


def test_compare_default_interval_falls_back_to_wald_for_plug_in_dispersion(monkeypatch):
    """An lme4_compat Gamma fit has no likelihood in phi: the default compare uses Wald
    intervals (an explicit "profile" is refused); a true-ML fit keeps the profile default."""
    import hiermix as hm
    from hiermix.compare import tables
    from hiermix.datasets import load
    from hiermix.errors import ModelError

    data = load("seed_gamma_intercept")
    model = hm.Model("y ~ x + (1 | grupo)", data, family="Gamma", link="log")
    compat = model.fit(lme4_compat=True)
    seen = []
    monkeypatch.setattr(tables, "fixef_table", lambda *a, **k: None)
    monkeypatch.setattr(tables, "ranef_table", lambda *a, **k: None)
    monkeypatch.setattr(tables, "_check_same_model", lambda *a: None)
    monkeypatch.setattr(tables, "varcorr_table",
                        lambda fit, post, ci, how, intervals: seen.append(how))
    tables.compare(compat, object())
    assert seen == ["wald"]
    with pytest.raises(ModelError):
        tables.compare(compat, object(), ml_interval="profile")
