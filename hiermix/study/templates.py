"""Design templates and conditions of a simulation study.

A template is a data frame of covariates and grouping columns without a response: each
replicate draws the response afresh from the truth. :func:`design_template` builds the usual
two-level designs (J groups of sizes n_j, balanced or drawn; covariates varying within groups or
between them); :func:`study_grid` crosses design factors into :class:`Condition` objects, each a
(template, truth) pair that carries its factor levels into every result row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

LEVELS = ("within", "between")


def design_template(J: int, n: int | Sequence[int] | tuple[int, int] = 5,
                    covariates: Mapping[str, str] | None = None, balanced: bool = True,
                    group: str = "g", seed: Any = 0) -> pd.DataFrame:
    """A two-level design: J groups, covariates drawn from N(0, 1) once.

    Parameters
    ----------
    J : int
        Number of groups (>= 2).
    n : int, sequence of J ints, or (low, high)
        Group sizes: all equal to ``n`` (``balanced=True``); one per group (a sequence of
        length J); or, with ``balanced=False`` and a pair, drawn uniformly from low..high.
    covariates : mapping of str to {"within", "between"}
        Covariate name -> the level it varies at: per row (``"within"``) or per group.
    balanced : bool
    group : str
        Name of the grouping column (levels ``g01``, ``g02``, ...).
    seed : int, SeedSequence or None
        Draws the sizes and the covariates; the template is fixed for the whole study.

    Returns
    -------
    DataFrame, shape (sum n_j, 1 + len(covariates))
    """
    if int(J) != J or J < 2:
        raise DataError(f"J (number of groups) must be an integer >= 2; got {J!r}")
    J = int(J)
    rng = np.random.default_rng(seed)
    if isinstance(n, (int, np.integer)):
        sizes = np.full(J, int(n))
    elif not balanced and len(n) == 2:
        lo, hi = (int(v) for v in n)
        if lo > hi:
            raise DataError(f"group size range ({lo}, {hi}) is empty")
        sizes = rng.integers(lo, hi + 1, size=J)
    elif len(n) == J:
        sizes = np.asarray(n, dtype=int)
    else:
        raise DataError(f"n must be an int, {J} group sizes, or (low, high) with "
                        f"balanced=False; got {n!r}")
    if np.any(sizes < 1):
        raise DataError(f"every group needs at least one row; got sizes {sizes.tolist()}")
    width = len(str(J))
    labels = [f"{group}{j + 1:0{width}d}" for j in range(J)]
    data = pd.DataFrame({group: np.repeat(labels, sizes)})
    for name, level in (covariates or {}).items():
        if level not in LEVELS:
            raise DataError(f"covariate {name!r}: level must be one of {LEVELS}; got {level!r}")
        if name == group:
            raise DataError(f"covariate {name!r} has the grouping column's name")
        data[name] = (rng.standard_normal(len(data)) if level == "within"
                      else np.repeat(rng.standard_normal(J), sizes))
    return data


@dataclass(frozen=True)
class Condition:
    """One cell of a study: a template, its truth, and the factor levels that name it.

    Attributes
    ----------
    data : DataFrame
        Covariates and grouping columns (no response).
    truth : dict of str to float
        Parameter label -> true value.
    factors : dict of str to scalar
        Condition columns carried into every result row (``J``, ``n``, ``icc`` ...).
    """

    data: pd.DataFrame
    truth: dict[str, float]
    factors: dict[str, Any] = field(default_factory=dict)


def random_intercept(J: int, n: Any, icc: float, sigma: float = 1.0, intercept: float = 0.0,
                     group: str = "g", balanced: bool = True, seed: Any = 0
                     ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Template and truth of ``y ~ 1 + (1 | g)`` with intraclass correlation ``icc``:
    sd(Intercept|g) = sigma sqrt(icc / (1 - icc))."""
    if not 0 <= icc < 1:
        raise DataError(f"icc must be in [0, 1); got {icc!r}")
    data = design_template(J, n, balanced=balanced, group=group, seed=seed)
    truth = {"Intercept": float(intercept),
             f"sd(Intercept|{group})": float(sigma * np.sqrt(icc / (1 - icc))),
             "sigma": float(sigma)}
    return data, truth


def study_grid(make: Callable[..., tuple[pd.DataFrame, Mapping[str, float]]] | None = None,
               **factors: Any) -> list[Condition]:
    """Every combination of the factors' levels as a :class:`Condition`.

    Parameters
    ----------
    make : callable or None
        ``make(**levels) -> (template, truth)``; :func:`random_intercept` (factors ``J``,
        ``n``, ``icc`` and optionally ``sigma``, ``intercept``) when None.
    **factors
        Factor name -> its levels (a scalar is one level). Crossed in the order given.

    Returns
    -------
    list of Condition
    """
    if not factors:
        raise DataError("study_grid needs at least one factor (e.g. J=[6, 12], icc=[0.1])")
    make = make or random_intercept
    names = list(factors)
    levels = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v]
              for v in factors.values()]
    out = []
    for combo in itertools.product(*levels):
        cell = dict(zip(names, combo, strict=True))
        try:
            data, truth = make(**cell)
        except TypeError as err:
            raise DataError(f"cannot build condition {cell}: {err}") from None
        out.append(Condition(data=data, truth=dict(truth), factors=cell))
    return out
