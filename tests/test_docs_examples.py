"""Every example of the documentation runs as written.

The pages are ``README.md`` and every Markdown file under ``docs/`` (the case studies' READMEs
included, through the ``docs/case_studies`` link). For each page:

* its ``python`` code blocks run in order in one namespace, as a reader pastes them one after
  the other into one session, from a scratch working directory; a block that raises fails the
  page, naming the block's first line in the file. There is no way to skip a Python block:
  output and shell sessions go in ``text``, ``sh`` or ``console`` blocks, which are not run;
* in its shell blocks, every ``hiermix ...`` command line is parsed by the command's own
  argument parser and every ``--data`` file it names must exist in the repository, and every
  ``make TARGET`` must be a target of the Makefile.

Examples therefore keep their sampling small (a few hundred draws, two chains): this module
is part of the default test run.
"""

from __future__ import annotations

import os
import re
import shlex
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = {"python", "py", "python3"}
SHELL = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page: its language, first line (1-based) and text."""

    lang: str
    line: int
    text: str


def pages() -> list[Path]:
    """README.md and the Markdown files under docs/ (following links), hooks excluded."""
    out = [ROOT / "README.md"]
    for dirpath, dirnames, filenames in os.walk(ROOT / "docs", followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d != "hooks")
        out += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".md")]
    return out


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of Markdown ``text``, in order."""
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        lang = (m["info"].split() or [""])[0].lstrip(".{").rstrip("}").lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and set(close) == {fence[0]}:
                break
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        out.append(Block(lang, i + 2, "\n".join(body) + "\n"))
        i = j + 1
    return out


def command_lines(sh: str) -> list[str]:
    """The command lines of a shell block, continuation lines joined, comments removed."""
    joined = re.sub(r"\\\n\s*", " ", sh)
    out = []
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        line = re.sub(r"\s+#.*$", "", line) if "#" in line else line
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _rel(page: Path) -> str:
    try:
        return str(page.relative_to(ROOT))
    except ValueError:
        return str(page)


PAGES = pages()
PY_PAGES = [p for p in PAGES if any(b.lang in RUN for b in blocks(p.read_text()))]
SH_PAGES = [p for p in PAGES if any(b.lang in SHELL for b in blocks(p.read_text()))]


@pytest.mark.parametrize("page", PY_PAGES, ids=_rel)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for block in blocks(page.read_text()):
            if block.lang not in RUN:
                continue
            code = compile(block.text, f"{_rel(page)}:{block.line}", "exec")
            try:
                exec(code, namespace)
            except Exception as err:
                where = "".join(traceback.format_exception(err, limit=-3))
                pytest.fail(f"{_rel(page)}, the block at line {block.line} raised "
                            f"{type(err).__name__}: {err}\n{where}", pytrace=False)
    finally:
        plt.close("all")


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.M))


@pytest.mark.parametrize("page", SH_PAGES, ids=_rel)
def test_shell_commands_are_valid(page: Path) -> None:
    from hiermix.cli import _parser

    targets = _makefile_targets()
    for block in blocks(page.read_text()):
        if block.lang not in SHELL:
            continue
        for line in command_lines(block.text):
            words = shlex.split(line)
            if words[0] == "make":
                unknown = [w for w in words[1:] if "=" not in w and w not in targets]
                assert not unknown, f"{_rel(page)}:{block.line}: no make target {unknown}"
            if Path(words[0]).name == "hiermix" and "--help" not in words:
                try:
                    args = _parser().parse_args(words[1:])
                except SystemExit:
                    pytest.fail(f"{_rel(page)}:{block.line}: hiermix rejects {line!r}")
                if getattr(args, "data", None):
                    assert (ROOT / args.data).exists(), \
                        f"{_rel(page)}:{block.line}: --data {args.data} does not exist"


def test_collector_reads_fences() -> None:
    """The block reader on a small page: languages, line numbers, nested fences, tildes."""
    text = ("# t\n\n```python\nx = 1\n```\n\ntext\n\n~~~~sh\n```\nmake test\n~~~~\n"
            "   ```{.python}\n   y = x\n   ```\n")
    got = blocks(text)
    assert [(b.lang, b.line) for b in got] == [("python", 4), ("sh", 10), ("python", 14)]
    assert got[0].text == "x = 1\n"
    assert got[1].text == "```\nmake test\n"
    assert got[2].text == "y = x\n"
    assert command_lines("a \\\n  b  # c\n# d\n$ e\n") == ["a  b", "e"]


def test_every_page_is_collected() -> None:
    """The pages include the README, the docs and the case studies' READMEs."""
    names = {_rel(p) for p in PAGES}
    assert "README.md" in names
    assert "docs/index.md" in names
    assert any(n.startswith("docs/case_studies/") for n in names)
