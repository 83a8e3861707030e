"""Sensitivity in reports: the section of ``hiermix compare --sensitivity`` and the report
folder of ``hiermix sensitivity``.

``sensitivity_section(power, influence)`` is the "Sensitivity" section of the comparison
report (a :class:`~hiermix.compare.report.ReportSection`): the power-scaling table
(:func:`hiermix.sensitivity.sensitivity`) and the most influential groups
(:func:`hiermix.inference.influence.group_influence`, by Cook's distance).
``fill_sensitivity_report(folder, ...)`` writes::

    folder/report.html        the prior sweep (table and forest plot), the power-scaling table
                              of every prior set, the influence of groups; opens offline
    folder/prior_sweep.csv    the sweep's long table
    folder/power_scaling.csv  one row per (prior set, parameter)
    folder/influence.csv      every level's Cook's distance, DFBETA(S) and changes of SDs
    folder/prior_sweep.png    the forest plot
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..compare.report import ReportSection, decimals, table_html
from .power_scaling import THRESHOLD

TOP_GROUPS = 5
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table.tbl{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.tbl td,table.tbl th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}
table.tbl th{background:#f4f6f8} img{max-width:100%} .note{font-size:.9em;color:#444}
code{background:#f2f2f2;padding:0 .2em}
"""


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "" if x != x else f"{x:.4g}"
    return str(x)


def _table(df: pd.DataFrame, index: bool = False) -> str:
    return df.map(_fmt).to_html(index=index, border=0, classes="tbl", escape=True)


def top_influential(influence: pd.DataFrame, k: int = TOP_GROUPS) -> pd.DataFrame:
    """The ``k`` levels with the largest Cook's distance, largest first."""
    return influence.sort_values("cooks_distance", ascending=False, kind="stable").head(k)


def _power_note(threshold: float) -> str:
    return (f"<p class=\"note\">Power-scaling sensitivity (Kallioinen et al. 2024; "
            f"<code>arviz_stats.psense</code>): how far each marginal posterior moves, in "
            f"cumulative Jensen-Shannon distance per doubling, when the prior or the likelihood "
            f"is raised to a power near 1. Diagnosis at threshold {threshold:g}: both above is a "
            f"potential prior-data conflict; the prior above and the likelihood below, a strong "
            f"prior or weak likelihood.</p>")


def _influence_note(k: int) -> str:
    return (f"<p class=\"note\">The {k} groups whose deletion moves the fixed effects most "
            "(Cook's distance with the full fit's covariance, influence.ME's definition); "
            "<code>dfbeta_</code> are the changes of the fixed effects (full fit minus fit "
            "without the group), <code>dfbetas_</code> the same in units of the refit's "
            "standard errors, <code>delta_</code> the changes of the variance components.</p>")


def _fixed(x: Any, d: int) -> str:
    return "" if x is None or x != x else f"{float(x):.{d}f}"


def _power_frame(power: pd.DataFrame) -> pd.DataFrame:
    """The power-scaling table as the comparison report prints tables: text left, the
    sensitivities with three decimals (the threshold is 0.05)."""
    out = pd.DataFrame({"param": power["param"].astype(str)})
    for col in ("prior", "likelihood"):
        if col in power.columns:
            out[col] = [_fixed(v, 3) for v in power[col]]
    if "diagnosis" in power.columns:
        out["diagnosis"] = power["diagnosis"].astype(str)
    return out


def _flagged_note(power: pd.DataFrame, threshold: float) -> str:
    if "diagnosis" not in power.columns:
        return ""
    flagged = power[power["diagnosis"] != "-"]
    if flagged.empty:
        return f"<p>No parameter is flagged: every prior sensitivity is below {threshold:g}.</p>"
    items = "".join(f"<li><code>{html.escape(str(r.param))}</code>: "
                    f"{html.escape(str(r.diagnosis))}</li>" for r in flagged.itertuples())
    return f'<ul class="warn">{items}</ul>'


def _influence_frame(influence: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` most influential levels as columns (the report reads at 800 px), one row per
    measure, each with the decimals its values need."""
    top = top_influential(influence, k)
    rows: dict[str, list[str]] = {str(level): [] for level in top.index}
    for col in top.columns:
        d = decimals(top[col].to_numpy(dtype=float))
        for level, v in zip(top.index, top[col], strict=True):
            rows[str(level)].append(_fixed(v, d))
    return pd.DataFrame({str(influence.index.name): list(top.columns), **rows})


def sensitivity_section(power: pd.DataFrame | None, influence: pd.DataFrame | None,
                        k: int = TOP_GROUPS, threshold: float = THRESHOLD) -> ReportSection:
    """The "Sensitivity" section of a comparison report, placed after its diagnostics."""
    parts = []
    if power is not None:
        parts += ["<h3>Prior and likelihood (power-scaling)</h3>",
                  _flagged_note(power, threshold), table_html(_power_frame(power)),
                  _power_note(threshold)]
    if influence is not None:
        parts += [f"<h3>The {k} most influential {html.escape(str(influence.index.name))} "
                  "levels</h3>", table_html(_influence_frame(influence, k)),
                  _influence_note(k)]
    return ReportSection(key="sensitivity", title="Sensitivity", body="\n".join(parts),
                         after="diagnostics")


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="prior sweep" src="data:image/png;base64,{data}"/>'


def fill_sensitivity_report(folder: Path, sweep: Any, power: Mapping[str, pd.DataFrame],
                            influence: pd.DataFrame | None, formula: str,
                            data_path: str | None = None, threshold: float = THRESHOLD) -> None:
    """Write the ``hiermix sensitivity`` report's files (module docstring) into the existing,
    empty ``folder``."""
    import matplotlib.pyplot as plt

    sweep.table.to_csv(folder / "prior_sweep.csv", index=False)
    long = pd.concat([df.assign(prior_set=name) for name, df in power.items()],
                     ignore_index=True)
    long = long[["prior_set"] + [c for c in long.columns if c != "prior_set"]]
    long.to_csv(folder / "power_scaling.csv", index=False)
    if influence is not None:
        influence.to_csv(folder / "influence.csv")
    fig = sweep.plot(folder / "prior_sweep.png")
    plt.close(fig)
    sets = "".join(f"<h3>{html.escape(name)}</h3>{_table(df)}" for name, df in power.items())
    infl = ""
    if influence is not None:
        infl = (f"<h2>Influence of groups on the ML fit</h2>"
                f"{_table(top_influential(influence, len(influence)), index=True)}"
                f"{_influence_note(len(influence))}")
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hiermix sensitivity: {html.escape(formula)}
</title><style>{_CSS}</style></head><body>
<h1>How much do the answers depend on the prior, the likelihood and single groups?</h1>
<p><code>{html.escape(formula)}</code> &middot; data {html.escape(str(data_path or ""))}
&middot; intervals at {sweep.ci:.0%}</p>
<h2>Prior sweep</h2>
{_img(folder / "prior_sweep.png")}
{_table(sweep.wide().reset_index())}
<p class="note">Posterior means under each prior set beside the ML estimate. ML intervals are
profile-likelihood intervals where the fit offers them, Wald intervals otherwise (the
<code>interval</code> column of <code>prior_sweep.csv</code> says which); posterior intervals
are equal-tailed.</p>
<h2>Power-scaling sensitivity under each prior set</h2>
{sets}
{_power_note(threshold)}
{infl}
</body></html>
"""
    (folder / "report.html").write_text(body, encoding="utf-8")
