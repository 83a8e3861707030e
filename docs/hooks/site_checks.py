"""MkDocs hook: checks on the built site that fail the build.

* No page shows a literal Sphinx role (``:func:`` and friends): every role in a docstring must
  have been turned into a cross-reference by ``sphinx_roles.py``.
* No page loads a script, stylesheet, font or image from another host: the site, its math
  included, must work offline.
* No code shows ``\\|``: GitHub needs a table's pipes escaped even inside code, Python-Markdown
  does not and prints the backslash, so the site's pages write a plain ``|`` in code.

The checks are plain functions of the HTML text, tested in ``tests/test_docs_site.py``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

RAW_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):(?=`|<code>)")

# (tag, attribute) pairs that make a browser fetch something when the page loads
_LOADING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
            ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src")}
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


ESCAPED_PIPE = re.compile(r"<code>[^<]*\\\|[^<]*</code>")


def raw_roles(html: str) -> list[str]:
    """The literal Sphinx roles in ``html``, each with a little context."""
    return [html[max(m.start() - 40, 0):m.end() + 40] for m in RAW_ROLE.finditer(html)]


class _Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for t, attr in _LOADING:
            if tag != t or not a.get(attr):
                continue
            if tag == "link" and not set((a.get("rel") or "").split()) & {
                    "stylesheet", "preload", "modulepreload", "icon", "prefetch", "preconnect"}:
                continue
            self.urls.append(str(a[attr]))
        if a.get("style") and "url(" in str(a["style"]):
            self.urls += re.findall(r"url\(['\"]?([^)'\"]+)", str(a["style"]))


def remote_assets(html: str) -> list[str]:
    """URLs on another host that ``html`` loads (scripts, stylesheets, fonts, images)."""
    parser = _Loads()
    parser.feed(html)
    inline_css = re.findall(r"@import\s+url\(['\"]?([^)'\"]+)|url\(['\"]?((?:https?:)?//[^)'\"]+)",
                            html)
    urls = parser.urls + [u for pair in inline_css for u in pair if u]
    return sorted({u for u in urls if _REMOTE.match(u)})


def check_site(site_dir: Path) -> list[str]:
    """One message per problem in the built site at ``site_dir``."""
    problems = []
    for page in sorted(site_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        rel = page.relative_to(site_dir)
        problems += [f"{rel}: literal Sphinx role ...{ctx}..." for ctx in raw_roles(text)]
        problems += [f"{rel}: loads {url} from another host" for url in remote_assets(text)]
        problems += [f"{rel}: backslash before a pipe in {m[0]}"
                     for m in ESCAPED_PIPE.finditer(text)]
    return problems


def on_post_build(config: Any) -> None:
    from mkdocs.exceptions import PluginError

    problems = check_site(Path(config["site_dir"]))
    if problems:
        raise PluginError("site checks failed:\n" + "\n".join(problems[:50]))
