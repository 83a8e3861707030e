"""The allow-list: what an expression in a formula may say, checked before anything runs.

A formula is data, never code. Every expression a formula holds (the response, each argument of
``cbind()`` and ``offset()``, every call of the fixed part and inside a bar) is parsed with
Python's :mod:`ast` and every node is walked *before* anything is evaluated, at parse time and
again each time a model evaluates it (on the fitted data, and on new data at predict time).

Allowed:

* names: columns of the data (plain, ```backticked```, or R's ``dotted.names``) and the
  constant ``pi``;
* numbers; ``+ - * / // % **`` (R's ``^``), comparisons, ``& | ~ and or not``;
* calls of the transforms in :data:`TRANSFORMS` (R's and formulaic's: ``log``, ``exp``,
  ``sqrt``, ``I``, ``C``, ``poly``, ``scale`` ...), each with only its own arguments, and of the
  functions a user passes explicitly as ``transforms={"name": function}``;
* string literals only where a transform takes a name: ``Q('my x')``, ``C(f, 'sum')``,
  ``C(f, levels=['b', 'a'])``.

Everything else is refused with :class:`~hiermix.errors.UnsafeFormulaError`, a caret under the
refused piece: attribute access, subscripts, lambdas, comprehensions, ``:=``, ``*args``/
``**kwargs``, dunder names, braces, lists outside ``levels=``, and any other call.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import FormulaSyntaxError, UnsafeFormulaError

#: Names that evaluate to a number rather than to a column.
CONSTANTS: dict[str, float] = {"pi": math.pi}

#: Deepest expression tree accepted (in AST nodes); deeper ones are refused, never recursed into.
MAX_DEPTH = 64

#: Integer-valued arguments must lie within these bounds (``poly(x, 1000000)`` is refused).
INT_RANGES: dict[str, tuple[int, int]] = {"degree": (1, 20), "digits": (-15, 15),
                                          "ddof": (0, 10)}


@dataclass(frozen=True)
class Transform:
    """The arguments one allowed transform takes.

    Attributes
    ----------
    args : tuple of str
        Kind of each positional argument: ``"expr"`` (an expression of columns), ``"name"``
        (a string literal naming a column), ``"contrast"``, ``"int"``, ``"bool"``, ``"levels"``
        (a list of literals).
    required : int
        How many of ``args`` must be given.
    keywords : dict of str to str
        Keyword arguments and their kinds.
    stateful : bool
        Learned on the fitted data (centering, polynomial bases, levels); refused in
        ``offset()``, which is recomputed from new data at predict time.
    structural : bool
        ``offset()`` and ``cbind()``: allowed only where the grammar puts them.
    """

    args: tuple[str, ...] = ("expr",)
    required: int = 1
    keywords: dict[str, str] = field(default_factory=dict)
    stateful: bool = False
    structural: bool = False


#: Elementwise numpy transforms, refused where their result is not finite.
ELEMENTWISE = ("log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs",
                "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan",
                "sinh", "cosh", "tanh")

#: Every function a formula may call without ``transforms=``.
TRANSFORMS: dict[str, Transform] = {
    **{name: Transform() for name in ELEMENTWISE},
    "round": Transform(("expr", "int"), keywords={"digits": "int"}),
    "I": Transform(),
    "Q": Transform(("name",)),
    "C": Transform(("expr", "contrast"), keywords={"contrasts": "contrast", "levels": "levels"},
                   stateful=True),
    "factor": Transform(keywords={"levels": "levels"}, stateful=True),
    "poly": Transform(("expr", "int"), keywords={"degree": "int", "raw": "bool"},
                      stateful=True),
    "scale": Transform(keywords={"center": "bool", "scale": "bool", "ddof": "int"},
                       stateful=True),
    "center": Transform(stateful=True),
    "offset": Transform(structural=True),
    "cbind": Transform(("expr", "expr"), required=2, structural=True),
}

#: R spellings rewritten to the name hiermix evaluates (``as.factor`` is not Python).
ALIASES: dict[str, str] = {"as.factor": "factor", "TRUE": "True", "FALSE": "False"}

#: Contrast spellings accepted by ``C(f, <contrast>)`` -> formulaic's contrast kind.
CONTRASTS: dict[str, str] = {}
for _kind in ("treatment", "sum", "helmert", "poly", "diff", "SAS"):
    for _spelling in (_kind, _kind.capitalize(), f"contr.{_kind}"):
        CONTRASTS[_spelling] = _kind.lower()

_ALLOWED_TEXT = ("allowed: column names (`backticked` if they are not plain names), numbers, "
                 "pi, + - * / ^ and comparisons, and the transforms "
                 + ", ".join(sorted(set(TRANSFORMS) | {"as.factor"}))
                 + "; pass your own functions explicitly with transforms={'name': function}")

_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd,
            ast.BitOr)
_UNARY_OPS = (ast.UAdd, ast.USub, ast.Not, ast.Invert)
_CMP_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)

_REFUSED: list[tuple[type | tuple[type, ...], str]] = [
    (ast.Subscript, "subscripts ('[...]')"),
    (ast.Lambda, "lambda functions"),
    ((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp), "comprehensions"),
    (ast.NamedExpr, "assignments (':=')"),
    (ast.Starred, "'*' arguments"),
    ((ast.Dict, ast.Set), "braces ('{...}')"),
    ((ast.List, ast.Tuple), "lists and tuples (only as levels=[...])"),
    (ast.IfExp, "if-else expressions"),
    (ast.JoinedStr, "f-strings"),
    (ast.Slice, "slices"),
]


def is_dunder(name: str) -> bool:
    """True for ``__x__`` or a dotted name with such a part (``a.__class__``)."""
    return any(p.startswith("__") and p.endswith("__") and len(p) > 4 for p in name.split("."))


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access ('.{node.attr}')"
    for types, text in _REFUSED:
        if isinstance(node, types):
            return text
    return f"this construct ({type(node).__name__})"


@dataclass
class _Prepared:
    """Expression text ready for :func:`ast.parse`, with a map back to the formula."""

    text: str
    where: list[int]
    names: dict[str, str]  # placeholder identifier -> column name


def _prepare(source: str, formula: str, base: int, strict: bool = False) -> _Prepared:
    """Turn formula text into Python text: backticked and dotted names become placeholder
    identifiers, R's ``^`` becomes ``**`` and ``as.factor`` becomes ``factor``.

    With ``strict``, only backticked names are replaced: the text is read exactly as Python
    (inside formulaic) will read it, so ``a.b`` is attribute access and ``^`` is xor, and both
    are refused. Positions are kept in ``where`` so that a refusal points at the formula's own
    character.
    """
    prefix = "_hm"
    while prefix in source:
        prefix += "_"
    out: list[str] = []
    where: list[int] = []
    names: dict[str, str] = {}

    def emit(text: str, at: int) -> None:
        out.append(text)
        where.extend([base + at] * len(text))

    def placeholder(name: str, at: int) -> None:
        if not name:
            raise FormulaSyntaxError("empty backticked name", formula, base + at)
        if is_dunder(name):
            raise UnsafeFormulaError(f"dunder name {name!r} refused", formula, base + at,
                                     _ALLOWED_TEXT)
        key = f"{prefix}{len(names)}_"
        names[key] = name
        emit(key, at)

    if "\\" in source:
        # refused everywhere: formulaic and Python would not agree on where strings and
        # backticked names end, and no column name or level needs one
        raise UnsafeFormulaError("backslashes are refused in a formula", formula,
                                 base + source.index("\\"), _ALLOWED_TEXT)
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in "'\"":
            j = i + 1
            while j < n and source[j] != ch:
                j += 1
            if j >= n:
                raise FormulaSyntaxError("unterminated string", formula, base + i)
            for k in range(i, j + 1):
                emit(source[k], k)
            i = j + 1
        elif ch == "`":
            j = source.find("`", i + 1)
            if j < 0:
                raise FormulaSyntaxError("unterminated backtick", formula, base + i)
            name = source[i + 1 : j]
            if any(c in name for c in "'\""):
                raise UnsafeFormulaError("quotes inside a backticked name are refused",
                                         formula, base + i, _ALLOWED_TEXT)
            placeholder(name, i)
            i = j + 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i
            while j < n and (source[j].isalnum() or source[j] in "_."):
                j += 1
            emit(source[i:j], i)  # Python reads the number (or refuses it)
            i = j
        elif ch.isalpha() or ch in "_.":
            j = i
            while j < n and (source[j].isalnum() or source[j] in "_."):
                j += 1
            word = source[i:j]
            before = source[:i].rstrip()[-1:]
            if strict or (word.startswith(".") and before in (")", "]")):
                emit(word, i)  # attribute access on a result: let the walk refuse it by name
            elif word in ALIASES:
                emit(ALIASES[word], i)
            elif "." in word:
                placeholder(word, i)  # R's dotted names are column names, never attributes
            else:
                emit(word, i)
            i = j
        elif ch == "^" and not strict:
            emit("**", i)
            i += 1
        elif ch in "\n\r\t\f\v":
            emit(" ", i)
            i += 1
        else:
            emit(ch, i)
            i += 1
    text = "".join(out)
    lead = len(text) - len(text.lstrip())
    return _Prepared(text[lead:], where[lead:], names)


@dataclass(frozen=True)
class CheckedExpression:
    """An expression that passed the allow-list.

    Attributes
    ----------
    tree : ast.Expression
        The parsed expression (placeholders for backticked and dotted names).
    text : str
        The Python text that was parsed.
    canonical : str
        The same expression with names backticked, as formulaic and hiermix evaluate it.
    names : dict of str to str
        Placeholder identifier -> column name.
    columns : tuple of str
        Columns the expression reads, in order of appearance.
    """

    tree: ast.Expression
    text: str
    canonical: str
    names: dict[str, str]
    columns: tuple[str, ...]


class _Checker:
    def __init__(self, prepared: _Prepared, formula: str, transforms: frozenset[str],
                 allow_structural: bool, in_offset: bool) -> None:
        self.p = prepared
        self.formula = formula
        self.transforms = transforms
        self.allow_structural = allow_structural
        self.in_offset = in_offset
        self.columns: list[str] = []

    def position(self, node: ast.AST) -> int | None:
        col = getattr(node, "col_offset", None)
        if isinstance(node, ast.Attribute) and node.end_col_offset is not None:
            col = node.end_col_offset - len(node.attr.encode("utf-8")) - 1  # at the dot
        if col is None:
            return self.p.where[0] if self.p.where else None
        chars = len(self.p.text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        if chars < len(self.p.where):
            return self.p.where[chars]
        return self.p.where[-1] if self.p.where else None

    def refuse(self, node: ast.AST, reason: str) -> UnsafeFormulaError:
        return UnsafeFormulaError(reason, self.formula, self.position(node), _ALLOWED_TEXT)

    def name_of(self, node: ast.Name) -> str:
        name = self.p.names.get(node.id, node.id)
        if is_dunder(name):
            raise self.refuse(node, f"dunder name {name!r} refused")
        return name

    def run(self, tree: ast.Expression) -> None:
        stack: list[tuple[ast.AST, str, int, str]] = [(tree.body, "expr", 1, "")]
        while stack:
            node, kind, depth, owner = stack.pop()
            if depth > MAX_DEPTH:
                raise self.refuse(node, f"the expression is nested more than {MAX_DEPTH} "
                                        "levels deep")
            if kind == "expr":
                stack.extend(self.expr(node, depth, top=depth == 1))
            else:
                self.literal(node, kind, owner)

    def expr(self, node: ast.AST, depth: int, top: bool) -> list[tuple[ast.AST, str, int, str]]:
        d = depth + 1
        if isinstance(node, ast.Name):
            name = self.name_of(node)
            if name not in CONSTANTS:
                self.columns.append(name)
            return []
        if isinstance(node, ast.Constant):
            if type(node.value) in (int, float):
                return []
            what = "text" if isinstance(node.value, str) else repr(node.value)
            raise self.refuse(node, f"{what} is not allowed here: string literals only name a "
                                    "column or a contrast, as in Q('my x') or C(f, 'sum')")
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BIN_OPS):
                raise self.refuse(node, f"operator {type(node.op).__name__} is not allowed")
            if isinstance(node.op, ast.Pow):
                self.bounded_power(node)
            return [(node.right, "expr", d, ""), (node.left, "expr", d, "")]
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY_OPS):
                raise self.refuse(node, f"operator {type(node.op).__name__} is not allowed")
            return [(node.operand, "expr", d, "")]
        if isinstance(node, ast.BoolOp):
            return [(v, "expr", d, "") for v in reversed(node.values)]
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if not isinstance(op, _CMP_OPS):
                    raise self.refuse(node, f"comparison {type(op).__name__} is not allowed")
            return [(v, "expr", d, "") for v in reversed([node.left, *node.comparators])]
        if isinstance(node, ast.Call):
            return self.call(node, d, top)
        raise self.refuse(node, f"{_describe(node)} not allowed in a formula")

    def call(self, node: ast.Call, d: int, top: bool) -> list[tuple[ast.AST, str, int, str]]:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.refuse(func, f"calling '.{func.attr}()' is refused: attribute access "
                                    "and methods are not allowed in a formula")
        if not isinstance(func, ast.Name):
            raise self.refuse(node, f"{_describe(func)} cannot be called; only the allowed "
                                    "transforms can")
        name = self.p.names.get(func.id, func.id)
        if is_dunder(name):
            raise self.refuse(func, f"dunder name {name!r} refused")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.refuse(a, "'*' arguments are not allowed")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.refuse(kw.value, "'**' arguments are not allowed")
        if func.id in self.transforms:
            if node.keywords:
                raise self.refuse(node.keywords[0].value,
                                  f"{name}() is your own transform: pass its arguments by "
                                  "position")
            return [(a, "expr", d, "") for a in reversed(node.args)]
        spec = TRANSFORMS.get(func.id) if func.id == name else None
        if spec is None:
            raise self.refuse(func, f"unknown function {name!r}")
        if spec.structural and not (top and self.allow_structural):
            raise self.refuse(func, f"{name}() must stand alone as a term "
                                    f"({'the response' if name == 'cbind' else 'of the sum'})")
        if name == "offset":
            self.in_offset = True  # structural, hence outermost: everything below is inside
        if spec.stateful and self.in_offset:
            raise self.refuse(func, f"{name}() is learned from the fitted data and cannot be "
                                    "used inside offset()")
        if not spec.required <= len(node.args) <= len(spec.args):
            many = f"{spec.required}" if spec.required == len(spec.args) else \
                f"{spec.required} to {len(spec.args)}"
            plural = "" if many == "1" else "s"
            raise self.refuse(node, f"{name}() takes {many} argument{plural} by position, "
                                    f"not {len(node.args)}")
        todo: list[tuple[ast.AST, str, int, str]] = []
        for a, kind in zip(node.args, spec.args, strict=False):
            todo.append((a, kind, d, name))
        seen: set[str] = set()
        for kw in node.keywords:
            arg = str(kw.arg)
            if arg not in spec.keywords:
                raise self.refuse(kw.value, f"{name}() takes no argument {arg!r}"
                                  + (f" (it takes {', '.join(spec.keywords)})"
                                     if spec.keywords else ""))
            if arg in seen:
                raise self.refuse(kw.value, f"argument {arg!r} given twice")
            seen.add(arg)
            todo.append((kw.value, spec.keywords[arg], d, arg))
        return todo[::-1]

    def literal(self, node: ast.AST, kind: str, owner: str) -> None:
        value = _literal_value(node)
        if kind == "name":
            if not isinstance(value, str):
                raise self.refuse(node, "Q() takes a column name in quotes, as in Q('my x')")
            if is_dunder(value):
                raise self.refuse(node, f"dunder name {value!r} refused")
            self.columns.append(value)
        elif kind == "int":
            if type(value) is not int:
                raise self.refuse(node, f"{owner} must be a whole number")
            lo, hi = INT_RANGES[{"poly": "degree", "round": "digits"}.get(owner, owner)]
            if not lo <= value <= hi:
                raise self.refuse(node, f"{owner} must be between {lo} and {hi}")
        elif kind == "bool":
            if type(value) is not bool:
                raise self.refuse(node, f"{owner} must be True or False")
        elif kind == "levels":
            ok = isinstance(node, ast.List | ast.Tuple) and len(node.elts) <= 100_000
            if not ok or any(type(_literal_value(e)) not in (str, int, float, bool)
                             for e in node.elts):  # type: ignore[attr-defined]
                raise self.refuse(node, "levels must be a list of literal values, as in "
                                        "levels=['b', 'a']")
        elif kind == "contrast":
            self.contrast(node)

    def contrast(self, node: ast.AST) -> None:
        known = ", ".join(sorted({k for k in CONTRASTS if "." not in k and k.islower()}))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value not in CONTRASTS and node.value.lower() not in CONTRASTS:
                raise self.refuse(node, f"unknown contrast {node.value!r} (known: {known})")
            return
        if isinstance(node, ast.Name):
            spelled = self.p.names.get(node.id, node.id)
            if spelled not in CONTRASTS or spelled in TRANSFORMS:
                raise self.refuse(node, f"unknown contrast (known: {known})")
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                self.p.names.get(node.func.id, node.func.id) in CONTRASTS and \
                node.func.id not in TRANSFORMS:
            if len(node.args) > 1 or any(k.arg not in ("reference", "base")
                                         for k in node.keywords):
                raise self.refuse(node, "a contrast takes at most its reference level, as in "
                                        "Treatment('b') or contr.treatment(base=2)")
            for v in [*node.args, *(k.value for k in node.keywords)]:
                if type(_literal_value(v)) not in (str, int, float):
                    raise self.refuse(v, "a reference level must be a literal")
            return
        raise self.refuse(node, f"a contrast is a name such as 'sum' or Treatment (known: "
                                f"{known})")

    def bounded_power(self, node: ast.BinOp) -> None:
        """Refuse powers of literals too large to compute (``I(9**9**9)`` would hang)."""
        try:
            value = _float_fold(node)
        except (OverflowError, ZeroDivisionError, ValueError):
            raise self.refuse(node, "this power of numbers is too large to compute") from None
        if value is not None and not (abs(value) < 1e300):
            raise self.refuse(node, "this power of numbers is too large to compute")


def _literal_value(node: ast.AST) -> object:
    """The value of a literal (``-2`` included), or a sentinel for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and \
            isinstance(node.operand.value, int | float) and \
            not isinstance(node.operand.value, bool):
        return -node.operand.value
    return _NOT_LITERAL


_NOT_LITERAL = object()


def _float_fold(node: ast.AST) -> float | None:
    """The float value of an expression of number literals, None if it reads a column.

    Iterative, so depth is no concern; raises OverflowError for values beyond floats.
    """
    order: list[ast.AST] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        order.append(cur)
        if isinstance(cur, ast.BinOp):
            stack += [cur.left, cur.right]
        elif isinstance(cur, ast.UnaryOp):
            stack.append(cur.operand)
        elif not (isinstance(cur, ast.Constant) and type(cur.value) in (int, float, bool)):
            return None
    value: dict[int, float] = {}
    for cur in reversed(order):
        if isinstance(cur, ast.Constant):
            value[id(cur)] = float(cur.value)  # type: ignore[arg-type]  # a number, see above
        elif isinstance(cur, ast.UnaryOp):
            v = value[id(cur.operand)]
            value[id(cur)] = -v if isinstance(cur.op, ast.USub) else v
        elif isinstance(cur, ast.BinOp):
            a, b = value[id(cur.left)], value[id(cur.right)]
            if isinstance(cur.op, ast.Pow):
                r = math.pow(abs(a), b) if a != 0 or b >= 0 else math.inf
            elif isinstance(cur.op, ast.Mult):
                r = a * b
            else:
                r = abs(a) + abs(b)  # + - / // % & | never grow beyond this bound
            if not math.isfinite(r):
                raise OverflowError
            value[id(cur)] = r
    return value[id(node)]


def check_expression(expr: str, *, formula: str | None = None, at: int = 0,
                     transforms: Iterable[str] = (), allow_structural: bool = False,
                     in_offset: bool = False, strict: bool = False) -> CheckedExpression:
    """Parse one expression of a formula and walk every node against the allow-list.

    Parameters
    ----------
    expr : str
        R-flavoured expression text, e.g. ``"log(`my x`) + x^2"``.
    formula : str or None
        The whole formula, to point into (``expr`` itself when None).
    at : int
        Position of ``expr`` in ``formula``.
    transforms : iterable of str
        Names of the user's own functions (``Model(..., transforms=...)``).
    allow_structural : bool
        Allow ``offset()``/``cbind()`` as the outermost call (the parser places them).
    in_offset : bool
        Refuse transforms learned from the fitted data.
    strict : bool
        Read the text exactly as Python will (for factors formulaic evaluates itself): no
        dotted names, no ``^`` for power, no R aliases.

    Returns
    -------
    CheckedExpression

    Raises
    ------
    UnsafeFormulaError
        Anything outside the allow-list, with a caret under it.
    FormulaSyntaxError
        Text that is not an expression at all.
    """
    if not isinstance(expr, str):
        raise FormulaSyntaxError(f"an expression must be a string, not {type(expr).__name__}",
                                 str(formula or ""))
    return _check(expr, formula if formula is not None else expr, at,
                  frozenset(transforms), allow_structural, in_offset, strict)


@lru_cache(maxsize=1024)
def _check(expr: str, formula: str, at: int, transforms: frozenset[str],
           allow_structural: bool, in_offset: bool, strict: bool) -> CheckedExpression:
    prepared = _prepare(expr, formula, at, strict)
    if not prepared.text.strip():
        raise FormulaSyntaxError("empty expression", formula, at)
    try:
        tree = ast.parse(prepared.text, mode="eval")
    except SyntaxError as err:
        col = (err.offset or 1) - 1
        pos = prepared.where[min(col, len(prepared.where) - 1)] if prepared.where else at
        raise FormulaSyntaxError(f"cannot read {expr.strip()!r}: {err.msg}", formula,
                                 pos) from None
    except (MemoryError, RecursionError, ValueError):
        raise FormulaSyntaxError(f"cannot read {expr.strip()[:60]!r}: too complex", formula,
                                 at) from None
    checker = _Checker(prepared, formula, transforms, allow_structural, in_offset)
    checker.run(tree)
    canonical = prepared.text
    for key, name in prepared.names.items():
        canonical = canonical.replace(key, f"`{name}`")
    return CheckedExpression(tree=tree, text=prepared.text, canonical=canonical.strip(),
                             names=dict(prepared.names),
                             columns=tuple(dict.fromkeys(checker.columns)))


def expression_columns(expr: str, transforms: Iterable[str] = ()) -> list[str]:
    """Columns an expression reads (after checking it); ``pi`` and function names excluded."""
    return list(check_expression(expr, transforms=transforms).columns)


def check_formulaic(formula: str, transforms: Iterable[str] = ()) -> list[str]:
    """Check a formulaic formula (a fixed part or the inside of a bar) before formulaic sees it.

    Two passes: hiermix's tokenizer (which refuses braces, brackets and quotes outside calls,
    and checks every call), then every factor formulaic itself would evaluate.

    Returns
    -------
    list of str
        Columns the formula reads.

    Raises
    ------
    UnsafeFormulaError, FormulaSyntaxError
    """
    return list(_check_formulaic(formula, frozenset(transforms)))


@lru_cache(maxsize=512)
def _check_formulaic(formula: str, names: frozenset[str]) -> tuple[str, ...]:
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    from .tokens import Kind, tokenize

    for t in tokenize(formula, transforms=names):
        if t.kind is Kind.CALL and TRANSFORMS.get(t.name, Transform()).structural:
            raise UnsafeFormulaError(f"{t.name}() cannot appear here", formula, t.start,
                                     _ALLOWED_TEXT)
    try:
        parsed = Formula(formula)
    except (FormulaicError, SyntaxError, RecursionError, MemoryError, ValueError) as err:
        raise FormulaSyntaxError(f"cannot read {formula!r}: {err}", formula) from None
    return tuple(check_factors(parsed, formula, names))


def check_factors(terms: Iterable[object], formula: str, transforms: Iterable[str] = ()
                  ) -> list[str]:
    """Check every factor of formulaic terms as formulaic would evaluate it.

    Parameters
    ----------
    terms : iterable of formulaic Term
        For example a parsed ``Formula`` or a formulaic ``ModelSpec.formula``.
    formula : str
        Shown in errors.
    transforms : iterable of str
        Names of the user's own functions.

    Returns
    -------
    list of str
        Columns the factors read.
    """
    names = frozenset(transforms)
    columns: list[str] = []
    for term in terms:
        for factor in getattr(term, "factors", ()):
            method = str(getattr(factor.eval_method, "value", factor.eval_method))
            expr = str(factor.expr)
            if method == "lookup":
                if is_dunder(expr):
                    raise UnsafeFormulaError(f"dunder name {expr!r} refused", formula,
                                             formula.find(expr), _ALLOWED_TEXT)
                columns.append(expr)
            elif method == "python":
                # formulaic evaluates this text itself: read it exactly as Python will
                columns.extend(check_expression(expr, transforms=names, strict=True).columns)
            elif method == "literal":
                try:
                    value = ast.literal_eval(expr)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    value = None
                if type(value) not in (int, float):
                    raise UnsafeFormulaError(f"literal {expr!r} refused", formula,
                                             formula.find(expr), _ALLOWED_TEXT)
            else:
                raise UnsafeFormulaError(f"{expr!r} refused", formula, None, _ALLOWED_TEXT)
    return list(dict.fromkeys(columns))


def allowed_text() -> str:
    """What a formula may contain, in one sentence (for error messages and docs)."""
    return _ALLOWED_TEXT
