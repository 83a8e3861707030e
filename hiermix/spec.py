"""The data-free model specification: what a formula says, before any data are seen.

A :class:`ModelSpec` is produced by :func:`hiermix.parse` and is frozen, hashable and comparable:
two formulas that mean the same model (``y~x+(1|g)`` and ``y ~ 1 + x + (1 | g)``) give equal
specs. It holds no data, no levels and no encodings; binding data is a separate step
(:class:`hiermix.design.Design`) that learns those.

The model it describes, in the notation of Bates et al. (2015, JSS) used throughout hiermix::

    eta = X beta + Z b + offset,     b ~ N(0, Sigma(theta)),     E[y | b] = g^{-1}(eta)

* ``response``: how y is computed (a column, an expression, or ``cbind(successes, failures)``).
* ``fixed``: the fixed-effects formula that formulaic turns into X (p columns).
* ``random``: one :class:`RandomTermSpec` per random-effects term ``(expr | group)``, after
  lme4's expansions (``a/b`` into nested terms); a ``||`` term is kept as one spec term marked
  ``correlated=False`` because which columns it splits into depends on the data.
* ``offsets``: expressions inside ``offset()``; they add to eta with coefficient 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _quote(name: str) -> str:
    """Backtick a column name that is not a plain identifier, as formulas need it."""
    return name if name.replace(".", "_").isidentifier() else f"`{name}`"


@dataclass(frozen=True)
class ResponseSpec:
    """The left-hand side of the formula.

    Attributes
    ----------
    expr : str
        Python expression for y, or for the successes of a ``cbind`` response.
    failures : str or None
        Python expression for the failures of ``cbind(successes, failures)``; None otherwise.
    """

    expr: str
    failures: str | None = None

    @property
    def is_cbind(self) -> bool:
        return self.failures is not None

    def __str__(self) -> str:
        if self.failures is not None:
            return f"cbind({self.expr}, {self.failures})"
        return self.expr


@dataclass(frozen=True)
class RandomTermSpec:
    """One random-effects term ``(expr | group)`` or ``(expr || group)``.

    Attributes
    ----------
    expr : str
        Canonical formulaic formula for the term's model matrix, e.g. ``"1 + Days"``.
    group : tuple of str
        Names of the factors whose interaction defines the groups, e.g. ``("cask", "batch")``.
    correlated : bool
        False for ``||``: each column of the term becomes an independent term.
    """

    expr: str
    group: tuple[str, ...]
    correlated: bool = True

    @property
    def group_name(self) -> str:
        """lme4's name of the grouping factor, e.g. ``"cask:batch"``."""
        return ":".join(self.group)

    def __str__(self) -> str:
        bar = "|" if self.correlated else "||"
        return f"({self.expr} {bar} {':'.join(_quote(g) for g in self.group)})"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed mixed-model formula: frozen, data-free, hashable.

    Build one with :func:`hiermix.parse`; bind it to data with :class:`hiermix.Model`.

    Attributes
    ----------
    response : ResponseSpec
    fixed : str
        Canonical fixed-effects formula (``"0"`` when X has no columns).
    random : tuple of RandomTermSpec
        In formula order, with ``/`` expanded as lme4 does.
    offsets : tuple of str
        Expressions inside ``offset()``.
    formula : str
        The formula as the user wrote it (not part of equality).
    """

    response: ResponseSpec
    fixed: str
    random: tuple[RandomTermSpec, ...] = ()
    offsets: tuple[str, ...] = ()
    formula: str = field(default="", compare=False)

    @property
    def has_intercept(self) -> bool:
        return self.fixed.split(" + ")[0] == "1"

    @property
    def group_names(self) -> tuple[str, ...]:
        """Distinct grouping-factor names in formula order."""
        return tuple(dict.fromkeys(t.group_name for t in self.random))

    @property
    def is_mixed(self) -> bool:
        return bool(self.random)

    def __str__(self) -> str:
        rhs = [self.fixed] + [f"offset({o})" for o in self.offsets] + [str(t) for t in self.random]
        return f"{self.response} ~ " + " + ".join(rhs)

    def __repr__(self) -> str:
        return f"ModelSpec({str(self)!r})"
