"""``hiermix compare`` never destroys a file, and refuses before any work.

Every refusal is checked three ways: exit code 2 with one ``hiermix: error:`` line and no
traceback; ``Model.fit`` never ran (it is replaced by a function that fails the test); and the
files that were there are byte for byte what they were. The runs that do write a report use a
stand-in posterior (the fit's own asymptotic draws, ``fit_datatree``), so no MCMC runs here.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import hiermix as hm
from hiermix.cli import main
from hiermix.compare.destination import MANIFEST
from hiermix.datasets import read_csv_with_types
from hiermix.errors import DataError
from hiermix.frequentist.datatree import fit_datatree
from hiermix.model import Model

SLEEP = Path(hm.__file__).parent / "datasets" / "sleepstudy.csv"
FORMULA = "Reaction ~ Days + (Days | Subject)"


@dataclass(frozen=True)
class StandIn:
    """The parts of a Bayesian result that compare() and the report read."""

    design: Any
    datatree: Any


def _fake_sample(self: Model, **kwargs: Any) -> StandIn:
    fit = self.fit()
    return StandIn(self.design, fit_datatree(fit, draws=100, chains=2, seed=1))


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command fits or samples anything."""
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model was fitted before the output paths were checked")

    monkeypatch.setattr(Model, "fit", boom)
    monkeypatch.setattr(Model, "sample", boom)


def _fake_report(cmp: Any, folder: Path, data_path: str | None = None,
                 sections: Any = ()) -> None:
    """A report of the real layout (files and a nested folder) whose content follows ci."""
    (folder / "report.html").write_text(f"<p>ci {cmp.ci}</p>")
    cmp.fixef.to_csv(folder / "fixef.csv")
    beta = folder / "posterior.zarr" / "posterior" / "beta"
    beta.mkdir(parents=True)
    (folder / "posterior.zarr" / "zarr.json").write_text("{}")
    (beta / "c0").write_bytes(b"\x00\x01")


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sample nothing and write a small report of the real layout, so that only the file
    handling is under test (the report itself is tested in tests/compare)."""
    monkeypatch.setattr(Model, "sample", _fake_sample)
    report = importlib.import_module("hiermix.compare.report")
    monkeypatch.setattr(report, "fill_report", _fake_report)
    monkeypatch.setattr(report, "print_tables", lambda cmp, file=None: None)


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_file():
                out[rel] = p.read_bytes()
            else:
                out[rel] = "dir"
    return out


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], text: str) -> str:
    assert main(["compare", FORMULA, "--data", str(SLEEP), *args]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("hiermix: error:"), err
    assert text in lines[-1], lines[-1]
    assert "Traceback" not in err
    return lines[-1]


def _run(out: Path, *extra: str) -> int:
    return main(["compare", FORMULA, "--data", str(SLEEP), "--out", str(out), *extra])


# ---------------------------------------------------------------------------------------------
# refusals, before any work
# ---------------------------------------------------------------------------------------------


def test_non_empty_out_refused_without_overwrite(tmp_path: Path, no_work: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    before = _snapshot(tmp_path)
    _refused(["--out", str(tmp_path)], capsys, "not empty; pass --overwrite")
    assert _snapshot(tmp_path) == before


def test_foreign_files_refused_even_with_overwrite(tmp_path: Path, no_work: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "report.html").write_text("my own report")
    (tmp_path / "posterior.zarr").mkdir()
    (tmp_path / "posterior.zarr" / "data").write_text("precious")
    before = _snapshot(tmp_path)
    _refused(["--out", str(tmp_path), "--overwrite"], capsys, "did not write")
    assert _snapshot(tmp_path) == before


def test_data_inside_out_refused(tmp_path: Path, no_work: None,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    results.mkdir()
    data = results / "fixef.csv"
    shutil.copy(SLEEP, data)
    before = _snapshot(results)
    for extra in ([], ["--overwrite"]):
        assert main(["compare", FORMULA, "--data", str(data), "--out", str(results),
                     *extra]) == 2
        err = capsys.readouterr().err
        assert "fixef.csv, which hiermix only reads" in err and "Traceback" not in err
    assert _snapshot(results) == before


def test_types_file_inside_out_refused(tmp_path: Path, no_work: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "sleep.csv"
    shutil.copy(SLEEP, data)
    shutil.copy(SLEEP.with_name("sleepstudy.types.json"), tmp_path / "sleep.types.json")
    assert main(["compare", FORMULA, "--data", str(data), "--out",
                 str(tmp_path / "sleep.types.json")]) == 2
    assert "sleep.types.json, which hiermix only reads" in capsys.readouterr().err
    assert main(["compare", FORMULA, "--data", str(data), "--out", str(data)]) == 2
    assert "sleep.csv, which hiermix only reads" in capsys.readouterr().err


def test_file_where_the_folder_should_be(tmp_path: Path, no_work: None,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "report"
    f.write_text("a file")
    _refused(["--out", str(f)], capsys, "is an existing file, not a folder")
    _refused(["--out", str(f), "--overwrite"], capsys, "is an existing file, not a folder")
    _refused(["--out", str(f / "sub")], capsys, "is a file, not a folder")
    _refused(["--out", str(f / "sub" / "deeper")], capsys, "is a file, not a folder")
    assert f.read_text() == "a file"


def test_missing_parent_and_too_long_names(tmp_path: Path, no_work: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["--out", str(tmp_path / "no" / "such" / "rep")], capsys, "does not exist")
    _refused(["--out", str(tmp_path / ("x" * 300))], capsys, "300 bytes long")
    _refused(["--out", ""], capsys, "empty")
    deep = tmp_path.joinpath(*["d" * 200] * 25)
    _refused(["--out", str(deep)], capsys, "too long")
    assert list(tmp_path.iterdir()) == []


def test_links_are_never_followed(tmp_path: Path, no_work: None,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    _refused(["--out", str(link), "--overwrite"], capsys, "symbolic link")
    assert _snapshot(target) == {"keep.txt": b"keep"}


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write in any folder")
def test_unwritable_folder(tmp_path: Path, no_work: None,
                           capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _refused(["--out", str(ro / "rep")], capsys, "cannot write in the folder")
    finally:
        ro.chmod(0o700)


def test_bad_types_file_refused_before_work(tmp_path: Path, no_work: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "sleep.csv"
    shutil.copy(SLEEP, data)
    (tmp_path / "sleep.types.json").write_text('["Subject"]')
    assert main(["compare", FORMULA, "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "holds a JSON list" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# the types file
# ---------------------------------------------------------------------------------------------


def _types(tmp_path: Path, types: Any, csv: str = "y,g\n1.0,a\n2.0,b\n3.0,c\n") -> Path:
    data = tmp_path / "d.csv"
    data.write_text(csv)
    (tmp_path / "d.types.json").write_text(json.dumps(types))
    return data


@pytest.mark.parametrize(("types", "text"), [
    ({"g": "factor"}, "column 'g' must be an object"),
    ({"g": {"levels": ["a"]}}, "column 'g' must be an object"),
    ({"g": {"class": "factor"}}, "column 'g' is a factor and needs \"levels\""),
    ({"g": {"class": "factor", "levels": "abc"}}, "needs \"levels\""),
    ({"g": {"class": "factor", "levels": [["a"]]}}, "needs \"levels\""),
    ({"g": {"class": "factor", "levels": ["a", "b", "a", "c"]}}, "'a' more than once"),
    ({"h": {"class": "numeric"}}, "column(s) 'h'"),
    (["g"], "holds a JSON list"),
])
def test_types_file_of_the_wrong_shape(tmp_path: Path, types: Any, text: str) -> None:
    with pytest.raises(DataError) as err:
        read_csv_with_types(_types(tmp_path, types))
    assert text in str(err.value)


def test_types_file_that_is_not_json(tmp_path: Path) -> None:
    data = _types(tmp_path, {})
    (tmp_path / "d.types.json").write_text("{g: factor")
    with pytest.raises(DataError, match="not valid JSON"):
        read_csv_with_types(data)


def test_values_missing_from_the_levels_are_an_error(tmp_path: Path) -> None:
    data = _types(tmp_path, {"g": {"class": "factor", "levels": ["a"]}})
    with pytest.raises(DataError) as err:
        read_csv_with_types(data)
    assert str(err.value) == ("column 'g' of d.csv holds value(s) 'b', 'c' that its levels in "
                              "d.types.json do not list")


def test_levels_set_order_and_missing_values_stay_missing(tmp_path: Path) -> None:
    data = _types(tmp_path, {"g": {"class": "ordered", "levels": ["c", "b", "a"]}},
                  csv="y,g\n1.0,a\n2.0,\n3.0,c\n")
    df = read_csv_with_types(data)
    assert list(df["g"].cat.categories) == ["c", "b", "a"] and df["g"].cat.ordered
    assert df["g"].isna().tolist() == [False, True, False]


# ---------------------------------------------------------------------------------------------
# writing: a manifest, replacement of hiermix's own report only, all or nothing
# ---------------------------------------------------------------------------------------------


def test_report_written_with_manifest_then_replaced(tmp_path: Path, quick: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert _run(out, "--seed", "1") == 0
    manifest = json.loads((out / MANIFEST).read_text())
    listed = set(manifest["files"]) | set(manifest["dirs"]) | {MANIFEST}
    assert set(_snapshot(out)) == listed
    assert {"report.html", "fixef.csv", "posterior.zarr/zarr.json",
            "posterior.zarr/posterior/beta/c0", "posterior.zarr/posterior"} <= listed
    capsys.readouterr()
    _refused(["--out", str(out)], capsys, "not empty")
    first = (out / "fixef.csv").read_bytes()
    assert _run(out, "--overwrite", "--ci", "0.5") == 0
    assert (out / "fixef.csv").read_bytes() != first
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folder left


def test_changed_or_extra_files_block_overwrite(tmp_path: Path, quick: None,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert _run(out) == 0
    capsys.readouterr()
    with (out / "fixef.csv").open("a") as f:
        f.write("my note\n")
    _refused(["--out", str(out), "--overwrite"], capsys, "fixef.csv (changed since")
    assert (out / "fixef.csv").read_text().endswith("my note\n")
    shutil.copy(SLEEP, out / "fixef.csv.orig")
    (out / "fixef.csv").write_bytes(b"")
    _refused(["--out", str(out), "--overwrite"], capsys, "fixef.csv.orig")
    (out / "fixef.csv.orig").unlink()
    secret = tmp_path / "secret"
    secret.write_text("secret")
    (out / "posterior.zarr" / "link").symlink_to(secret)
    _refused(["--out", str(out), "--overwrite"], capsys, "link (a link)")
    assert secret.read_text() == "secret"


def test_interrupted_run_leaves_the_old_report(tmp_path: Path, quick: None,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert _run(out) == 0
    before = _snapshot(out)

    report = importlib.import_module("hiermix.compare.report")

    def interrupted(cmp: Any, folder: Path, data_path: str | None = None,
                    sections: Any = ()) -> None:
        _fake_report(cmp, folder, data_path)
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "fill_report", interrupted)
    assert _run(out, "--overwrite", "--ci", "0.5") == 130
    assert _snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


@pytest.mark.slow
def test_full_report_into_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(Model, "sample", _fake_sample)
    assert _run(tmp_path) == 0
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert {"report.html", "fixef.csv", "varcorr.csv", "ranef.csv", "forest.png", "ranef.png",
            "varcorr.png"} <= set(manifest["files"])
    assert set(_snapshot(tmp_path)) == set(manifest["files"]) | set(manifest["dirs"]) | {
        MANIFEST}


def test_empty_folder_is_used(tmp_path: Path, quick: None) -> None:
    assert _run(tmp_path) == 0
    assert (tmp_path / "report.html").read_text() == "<p>ci 0.95</p>"
    assert (tmp_path / MANIFEST).exists()


@pytest.mark.parametrize(("args", "text"), [
    (["--draws", "0"], "argument --draws: must be at least 1, not 0"),
    (["--chains", "two"], "argument --chains: must be a whole number, not 'two'"),
    (["--ci", "95"], "argument --ci: must lie strictly between 0 and 1"),
    (["--tune", "-5"], "argument --tune: must be at least 0, not -5"),
])
def test_bad_numbers_refused_before_work(args: list[str], text: str, no_work: None,
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["compare", FORMULA, "--data", str(SLEEP), "--out", str(tmp_path / "o"), *args])
    assert exit_.value.code == 2
    assert text in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_replacement_without_an_atomic_swap(tmp_path: Path, quick: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Where renameat2 is missing, two renames in a row replace the report all the same."""
    dest = importlib.import_module("hiermix.compare.destination")
    monkeypatch.setattr(dest, "_exchange", lambda a, b: False)
    out = tmp_path / "rep"
    assert _run(out) == 0
    assert _run(out, "--overwrite", "--ci", "0.5") == 0
    assert (out / "report.html").read_text() == "<p>ci 0.5</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_file_added_during_the_run_is_kept(tmp_path: Path, quick: None,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert _run(out) == 0
    report = importlib.import_module("hiermix.compare.report")

    def meanwhile(cmp: Any, folder: Path, data_path: str | None = None,
                  sections: Any = ()) -> None:
        _fake_report(cmp, folder, data_path)
        (out / "notes.txt").write_text("written while hiermix ran")

    monkeypatch.setattr(report, "fill_report", meanwhile)
    capsys.readouterr()
    assert _run(out, "--overwrite", "--ci", "0.5") == 2
    err = capsys.readouterr().err
    assert "changed while hiermix ran" in err and "the new report is in" in err
    assert (out / "notes.txt").read_text() == "written while hiermix ran"
    assert (out / "report.html").read_text() == "<p>ci 0.95</p>"
    staged = [p for p in tmp_path.iterdir() if p.name != "rep"]
    assert len(staged) == 1 and (staged[0] / "report.html").read_text() == "<p>ci 0.5</p>"
