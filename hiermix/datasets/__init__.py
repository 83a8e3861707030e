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

import pandas as pd

HERE = Path(__file__).parent
NAMES = ("sleepstudy", "cbpp", "seed_normal_intercept", "seed_gamma_intercept",
         "seed_invgauss_slope")


def read_csv_with_types(path: str | Path) -> pd.DataFrame:
    """Read ``path`` and, when ``<stem>.types.json`` exists beside it, restore R's factors.

    The types file maps a column to ``{"class": "factor" | "ordered" | "numeric" | ...,
    "levels": [...]}``; factors become Categoricals with exactly those levels in that order.
    """
    path = Path(path)
    types_path = path.with_name(path.stem + ".types.json")
    types = json.loads(types_path.read_text()) if types_path.exists() else {}
    dtypes = {c: str for c, t in types.items() if t.get("class") in ("factor", "ordered")}
    df = pd.read_csv(path, dtype=dtypes)  # type: ignore[arg-type]
    for col, t in types.items():
        if t.get("class") in ("factor", "ordered") and col in df.columns:
            df[col] = pd.Categorical(df[col], categories=t["levels"],
                                     ordered=t["class"] == "ordered")
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
