"""The one error hierarchy of hiermix.

Every problem caused by user input raises a subclass of :class:`HiermixError`, and the message
names the culprit (the column, term, level or value at fault). Each class also derives from the
built-in exception a Python user would expect (``ValueError``, ``KeyError``, ``TypeError``) so
that generic ``except`` clauses keep working.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

#: Warnings skip frames in this directory (``warnings.warn(..., skip_file_prefixes=...)``), so
#: they point at the user's line however deep inside hiermix they are raised.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class HiermixError(Exception):
    """Base class of every error hiermix raises on purpose."""


class FormulaSyntaxError(HiermixError, ValueError):
    """A formula that cannot be parsed; points at the offending character.

    Parameters
    ----------
    message : str
        What is wrong.
    formula : str
        The whole formula as given.
    position : int or None
        0-based index of the offending character in ``formula``.
    """

    def __init__(self, message: str, formula: str, position: int | None = None) -> None:
        self.formula = formula
        self.position = position
        self.reason = message
        text = f"{message}\n    {formula}"
        if position is not None:
            text += "\n    " + " " * position + "^"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as cls(*args); args holds the rendered text, not these arguments.
        return type(self), (self.reason, self.formula, self.position)


class UnsafeFormulaError(FormulaSyntaxError):
    """A formula that asks for something outside the allow-list (a formula is data, not code).

    Raised before anything is evaluated, with a caret under the refused piece and a line
    saying what a formula may contain (see :mod:`hiermix.formula.allowlist`).

    Parameters
    ----------
    message : str
        What was refused.
    formula : str
        The whole formula as given.
    position : int or None
        0-based index of the refused piece in ``formula``.
    allowed : str
        What is allowed instead.
    """

    def __init__(self, message: str, formula: str, position: int | None = None,
                 allowed: str = "") -> None:
        super().__init__(message, formula, position)
        self.allowed = allowed
        if allowed:
            self.args = (f"{self.args[0]}\n{allowed}",)

    def __reduce__(self) -> tuple[object, ...]:  # the default would call __init__(message)
        return (type(self), (self.reason, self.formula, self.position, self.allowed))


class UnknownColumnError(HiermixError, KeyError):
    """The formula (or an argument) names a column the data do not have."""

    def __init__(self, column: str, available: Iterable[str] = (), where: str = "") -> None:
        self.column = column
        self.where = where
        avail = list(available)
        self.available = tuple(avail)
        hint = ""
        if avail:
            close = [a for a in avail if a.lower() == column.lower()]
            shown = ", ".join(repr(a) for a in (close or avail[:12]))
            hint = f"; did you mean {shown}?" if close else f"; the data have {shown}"
            if not close and len(avail) > 12:
                hint += ", ..."
        loc = f" (in {where})" if where else ""
        self.message = f"unknown column {column!r}{loc}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.column, self.available, self.where)


class DataError(HiermixError, ValueError):
    """The data cannot be used as given (empty, non-finite values, wrong types)."""


class TransformDomainError(DataError):
    """A transform in the formula is undefined for some values (``log`` of a negative value,
    ``sqrt`` of a negative value); the message names the expression and the column."""


class ColumnTypeError(DataError, TypeError):
    """A column the model uses has a type that cannot enter a model matrix (dates, times)."""


class DuplicateColumnError(DataError):
    """The data have two or more columns of the name a model uses."""


class EmptyDataError(DataError):
    """No rows left to fit (empty frame, or every row had a missing value)."""


class MissingValueError(DataError):
    """Missing values in used columns while ``na_action="raise"``."""


class NonFiniteError(DataError):
    """Infinite values in a used column."""


class ResponseError(DataError):
    """The response cannot be used with the chosen family."""


class ResponseTypeError(ResponseError, TypeError):
    """The response has an unusable type (text, more than two categories for binomial...)."""


class ResponseSupportError(ResponseError):
    """Response values outside the support of the family (negative counts, y <= 0 for Gamma...)."""


class GroupingFactorError(DataError):
    """A grouping factor that lme4's checks refuse (one level; as many levels as observations)."""


class NewLevelError(DataError):
    """New data hold levels that the fitted model never saw, and they were not allowed."""


class FamilyError(HiermixError, ValueError):
    """Unknown family, unknown link, or a link the family does not support."""


class ModelError(HiermixError, ValueError):
    """A model that is well formed but cannot be fitted as asked (for example rank problems)."""


class ArgumentError(ModelError, TypeError):
    """An argument of the wrong type or outside its range (``draws=2.5``, ``nsim=-1``,
    ``random_seed="abc"``, ``REML`` given to a GLMM); the message names the argument."""


class ConvergenceError(HiermixError, RuntimeError):
    """An optimiser or the PIRLS iterations failed in a way no result can be built from."""


class SeparationError(ConvergenceError):
    """PIRLS failed because fixed-effect columns separate the response perfectly (binomial:
    successes from failures; poisson: zero counts from the rest), so that the maximum-likelihood
    coefficients are infinite. ``columns`` names them."""

    def __init__(self, message: str, columns: Iterable[str] = ()) -> None:
        self.columns = tuple(columns)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.columns)


class CompareError(HiermixError, ValueError):
    """Two results that cannot be compared (different models or data)."""


class OutputError(HiermixError, ValueError):
    """An output path hiermix will not write to (it exists, would replace the data, is a
    link, is too long, or its folder cannot be written); nothing has been written."""


class HiermixWarning(UserWarning):
    """Base class of the warnings hiermix issues on purpose."""


class SingularFitWarning(HiermixWarning):
    """The fit is on the boundary of the parameter space (lme4's "boundary (singular) fit"):
    some random-effects covariance matrix is singular (a zero SD or a correlation of +-1)."""


__all__ = [
    "ArgumentError",
    "ColumnTypeError",
    "CompareError",
    "ConvergenceError",
    "DataError",
    "DuplicateColumnError",
    "EmptyDataError",
    "FamilyError",
    "FormulaSyntaxError",
    "GroupingFactorError",
    "HiermixError",
    "HiermixWarning",
    "MissingValueError",
    "ModelError",
    "NewLevelError",
    "NonFiniteError",
    "OutputError",
    "ResponseError",
    "ResponseSupportError",
    "ResponseTypeError",
    "SeparationError",
    "SingularFitWarning",
    "TransformDomainError",
    "UnknownColumnError",
    "UnsafeFormulaError",
]
