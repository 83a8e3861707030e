"""``hiermix sensitivity`` and ``hiermix compare --sensitivity``, and the prior file.

The runs that write a report sample with the mocked sampler (prior draws shaped as a
posterior; tests/bayes/conftest.py): they check the plumbing and the files, not posterior
values, and compile PyMC models, so they are marked slow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import hiermix as hm
from hiermix.bayes import LKJ, HalfNormal, Normal, StudentT
from hiermix.bayes import sample as bayes_sample
from hiermix.cli import main
from hiermix.errors import DataError
from hiermix.model import Model
from hiermix.sensitivity.prior_file import parse_prior, read_prior_sets

SLEEP = Path(hm.__file__).parent / "datasets" / "sleepstudy.csv"
FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.mark.parametrize(("text", "prior"), [
    ("HalfNormal(1)", HalfNormal(1.0)),
    ("Normal(0, 2.5)", Normal(0.0, 2.5)),
    ("StudentT(nu=3, sigma=2)", StudentT(nu=3.0, sigma=2.0)),
    (" LKJ( eta = 2 ) ", LKJ(2.0)),
    ("Normal(-1e-2, .5)", Normal(-0.01, 0.5)),
])
def test_parse_prior(text: str, prior: Any) -> None:
    assert parse_prior(text) == prior


@pytest.mark.parametrize(("text", "match"), [
    ("__import__('os')", "cannot read the prior"),
    ("Normal(0, sigma)", "cannot read the argument"),
    ("Normal(mu=0, 1)", "unnamed argument follows"),
    ("HalfNormal(scale=1)", "unexpected keyword"),
    ("Gamma(1, 2)", "cannot read the prior"),
])
def test_parse_prior_refuses(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_prior(text, "tight.sd")


def test_read_prior_sets(tmp_path: Path) -> None:
    f = tmp_path / "priors.toml"
    f.write_text('[default]\n\n[flat]\npreset = "flat"\n\n[tight]\nsd_Subject = '
                 '"HalfNormal(1)"\ncorr = "LKJ(2)"\n')
    sets = read_prior_sets(f)
    assert list(sets) == ["default", "flat", "tight"]
    assert sets["default"] == {} and sets["flat"] == {"preset": "flat"}
    assert sets["tight"] == {"sd_Subject": HalfNormal(1.0), "corr": LKJ(2.0)}
    f.write_text("[tight]\nsd = 1\n")
    with pytest.raises(DataError, match="must be a prior written as text"):
        read_prior_sets(f)
    f.write_text("tight = 3\n")
    with pytest.raises(DataError, match="must be a table"):
        read_prior_sets(f)
    f.write_text("[tight\n")
    with pytest.raises(DataError, match="as TOML"):
        read_prior_sets(f)
    with pytest.raises(DataError, match="does not exist"):
        read_prior_sets(tmp_path / "none.toml")


def test_sensitivity_refuses_before_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("no work should have started")

    monkeypatch.setattr(Model, "fit", boom)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    pri = tmp_path / "p.toml"
    pri.write_text("[default]\n")
    rc = main(["sensitivity", FORMULA, "--data", str(SLEEP), "--priors", str(pri),
               "--out", str(out)])
    assert rc == 2 and "not empty" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep"
    bad = tmp_path / "bad.toml"
    bad.write_text('[x]\nsd = "os.system(1)"\n')
    rc = main(["sensitivity", FORMULA, "--data", str(SLEEP), "--priors", str(bad),
               "--out", str(tmp_path / "new")])
    assert rc == 2 and "cannot read the prior" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.fixture
def mocked_model_sample(mock_sample, monkeypatch: pytest.MonkeyPatch) -> None:
    def sample(self: Model, draws: int = 1000, tune: int = 1000, chains: int = 4,
               random_seed: Any = None, priors: Any = None, **kw: Any) -> Any:
        return bayes_sample(self.design, draws=50, tune=0, chains=2, random_seed=random_seed,
                            priors=priors, sampler="pymc", marginal=False, warn=False)

    monkeypatch.setattr(Model, "sample", sample)


@pytest.mark.slow
def test_sensitivity_report(tmp_path: Path, mocked_model_sample: None) -> None:
    pri = tmp_path / "p.toml"
    pri.write_text('[tight]\nsd_Subject = "HalfNormal(1)"\n')
    out = tmp_path / "rep"
    assert main(["sensitivity", FORMULA, "--data", str(SLEEP), "--priors", str(pri),
                 "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "prior_sweep.csv", "power_scaling.csv", "influence.csv",
            "prior_sweep.png", "hiermix-manifest.json"} <= names
    text = (out / "report.html").read_text()
    assert "sd(Intercept|Subject)" in text and "Influence of groups" in text


@pytest.mark.slow
def test_compare_with_sensitivity_section(tmp_path: Path, mocked_model_sample: None) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", FORMULA, "--data", str(SLEEP), "--out", str(out),
                 "--sensitivity"]) == 0
    text = (out / "report.html").read_text()
    assert '<section id="sensitivity"><h2>Sensitivity</h2>' in text
    assert "The 5 most influential Subject levels" in text
    # listed in the navigation, and placed, after the diagnostics
    assert '<a href="#diagnostics">Diagnostics</a> <a href="#sensitivity">Sensitivity</a>' in text
    assert text.index('id="diagnostics"') < text.index('id="sensitivity"') < text.index(
        'id="mlfit"')
    assert text.rstrip().endswith("</html>")


def test_sensitivity_section_tables() -> None:
    """The section's tables as the comparison report prints them: sensitivities to three
    decimals with the flagged parameters listed; the most influential levels as columns,
    largest Cook's distance first, each measure with the decimals its values need."""
    from hiermix.sensitivity.report import sensitivity_section

    power = pd.DataFrame({"param": ["Days", "sd(Intercept|Subject)"],
                          "prior": [0.0012, 0.2104], "likelihood": [0.0587, 0.1349],
                          "diagnosis": ["-", "potential prior-data conflict"]})
    infl = pd.DataFrame({"cooks_distance": [0.01, 0.5, 0.2], "dfbeta_Days": [0.1, -2.5, 1.25]},
                        index=pd.Index(["a", "b", "c"], name="Subject"))
    sec = sensitivity_section(power, infl, k=2)
    assert (sec.key, sec.title, sec.after) == ("sensitivity", "Sensitivity", "diagnostics")
    body = sec.body
    assert ('<ul class="warn"><li><code>sd(Intercept|Subject)</code>: potential prior-data '
            "conflict</li></ul>") in body
    assert "<td>0.001</td><td>0.059</td>" in body and "<td>0.210</td><td>0.135</td>" in body
    assert "<th class=\"t\">Subject</th><th>b</th><th>c</th></tr>" in body
    assert '<td class="t">cooks_distance</td><td>0.500</td><td>0.200</td>' in body
    assert '<td class="t">dfbeta_Days</td><td>-2.50</td><td>1.25</td>' in body
    quiet = sensitivity_section(power.iloc[:1], None)
    assert "No parameter is flagged" in quiet.body and "influential" not in quiet.body
