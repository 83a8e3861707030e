"""Named prior sets from a TOML file, for ``hiermix sensitivity --priors priors.toml``.

One table per prior set; its keys are the prior classes of
:func:`hiermix.bayes.resolve_priors` (``intercept``, ``coef``, ``sd``, ``sd_<label>``,
``corr``, ``corr_<label>``, ``sigma``, ``phi``) and ``preset``; each value is a prior written
as a call with numbers only::

    [default]                       # an empty table: the default priors

    [flat]
    preset = "flat"

    [tight]
    sd_Subject = "HalfNormal(1)"
    coef = "Normal(0, 2.5)"
    corr = "LKJ(eta=2)"

The text is data, never code: it is matched against the prior classes below and numbers, and
nothing is evaluated.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from ..bayes.priors import LKJ, Exponential, Flat, HalfNormal, HalfStudentT, Normal, StudentT
from ..errors import DataError

PRIOR_CLASSES: dict[str, type] = {
    "Normal": Normal, "StudentT": StudentT, "Flat": Flat, "HalfNormal": HalfNormal,
    "HalfStudentT": HalfStudentT, "Exponential": Exponential, "LKJ": LKJ,
}
_CALL = re.compile(r"^\s*([A-Za-z]+)\s*\((.*)\)\s*$")
_ARG = re.compile(r"^\s*(?:([A-Za-z_]+)\s*=\s*)?([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def parse_prior(text: str, where: str = "") -> Any:
    """A prior object from text such as ``"HalfNormal(1)"`` or ``"StudentT(nu=3, sigma=2)"``.

    Raises
    ------
    DataError
        Unknown class, an argument that is not a number, or arguments the class does not take.
    """
    at = f" ({where})" if where else ""
    m = _CALL.match(text)
    if not m or m.group(1) not in PRIOR_CLASSES:
        raise DataError(f"cannot read the prior {text!r}{at}: write one of "
                        f"{', '.join(PRIOR_CLASSES)} with numbers, e.g. 'HalfNormal(1)'")
    cls = PRIOR_CLASSES[m.group(1)]
    args: list[float] = []
    kwargs: dict[str, float] = {}
    body = m.group(2).strip()
    for piece in (body.split(",") if body else []):
        a = _ARG.match(piece)
        if not a:
            raise DataError(f"cannot read the argument {piece.strip()!r} of {text!r}{at}: "
                            "arguments are numbers, optionally named (sigma=2)")
        if a.group(1):
            kwargs[a.group(1)] = float(a.group(2))
        elif kwargs:
            raise DataError(f"in {text!r}{at} an unnamed argument follows a named one")
        else:
            args.append(float(a.group(2)))
    try:
        return cls(*args, **kwargs)
    except TypeError as err:
        raise DataError(f"{text!r}{at}: {err}") from None


def read_prior_sets(path: str | Path) -> dict[str, dict[str, Any]]:
    """The named prior sets of a TOML file (module docstring), in file order.

    Raises
    ------
    DataError
        A missing or malformed file, a set that is not a table, or a prior that cannot be read.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"prior file {str(path)!r} does not exist or is not a file")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {str(path)!r} as TOML: {err}") from None
    if not raw:
        raise DataError(f"{str(path)!r} names no prior set; write one table per set, "
                        "e.g. [default]")
    out: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise DataError(f"prior set {name!r} in {str(path)!r} must be a table ([{name}])")
        pri: dict[str, Any] = {}
        for key, value in table.items():
            if key == "preset":
                pri[key] = str(value)
            elif isinstance(value, str):
                pri[key] = parse_prior(value, f"{name}.{key}")
            else:
                raise DataError(f"{name}.{key} in {str(path)!r} must be a prior written as "
                                f"text, e.g. \"HalfNormal(1)\"; got {value!r}")
        out[name] = pri
    return out
