"""``hiermix study CONFIG.toml --out DIR``: CSVs and an HTML report; refusals."""

from __future__ import annotations

import pandas as pd

from hiermix.cli import main
from hiermix.study import random_intercept

CONFIG = """
formula = "y ~ 1 + (1 | g)"
nsim = 3
seed = 5
methods = ["reml-wald", "ml-wald"]
data = "template.csv"
store = "store"
block_size = 2

[truth]
Intercept = 0.0
"sd(Intercept|g)" = 0.5
sigma = 1.0
"""


def _setup(tmp_path):  # type: ignore[no-untyped-def]
    data, _ = random_intercept(J=6, n=4, icc=0.2)
    data.to_csv(tmp_path / "template.csv", index=False)
    (tmp_path / "study.toml").write_text(CONFIG)
    return tmp_path / "study.toml"


def test_cli_writes_report_and_csvs(tmp_path, capsys) -> None:
    cfg = _setup(tmp_path)
    assert main(["study", str(cfg), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    perf = pd.read_csv(tmp_path / "out" / "performance.csv")
    assert set(perf["method"]) == {"reml-wald", "ml-wald"} and len(perf) == 6
    assert (tmp_path / "out" / "report.html").read_text().count("<table") == 2
    assert len(list((tmp_path / "store").glob("c*.csv"))) == 4  # 2 blocks x 2 methods
    assert "performance" in capsys.readouterr().out


def test_cli_refuses_a_folder_it_did_not_write(tmp_path, capsys) -> None:
    cfg = _setup(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    assert main(["study", str(cfg), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 2
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep"
    assert "hiermix: error" in capsys.readouterr().err


def test_cli_bad_config_key(tmp_path, capsys) -> None:
    cfg = _setup(tmp_path)
    cfg.write_text(CONFIG + "\nnsims = 4\n")
    assert main(["study", str(cfg), "--out", str(tmp_path / "out")]) == 2
    assert "nsims" in capsys.readouterr().err
