"""Evaluate a checked expression of columns without ``eval``: a walk over its syntax tree.

The response, the arguments of ``cbind()`` and ``offset()`` are expressions hiermix computes
itself. They are checked by :func:`hiermix.formula.allowlist.check_expression` and then
computed node by node here, so nothing in a formula ever reaches Python's ``eval``: a name is a
column or ``pi``, an operator is numpy's, a call is one of the allowed transforms or a function
the user passed as ``transforms=``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, HiermixError, UnknownColumnError
from .allowlist import CONSTANTS, ELEMENTWISE, CheckedExpression, check_expression
from .transforms import apply_elementwise, as_numbers

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def column_values(col: pd.Series) -> Any:
    """A column as the expression sees it: floats for numbers, the Series otherwise."""
    if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
        return col
    if pd.api.types.is_string_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return col
    return col.to_numpy(dtype=float)


class _Interpreter:
    def __init__(self, checked: CheckedExpression, frame: pd.DataFrame,
                 transforms: Mapping[str, Callable[..., Any]]) -> None:
        self.checked = checked
        self.frame = frame
        self.transforms = transforms

    def source(self, node: ast.AST) -> str:
        text = ast.unparse(node)
        for key, name in self.checked.names.items():
            text = text.replace(key, f"`{name}`")
        return text

    def column(self, name: str) -> Any:
        if name in self.frame.columns:
            return column_values(self.frame[name])
        if name in CONSTANTS:
            return CONSTANTS[name]
        raise UnknownColumnError(name, [str(c) for c in self.frame.columns])

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.column(self.checked.names.get(node.id, node.id))
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self.value(node.left), self.value(node.right))
        if isinstance(node, ast.UnaryOp):
            v = self.value(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.Not):
                return np.logical_not(v)
            if isinstance(node.op, ast.Invert):
                return np.invert(v)
            return v
        if isinstance(node, ast.BoolOp):
            values = [np.asarray(self.value(v), dtype=bool) for v in node.values]
            ufunc = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return ufunc.reduce(np.broadcast_arrays(*values))
        if isinstance(node, ast.Compare):
            left, out = self.value(node.left), None
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.value(right_node)
                step = np.asarray(_COMPARE[type(op)](left, right), dtype=bool)
                out = step if out is None else out & step
                left = right
            return out
        if isinstance(node, ast.Call):
            return self.call(node)
        # unreachable for a checked expression; kept total
        raise DataError(f"cannot evaluate {self.source(node)!r}")

    def call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]  # checked: a plain name
        args = [self.value(a) if not _is_text(a) else a.value  # type: ignore[attr-defined]
                for a in node.args]
        kwargs = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
        if name in self.transforms:
            return np.asarray(self.transforms[name](*args))
        if name in ELEMENTWISE:
            arg = node.args[0]
            label = (f"column {self.checked.names.get(arg.id, arg.id)!r}"
                     if isinstance(arg, ast.Name) else f"'{self.source(arg)}'")
            return apply_elementwise(name, args[0], label)
        if name == "I":
            return args[0]
        if name == "Q":
            return self.column(args[0])
        if name == "round":
            digits = kwargs.get("digits", args[1] if len(args) > 1 else 0)
            return np.round(as_numbers(args[0], "round()"), int(digits))
        if name in ("C", "factor"):
            return args[0]
        if name in ("center", "scale"):
            x = as_numbers(args[0], f"{name}()")
            if name == "center" or kwargs.get("center", True):
                x = x - x.mean()
            if name == "scale" and kwargs.get("scale", True):
                x = x / x.std(ddof=int(kwargs.get("ddof", 1)))
            return x
        raise DataError(f"{name}() gives several columns or a category: it cannot be used in "
                        f"'{self.source(node)}' (the response or an offset)")


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def evaluate(expr: str, frame: pd.DataFrame,
             transforms: Mapping[str, Callable[..., Any]] | None = None,
             in_offset: bool = False) -> np.ndarray:
    """Check ``expr`` against the allow-list, then compute it from the frame's columns.

    Parameters
    ----------
    expr : str
        A response, a ``cbind()`` argument or an ``offset()`` argument, e.g. ``"log(n)"``.
    frame : DataFrame
        Holds the columns the expression reads.
    transforms : mapping of str to callable, optional
        The user's own functions (``Model(..., transforms=...)``).
    in_offset : bool
        Refuse transforms learned from the fitted data (they would be recomputed on new data).

    Returns
    -------
    ndarray
        Shape (n,) for an expression of columns; a 0-d array for a constant.

    Raises
    ------
    UnsafeFormulaError
        Anything outside the allow-list (nothing is evaluated).
    UnknownColumnError, TransformDomainError, DataError
        A missing column, ``log`` of a negative value, arithmetic on text...
    """
    user = dict(transforms or {})
    checked = check_expression(expr, transforms=user.keys(), in_offset=in_offset)
    try:
        with np.errstate(all="ignore"):
            value = _Interpreter(checked, frame, user).value(checked.tree.body)
    except HiermixError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError) as err:
        raise DataError(f"cannot compute {checked.canonical!r}: {err}") from None
    if in_offset:
        try:
            return np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"offset({checked.canonical}) must be numeric; its value is text "
                            "or categorical") from None
    return np.asarray(value)
