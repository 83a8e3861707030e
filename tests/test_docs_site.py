"""The documentation site's build hooks (docs/hooks/), tested without building the site.

``make docs`` runs the hooks inside ``mkdocs build --strict``: the site checks fail the build
on a literal Sphinx role or an asset loaded from another host, the CLI reference is written
from the argument parser, and each case-study script gets a page. These tests pin what the
hooks do on small inputs; the griffe extension is tested where griffe is installed (the
``docs`` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "docs" / "hooks"


def _hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- site checks --------------------------------------------------------------------------


def test_raw_roles_are_found() -> None:
    checks = _hook("site_checks")
    html = ("<p>See :func:<code>hiermix.parse</code> and :class:`Design`.</p>"
            "<p>A ratio 1:2, a time 10:30 and <code>a:b</code> are not roles.</p>")
    found = checks.raw_roles(html)
    assert len(found) == 2
    assert ":func:<code>hiermix.parse" in found[0]
    assert checks.raw_roles("<p><a href='#x'><code>parse()</code></a></p>") == []


def test_remote_assets_are_found() -> None:
    checks = _hook("site_checks")
    html = """
    <link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">
    <link rel="stylesheet" href="../assets/stylesheets/main.css">
    <link rel="canonical" href="https://example.org/page/">
    <script src="//cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
    <script src="../assets/mathjax/tex-svg.js"></script>
    <img src="http://example.org/logo.png"><img src="figure.png">
    <a href="https://github.com/lme4/lme4">a link is not an asset</a>
    <div style="background: url('https://example.org/bg.png')"></div>
    <style>@import url("https://fonts.example.org/x.css");</style>
    """
    assert checks.remote_assets(html) == sorted([
        "https://fonts.googleapis.com/css?family=Roboto",
        "//cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
        "http://example.org/logo.png",
        "https://example.org/bg.png",
        "https://fonts.example.org/x.css",
    ])


def test_check_site_names_page_and_problem(tmp_path: Path) -> None:
    checks = _hook("site_checks")
    (tmp_path / "theory").mkdir()
    (tmp_path / "theory" / "index.html").write_text(
        '<script src="https://cdn.example.org/katex.js"></script>')
    (tmp_path / "api.html").write_text("<p>:meth:`fit`</p>")
    (tmp_path / "ok.html").write_text('<script src="assets/mathjax/tex-svg.js"></script>'
                                      "<code>(x | g)</code>")
    (tmp_path / "table.html").write_text("<td><code>(x \\| g)</code></td>")
    problems = checks.check_site(tmp_path)
    assert len(problems) == 3
    assert problems[1] == "table.html: backslash before a pipe in <code>(x \\| g)</code>"
    assert problems[0].startswith("api.html: literal Sphinx role")
    assert problems[2] == "theory/index.html: loads https://cdn.example.org/katex.js from " \
                          "another host"


# -- CLI reference ---------------------------------------------------------------------------


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string and positional metavar of every subcommand of ``parser``."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _options(sub)
        elif isinstance(action, argparse._HelpAction):
            continue
        elif action.option_strings:
            out += action.option_strings
        else:
            out.append(action.metavar or action.dest.upper())
    return out


def test_cli_reference_lists_every_option() -> None:
    """Every command and option of ``hiermix.cli._parser()`` is in the generated reference,
    with its default; the hand-written page holds the marker the hook replaces."""
    from hiermix.cli import _parser

    ref = _hook("cli_reference")
    parser = _parser()
    text = ref.render(parser)
    for option in _options(parser):
        assert f"`{option}" in text, option
    assert "## `hiermix compare`" in text
    assert "| `--draws DRAWS` | `1000` |" in text
    assert ref.MARKER in (ROOT / "docs" / "cli.md").read_text()


def test_cli_reference_of_a_small_parser() -> None:
    ref = _hook("cli_reference")
    p = argparse.ArgumentParser(prog="tool")
    sub = p.add_subparsers(dest="cmd")
    run = sub.add_parser("run", description="Run <it>.")
    run.add_argument("path", help="a | b")
    run.add_argument("--n", type=int, default=3, help="how many")
    group = run.add_mutually_exclusive_group()
    group.add_argument("--fast", action="store_true")
    group.add_argument("--slow", action="store_true")
    text = ref.render(p)
    assert "Run &lt;it&gt;." in text
    assert "| `PATH` | required | a \\| b |" in text
    assert "| `--n N` | `3` | how many |" in text
    assert "| `--fast` |  |  |" in text
    assert "Only one of `--fast` / `--slow` may be given." in text


# -- case-study scripts ----------------------------------------------------------------------


def test_every_case_study_script_gets_a_page_in_the_nav() -> None:
    pages = _hook("case_study_scripts")
    scripts = pages.scripts(ROOT / "docs")
    assert len(scripts) == len(list((ROOT / "case_studies").glob("*/README.md")))
    nav = (ROOT / "mkdocs.yml").read_text()
    for script in scripts:
        assert f"case_studies/{script.parent.name}/script.md" in nav
        page = pages.script_page(script)
        assert script.read_text().rstrip() in page
        assert "[this case study](README.md)" in page


def test_script_page_fence_outlasts_the_source(tmp_path: Path) -> None:
    pages = _hook("case_study_scripts")
    script = tmp_path / "demo" / "demo.py"
    script.parent.mkdir()
    script.write_text('DOC = """\n```python\nx = 1\n```\n"""\n')
    page = pages.script_page(script)
    assert "````python\n" in page and page.rstrip().endswith("````")


# -- MathJax ---------------------------------------------------------------------------------


def test_mathjax_comes_from_the_installed_package() -> None:
    """The site's MathJax is the docs extra's package, found by its metadata (no network)."""
    mathjax = _hook("mathjax")
    pytest.importorskip("mathjax", reason="the docs extra (django-static-mathjax) is not "
                                          "installed")
    files = mathjax.mathjax_files()
    assert set(files) == {"assets/mathjax/tex-svg.js", "assets/mathjax/LICENSE"}
    assert files["assets/mathjax/tex-svg.js"].stat().st_size > 1_000_000
    config = (ROOT / "mkdocs.yml").read_text()
    assert "assets/mathjax/tex-svg.js" in config and "javascripts/mathjax.js" in config


# -- reStructuredText in docstrings ----------------------------------------------------------


def test_simple_table_becomes_markdown() -> None:
    pytest.importorskip("griffe")
    roles = _hook("sphinx_roles")
    text = """Intro:

=====  ================
class  default
=====  ================
``a``  Normal(0, 1), on
       the intercept
``b``  Exponential(1)
=====  ================

After."""
    assert roles.rst_prose(text) == """Intro:

| class | default |
|---|---|
| ``a`` | Normal(0, 1), on the intercept |
| ``b`` | Exponential(1) |

After."""


def test_simple_table_keeps_pipes_in_code_spans() -> None:
    """A pipe inside a code span splits no row (Python-Markdown's tables), so it stays bare;
    one in plain text is escaped."""
    pytest.importorskip("griffe")
    roles = _hook("sphinx_roles")
    text = """=========================  =======
label                      meaning
=========================  =======
``sd(Intercept|Subject)``  a | b
=========================  =======
"""
    assert "| ``sd(Intercept|Subject)`` | a \\| b |" in roles.rst_prose(text)


def test_definition_list_and_literal_marker() -> None:
    pytest.importorskip("griffe")
    roles = _hook("sphinx_roles")
    text = """Tables:

``fixef``
    index = names;
    columns ``ml``.
``varcorr``
    keyed by grp.

Stages::

    a.py   one

Parameters
----------
x
    Not a definition list: a numpydoc section."""
    assert roles.rst_prose(text) == """Tables:

- ``fixef``: index = names; columns ``ml``.
- ``varcorr``: keyed by grp.

Stages:

    a.py   one

Parameters
----------
x
    Not a definition list: a numpydoc section."""


def test_roles_resolve_to_hiermix_objects() -> None:
    """Roles become optional autorefs to the object they name, resolved like Python names."""
    griffe = pytest.importorskip("griffe")
    roles = _hook("sphinx_roles")
    pkg = griffe.load("hiermix", search_paths=[str(ROOT)], resolve_aliases=True,
                      resolve_external=False)
    tables = pkg["compare.tables"]
    model = pkg["model.Model"]
    assert roles.resolve(pkg, tables, ".plots") == "hiermix.compare.plots"
    assert roles.resolve(pkg, tables, "hiermix.naming") == "hiermix.naming"
    assert roles.resolve(pkg, model, "hiermix.lmer") == "hiermix.frequentist.lmer"
    assert roles.resolve(pkg, pkg["bayes.priors.Prior"], "rv") == "hiermix.bayes.priors.Prior.rv"
    assert roles.resolve(pkg, model, "NoSuchThing") is None
    out = roles.rewrite("see :class:`~hiermix.design.Design` and :func:`numpy.sum`", pkg, model)
    assert out == ('see <autoref identifier="hiermix.design.design.Design" optional>'
                   "<code>Design</code></autoref> and <code>numpy.sum()</code>")
