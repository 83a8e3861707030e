"""MkDocs hook: a page with the source of each case-study script.

Each case study's ``<name>.py`` (excluded from the site as a raw file) becomes the page
``case_studies/<name>/script.md``: the script that produced the study's numbers and figures,
as a highlighted listing, linked from the navigation beside the study.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def script_page(script: Path) -> str:
    """Markdown of the listing page for ``script``."""
    source = script.read_text(encoding="utf-8")
    longest = max((len(m) for m in re.findall(r"^ *(`{3,})", source, flags=re.M)), default=2)
    fence = "`" * max(3, longest + 1)
    name = script.parent.name
    return (f"# Script: `{script.name}`\n\n"
            f"The script behind [this case study](README.md), run from the repository root "
            f"with `python case_studies/{name}/{script.name}`; it rewrites the study's table "
            f"and figures.\n\n"
            f"{fence}python\n{source.rstrip()}\n{fence}\n")


def scripts(docs_dir: Path) -> list[Path]:
    """Every case-study script: ``case_studies/<name>/<name>.py``."""
    return sorted(p for p in (docs_dir / "case_studies").glob("*/*.py")
                  if p.stem == p.parent.name)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    docs_dir = Path(config["docs_dir"])
    for script in scripts(docs_dir):
        uri = f"case_studies/{script.parent.name}/script.md"
        files.append(File.generated(config, uri, content=script_page(script)))
    return files
