"""Griffe extension: render the Sphinx roles of hiermix's docstrings as cross-references.

hiermix's docstrings are numpydoc and name objects with Sphinx roles
(:func:`hiermix.parse`, :class:`~hiermix.design.Design`, :meth:`fit`, :mod:`.plots`).
mkdocstrings reads Markdown, where a role would show literally. Once the package is loaded,
this extension rewrites each role into an autorefs element for the object it names, resolved
from the scope of the docstring that mentions it (its members, its imports, its parents).
The element is optional: a link where the target is rendered on some page, plain code
elsewhere. A role naming a ``hiermix`` object that does not exist is logged as a warning, so
that ``mkdocs build --strict`` fails on it.
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
        except Exception:  # noqa: BLE001 - an unresolvable alias keeps its own path
            return path
    return path


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
    """Rewrite Sphinx roles into cross-references once the whole package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg, pkg, set())

    def _walk(self, pkg: griffe.Module, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = rewrite(obj.docstring.value, pkg, obj)
        for member in obj.members.values():
            if member.is_alias:
                continue
            self._walk(pkg, member, seen)  # type: ignore[arg-type]
