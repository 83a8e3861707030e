"""The case studies: their READMEs are renderings of their results, and their scripts run.

Default run: each committed ``README.md`` equals ``case_studies/render.py``'s rendering of the
committed ``README.md.in`` and ``results.json`` (so no number in a README can differ from the
run that wrote results.json), and no template writes a decimal number it does not list as an
input of the study.

``pytest -m casestudy`` (CI) also runs every script at reduced draws (``HIERMIX_DRAWS``, from
``HIERMIX_CASESTUDY_DRAWS``, default 250) into a temporary folder (``HIERMIX_OUT``), and renders
its template from the fresh ``results.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1] / "case_studies"
SCRIPTS = sorted(p for p in ROOT.glob("*/*.py") if p.stem == p.parent.name)
FOLDERS = [p.parent for p in SCRIPTS]


def _render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("case_studies_render", ROOT / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _render()


@pytest.mark.casestudy
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.parent.name for p in SCRIPTS])
def test_case_study_runs(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIERMIX_DRAWS", os.environ.get("HIERMIX_CASESTUDY_DRAWS", "250"))
    monkeypatch.setenv("HIERMIX_OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts case_studies/ on it
    runpy.run_path(str(script), run_name="__main__")
    text = render.render_folder(script.parent, tmp_path / "results.json")
    assert "{{" not in text
    assert json.loads((tmp_path / "results.json").read_text())["tables"]


def test_every_case_study_has_a_script_template_results_and_readme() -> None:
    folders = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert sorted(folders) == FOLDERS
    for folder in folders:
        for name in (f"{folder.name}.py", "README.md.in", "results.json", "README.md"):
            assert (folder / name).exists(), folder / name


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_readme_is_the_rendering_of_the_committed_results(folder: Path) -> None:
    expected = render.render_folder(folder)
    assert (folder / "README.md").read_text() == expected, (
        f"{folder.name}/README.md is stale: run python case_studies/render.py")


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_template_writes_no_unlisted_number(folder: Path) -> None:
    assert render.stray_numbers((folder / "README.md.in").read_text()) == []


def test_render_fills_values_and_tables_and_refuses_unknown_paths() -> None:
    results = {"a": {"b": 1.23456}, "tables": {"t": {"columns": ["x", "y"], "align": "lr",
                                                      "rows": [["p", "1.0"]]}}}
    text = render.render("<!-- literals: 0.5 -->\nv {{a/b:.2f}} at 0.5\n\n{{table:t}}\n",
                         results)
    assert text == render.BANNER + "v 1.23 at 0.5\n\n| x   |   y |\n|:----|----:|\n| p   | 1.0 |\n"
    with pytest.raises(render.RenderError, match="no value 'a/c'"):
        render.render("{{a/c}}", results)
    assert render.stray_numbers("<!-- literals: 0.5 -->\n0.5 and 2.08 and {{a/b:.2f}}") == [
        "2.08"]
