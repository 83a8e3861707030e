"""Data sets bundled with hiermix, read with R's factor levels.

``load("sleepstudy")`` and ``load("cbpp")`` return the lme4 data sets (lme4 1.1-31) with every
factor as a pandas Categorical in R's level order, so that hiermix's coefficient names and
reference levels match lme4's. The three ``seed_*`` sets are the simulated data of the lme4
chapter this project starts from (drawn with R's RNG by that chapter's code; columns ``b0``,
``b1`` and ``media`` hold the true random effects and means):

* ``seed_normal_intercept``: 10 groups x 50, y ~ N(4 - 6 x + b0, 4^2), SD(b0) = 25;
* ``seed_gamma_intercept``: Gamma, log link, beta = (2, -8), phi = 0.5, SD(b0) = 3;
* ``seed_invgauss_slope``: inverse Gaussian, log link, beta = (2, -8), phi = 0.5, random
  intercept and slope with variances 1 and 1 and covariance 0.5.

:func:`read_csv_with_types` reads any CSV that has a ``<name>.types.json`` beside it, the format
R wrote these files in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError

HERE = Path(__file__).parent
NAMES = ("sleepstudy", "cbpp", "seed_normal_intercept", "seed_gamma_intercept",
         "seed_invgauss_slope")
FACTOR_CLASSES = ("factor", "ordered")


def types_path(path: str | Path) -> Path:
    """The types file that belongs beside a CSV: ``<stem>.types.json``."""
    path = Path(path)
    return path.with_name(path.stem + ".types.json")


def _read_types(file: Path) -> dict[str, dict[str, Any]]:
    """Parse and check a types file (shape in :func:`read_csv_with_types`)."""
    shape = ('an object mapping each column to {"class": "factor", "levels": ["a", "b"]} '
             'or {"class": "numeric"}')
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"types file {file} is not valid JSON ({err}); it must hold "
                        f"{shape}") from None
    if not isinstance(raw, dict):
        raise DataError(f"types file {file} holds a JSON {type(raw).__name__}; it must hold "
                        f"{shape}")
    out: dict[str, dict[str, Any]] = {}
    for col, t in raw.items():
        if not isinstance(t, dict) or not isinstance(t.get("class"), str):
            raise DataError(f"types file {file}: the entry of column {col!r} must be an object "
                            f'with a "class" string, not {json.dumps(t)[:60]}')
        if t["class"] in FACTOR_CLASSES:
            levels = t.get("levels")
            if not isinstance(levels, list) or not all(
                    isinstance(v, str | int) and not isinstance(v, bool) for v in levels):
                raise DataError(f"types file {file}: column {col!r} is a {t['class']} and needs "
                                '"levels", a list of strings')
            names = [str(v) for v in levels]
            dup = sorted({v for v in names if names.count(v) > 1})
            if dup:
                raise DataError(f"types file {file}: column {col!r} lists the level(s) "
                                f"{', '.join(map(repr, dup))} more than once")
            t = {**t, "levels": names}
        out[str(col)] = t
    return out


def read_csv_with_types(path: str | Path) -> pd.DataFrame:
    """Read ``path`` and, when ``<stem>.types.json`` exists beside it, restore R's factors.

    The types file maps a column to ``{"class": "factor" | "ordered" | "numeric" | ...,
    "levels": [...]}``; factors become Categoricals with exactly those levels in that order.

    Raises
    ------
    DataError
        A types file of the wrong shape, one that names a column the CSV lacks, or a factor
        column holding values its levels do not list (named with the values; they are never
        turned into missing values).
    """
    path = Path(path)
    file = types_path(path)
    types = _read_types(file) if file.exists() else {}
    dtypes = {c: str for c, t in types.items() if t["class"] in FACTOR_CLASSES}
    df = pd.read_csv(path, dtype=dtypes)  # type: ignore[arg-type]
    missing = [c for c in types if c not in df.columns]
    if missing:
        raise DataError(f"types file {file} describes column(s) {', '.join(map(repr, missing))} "
                        f"that {path.name} does not have")
    for col, t in types.items():
        if t["class"] not in FACTOR_CLASSES:
            continue
        levels = t["levels"]
        values = df[col].dropna().unique()
        unknown = sorted(set(map(str, values)) - set(levels))
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:8]) + (
                f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
            raise DataError(f"column {col!r} of {path.name} holds value(s) {shown} that its "
                            f"levels in {file.name} do not list")
        df[col] = pd.Categorical(df[col], categories=levels, ordered=t["class"] == "ordered")
    return df


def path(name: str) -> Path:
    """Path of a bundled CSV file."""
    if name not in NAMES:
        raise KeyError(f"unknown data set {name!r}; bundled: {', '.join(NAMES)}")
    return HERE / f"{name}.csv"


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set (see :data:`NAMES`) with R's factor levels.

    The frame's ``attrs["name"]`` holds the name, which summaries print after "Data:".
    """
    df = read_csv_with_types(path(name))
    df.attrs["name"] = name
    return df
