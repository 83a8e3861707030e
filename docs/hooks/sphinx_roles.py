"""Griffe extension: render the reStructuredText of hiermix's docstrings as Markdown.

hiermix's docstrings are numpydoc and name objects with Sphinx roles
(:func:`hiermix.parse`, :class:`~hiermix.design.Design`, :meth:`fit`, :mod:`.plots`).
mkdocstrings reads Markdown, where a role would show literally. Once the package is loaded,
this extension rewrites each role into an autorefs element for the object it names, resolved
from the scope of the docstring that mentions it (its members, its imports, its parents).
The element is optional: a link where the target is rendered on some page, plain code
elsewhere. A role naming a ``hiermix`` object that does not exist is logged as a warning, so
that ``mkdocs build --strict`` fails on it.

Three more reStructuredText constructs of the docstrings' prose are rewritten, so that a reader
sees what a terminal reader sees: simple tables (``====  ====`` borders) become Markdown
tables, definition lists (a term line followed by an indented definition, as the compare
tables' columns are defined) become bullet items, and the ``::`` that opens a literal block
becomes ``:`` (the indented block itself is already code in Markdown). Numpydoc sections
(``Parameters`` and the rest) are left to mkdocstrings' numpy parser.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import griffe

_log = logging.getLogger("mkdocs.plugins.hiermix_sphinx_roles")

ROLE = re.compile(r":(?:py:)?(?P<role>func|class|meth|mod|attr|data|exc|obj|const):"
                  r"`(?P<target>[^`]+)`")


def _lookup(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    """The object at the dotted ``path`` under ``pkg`` (``pkg``'s own name first), or None."""
    parts = path.split(".")
    if parts[0] != pkg.name:
        return None
    obj: Any = pkg
    for part in parts[1:]:
        try:
            obj = obj.members[part]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return obj


def _scopes(obj: griffe.Object) -> list[griffe.Object]:
    """obj, then its parents up to the package."""
    out = []
    cur: Any = obj
    while cur is not None:
        out.append(cur)
        cur = cur.parent
    return out


def resolve(pkg: griffe.Module, obj: griffe.Object, target: str) -> str | None:
    """The full path of the object ``target`` names from the scope of ``obj``, or None."""
    if target.startswith("."):
        # Python's relative import rule: one dot is the package of the docstring's module
        mod: Any = obj if obj.is_module else obj.module
        base: Any = mod if mod.is_package else mod.parent
        dots = len(target) - len(target.lstrip("."))
        for _ in range(dots - 1):
            base = base.parent if base is not None else None
        if base is None:
            return None
        candidate = f"{base.path}.{target.lstrip('.')}"
        return _final(pkg, candidate) if _lookup(pkg, candidate) is not None else None
    if _lookup(pkg, target) is not None:
        return _final(pkg, target)
    head, _, rest = target.partition(".")
    for scope in _scopes(obj):
        try:
            full = scope.resolve(head)
        except (griffe.NameResolutionError, griffe.AliasResolutionError, ValueError):
            continue
        candidate = f"{full}.{rest}" if rest else full
        if _lookup(pkg, candidate) is not None:
            return _final(pkg, candidate)
    # a name exported lazily (``hiermix.lmer``) or not imported where it is mentioned
    # (an exception class named in a Raises section): the one definition of that name
    found = _definitions(pkg).get(target.rsplit(".", 1)[-1], [])
    return found[0] if len(found) == 1 else None


def _definitions(pkg: griffe.Module) -> dict[str, list[str]]:
    """Name -> paths of every object defined (not imported) in ``pkg``."""
    cached = getattr(pkg, "_hiermix_definitions", None)
    if cached is not None:
        return cached
    out: dict[str, list[str]] = {}
    stack: list[Any] = [pkg]
    while stack:
        cur = stack.pop()
        for name, member in cur.members.items():
            if member.is_alias:
                continue
            out.setdefault(name, []).append(member.path)
            if member.is_module or member.is_class:
                stack.append(member)
    pkg._hiermix_definitions = out  # type: ignore[attr-defined]
    return out


def _final(pkg: griffe.Module, path: str) -> str:
    """The canonical path of ``path`` (where an alias points), as mkdocstrings registers it."""
    found = _lookup(pkg, path)
    if found is not None and found.is_alias:
        try:
            return str(found.target_path)  # type: ignore[union-attr]
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return path  # an unresolvable alias keeps its own path
    return path


BORDER = re.compile(r"^ *=+( +=+)+ *$")
SECTION_RULE = re.compile(r"^ *-{3,} *$")
LIST_START = re.compile(r"^(?:[-*+] |\d+[.)] |#|>|\.\. )")


def _spans(border: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"=+", border)]


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    out = []
    for k, (a, _) in enumerate(spans):
        b = spans[k + 1][0] if k + 1 < len(spans) else len(line)
        out.append(line[a:b].strip())
    return out


def simple_tables(lines: list[str]) -> list[str]:
    """reStructuredText simple tables -> Markdown tables (continuation rows joined)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        spans = _spans(lines[i])
        indent = spans[0][0]
        rows: list[list[str]] = []
        borders = 1
        header_rows = 0
        j = i + 1
        while j < len(lines) and borders < 3:
            line = lines[j]
            if BORDER.match(line):
                borders += 1
                if borders == 2:
                    header_rows = len(rows)
            elif line.strip():
                cells = _cells(line, spans)
                if rows and not cells[0] and borders >= 2 and len(rows) > header_rows:
                    rows[-1] = [f"{a} {c}".strip() for a, c in zip(rows[-1], cells)]
                else:
                    rows.append(cells)
            j += 1
        if borders < 3 or header_rows == 0:  # not a table after all
            out.append(lines[i])
            i += 1
            continue
        pad = " " * indent
        head, body = rows[:header_rows], rows[header_rows:]
        header = [" ".join(c for c in col if c) for col in zip(*head)]
        out.append(pad + "| " + " | ".join(header) + " |")
        out.append(pad + "|" + "---|" * len(spans))
        out += [pad + "| " + " | ".join(_escape_pipes(c) for c in r) + " |" for r in body]
        i = j
    return out


def _escape_pipes(cell: str) -> str:
    """Escape the pipes of a table cell outside its code spans: Python-Markdown's tables
    split no row at a pipe inside backticks, and would show a backslash there verbatim."""
    parts = re.split(r"(`+[^`]*`+)", cell)
    return "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def definition_lists(lines: list[str]) -> list[str]:
    """reStructuredText definition lists in prose -> Markdown bullet items.

    A term is an unindented line right after a blank line (or a previous definition) whose
    next line is indented by four spaces or more; its definition is those indented lines.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        prev_blank = i == 0 or not lines[i - 1].strip() or bool(out and out[-1].startswith("- "))
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (prev_blank and line.strip() and not line[0].isspace()
                and not LIST_START.match(line) and nxt.startswith("    ") and nxt.strip()):
            j = i + 1
            body: list[str] = []
            while j < len(lines) and lines[j].startswith("    ") and lines[j].strip():
                body.append(lines[j].strip())
                j += 1
            out.append(f"- {line.strip()}: {' '.join(body)}")
            i = j
            continue
        out.append(line)
        i += 1
    return out


def literal_markers(lines: list[str]) -> list[str]:
    """``text::`` -> ``text:`` and a lone ``::`` removed (the block stays indented code)."""
    out = []
    for line in lines:
        if line.strip() == "::":
            continue
        if line.rstrip().endswith("::"):
            stripped = line.rstrip()[:-2].rstrip()
            line = stripped + ":" if stripped and not stripped.endswith(":") else stripped
        out.append(line)
    return out


def rst_prose(text: str) -> str:
    """The reStructuredText constructs of ``text`` rewritten as Markdown (see the module
    notes); from the first numpydoc section on, only tables are rewritten."""
    lines = text.split("\n")
    cut = len(lines)
    for k in range(1, len(lines)):
        if SECTION_RULE.match(lines[k]) and lines[k - 1].strip():
            cut = k - 1
            break
    prose = literal_markers(definition_lists(simple_tables(lines[:cut])))
    return "\n".join(prose + simple_tables(lines[cut:]))


def rewrite(text: str, pkg: griffe.Module, obj: griffe.Object) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs element."""

    def sub(m: re.Match[str]) -> str:
        target = m["target"].strip()
        short = target.startswith("~")
        target = target.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
        if m["role"] in ("func", "meth"):
            shown += "()"
        code = f"<code>{html.escape(shown)}</code>"
        full = resolve(pkg, obj, target)
        if full is None:
            if target.split(".")[0] == pkg.name:
                _log.warning("%s: %s names no object of %s", obj.path, m[0], pkg.name)
            return code
        return f'<autoref identifier="{html.escape(full)}" optional>{code}</autoref>'

    return ROLE.sub(sub, text)


class SphinxRoles(griffe.Extension):
    """Rewrite roles into cross-references, and tables, definition lists and literal-block
    markers into Markdown, once the whole package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg, pkg, set())

    def _walk(self, pkg: griffe.Module, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = rst_prose(rewrite(obj.docstring.value, pkg, obj))
        for member in obj.members.values():
            if member.is_alias:
                continue
            self._walk(pkg, member, seen)  # type: ignore[arg-type]
