"""``confint(fit, method=...)``: confidence intervals for every parameter of a fit, with
lme4's row names (``confint(fit, oldNames = FALSE)``).

Methods
    ``"profile"`` (default): likelihood-profile intervals (:mod:`hiermix.inference.profile`).
    ``"wald"``: estimate +- z se for the fixed effects, as lme4's ``method = "Wald"``. lme4
    leaves the variance parameters empty (NA); hiermix fills them with the Wald intervals on
    the log-SD, atanh-correlation and log-sigma scales transformed back
    (:mod:`hiermix.frequentist.wald`), and leaves empty only those on the boundary.
    ``"boot"``: percentile intervals of a parametric bootstrap
    (:mod:`hiermix.inference.bootstrap`; ``nsim`` replicates, lme4's default 500).

The frame's ``attrs["method"]`` says which intervals it holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from .bootstrap import bootstrap, layout_of
from .profile import profile_confint

METHODS = ("profile", "wald", "boot")


def wald_confint(fit: Any, parm: Any = None, level: float = 0.95) -> pd.DataFrame:
    """Wald intervals by lme4's names (see the module docstring)."""
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1; got {level!r}")
    lay = layout_of(fit)
    z = float(stats.norm.ppf(0.5 + level / 2))
    vc = fit.varcorr_intervals(level)
    rows: dict[str, tuple[float, float]] = {}
    for name, (grp, v1, v2) in lay.varcorr_keys(fit.design).items():
        sel = vc[(vc["grp"] == grp) & (vc["var1"].isna() if v1 is None else vc["var1"] == v1)
                 & (vc["var2"].isna() if v2 is None else vc["var2"] == v2)]
        rows[name] = ((float(sel["ml_lower"].iat[0]), float(sel["ml_upper"].iat[0]))
                      if len(sel) else (np.nan, np.nan))
    beta = np.asarray(fit.beta, dtype=float)
    se = np.asarray(fit.fixef_se, dtype=float)
    betas = [n for n, k in zip(lay.names, lay.kinds, strict=True) if k == "beta"]
    for name, b, s in zip(betas, beta, se, strict=True):
        rows[name] = (b - z * s, b + z * s)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])
    out = out.loc[[lay.names[i] for i in lay.select(parm)]]  # lme4's order
    out.attrs["method"] = "wald"
    out.attrs["level"] = level
    return out


def confint(fit: Any, parm: Any = None, level: float = 0.95, method: str = "profile",
            nsim: int = 500, seed: Any = None, n_jobs: int | None = None,
            boot_type: str = "percentile") -> pd.DataFrame:
    """Confidence intervals for the parameters of a fit (lme4's ``confint.merMod``).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    parm : None, str, int or list
        lme4's names (``"sd_(Intercept)|Subject"``, ``"sigma"``, ``"Days"``), positions,
        ``"theta_"`` or ``"beta_"``; all when None.
    level : float
    method : {"profile", "wald", "boot"}
    nsim, seed, n_jobs : for ``method="boot"``
        See :func:`hiermix.inference.bootstrap.bootstrap`.
    boot_type : {"percentile", "basic", "normal"}

    Returns
    -------
    DataFrame
        Index: lme4's row names (variance parameters, ``sigma``, fixed effects); columns
        ``lower``, ``upper``; ``attrs["method"]`` and ``attrs["level"]``.
    """
    method = method.lower()
    if method == "profile":
        return profile_confint(fit, parm=parm, level=level)
    if method == "wald":
        return wald_confint(fit, parm=parm, level=level)
    if method == "boot":
        if not 0 < level < 1:
            raise DataError(f"level must be between 0 and 1; got {level!r}")
        return bootstrap(fit, nsim, seed=seed, n_jobs=n_jobs).confint(level, boot_type, parm)
    raise DataError(f"unknown interval method {method!r}; choose one of {METHODS}")
