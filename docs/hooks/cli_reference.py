"""MkDocs hook: the command line reference, written from ``hiermix.cli._parser()``.

``docs/cli.md`` holds the prose; the line ``<!-- cli-reference -->`` is replaced at build time
by one section per command, with its usage line and a table of every argument and option,
its default and its help text, read from the argparse parser itself. A new option therefore
appears in the reference without anyone editing the page.
"""

from __future__ import annotations

import argparse
import html
import re
from typing import Any

MARKER = "<!-- cli-reference -->"


def _cell(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _default(action: argparse.Action) -> str:
    if action.required or action.default in (None, argparse.SUPPRESS):
        return "required" if action.required else ""
    if isinstance(action, argparse._StoreConstAction | argparse._StoreTrueAction
                  | argparse._StoreFalseAction):
        return ""
    return f"`{action.default}`"


def _names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()}`"
    takes_value = action.nargs != 0
    metavar = action.metavar or action.dest.upper()
    return ", ".join(f"`{o} {metavar}`" if takes_value else f"`{o}`"
                     for o in action.option_strings)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)
    return out


def _exclusive(parser: argparse.ArgumentParser) -> list[str]:
    return [" / ".join(f"`{a.option_strings[0]}`" for a in g._group_actions)
            for g in parser._mutually_exclusive_groups]


def _usage_lines(parser: argparse.ArgumentParser, width: int = 88) -> list[str]:
    """The usage line wrapped between whole items (``[--nagq NAGQ]`` stays on one line)."""
    usage = " ".join(parser.format_usage().removeprefix("usage: ").split())
    lines = [""]
    for item in re.findall(r"\[[^\[\]]*\]|\S+", usage):
        if lines[-1] and len(lines[-1]) + 1 + len(item) > width:
            lines.append("    ")
        lines[-1] += (" " if lines[-1].strip() else "") + item
    return lines


def render(parser: argparse.ArgumentParser) -> str:
    """Markdown: one section per subcommand of ``parser`` (or the parser itself)."""
    subs = _subcommands(parser) or {"": parser}
    out = []
    for name, sub in subs.items():
        out.append(f"## `{parser.prog} {name}`" if name else f"## `{parser.prog}`")
        if sub.description:
            out += ["", _cell(sub.description)]
        out += ["", "```text", *_usage_lines(sub), "```", ""]
        out += ["| argument or option | default | meaning |", "|---|---|---|"]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            out.append(f"| {_names(action)} | {_default(action)} | {_cell(action.help or '')} |")
        for group in _exclusive(sub):
            out += ["", f"Only one of {group} may be given."]
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from hiermix.cli import _parser

    return markdown.replace(MARKER, render(_parser()))
