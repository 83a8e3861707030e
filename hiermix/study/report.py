"""A study's report folder: CSVs of the estimates, the performance and the fits' flags,
figures, and an HTML page that puts them together."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    return df.round(digits).to_html(index=False, border=0, na_rep="", classes="num")


def write_study_report(result: Any, folder: str | Path, title: str = "Simulation study"
                       ) -> Path:
    """Write estimates.csv, performance.csv, fits.csv, study.nc, the figures and report.html
    into ``folder`` (which must exist).

    Returns
    -------
    Path of report.html
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(folder)
    result.estimates.to_csv(out / "estimates.csv", index=False, float_format="%.17g")
    result.performance.to_csv(out / "performance.csv", index=False, float_format="%.17g")
    result.fits.to_csv(out / "fits.csv", index=False)
    result.to_netcdf(out / "study.nc")
    fig = result.plot()
    fig.savefig(out / "performance.png", dpi=110)
    plt.close(fig)
    zips: list[tuple[str, str]] = []
    for p in result.performance["param"].unique():
        fig = result.zip_plot(p)
        name = f"zip_{len(zips)}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        zips.append((p, name))
    perf_cols = [*result.conditions, "method", "param", "truth", "n_ok", "n_fail", "n_flagged",
                 "bias", "bias_mcse", "rel_bias", "emp_se", "rmse", "rmse_mcse", "coverage",
                 "coverage_mcse", "mean_width", "median_width"]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p><code>{html.escape(result.formula)}</code> ({html.escape(result.family)}), "
        f"{result.nsim} replicates per condition, seed {result.seed}; methods "
        f"{html.escape(', '.join(result.methods))}.</p>",
        "<h2>Fits</h2><p>Failed fits have no estimate and are counted here; fits flagged as "
        "not converged, singular or divergent stay in every measure.</p>",
        _table(result.fits),
        "<h2>Performance</h2><p>Monte Carlo standard errors (<code>_mcse</code>) as in Morris, "
        "White &amp; Crowther (2019), Stat Med 38:2074.</p>",
        _table(result.performance[perf_cols]),
        '<img src="performance.png" alt="coverage and bias with Monte Carlo error bars">',
        "<h2>Zip plots (first condition)</h2>",
        *[f'<h3>{html.escape(p)}</h3><img src="{n}" alt="zip plot of {html.escape(p)}">'
          for p, n in zips],
        "<h2>Files</h2><p>estimates.csv (one row per replicate, method and parameter), "
        "performance.csv, fits.csv, study.nc (netCDF).</p>",
    ]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "table.num td{text-align:right;padding:0 .6em}img{max-width:100%}</style></head>"
            f"<body>{''.join(parts)}</body></html>")
    (out / "report.html").write_text(page)
    return out / "report.html"
