"""The HTML report as a reader meets it: verdict first, gaps, diagnostics, optimiser, versions.

A stand-in posterior built from the fit's own asymptotic draws (``fit_datatree``) keeps these
tests free of MCMC; a second stand-in multiplies the SD draws by 1.6 to create a gap the verdict
must name. Sampler statistics are synthetic where a check needs them.
"""

from __future__ import annotations

import importlib.metadata as md
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import xarray as xr
from catalogue import load_data

import hiermix as hm
from hiermix.bayes.priors import LKJ, Exponential, HalfNormal, HalfStudentT, resolve_priors
from hiermix.compare.checks import ebfmi, sampler_checks
from hiermix.compare.plots import _prior_density
from hiermix.compare.report import (
    ReportSection,
    _ranef_title,
    decimals,
    fixef_frames,
    print_tables,
    ranef_frame,
    varcorr_frames,
    write_report,
)
from hiermix.compare.tables import varcorr_label
from hiermix.compare.verdict import verdict
from hiermix.errors import CompareError
from hiermix.frequentist.datatree import fit_datatree


@dataclass(frozen=True)
class StandIn:
    """The parts of a Bayesian result that compare() and the report read."""

    design: Any
    datatree: Any
    priors: Any = None
    diagnostics: tuple[Any, ...] = ()


@pytest.fixture(scope="module")
def fit() -> Any:
    return hm.Model("Reaction ~ Days + (Days | Subject)", load_data("sleepstudy")).fit()


@pytest.fixture(scope="module")
def cmp(fit: Any) -> Any:
    dt = fit_datatree(fit, draws=500, chains=2, seed=2)
    return hm.compare(fit, StandIn(fit.design, dt, resolve_priors(fit.design)))


@pytest.fixture(scope="module")
def gap_cmp(fit: Any) -> Any:
    dt = fit_datatree(fit, draws=500, chains=2, seed=3)
    post = dt["posterior"].to_dataset()
    post["sd_Subject"] = post["sd_Subject"] * 1.6
    dt["posterior"] = xr.DataTree(post)
    return hm.compare(fit, StandIn(fit.design, dt, resolve_priors(fit.design)))


@pytest.fixture(scope="module")
def page(cmp: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = write_report(cmp, tmp_path_factory.mktemp("r") / "rep",
                       data_path="hiermix/datasets/sleepstudy.csv")
    return (out / "report.html").read_text()


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_verdict_comes_first_and_reads_plainly(page: str, cmp: Any) -> None:
    text = _text(page)
    v = verdict(cmp)
    assert text.index("Verdict") < text.index(v.headline) < text.index("Fixed effects coefficient")
    # the stand-in draws centre on the ML estimates, so every parameter agrees
    assert v.headline == ("ML and the posterior agree on all 6 parameters: every ML estimate "
                          "lies within 0.5 posterior SDs of the posterior mean.")
    assert "The largest gap is on" in text
    assert "the posterior of an SD is skewed" in text and "few groups" in text


def test_verdict_names_a_gap_with_its_reason(gap_cmp: Any) -> None:
    v = verdict(gap_cmp)
    labels = [g.label for g in v.gaps]
    assert labels[0] in ("SD(Intercept) | Subject", "SD(Days) | Subject")
    assert set(labels) >= {"SD(Intercept) | Subject", "SD(Days) | Subject"}
    assert "Intercept" in v.agree and "Days" in v.agree
    assert v.headline.endswith(f"differ by more on {len(v.gaps)}.")
    g = v.gaps[0]
    row = next(r for _, r in gap_cmp.varcorr.iterrows() if varcorr_label(r) == g.label)
    assert g.std_diff == pytest.approx(float(row["std_diff"])) and g.std_diff < -0.5
    assert "18 effects of Subject" in g.reason and "HalfStudentT" in g.reason


def test_variance_component_gaps_and_precision_are_shown(page: str, cmp: Any) -> None:
    est, mc = varcorr_frames(cmp)
    # the variance components' ML interval is the profile one by default (compare's ml_interval)
    assert list(est.columns) == ["parameter", "ML", "ML SE", "ML 95% profile", "post. mean",
                                 "post. median", "post. SD", "post. 95% interval", "std_diff"]
    assert list(mc.columns) == ["parameter", "MCSE of mean", "R-hat", "ESS bulk", "ESS tail"]
    assert list(est["std_diff"]) == [f"{v:.2f}" for v in cmp.varcorr["std_diff"]]
    assert list(mc["ESS tail"]) == [f"{v:.0f}" for v in cmp.varcorr["ess_tail"]]
    for cell in list(est["std_diff"]) + list(est["ML SE"]) + list(mc["MCSE of mean"]):
        assert f"<td>{cell}</td>" in page
    fe, fe_mc = fixef_frames(cmp)
    assert "ML SE" in fe.columns and "post. SD" in fe.columns and "ESS tail" in fe_mc.columns


def test_numbers_have_fixed_decimals_per_column(cmp: Any) -> None:
    assert decimals([6.82, 1.55]) == 2
    assert decimals([24.7, 0.325]) == 3
    assert decimals([1e-7]) == 4 and decimals([1234.5]) == 1 and decimals([np.nan]) == 2
    for frame in (*fixef_frames(cmp), *varcorr_frames(cmp), ranef_frame(cmp)):
        for col in frame.columns[1:]:
            cells = [c for c in frame[col] if c and re.fullmatch(r"-?\d+(\.\d+)?", c)]
            places = {len(c.split(".")[1]) if "." in c else 0 for c in cells}
            assert len(places) <= 1, (col, cells)
    assert not any(len(c) > 12 for c in fixef_frames(cmp)[0]["ML"])


def test_random_effects_are_counted(page: str, cmp: Any) -> None:
    assert "Random effects (all 36 rows)" in page
    assert "first 40" not in page
    assert _ranef_title(cmp, 10) == "Random effects (the first 10 of 36 rows; all in ranef.csv)"
    assert len(ranef_frame(cmp, rows=10)) == 10 and len(ranef_frame(cmp, rows=None)) == 36


def test_diagnostics_list_every_check_and_the_optimiser(page: str, fit: Any) -> None:
    text = _text(page)
    for name in ("divergent transitions", "R-hat", "bulk ESS", "tail ESS", "E-BFMI",
                 "tree depth", "step size"):
        assert name in text
    opt = fit.optsummary
    assert "nlopt BOBYQA" in text and opt.return_code in text
    assert f"REML criterion at the optimum {opt.fmin:.6f}" in text
    assert f"evaluations {opt.feval}" in text


def test_data_summary_and_versions(page: str) -> None:
    text = _text(page)
    assert "response Reaction mean 298.5" in text
    assert "grouping factor Subject 18 levels; 10 to 10 observations per level" in text
    for package in ("hiermix", "numpy", "pymc", "arviz"):
        assert f"{package} {md.version(package)}" in text


def test_figures_are_labelled(page: str) -> None:
    text = _text(page)
    assert "posterior mean (square, the summary the tables use)" in text
    # the comparison's default ML interval for variance components is the profile
    assert "the ML 95% profile interval (blue band)" in text
    assert "Wald for fixed effects, profile for variance components" in text
    assert "its prior (dashed)" in text


def test_page_fits_800_px(page: str) -> None:
    assert 'name="viewport"' in page and "overflow-x:auto" in page
    assert 'src="http' not in page


def test_sampler_checks_read_sample_stats(fit: Any) -> None:
    dt = fit_datatree(fit, draws=50, chains=2, seed=4)
    energy = np.tile([0.0, 1.0], (2, 25))
    diverging = np.zeros((2, 50), dtype=bool)
    diverging[1, 3] = True
    stats = xr.Dataset({
        "energy": (("chain", "draw"), energy),
        "diverging": (("chain", "draw"), diverging),
        "depth": (("chain", "draw"), np.full((2, 50), 3)),
        "maxdepth_reached": (("chain", "draw"), np.zeros((2, 50), dtype=bool)),
        "step_size": (("chain", "draw"), np.full((2, 50), 0.5)),
    }, coords={"chain": [0, 1], "draw": np.arange(50)})
    dt["sample_stats"] = xr.DataTree(stats)
    checks = {c.name: c for c in sampler_checks(StandIn(fit.design, dt))}
    assert checks["divergent transitions"].result == "1 of 100"
    assert checks["divergent transitions"].ok is False
    # alternating energy: squared differences are 1, the variance is 1/4, so E-BFMI = 4
    assert checks["E-BFMI per chain"].result == "4.00, 4.00"
    assert checks["tree depth"].ok is True and checks["step size per chain"].result == "0.5, 0.5"
    cmp = hm.compare(fit, StandIn(fit.design, dt))
    assert any(n.startswith("The draws failed") and "divergent transitions" in n
               for n in verdict(cmp).notes)
    # energy 0, 2, 0, 2, 0: squared differences 4, mean 4; variance 0.96, E-BFMI 4 / 0.96
    np.testing.assert_allclose(ebfmi(np.array([[0.0, 2.0, 0.0, 2.0, 0.0]])), [4.0 / 0.96])


def test_prior_densities_integrate_to_one() -> None:
    x = np.linspace(0, 2000, 400_001)
    for prior in (HalfNormal(3.0), HalfStudentT(3.0, np.array([2.0, 40.0])), Exponential(0.5)):
        dens = _prior_density(prior, 1, 2, x)
        assert dens is not None
        assert np.trapezoid(dens, x) == pytest.approx(1.0, abs=2e-3)
    r = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(_prior_density(LKJ(1.0), 0, 2, r), 0.5)
    # LKJ(2) in 2 x 2: density proportional to 1 - r^2, i.e. 3/4 (1 - r^2)
    np.testing.assert_allclose(_prior_density(LKJ(2.0), 0, 2, r), 0.75 * (1 - r**2))


def test_terminal_prints_the_verdict_first(cmp: Any, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    print_tables(cmp)
    out = capsys.readouterr().out
    assert out.startswith("ML and the posterior agree on all 6 parameters")
    assert out.index("Variance components") > out.index("Fixed effects")


def test_extra_sections_are_placed_and_listed(cmp: Any, tmp_path: Any) -> None:
    extra = [ReportSection("sensitivity", "Sensitivity", "<p>first extra</p>"),
             ReportSection("more", "More <checks>", "<p>second extra</p>", nav="More"),
             ReportSection("top", "Top", "<p>after the verdict</p>", after="verdict")]
    out = write_report(cmp, tmp_path / "rep", sections=extra)
    page = (out / "report.html").read_text()
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert nav is not None
    assert re.findall(r'href="#([^"]+)"', nav.group(1)) == [
        "verdict", "top", "data", "fixef", "varcorr", "figures", "ranef", "diagnostics",
        "sensitivity", "more", "mlfit", "priors", "software"]
    assert ">More</a>" in nav.group(1)
    heads = re.findall(r'<(?:h2|section) id="([^"]+)"', page)
    assert heads == re.findall(r'href="#([^"]+)"', nav.group(1))
    assert '<section id="more"><h2>More &lt;checks&gt;</h2>' in page
    assert page.index("first extra") < page.index("second extra") < page.index('id="mlfit"')
    assert page.rstrip().endswith("</body></html>")


@pytest.mark.parametrize(("section", "match"), [
    (ReportSection("fixef", "Again", ""), "not a free anchor"),
    (ReportSection("a b", "Spaces", ""), "not a free anchor"),
    (ReportSection("x", "X", "", after="nowhere"), "follows 'nowhere'"),
])
def test_bad_extra_sections_write_nothing(cmp: Any, tmp_path: Any, section: Any,
                                          match: str) -> None:
    with pytest.raises(CompareError, match=match):
        write_report(cmp, tmp_path / "rep", sections=[section])
    assert not (tmp_path / "rep").exists()
