"""What a case study writes: its numbers as ``results.json``, from which its README is rendered.

Every number a case study's README shows, in a table or in a sentence, is a value of the
study's ``results.json``, written by the study's script and put into the README by
``render.py`` (see ``case_studies/README.md``). This module holds the helpers the scripts share:
per-parameter summaries of a :class:`hiermix.Comparison` with the Monte Carlo standard errors
(MCSE) that say how many digits of a posterior summary another run would repeat, the
formatting of table cells, and the writer of ``results.json``.

Scripts import it by putting ``case_studies/`` on ``sys.path`` (they are scripts, not a package).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hiermix.naming import corr_var, pair_label, sd_var

#: Summaries per parameter, in this order in results.json.
FIELDS = ["ml", "ml_se", "ml_lower", "ml_upper", "post_mean", "post_median", "post_sd",
          "post_lower", "post_upper", "mcse_mean", "mcse_median", "mcse_lower", "mcse_upper",
          "rhat", "ess_bulk", "ess_tail"]


def param_key(row: pd.Series) -> str:
    """The results key of a varcorr row: ``sd_<grp>_<var1>``, ``corr_<grp>``, sigma or phi."""
    if row["param"] == "sd":
        return f"sd_{row['grp']}_{row['var1']}"
    if row["param"] == "corr":
        return f"corr_{row['grp']}"
    return str(row["param"])


def _draws(post: Any, row: pd.Series | None, coef: str | None) -> np.ndarray:
    """Draws (chain, draw) of one fixed effect (coef) or one varcorr row."""
    posterior = post.datatree["posterior"]
    if coef is not None:
        da = posterior["beta"]
        return np.asarray(da.sel({da.dims[-1]: coef}).values)
    if row is None:
        raise ValueError("give a fixed-effect name or a varcorr row")
    if row["param"] == "sd":
        da = posterior[sd_var(row["grp"])]
        return np.asarray(da.sel({da.dims[-1]: row["var1"]}).values)
    if row["param"] == "corr":
        da = posterior[corr_var(row["grp"])]
        if da.ndim == 2:
            return np.asarray(da.values)
        return np.asarray(da.sel({da.dims[-1]: pair_label(row["var1"], row["var2"])}).values)
    return np.asarray(posterior[row["param"]].values)


def _mcse(x: np.ndarray, ci: float) -> dict[str, float]:
    """ArviZ's MCSE of the mean, the median and the two interval limits of draws (chain, draw)."""
    import arviz as az

    lo, hi = (1.0 - ci) / 2.0, 1.0 - (1.0 - ci) / 2.0
    return {"mcse_mean": float(az.mcse(x)), "mcse_median": float(az.mcse(x, method="median")),
            "mcse_lower": float(az.mcse(x, method="quantile", prob=lo)),
            "mcse_upper": float(az.mcse(x, method="quantile", prob=hi))}


def summarise(cmp: Any, ci: float = 0.95) -> dict[str, dict[str, float]]:
    """Parameter key -> the ML and posterior summaries of ``FIELDS``.

    Fixed effects keep their names; variance components are keyed by :func:`param_key`.
    ``ml_lower``/``ml_upper`` are the comparison's Wald limits (for SDs, correlations and
    dispersions on the log, atanh and log scales, transformed back).
    """
    out: dict[str, dict[str, float]] = {}
    for coef, r in cmp.fixef.iterrows():
        out[str(coef)] = {**{k: float(r[k]) for k in FIELDS if k in r},
                          **_mcse(_draws(cmp.post, None, str(coef)), ci)}
    for _, r in cmp.varcorr.iterrows():
        out[param_key(r)] = {**{k: float(r[k]) for k in FIELDS if k in r},
                             **_mcse(_draws(cmp.post, r, None), ci)}
    return {k: {f: v[f] for f in FIELDS if f in v} for k, v in out.items()}


def sampler(post: Any) -> dict[str, Any]:
    """The sampler's settings and diagnostics worth quoting: draws, divergences, worst R-hat."""
    rec = post.record
    return {"sampler": rec.sampler, "chains": rec.chains, "draws": rec.draws, "tune": rec.tune,
            "random_seed": rec.random_seed, "target_accept": rec.target_accept,
            "centered": rec.centered, "marginal": rec.marginal, "n_divergent": rec.n_divergent,
            "seconds": rec.seconds}


def diagnostics(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """Worst R-hat, smallest bulk and tail ESS, and the largest MCSE of an interval limit."""
    rows = summary.values()
    return {"max_rhat": max(r["rhat"] for r in rows),
            "min_ess_bulk": min(r["ess_bulk"] for r in rows),
            "min_ess_tail": min(r["ess_tail"] for r in rows),
            "max_mcse_limit": max(max(r["mcse_lower"], r["mcse_upper"]) for r in rows)}


# -- table cells ---------------------------------------------------------------------------
def num(x: float | None, decimals: int = 4) -> str:
    """A number with fixed decimals; empty for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{decimals}f}"


def interval(lo: float | None, hi: float | None, decimals: int = 3) -> str:
    """``[lo, hi]``; empty when either limit is missing (e.g. no Wald interval on a boundary)."""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{lo:.{decimals}f}, {hi:.{decimals}f}]"


def with_mcse(x: float, mcse: float, decimals: int = 3) -> str:
    """``mean (MCSE)``, the MCSE to two significant digits."""
    return f"{x:.{decimals}f} ({mcse:.2g})"


def table(columns: list[str], rows: list[list[str]], align: str | None = None) -> dict[str, Any]:
    """A table for results.json: header, cell strings and alignment (l/r per column).

    By default the first column is left-aligned and the others right-aligned.
    """
    if any(len(r) != len(columns) for r in rows):
        raise ValueError("every row needs one cell per column")
    align = align or "l" + "r" * (len(columns) - 1)
    return {"columns": columns, "align": align, "rows": rows}


def posterior_rows(summary: dict[str, dict[str, float]], keys: list[tuple[str, str]],
                   decimals: int = 3) -> list[list[str]]:
    """Rows of the standard posterior table (see ``POSTERIOR_COLUMNS``) for (label, key) pairs."""
    rows = []
    for label, key in keys:
        s = summary[key]
        rows.append([label, num(s["ml"], decimals), interval(s["ml_lower"], s["ml_upper"],
                                                             decimals),
                     with_mcse(s["post_mean"], s["mcse_mean"], decimals),
                     with_mcse(s["post_median"], s["mcse_median"], decimals),
                     interval(s["post_lower"], s["post_upper"], decimals)])
    return rows


POSTERIOR_COLUMNS = ["parameter", "ML", "ML 95% Wald interval", "posterior mean (MCSE)",
                     "posterior median (MCSE)", "posterior 95% interval (equal-tailed)"]


# -- results.json --------------------------------------------------------------------------
def _plain(x: Any) -> Any:
    """numpy scalars and arrays to JSON types; NaN to None."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if math.isnan(float(x)) else float(x)
    return x


def write(out: Path, results: dict[str, Any]) -> Path:
    """Write ``results.json`` into the folder ``out``; returns its path."""
    path = Path(out) / "results.json"
    path.write_text(json.dumps(_plain(results), indent=1, sort_keys=True) + "\n")
    return path
