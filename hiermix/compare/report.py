"""Reporting a comparison: terminal tables and a self-contained report directory.

``write_report(cmp, out)`` writes::

    out/report.html        tables, figures (embedded), formula, data summary, priors,
                           diagnostics and warnings; opens offline
    out/fixef.csv, varcorr.csv, ranef.csv
    out/forest.png, ranef.png, varcorr.png
    out/posterior.zarr     the posterior DataTree (read back with xarray.open_datatree)
"""

from __future__ import annotations

import base64
import html
import sys
from pathlib import Path
from typing import Any

import pandas as pd

FIXEF_SHOWN = ["ml", "ml_se", "ml_lower", "ml_upper", "post_mean", "post_sd", "post_lower",
               "post_upper", "rhat", "ess_bulk", "std_diff"]
VARCORR_SHOWN = ["grp", "var1", "var2", "param", "ml", "ml_lower", "ml_upper", "ml_interval",
                 "boundary",
                 "post_mean", "post_median", "post_lower", "post_upper", "rhat", "ess_bulk"]


_INTERVAL_WORDS = {"profile": "likelihood profile", "wald": "Wald (log / atanh scale)",
                   "boot": "parametric bootstrap (percentile)"}
_INTERVAL_NOTES = {
    "profile": "ML intervals for SDs, correlations and sigma invert the profiled deviance "
               "(signed square root zeta), as lme4's confint(method = \"profile\"); an SD on "
               "the boundary has lower limit 0.",
    "wald": "ML intervals for SDs, correlations and the dispersion are Wald intervals on the "
            "log, atanh and log scales, transformed back; none is given on the boundary.",
    "boot": "ML intervals for SDs, correlations and sigma are percentile intervals of a "
            "parametric bootstrap.",
}


def _fmt(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else ""
    if x is None or (isinstance(x, float) and pd.isna(x)):
        return ""
    if isinstance(x, float):
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    return str(x)


def _shown(cmp: Any) -> list[tuple[str, pd.DataFrame]]:
    fixef = cmp.fixef[FIXEF_SHOWN].reset_index()
    varcorr = cmp.varcorr[VARCORR_SHOWN]
    ranef = cmp.ranef
    return [("Fixed effects", fixef), ("Variance components", varcorr),
            ("Random effects (first 20 rows; all in ranef.csv)", ranef.head(20))]


def print_tables(cmp: Any, file: Any = None) -> None:
    """Print the three tables: Rich tables on a terminal, plain text otherwise."""
    file = file or sys.stdout
    if getattr(file, "isatty", lambda: False)():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            console = Console(file=file)
            for title, df in _shown(cmp):
                table = Table(title=title)
                for col in df.columns:
                    table.add_column(str(col), justify="right")
                for row in df.itertuples(index=False):
                    table.add_row(*[_fmt(v) for v in row])
                console.print(table)
            return
    for title, df in _shown(cmp):
        print(f"\n{title} (intervals at {cmp.ci:.0%})", file=file)
        print(df.map(_fmt).to_string(index=False), file=file)


def _table_html(df: pd.DataFrame) -> str:
    return df.map(_fmt).to_html(index=False, border=0, classes="tbl", escape=True)


def tables_html(cmp: Any) -> str:
    """The three tables as HTML (the notebook representation of a comparison)."""
    parts = []
    for title, df in _shown(cmp):
        parts.append(f"<h3>{html.escape(title)}</h3>{_table_html(df)}")
    return "\n".join(parts)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"/>'


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _save_datatree(dt: Any, out: Path) -> str:
    import warnings

    target = out / "posterior.zarr"
    try:
        with warnings.catch_warnings():
            # zarr 3 notes that consolidated metadata is not in its format spec; xarray
            # reads it back all the same.
            warnings.simplefilter("ignore")
            dt.to_zarr(target, mode="w")
        return target.name
    except Exception as err:  # optional storage backends: report, do not fail the run
        return f"(not written: {err})"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h1{font-size:1.5em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table.tbl{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.tbl td,table.tbl th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}
table.tbl th{background:#f4f6f8}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.82em}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} .warn{color:#a33}
code{background:#f2f2f2;padding:0 .2em}
"""


def write_report(cmp: Any, out: str | Path, data_path: str | None = None) -> Path:
    """Write the report directory (see the module docstring) and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cmp.fixef.to_csv(out / "fixef.csv")
    cmp.varcorr.to_csv(out / "varcorr.csv", index=False)
    cmp.ranef.to_csv(out / "ranef.csv", index=False)
    figures = {"forest": cmp.plot_forest, "ranef": cmp.plot_ranef, "varcorr": cmp.plot_varcorr}
    import matplotlib.pyplot as plt

    for name, draw in figures.items():
        fig = draw(out / f"{name}.png")
        plt.close(fig)
    stored = _save_datatree(cmp.post.datatree, out)

    fit, post, design = cmp.fit, cmp.post, cmp.fit.design
    opt = getattr(fit, "optsummary", None)
    warnings_list = [str(m) for m in getattr(opt, "messages", ())]
    warnings_list += [str(d) for d in getattr(post, "diagnostics", ())]
    warn_html = ("<ul>" + "".join(f'<li class="warn">{html.escape(str(w))}</li>'
                                  for w in warnings_list) + "</ul>") if warnings_list \
        else "<p>None.</p>"
    priors = getattr(post, "priors", None)
    priors_text = str(priors.report()) if priors is not None and hasattr(priors, "report") \
        else str(priors or "")
    record = getattr(post, "record", None)
    sampler_text = "\n".join(f"{k}: {v}" for k, v in vars(record).items()) if record else ""
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hiermix: {html.escape(str(design.spec))}</title>
<style>{_CSS}</style></head><body>
<h1>hiermix comparison: maximum likelihood and posterior</h1>
<p><code>{html.escape(design.spec.formula or str(design.spec))}</code></p>
<h2>Model and data</h2>
{_pre(design.summary())}
<p>Data: {html.escape(str(data_path or design.data_name or "(unnamed)"))}.
Intervals at {cmp.ci:.0%}: ML fixed effects Wald, ML variance components
{_INTERVAL_WORDS.get(cmp.ml_interval, cmp.ml_interval)}; posterior equal-tailed.</p>
<h2>Fixed effects</h2>{_table_html(cmp.fixef[FIXEF_SHOWN].reset_index())}
<h2>Variance components</h2>{_table_html(cmp.varcorr[VARCORR_SHOWN])}
<p>{_INTERVAL_NOTES.get(cmp.ml_interval, "")} "boundary" marks estimates on the boundary of
the parameter space (a singular fit).</p>
<h2>Figures</h2>
{_img(out / "forest.png")}
{_img(out / "varcorr.png")}
{_img(out / "ranef.png")}
<h2>Random effects</h2>
<p>All {len(cmp.ranef)} rows are in <code>ranef.csv</code>; the first 40:</p>
{_table_html(cmp.ranef.head(40))}
<h2>Diagnostics and warnings</h2>{warn_html}
<h2>Maximum-likelihood fit</h2>{_pre(fit.summary() if hasattr(fit, "summary") else str(fit))}
<h2>Priors</h2>{_pre(priors_text)}
<h2>Sampler</h2>{_pre(sampler_text)}
<p>Posterior stored as <code>{html.escape(stored)}</code>.</p>
</body></html>
"""
    (out / "report.html").write_text(body, encoding="utf-8")
    return out
