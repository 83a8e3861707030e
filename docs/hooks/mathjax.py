"""MkDocs hook: serve MathJax from the site itself, so the math renders offline.

MathJax 3 comes from the PyPI package ``django-static-mathjax`` (installed by the ``docs``
extra; it ships MathJax's release files and needs no Django to be read). At build time its
``es5/tex-svg.js``, a single file with its fonts inside, and MathJax's licence are added to the
site under ``assets/mathjax/``; ``mkdocs.yml`` loads them after ``javascripts/mathjax.js``,
which configures MathJax for ``pymdownx.arithmatex``'s generic output. Nothing is fetched from
a network when a page is read, and no copy of MathJax lives in the repository.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

DIST = "django-static-mathjax"
ASSETS = {  # path in the distribution -> path in the site
    "mathjax/static/mathjax/es5/tex-svg.js": "assets/mathjax/tex-svg.js",
    "mathjax/static/mathjax/LICENSE": "assets/mathjax/LICENSE",
}


def mathjax_files() -> dict[str, Path]:
    """Site path -> installed file of each MathJax asset.

    Raises
    ------
    RuntimeError
        The package is not installed or lacks a file.
    """
    try:
        files = metadata.files(DIST) or []
    except metadata.PackageNotFoundError:
        raise RuntimeError(f"MathJax for the docs comes from the {DIST!r} package: "
                           f"pip install -e '.[docs]'") from None
    by_name = {str(f): f for f in files}
    out: dict[str, Path] = {}
    for src, dest in ASSETS.items():
        if src not in by_name:
            raise RuntimeError(f"{DIST} has no {src}; its layout changed")
        out[dest] = Path(str(by_name[src].locate()))
    return out


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    try:
        assets = mathjax_files()
    except RuntimeError as err:
        raise PluginError(str(err)) from None
    for dest, path in assets.items():
        files.append(File.generated(config, dest, abs_src_path=str(path)))
    return files
