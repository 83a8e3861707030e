"""Render each case study's README.md from its template README.md.in and its results.json.

A template is Markdown with two kinds of placeholder:

``{{path:spec}}``
    a value of results.json: ``path`` names it with ``/`` between the keys of the nested
    objects and list indices (``post/sd_grupo_Intercept/post_mean``), ``spec`` is a Python
    format spec (``.3f``); without ``:spec`` the value is inserted as ``str()`` gives it.
``{{table:name}}``
    the table ``tables/name`` of results.json (header, alignment, cells) as a Markdown table.

So every number of a README, in a table or in a sentence, comes from the run that wrote
results.json, and cannot drift from it. A template may also state numbers that are inputs of
the study, not results (the true parameters, the design): it lists each such literal in its
first line, ``<!-- literals: 0.5 2.0 -->``, and :func:`stray_numbers` reports any other decimal
number written into its prose.

Usage::

    python case_studies/render.py           # re-render every README.md from its template
    python case_studies/render.py --check   # exit 1, naming the files, if any is stale

It writes only README.md files of folders that have a README.md.in, whose first line marks
them as rendered.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
TEMPLATE = "README.md.in"
RESULTS = "results.json"
BANNER = ("<!-- Rendered by case_studies/render.py from README.md.in and results.json: "
          "edit those, not this file. -->\n")

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_LITERALS = re.compile(r"\A<!--\s*literals:([^>]*)-->\n")
_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


class RenderError(Exception):
    """A placeholder names no value of results.json, or a template is malformed."""


def lookup(results: dict[str, Any], path: str) -> Any:
    """The value at ``a/b/c`` of the nested results."""
    node: Any = results
    for key in path.split("/"):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise RenderError(f"results.json has no value {path!r} (no key {key!r})")
    return node


def markdown_table(tab: dict[str, Any]) -> str:
    """A pipe table, columns padded to their widest cell."""
    cols, rows, align = tab["columns"], tab["rows"], tab["align"]
    widths = [max(len(str(c)), 3, *(len(str(r[j])) for r in rows)) for j, c in enumerate(cols)]

    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(cells, widths, align, strict=True)) + " |"

    rule = "|" + "|".join((":" + "-" * (w + 1)) if a == "l" else ("-" * (w + 1) + ":")
                          for w, a in zip(widths, align, strict=True)) + "|"
    return "\n".join([line(cols), rule, *(line(r) for r in rows)])


def _substitute(match: re.Match[str], results: dict[str, Any]) -> str:
    body = match.group(1)
    if body.startswith("table:"):
        return markdown_table(lookup(results, "tables/" + body[len("table:"):]))
    path, _, spec = body.partition(":")
    value = lookup(results, path.strip())
    if value is None:
        raise RenderError(f"results.json has no number at {path!r} (null)")
    try:
        return format(value, spec) if spec else str(value)
    except (ValueError, TypeError) as exc:
        raise RenderError(f"cannot format {path!r} = {value!r} with {spec!r}: {exc}") from exc


def render(template: str, results: dict[str, Any]) -> str:
    """The README text of a template filled from results."""
    body = _LITERALS.sub("", template, count=1)
    return BANNER + _PLACEHOLDER.sub(lambda m: _substitute(m, results), body)


def stray_numbers(template: str) -> list[str]:
    """Decimal numbers in a template's prose that are neither placeholders nor listed literals.

    Code spans, fenced code and math are prose too: a number there must also be listed.
    """
    m = _LITERALS.match(template)
    allowed = set(m.group(1).split()) if m else set()
    prose = _PLACEHOLDER.sub(" ", _LITERALS.sub("", template, count=1))
    return [n for n in _NUMBER.findall(prose) if n.lstrip("-") not in allowed]


def studies(root: Path = ROOT) -> list[Path]:
    """Folders of case studies that have a template."""
    return sorted(p.parent for p in root.glob(f"*/{TEMPLATE}"))


def render_folder(folder: Path, results_path: Path | None = None) -> str:
    """The README of one study folder, from its template and (by default) its results.json."""
    results = json.loads((results_path or folder / RESULTS).read_text())
    return render((folder / TEMPLATE).read_text(), results)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for folder in studies():
        if not (folder / RESULTS).exists():
            print(f"{folder / RESULTS} is missing: run the study's script first", file=sys.stderr)
            stale.append(str(folder / "README.md"))
            continue
        text = render_folder(folder)
        target = folder / "README.md"
        if target.exists() and target.read_text() == text:
            continue
        if check:
            stale.append(str(target))
            continue
        if target.exists() and not target.read_text().startswith(BANNER):
            print(f"{target} was not written by render.py; not overwriting it", file=sys.stderr)
            return 1
        target.write_text(text)
        print(f"wrote {target}")
    if stale:
        print("stale (run python case_studies/render.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
