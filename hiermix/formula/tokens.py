"""Phase 1 of parsing: split an lme4 formula into tokens that remember where they came from.

The tokenizer knows just enough R formula syntax to find the operators that matter to a mixed
model (``~``, ``+``, ``-``, ``|``, ``||``, ``/``, ``:`` and parentheses). Function calls such as
``log(x)``, ``I(x^2)``, ``offset(log(n))`` or ``cbind(s, n - s)`` are kept whole as one ``CALL``
token. Each call is checked against the allow-list (:mod:`hiermix.formula.allowlist`) as soon
as it is read, and its text replaced by the checked, canonical text: R's ``^`` (power) becomes
Python's ``**`` (in Python ``^`` is bitwise xor, which would silently compute something else),
``dotted.names`` become ```backticked``` column names and ``as.factor`` becomes ``factor``.

Nothing here recurses, and parentheses nest at most :data:`MAX_PAREN_DEPTH` deep, so a
pathological formula is refused with a :class:`FormulaSyntaxError`, never a RecursionError.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from ..errors import FormulaSyntaxError, UnsafeFormulaError
from .allowlist import allowed_text, check_expression, is_dunder

#: Deepest nesting of parentheses accepted in a formula.
MAX_PAREN_DEPTH = 100


class Kind(Enum):
    NAME = "name"  # a bare or `backticked` variable name
    NUMBER = "number"
    CALL = "call"  # name(...) kept whole
    OP = "op"  # ~ + - * / : ^ | || %in%
    LPAREN = "("
    RPAREN = ")"


@dataclass(frozen=True)
class Token:
    """One token: its kind, its text as Python should see it, and its span in the formula."""

    kind: Kind
    text: str
    start: int
    end: int
    name: str = ""  # for CALL: the function name, for NAME: the column name (no backticks)

    def __repr__(self) -> str:
        return f"{self.kind.name}({self.text!r}@{self.start})"


_OPERATORS = ("||", "**", "%in%", "~", "+", "-", "*", "/", ":", "^", "|")


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_."


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_."


def _scan_string(formula: str, i: int) -> int:
    """Return the index just past the string literal that starts at ``i``."""
    quote = formula[i]
    j = i + 1
    while j < len(formula):
        if formula[j] == "\\":
            j += 2
            continue
        if formula[j] == quote:
            return j + 1
        j += 1
    raise FormulaSyntaxError("unterminated string", formula, i)


def _scan_call(formula: str, open_at: int) -> tuple[int, str]:
    """Scan a call's argument list from the ``(`` at ``open_at``.

    Returns the index past the matching ``)`` and the argument text with R's ``^`` turned
    into Python's ``**``.
    """
    depth = 0
    out: list[str] = []
    j = open_at
    while j < len(formula):
        ch = formula[j]
        if ch in "'\"":
            end = _scan_string(formula, j)
            out.append(formula[j:end])
            j = end
            continue
        if ch == "(":
            depth += 1
            if depth > MAX_PAREN_DEPTH:
                raise FormulaSyntaxError(f"parentheses nested more than {MAX_PAREN_DEPTH} "
                                         "deep", formula, j)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(ch)
                return j + 1, "".join(out)
        elif ch == "^":
            out.append("**")
            j += 1
            continue
        out.append(ch)
        j += 1
    raise FormulaSyntaxError("unbalanced parenthesis: this '(' is never closed", formula, open_at)


def tokenize(formula: str, transforms: Iterable[str] = ()) -> list[Token]:
    """Split ``formula`` into tokens, checking every call against the allow-list.

    Parameters
    ----------
    formula : str
        An lme4-style formula such as ``"y ~ x + (1 + x | g)"``.
    transforms : iterable of str
        Names of the user's own functions, allowed in calls (``Model(..., transforms=...)``).

    Returns
    -------
    list of Token
        In order of appearance; whitespace is dropped.

    Raises
    ------
    FormulaSyntaxError
        On characters that have no meaning in a formula, unterminated strings or backticks,
        and unbalanced or too deeply nested parentheses (pointing at the offending character).
    UnsafeFormulaError
        A call, name or literal outside the allow-list.
    """
    if not isinstance(formula, str):
        raise FormulaSyntaxError(f"a formula must be a string, not {type(formula).__name__}", "")
    if "\\" in formula:
        raise UnsafeFormulaError("backslashes are refused in a formula", formula,
                                 formula.index("\\"), allowed_text())
    names = tuple(transforms)
    tokens: list[Token] = []
    depth_stack: list[int] = []
    i, n = 0, len(formula)
    while i < n:
        ch = formula[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            end = formula.find("`", i + 1)
            if end < 0:
                raise FormulaSyntaxError("unterminated backtick", formula, i)
            name = formula[i + 1 : end]
            if not name:
                raise FormulaSyntaxError("empty backticked name", formula, i)
            if any(c in name for c in "'\"") or is_dunder(name):
                raise UnsafeFormulaError(f"backticked name {name!r} refused (quotes and "
                                         "dunder names are not column names here)", formula, i,
                                         allowed_text())
            tokens.append(Token(Kind.NAME, formula[i : end + 1], i, end + 1, name))
            i = end + 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and formula[i + 1].isdigit()):
            j = i
            while j < n and (formula[j].isdigit() or formula[j] in ".eE"):
                j += 1
            tokens.append(Token(Kind.NUMBER, formula[i:j], i, j))
            i = j
            continue
        if _is_name_start(ch):
            j = i
            while j < n and _is_name_char(formula[j]):
                j += 1
            name = formula[i:j]
            k = j
            while k < n and formula[k] == " ":
                k += 1
            if k < n and formula[k] == "(":
                end, _ = _scan_call(formula, k)
                checked = check_expression(formula[i:end], formula=formula, at=i,
                                           transforms=names, allow_structural=True)
                call = checked.tree.body
                func = call.func.id if isinstance(call, ast.Call) and \
                    isinstance(call.func, ast.Name) else name
                tokens.append(Token(Kind.CALL, checked.canonical, i, end, func))
                i = end
                continue
            if is_dunder(name):
                raise UnsafeFormulaError(f"dunder name {name!r} refused", formula, i,
                                         allowed_text())
            tokens.append(Token(Kind.NAME, name, i, j, name))
            i = j
            continue
        if ch == "(":
            if len(depth_stack) >= MAX_PAREN_DEPTH:
                raise FormulaSyntaxError(f"parentheses nested more than {MAX_PAREN_DEPTH} "
                                         "deep", formula, i)
            depth_stack.append(i)
            tokens.append(Token(Kind.LPAREN, "(", i, i + 1))
            i += 1
            continue
        if ch == ")":
            if not depth_stack:
                raise FormulaSyntaxError("unbalanced parenthesis: ')' without '('", formula, i)
            depth_stack.pop()
            tokens.append(Token(Kind.RPAREN, ")", i, i + 1))
            i += 1
            continue
        if ch in "{}":
            raise UnsafeFormulaError("braces are refused: formulaic's {...} blocks would run "
                                     "Python code", formula, i, allowed_text())
        for op in _OPERATORS:
            if formula.startswith(op, i):
                tokens.append(Token(Kind.OP, op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise FormulaSyntaxError(f"unexpected character {ch!r}", formula, i)
    if depth_stack:
        raise FormulaSyntaxError(
            "unbalanced parenthesis: this '(' is never closed", formula, depth_stack[-1]
        )
    return tokens


def python_text(tokens: list[Token], python: bool = False) -> str:
    """Join tokens back into text for formulaic or Python (with R's ``^`` already rewritten).

    Formula-level ``^`` (as in ``(a + b)^2``) is kept for formulaic, which reads it as R does;
    with ``python=True`` (a response expression, which Python evaluates) it becomes ``**``.
    """
    out = ""
    for t in tokens:
        if t.kind is Kind.OP:
            op = "**" if python and t.text == "^" else t.text
            out = out.rstrip() + f" {op} "
        else:
            out += t.text
    return out.strip()
