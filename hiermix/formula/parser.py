"""Phase 2 of parsing: tokens -> response, fixed part, random terms, offsets -> ModelSpec.

lme4 semantics (Bates et al. 2015, JSS, Table 2):

=================================  ==============================================
formula                            meaning
=================================  ==============================================
``(1 | g)``                        random intercept per level of g
``x + (x | g)``                    correlated random intercept and slope
``x + (x || g)``                   uncorrelated: one independent term per column
``(1 | g1/g2)``                    ``(1 | g2:g1) + (1 | g1)`` (lme4 names the
                                   nested factor inner:outer, e.g. ``cask:batch``)
``(1 | g1) + (1 | g2)``            crossed (or nested, if the codes say so)
``(1 | g1:g2)``                    one term over the interaction's levels
``(0 + x | g)``                    random slope without intercept
=================================  ==============================================

The fixed part and the insides of each bar are handed to formulaic, which owns the semantics of
``*``, ``:``, ``-1``, ``C()``, ``I()`` and stateful transforms. hiermix owns only what formulaic
cannot know: bars, ``offset()``, ``cbind()`` and R's ``^`` inside calls. Every expression is
checked against the allow-list (:mod:`hiermix.formula.allowlist`) while it is read: formulaic
only ever parses text that passed it, and never evaluates anything here.
"""

from __future__ import annotations

from collections.abc import Iterable

from formulaic import Formula
from formulaic.errors import FormulaicError

from ..errors import FormulaSyntaxError
from ..spec import ModelSpec, RandomTermSpec, ResponseSpec
from .allowlist import check_expression
from .tokens import Kind, Token, python_text, tokenize


def parse(formula: str, transforms: Iterable[str] = ()) -> ModelSpec:
    """Parse an lme4-style formula into a frozen, data-free :class:`ModelSpec`.

    Parameters
    ----------
    formula : str
        For example ``"Reaction ~ Days + (Days | Subject)"`` or
        ``"cbind(incidence, size - incidence) ~ period + (1 | herd)"``.
    transforms : iterable of str
        Names of the user's own functions the formula may call (``Model(..., transforms=)``).

    Returns
    -------
    ModelSpec

    Raises
    ------
    FormulaSyntaxError
        Pointing at the offending character.
    UnsafeFormulaError
        Anything outside the allow-list, before anything is evaluated.

    Examples
    --------
    >>> str(parse("y ~ x + (x || g)"))
    'y ~ 1 + x + (1 + x || g)'
    """
    if isinstance(formula, ModelSpec):
        return formula
    names = tuple(transforms)
    tokens = tokenize(formula, transforms=names)
    tildes = [i for i, t in enumerate(tokens) if t.kind is Kind.OP and t.text == "~"]
    if not tildes:
        raise FormulaSyntaxError("a model formula needs '~' between response and predictors",
                                 formula, len(formula))
    if len(tildes) > 1:
        raise FormulaSyntaxError("only one '~' is allowed", formula, tokens[tildes[1]].start)
    lhs, rhs = tokens[: tildes[0]], tokens[tildes[0] + 1 :]
    tilde_at = tokens[tildes[0]].start
    if not lhs:
        raise FormulaSyntaxError("the formula has no response before '~'", formula, tilde_at)
    if not rhs:
        raise FormulaSyntaxError("nothing after '~'", formula, tilde_at)
    response = _parse_response(lhs, formula, names)
    fixed_parts: list[str] = []
    random: list[RandomTermSpec] = []
    offsets: list[str] = []
    for sign, term in _split_additive(rhs, formula):
        kind = _classify(term, formula)
        if kind == "fixed":
            fixed_parts.append(("- " if sign == "-" else "+ ") + python_text(term))
            continue
        if sign == "-":
            what = "a random-effects term" if kind == "bar" else "an offset"
            raise FormulaSyntaxError(f"cannot subtract {what}", formula, term[0].start)
        if kind == "offset":
            offsets.append(_call_arguments(term[0], formula, expected=1)[0])
        else:
            random.extend(_parse_bar(term, formula))
    fixed = _canonical_fixed(" ".join(fixed_parts), formula, rhs[0].start)
    return ModelSpec(response=response, fixed=fixed, random=tuple(random),
                     offsets=tuple(offsets), formula=formula)


def _parse_response(lhs: list[Token], formula: str, transforms: tuple[str, ...]
                    ) -> ResponseSpec:
    if len(lhs) == 1 and lhs[0].kind is Kind.CALL and lhs[0].name == "cbind":
        args = _call_arguments(lhs[0], formula, expected=2)
        return ResponseSpec(expr=args[0], failures=args[1])
    for t in lhs:
        if t.kind is Kind.OP and t.text in ("|", "||"):
            raise FormulaSyntaxError("'|' cannot appear in the response", formula, t.start)
    # the whole response is one expression hiermix computes: check it as one
    check_expression(formula[lhs[0].start : lhs[-1].end], formula=formula, at=lhs[0].start,
                     transforms=transforms)
    return ResponseSpec(expr=python_text(lhs, python=True))


def _split_additive(tokens: list[Token], formula: str) -> list[tuple[str, list[Token]]]:
    """Split at depth-0 '+' and '-' into (sign, term tokens)."""
    out: list[tuple[str, list[Token]]] = []
    depth, sign = 0, "+"
    current: list[Token] = []
    prev_op: Token | None = None
    for t in tokens:
        if t.kind is Kind.LPAREN:
            depth += 1
        elif t.kind is Kind.RPAREN:
            depth -= 1
        if depth == 0 and t.kind is Kind.OP and t.text in "+-":
            if current:
                out.append((sign, current))
            elif prev_op is not None or out:
                raise FormulaSyntaxError(f"missing term before '{t.text}'", formula, t.start)
            sign, current, prev_op = t.text, [], t
            continue
        current.append(t)
        prev_op = None
    if not current:
        at = prev_op.start if prev_op is not None else len(formula)
        raise FormulaSyntaxError("missing term at the end of the formula", formula, at)
    out.append((sign, current))
    return out


def _matching_paren(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for j in range(open_index, len(tokens)):
        if tokens[j].kind is Kind.LPAREN:
            depth += 1
        elif tokens[j].kind is Kind.RPAREN:
            depth -= 1
            if depth == 0:
                return j
    return -1  # the tokenizer guarantees balance; kept total for type checkers


def _classify(term: list[Token], formula: str) -> str:
    """Return 'bar', 'offset' or 'fixed' for one additive term."""
    if len(term) == 1 and term[0].kind is Kind.CALL and term[0].name == "offset":
        return "offset"
    bars = [t for t in term if t.kind is Kind.OP and t.text in ("|", "||")]
    if not bars:
        for t in term:
            if t.kind is Kind.CALL and t.name in ("offset", "cbind"):
                raise FormulaSyntaxError(f"{t.name}() must stand alone as a term", formula,
                                         t.start)
        return "fixed"
    if term[0].kind is Kind.LPAREN and _matching_paren(term, 0) == len(term) - 1:
        return "bar"
    raise FormulaSyntaxError(
        "a random-effects term must be enclosed in parentheses, as in (1 | g)",
        formula, bars[0].start)


def _parse_bar(term: list[Token], formula: str) -> list[RandomTermSpec]:
    inner, bar_at = term, -1
    while bar_at < 0:
        # strip one level of parentheses; the bar may sit deeper, as in ((1 | g))
        inner = inner[1:-1]
        depth = 0
        for i, t in enumerate(inner):
            if t.kind is Kind.LPAREN:
                depth += 1
            elif t.kind is Kind.RPAREN:
                depth -= 1
            elif depth == 0 and t.kind is Kind.OP and t.text in ("|", "||"):
                if bar_at >= 0:
                    raise FormulaSyntaxError("only one '|' per random-effects term", formula,
                                             t.start)
                bar_at = i
    for t in inner:
        if t.kind is Kind.CALL and t.name in ("offset", "cbind"):
            raise FormulaSyntaxError(f"{t.name}() cannot appear inside a random-effects term",
                                     formula, t.start)
    bar = inner[bar_at]
    expr_tokens, group_tokens = inner[:bar_at], inner[bar_at + 1 :]
    if not expr_tokens:
        raise FormulaSyntaxError("nothing before the bar: write (1 | g) for a random intercept",
                                 formula, bar.start)
    if not group_tokens:
        raise FormulaSyntaxError("no grouping factor after the bar", formula, bar.end)
    expr = _canonical_fixed(python_text(expr_tokens), formula, expr_tokens[0].start)
    if expr == "0":
        raise FormulaSyntaxError("a random-effects term needs at least one column",
                                 formula, expr_tokens[0].start)
    correlated = bar.text == "|"
    return [RandomTermSpec(expr=expr, group=g, correlated=correlated)
            for g in _parse_grouping(group_tokens, formula)]


def _parse_grouping(tokens: list[Token], formula: str) -> list[tuple[str, ...]]:
    """``a`` -> [(a,)]; ``a:b`` -> [(a, b)]; ``a/b`` -> [(b, a), (a,)] as lme4 expands it."""
    toks = [t for t in tokens if t.kind not in (Kind.LPAREN, Kind.RPAREN)]
    parts: list[list[str]] = [[]]
    expect_name = True
    for t in toks:
        if expect_name:
            if t.kind is not Kind.NAME:
                raise FormulaSyntaxError(
                    "a grouping factor must be a column name (or names joined by ':' or '/')",
                    formula, t.start)
            parts[-1].append(t.name)
            expect_name = False
        else:
            if t.kind is Kind.OP and t.text == ":":
                pass
            elif t.kind is Kind.OP and t.text == "/":
                parts.append([])
            else:
                raise FormulaSyntaxError(f"unexpected {t.text!r} in the grouping factor",
                                         formula, t.start)
            expect_name = True
    if expect_name:
        raise FormulaSyntaxError("the grouping factor ends with an operator", formula,
                                 toks[-1].end if toks else len(formula))
    # lme4's expandSlash: g1/g2/g3 -> g3:g2:g1, g2:g1, g1 (innermost first)
    groups: list[tuple[str, ...]] = []
    acc: tuple[str, ...] = ()
    for part in parts:
        acc = tuple(part) + acc
        groups.append(acc)
    return groups[::-1]


def _call_arguments(call: Token, formula: str, expected: int) -> list[str]:
    """Split the argument text of a CALL token at depth-0 commas."""
    text = call.text[len(call.name) :].strip()[1:-1]
    args: list[str] = []
    depth, start, quote = 0, 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
    args.append(text[start:].strip())
    if len(args) != expected or not all(args):
        raise FormulaSyntaxError(
            f"{call.name}() takes {expected} argument{'s' if expected > 1 else ''}",
            formula, call.start)
    return args


def _canonical_fixed(text: str, formula: str, at: int) -> str:
    """Normalise a fixed-effects formula with formulaic ('x' -> '1 + x', '-1 + x' -> '0 + x')."""
    text = text.strip()
    if text.startswith("+ "):
        text = text[2:]
    if not text:
        text = "1"
    elif text.startswith("- "):
        text = "1 " + text
    try:
        # parsing only: formulaic evaluates nothing until a model matrix is built
        terms = [":".join(_factor_text(f) for f in t.factors) for t in Formula(text)]
    except FormulaicError as err:
        # formulaic's first line says what is wrong; the rest is a coloured picture
        reason = str(err).strip().split("\n")[0]
        raise FormulaSyntaxError(f"cannot read {text!r}: {reason}", formula, at) from None
    except SyntaxError as err:
        raise FormulaSyntaxError(f"cannot read {text!r}: {err.msg}", formula, at) from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaSyntaxError(f"cannot read {text[:60]!r}: too complex", formula,
                                 at) from None
    if not terms:
        return "0"
    if terms[0] != "1":
        return "0 + " + " + ".join(terms)
    return " + ".join(terms)


def _factor_text(factor: object) -> str:
    """A factor as formula text; a column that is not a plain name keeps its backticks."""
    text = str(getattr(factor, "expr", factor))
    method = str(getattr(getattr(factor, "eval_method", None), "value", ""))
    if method == "lookup" and not text.replace(".", "_").isidentifier():
        return f"`{text}`"
    return text
