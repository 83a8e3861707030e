"""Every case study runs end to end at reduced draws and asserts its own key numbers.

Run with ``pytest -m casestudy`` (CI does). Each script reads ``HIERMIX_DRAWS`` (draws and
tuning steps per chain) and writes its table and figures to ``HIERMIX_OUT``.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "case_studies"
SCRIPTS = sorted(p for p in ROOT.glob("*/*.py") if p.stem == p.parent.name)


@pytest.mark.casestudy
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.parent.name for p in SCRIPTS])
def test_case_study_runs(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIERMIX_DRAWS", os.environ.get("HIERMIX_CASESTUDY_DRAWS", "250"))
    monkeypatch.setenv("HIERMIX_OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(script)])
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "table.md").read_text().count("|") > 10


def test_every_case_study_has_a_script_and_readme() -> None:
    folders = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert folders
    for folder in folders:
        assert (folder / f"{folder.name}.py").exists(), folder
        assert (folder / "README.md").exists(), folder
