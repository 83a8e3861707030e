"""A study stated in a TOML file, for ``hiermix study CONFIG.toml``.

::

    formula = "y ~ 1 + (1 | g)"
    nsim = 200
    seed = 20261201
    methods = ["reml-wald", "ml-wald", "bayes"]
    family = "gaussian"            # optional; link = "..." too
    data = "template.csv"          # a template (relative to this file) and [truth] ...
    block_size = 10                # optional
    store = "study-store"          # optional: resumable store (relative to this file)

    [truth]
    Intercept = 0.0
    "sd(Intercept|g)" = 0.5
    sigma = 1.0

    [grid]                         # ... or a grid of random-intercept designs (no data/truth)
    J = [6, 12, 48]
    n = 5
    icc = [0.1, 0.3]

    [sample]                       # Bayes: passed to hiermix.bayes.sample
    draws = 600
    tune = 600
    chains = 2

    [[method]]                     # more methods as tables (see hiermix.study.methods)
    engine = "bayes"
    priors = "flat"
    name = "bayes-flat"

The file is data: nothing in it is evaluated.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import DataError
from .methods import Method, bayes_method, ml_method
from .templates import study_grid

KEYS = {"formula", "nsim", "seed", "methods", "method", "family", "link", "data", "truth",
        "grid", "sample", "block_size", "store"}


def _method(table: dict[str, Any], sample: dict[str, Any]) -> Method:
    t = dict(table)
    engine = t.pop("engine", "ml")
    try:
        if engine == "bayes":
            kw = {**sample, **t.pop("sample", {})}
            return bayes_method(**t, **kw)
        if engine == "ml":
            return ml_method(**t)
    except TypeError as err:
        raise DataError(f"[[method]] {table}: {err}") from None
    raise DataError(f"[[method]] engine must be 'ml' or 'bayes'; got {engine!r}")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a study file into :func:`hiermix.simulation_study`'s keyword arguments (plus
    ``data_path``: the template's path, or None with a grid).

    Raises
    ------
    DataError
        An unreadable file, an unknown key, a missing ``formula``, ``data`` without
        ``truth``, or both ``data`` and ``grid``.
    """
    from ..cli import read_data

    file = Path(path)
    try:
        cfg = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise DataError(f"study file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise DataError(f"cannot read study file {str(path)!r}: {err}") from None
    unknown = sorted(set(cfg) - KEYS)
    if unknown:
        raise DataError(f"unknown key(s) {unknown} in {str(path)!r}; known: {sorted(KEYS)}")
    if "formula" not in cfg:
        raise DataError(f"{str(path)!r} needs a formula")
    sample = dict(cfg.get("sample", {}))
    methods: list[Any] = list(cfg.get("methods", []))
    methods += [_method(t, sample) for t in cfg.get("method", [])]
    kw: dict[str, Any] = {"formula": cfg["formula"], "methods": methods or ["reml-wald"],
                          "nsim": cfg.get("nsim", 100), "seed": cfg.get("seed", 0),
                          "family": cfg.get("family", "gaussian"), "link": cfg.get("link"),
                          "sample_kwargs": sample, "block_size": cfg.get("block_size", 10)}
    base = file.parent
    if "grid" in cfg:
        if "data" in cfg or "truth" in cfg:
            raise DataError(f"{str(path)!r}: give either [grid] or data and [truth], not both")
        kw["data"], kw["truth"], kw["data_path"] = study_grid(**cfg["grid"]), None, None
    else:
        if "data" not in cfg or "truth" not in cfg:
            raise DataError(f"{str(path)!r} needs data (a template CSV) and [truth], or [grid]")
        data_path = base / cfg["data"]
        kw["data"], kw["truth"] = read_data(str(data_path)), dict(cfg["truth"])
        kw["data_path"] = str(data_path)
    kw["store"] = str(base / cfg["store"]) if "store" in cfg else None
    return kw
