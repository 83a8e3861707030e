"""Reporting a comparison: terminal tables and a self-contained report directory.

``write_report(cmp, out)`` writes::

    out/report.html        verdict, data summary, tables, figures (embedded), diagnostics of
                           both fits, priors, sampler settings and software versions; opens
                           offline and reads at 800 px wide
    out/fixef.csv, varcorr.csv, ranef.csv
    out/forest.png, ranef.png, varcorr.png
    out/posterior.zarr     the posterior DataTree (read back with xarray.open_datatree)
    out/hiermix-manifest.json   every file above with its SHA-256, so that a later run with
                           ``overwrite=True`` replaces only what hiermix wrote

Numbers are shown with a fixed number of decimals per column, chosen from the column's scale
(see :func:`decimals`); the CSV files keep full precision. Later stages add their own sections
to the page as :class:`ReportSection` objects (``sections=``), which the page places and lists
in its navigation; ``hiermix compare --sensitivity`` adds one after the diagnostics.
"""

from __future__ import annotations

import base64
import html
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CompareError
from .tables import varcorr_label

#: The variance components' ML interval (``compare(..., ml_interval=)``): column head and note.
_INTERVAL_HEADS = {"profile": "profile", "wald": "Wald", "boot": "bootstrap"}
_INTERVAL_NOTES = {
    "profile": "ML intervals for SDs, correlations and sigma invert the profiled deviance "
               "(signed square root zeta), as lme4's confint(method = \"profile\"); an SD on "
               "the boundary has lower limit 0.",
    "wald": "ML intervals for SDs, correlations and the dispersion are Wald intervals on the "
            "log, atanh and log scales, transformed back; none is given on the boundary.",
    "boot": "ML intervals for SDs, correlations and sigma are percentile intervals of a "
            "parametric bootstrap.",
}
#: Random-effects rows shown in the report (all rows are in ranef.csv).
RANEF_SHOWN = 40
#: Packages whose versions the report lists.
VERSIONS = ("hiermix", "numpy", "scipy", "pandas", "pymc", "nutpie", "arviz", "nlopt")


def decimals(values: Any, digits: int = 3) -> int:
    """Decimals that give the smallest non-zero magnitude in ``values`` ``digits`` significant
    digits, between 1 and 4 (so 251.4053 and 10.4673 print as 251.41 and 10.47)."""
    a = np.abs(np.asarray(values, dtype=float))
    a = a[np.isfinite(a) & (a > 0)]
    if not a.size:
        return 2
    return int(min(4, max(1, digits - 1 - math.floor(math.log10(float(a.min()))))))


def _num(x: Any, d: int) -> str:
    if x is None or (isinstance(x, float | np.floating) and not np.isfinite(x)):
        return ""
    return f"{float(x):.{d}f}"


def _col(values: Any, d: int) -> list[str]:
    return [_num(v, d) for v in values]


def _interval(lo: Any, hi: Any, d: int) -> list[str]:
    return [f"[{_num(a, d)}, {_num(b, d)}]" if np.isfinite(a) and np.isfinite(b) else ""
            for a, b in zip(lo, hi, strict=True)]


def _diagnostic_columns(t: pd.DataFrame, d: int) -> dict[str, list[str]]:
    return {"MCSE of mean": _col(t["mcse_mean"], d + 1),
            "R-hat": _col(t["rhat"], 3),
            "ESS bulk": _col(t["ess_bulk"], 0),
            "ESS tail": _col(t["ess_tail"], 0)}


def fixef_frames(cmp: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fixed-effects table as shown: estimates, and the Monte Carlo columns."""
    t, ci = cmp.fixef, f"{cmp.ci:.0%}"
    d = decimals(t["ml_se"])
    names = [str(n) for n in t.index]
    est = pd.DataFrame({
        "coefficient": names,
        "ML": _col(t["ml"], d), "ML SE": _col(t["ml_se"], d),
        f"ML {ci} Wald": _interval(t["ml_lower"], t["ml_upper"], d),
        "post. mean": _col(t["post_mean"], d), "post. SD": _col(t["post_sd"], d),
        f"post. {ci} interval": _interval(t["post_lower"], t["post_upper"], d),
        "std_diff": _col(t["std_diff"], 2)})
    mc = pd.DataFrame({"coefficient": names, **_diagnostic_columns(t, d)})
    return est, mc


def varcorr_frames(cmp: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The variance-components table as shown: estimates, and the Monte Carlo columns."""
    t, ci = cmp.varcorr, f"{cmp.ci:.0%}"
    d = decimals(t["ml_se"])
    labels = [varcorr_label(r, cmp.fit.design.family) for _, r in t.iterrows()]
    ml = [_num(v, d) + (" (boundary)" if b else "") for v, b in zip(t["ml"], t["boundary"],
                                                                   strict=True)]
    est = pd.DataFrame({
        "parameter": labels, "ML": ml, "ML SE": _col(t["ml_se"], d),
        f"ML {ci} {_INTERVAL_HEADS.get(cmp.ml_interval, 'Wald')}": _interval(
            t["ml_lower"], t["ml_upper"], d),
        "post. mean": _col(t["post_mean"], d), "post. median": _col(t["post_median"], d),
        "post. SD": _col(t["post_sd"], d),
        f"post. {ci} interval": _interval(t["post_lower"], t["post_upper"], d),
        "std_diff": _col(t["std_diff"], 2)})
    mc = pd.DataFrame({"parameter": labels, **_diagnostic_columns(t, d)})
    return est, mc


def ranef_frame(cmp: Any, rows: int | None = RANEF_SHOWN) -> pd.DataFrame:
    """The random-effects table as shown (its first ``rows`` rows; all with None)."""
    t = cmp.ranef if rows is None else cmp.ranef.head(rows)
    d = decimals(cmp.ranef["ml_condsd"])
    return pd.DataFrame({
        "term": [f"{term} | {g}" for g, term in zip(t["grp"], t["term"], strict=True)],
        "level": list(t["level"]),
        "ML mode": _col(t["ml_mode"], d), "ML cond. SD": _col(t["ml_condsd"], d),
        "post. mean": _col(t["post_mean"], d), "post. SD": _col(t["post_sd"], d),
        f"post. {cmp.ci:.0%} interval": _interval(t["post_lower"], t["post_upper"], d),
        "shrinkage ML": _col(t["ml_shrinkage"], 3),
        "shrinkage post.": _col(t["post_shrinkage"], 3)})


def _ranef_title(cmp: Any, shown: int) -> str:
    n = len(cmp.ranef)
    if shown >= n:
        return f"Random effects (all {n} rows)"
    return f"Random effects (the first {shown} of {n} rows; all in ranef.csv)"


def _shown(cmp: Any) -> list[tuple[str, pd.DataFrame]]:
    fe, fe_mc = fixef_frames(cmp)
    vc, vc_mc = varcorr_frames(cmp)
    shown = min(len(cmp.ranef), RANEF_SHOWN)
    return [("Fixed effects", fe), ("Fixed effects: Monte Carlo precision", fe_mc),
            ("Variance components", vc), ("Variance components: Monte Carlo precision", vc_mc),
            (_ranef_title(cmp, shown), ranef_frame(cmp))]


def print_tables(cmp: Any, file: Any = None) -> None:
    """Print the verdict and the tables: Rich tables on a terminal, plain text otherwise."""
    from .verdict import verdict

    file = file or sys.stdout
    print(verdict(cmp).text(), file=file)
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
                for i, col in enumerate(df.columns):
                    table.add_column(str(col), justify="left" if i == 0 else "right")
                for row in df.itertuples(index=False):
                    table.add_row(*[str(v) for v in row])
                console.print(table)
            return
    for title, df in _shown(cmp):
        print(f"\n{title}", file=file)
        print(df.to_string(index=False), file=file)


def table_html(df: pd.DataFrame, caption: str = "", text_columns: int = 1,
                wrap: bool = False) -> str:
    """A table; its first ``text_columns`` columns hold words (left-aligned); ``wrap`` lets
    long cells break over lines."""
    def cls(i: int) -> str:
        return ' class="t"' if i < text_columns else ""

    head = "".join(f"<th{cls(i)}>{html.escape(str(c))}</th>" for i, c in enumerate(df.columns))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{html.escape(str(v))}</td>" for i, v in enumerate(row))
        + "</tr>" for row in df.itertuples(index=False))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    kind = "tbl wrap" if wrap else "tbl"
    return (f'<div class="scroll"><table class="{kind}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _pairs_html(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>"
                   for a, b in rows)
    return f'<div class="scroll"><table class="kv">{body}</table></div>'


def tables_html(cmp: Any) -> str:
    """The tables as HTML (the notebook representation of a comparison)."""
    return "\n".join(f"<h3>{html.escape(title)}</h3>{table_html(df)}"
                     for title, df in _shown(cmp))


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>'


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
            dt.to_zarr(target, mode="w-")
        return target.name
    except Exception as err:  # optional storage backends: report, do not fail the run
        return f"(not written: {err})"


def versions() -> list[tuple[str, str]]:
    """(package, version) of Python and the packages of :data:`VERSIONS`."""
    from importlib.metadata import PackageNotFoundError, version

    out = [("python", sys.version.split()[0])]
    for name in VERSIONS:
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def data_rows(design: Any, data_path: str | None) -> list[tuple[str, str]]:
    """(item, value) rows of the data summary: source, rows, response and group sizes."""
    y = np.asarray(design.y, dtype=float)
    sd = float(y.std(ddof=1)) if y.size > 1 else 0.0
    name = design.response_name or "response"
    rows = [("data", str(data_path or design.data_name or "(unnamed data frame)")),
            ("observations used", f"{design.nobs}" + (
                f" ({design.n_dropped} rows dropped for missing values)"
                if design.n_dropped else " (no rows dropped)")),
            ("family and link", f"{design.family.name}, {design.family.link.name} link"),
            (f"response {name}", f"mean {y.mean():.4g}, SD {sd:.4g}, min {y.min():.4g}, "
                                 f"max {y.max():.4g}")]
    for t in design.reterms:
        sizes = np.bincount(np.asarray(t.codes), minlength=t.nlevels)
        rows.append((f"grouping factor {t.group}" + (f" (term {t.label})"
                                                     if t.label != t.group else ""),
                     f"{t.nlevels} levels; {int(sizes.min())} to {int(sizes.max())} "
                     f"observations per level (median {float(np.median(sizes)):g}); "
                     f"effects: {', '.join(t.cnames)}"))
    return rows


def _verdict_html(cmp: Any, checks: Sequence[Any]) -> str:
    from .verdict import verdict

    v = verdict(cmp, checks=checks)
    parts = [f'<p class="headline">{html.escape(v.headline)}</p>']
    if v.largest:
        parts.append(f"<p>{html.escape(v.largest)}</p>")
    if v.gaps:
        items = "".join(
            f"<li><b>{html.escape(g.label)}</b>: {html.escape(g.summary())}. "
            f"{html.escape(g.reason)}</li>" for g in v.gaps)
        parts.append(f"<p>Where they differ by more than {v.threshold:g} posterior SDs, and "
                     f"why:</p><ul>{items}</ul>")
    if v.agree:
        parts.append(f"<p>Within {v.threshold:g} posterior SDs: "
                     f"{html.escape(', '.join(v.agree))}.</p>")
    parts += [f"<p>{html.escape(n)}</p>" for n in v.notes]
    parts.append(
        "<p class=\"note\">Some difference is expected: the posterior adds priors, ML does "
        "not; the posterior of an SD is skewed, so its mean lies above the mode that ML "
        "estimates; and with few groups the data say little about the variance components. "
        "<code>std_diff</code> = (ML &minus; posterior mean) / posterior SD.</p>")
    return "\n".join(parts)


def _checks_html(cmp: Any, checks: Sequence[Any]) -> str:
    from .checks import optimiser_rows

    marks = {True: "passed", False: "FAILED", None: "\u2013"}
    df = pd.DataFrame({"check": [c.name for c in checks], "result": [c.result for c in checks],
                       "rule": [c.rule for c in checks], "status": [marks[c.ok] for c in checks]})
    problems = [str(getattr(d, "message", d)) for d in getattr(cmp.post, "diagnostics", ())]
    warn = ("<ul>" + "".join(f'<li class="warn">{html.escape(m)}</li>' for m in problems)
            + "</ul>") if problems else "<p>The sampler raised no warning.</p>"
    opt = optimiser_rows(cmp.fit)
    opt_html = _pairs_html(opt) if opt else "<p>The fit carries no optimiser record.</p>"
    table = table_html(df, text_columns=4, wrap=True).replace(
        '<td class="t">FAILED</td>', '<td class="t warn"><b>FAILED</b></td>')
    return (f"<h3>Sampler (NUTS)</h3>{table}{warn}"
            f"<h3>Optimiser (maximum likelihood)</h3>{opt_html}")


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.45em;margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em} h3{font-size:1.02em;margin:1.2em 0 .3em}
nav{font-size:.9em;margin:.6em 0 1em} nav a{margin-right:.8em;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.84em;margin:.4em 0}
table.tbl td,table.tbl th{padding:.22em .5em;border-bottom:1px solid #eee;text-align:right;
white-space:nowrap;font-variant-numeric:tabular-nums}
table.tbl th{background:#f4f6f8;white-space:normal;vertical-align:bottom}
table.tbl .t{text-align:left} table.wrap td{white-space:normal}
caption{text-align:left;font-size:.9em;color:#555}
table.kv th{text-align:left;font-weight:600;padding:.2em 1em .2em 0;vertical-align:top;
white-space:nowrap} table.kv td{padding:.2em 0}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}
figure{margin:1em 0} figcaption{font-size:.88em;color:#444}
img{max-width:100%;height:auto;border:1px solid #eee} .warn{color:#a33}
code{background:#f2f2f2;padding:0 .2em} .headline{font-size:1.08em;font-weight:600}
.note{color:#444;font-size:.92em}
#verdict{background:#f6f9fc;border-left:4px solid #1b6ca8;padding:.2em 1em;margin-top:1em}
"""

_SECTIONS = (("verdict", "Verdict"), ("data", "Data"), ("fixef", "Fixed effects"),
             ("varcorr", "Variance components"), ("figures", "Figures"),
             ("ranef", "Random effects"), ("diagnostics", "Diagnostics"),
             ("mlfit", "ML fit"), ("priors", "Priors"), ("software", "Software"))


@dataclass(frozen=True)
class ReportSection:
    """A section that a later stage (sensitivity, ...) adds to the report page.

    The page renders it as ``<section id="{key}"><h2>{title}</h2>{body}</section>`` after the
    section ``after`` (a built-in one, :data:`_SECTIONS`, or an extra given earlier), and
    lists it in the page's navigation in that place.

    Attributes
    ----------
    key : str
        The anchor: letters, digits, ``-`` and ``_``; not a built-in section's.
    title : str
        The heading (plain text).
    body : str
        HTML of the section below its heading.
    after : str
        The key of the section it follows.
    nav : str or None
        The navigation link's text; the title when None.
    """

    key: str
    title: str
    body: str
    after: str = "diagnostics"
    nav: str | None = None


def _ordered(extra: Sequence[ReportSection]) -> list[tuple[str, str]]:
    """(key, nav text) of every section in page order, built-in and extra.

    Raises
    ------
    CompareError
        An extra section's key is malformed or taken, or it follows an unknown section.
    """
    order = [k for k, _ in _SECTIONS]
    names = dict(_SECTIONS)
    for sec in extra:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", sec.key) or sec.key in names:
            raise CompareError(f"report section key {sec.key!r} is not a free anchor name "
                               f"(letters, digits, - and _, none of {', '.join(names)})")
        if sec.after not in names:
            raise CompareError(f"report section {sec.key!r} follows {sec.after!r}, which the "
                               f"report does not have; known: {', '.join(names)}")
        # after the anchor and after any extras already placed behind it
        at = order.index(sec.after) + 1
        while at < len(order) and order[at] not in dict(_SECTIONS):
            at += 1
        order.insert(at, sec.key)
        names[sec.key] = sec.nav or sec.title
    return [(k, names[k]) for k in order]


def write_report(cmp: Any, out: str | Path, data_path: str | None = None,
                 overwrite: bool = False, sections: Sequence[ReportSection] = ()) -> Path:
    """Write the report directory (see the module docstring) and return its path.

    ``out`` must not exist or be empty; with ``overwrite=True`` it may also hold a previous
    hiermix report, which is replaced whole. ``sections`` are extra sections of the page
    (:class:`ReportSection`), such as the sensitivity section of
    :func:`hiermix.sensitivity.command.compare_section`. The folder is filled beside ``out``
    and renamed into place (:class:`~hiermix.compare.destination.ReportDestination`).

    Raises
    ------
    OutputError
        ``out`` cannot be written safely (it holds other files, would hold ``data_path`` or
        its types file, is a link, ...); nothing is written.
    """
    from ..datasets import types_path
    from .destination import ReportDestination

    protect: list[str | Path | None] = [data_path, types_path(data_path)] if data_path else []
    dest = ReportDestination.check(out, overwrite=overwrite, protect=protect)
    _ordered(sections)  # a bad section fails before anything is written
    return Path(dest.write(lambda folder: fill_report(cmp, folder, data_path, sections)))


def fill_report(cmp: Any, out: Path, data_path: str | None = None,
                sections: Sequence[ReportSection] = ()) -> None:
    """Write the report's files into the existing, empty folder ``out``; ``sections`` are
    extra sections of the page (:class:`ReportSection`)."""
    cmp.fixef.to_csv(out / "fixef.csv")
    cmp.varcorr.to_csv(out / "varcorr.csv", index=False)
    cmp.ranef.to_csv(out / "ranef.csv", index=False)
    figures = {"forest": cmp.plot_forest, "ranef": cmp.plot_ranef, "varcorr": cmp.plot_varcorr}
    import matplotlib.pyplot as plt

    for name, draw in figures.items():
        fig = draw(out / f"{name}.png")
        plt.close(fig)
    stored = _save_datatree(cmp.post.datatree, out)
    (out / "report.html").write_text(report_html(cmp, out, data_path, stored, sections),
                                     encoding="utf-8")


def report_html(cmp: Any, figures: Path, data_path: str | None = None,
                stored: str = "posterior.zarr", sections: Sequence[ReportSection] = ()) -> str:
    """The report page; ``figures`` is the folder holding forest.png, varcorr.png, ranef.png;
    ``sections`` are extra sections (:class:`ReportSection`), placed and listed in the
    navigation where each asks."""
    from .checks import sampler_checks

    fit, post, design = cmp.fit, cmp.post, cmp.fit.design
    ci = f"{cmp.ci:.0%}"
    vc_head = _INTERVAL_HEADS.get(getattr(cmp, "ml_interval", "wald"), "Wald")
    vc_how = ("Wald" if vc_head == "Wald"
              else f"Wald for fixed effects, {vc_head} for variance components")
    checks = sampler_checks(post)
    priors = getattr(post, "priors", None)
    priors_text = str(priors.report()) if priors is not None and hasattr(priors, "report") \
        else "The posterior carries no prior record."
    record = getattr(post, "record", None)
    sampler = [(k, f"{v:.4g}" if isinstance(v, float) else str(v))
               for k, v in vars(record).items()] if record is not None else []
    fe, fe_mc = fixef_frames(cmp)
    vc, vc_mc = varcorr_frames(cmp)
    shown = min(len(cmp.ranef), RANEF_SHOWN)
    formula = design.spec.formula or str(design.spec)
    blocks = {
        "verdict": f'<section id="verdict"><h2>Verdict</h2>{_verdict_html(cmp, checks)}'
                   "</section>",
        "data": f'<h2 id="data">Data</h2>{_pairs_html(data_rows(design, data_path))}',
        "fixef": f"""<h2 id="fixef">Fixed effects</h2>
{table_html(fe)}
<p class="note">ML intervals are Wald intervals (estimate &plusmn; z &middot; SE); posterior
intervals are equal-tailed. Posterior columns summarise the draws; <code>std_diff</code> =
(ML &minus; posterior mean) / posterior SD.</p>
{table_html(fe_mc, "Monte Carlo precision of the posterior summaries")}""",
        "varcorr": f"""<h2 id="varcorr">Variance components</h2>
{table_html(vc)}
<p class="note">{_INTERVAL_NOTES.get(cmp.ml_interval, "")} ML SE is the delta-method SE on the
natural scale. "(boundary)" marks an estimate on the boundary of the parameter space (a
singular fit). The posterior median is shown because SD posteriors are
skewed: it lies closer to the ML estimate than the mean.</p>
{table_html(vc_mc, "Monte Carlo precision of the posterior summaries")}""",
        "figures": f"""<h2 id="figures">Figures</h2>
<figure>{_img(figures / "forest.png", "forest plot")}<figcaption>Every parameter on its
own axis: ML estimate (circle) with its {ci} interval ({vc_how}), posterior mean (square, the
summary the tables use) with its {ci} equal-tailed interval; for SDs and correlations a tick
marks the posterior median.</figcaption></figure>
<figure>{_img(figures / "varcorr.png", "variance-component densities")}<figcaption>Posterior
density of each variance component (shaded red) with its mean (dotted), its prior (dashed),
the ML estimate (blue line) and the ML {ci} {vc_head} interval (blue band).</figcaption></figure>
<figure>{_img(figures / "ranef.png", "random effects")}<figcaption>Each level's conditional
mode (ML, horizontal, bars &plusmn; z conditional SD) against its posterior mean (vertical,
bars the {ci} posterior interval). Points on the dashed line agree.</figcaption></figure>""",
        "ranef": f"""<h2 id="ranef">Random effects</h2>
<p>{html.escape(_ranef_title(cmp, shown))}. Shrinkage is the fraction of the population
variance left after seeing the level's data (1: nothing learned; 0: no pooling).</p>
{table_html(ranef_frame(cmp), text_columns=2)}""",
        "diagnostics": f'<h2 id="diagnostics">Diagnostics</h2>\n{_checks_html(cmp, checks)}',
        "mlfit": '<h2 id="mlfit">Maximum-likelihood fit</h2>'
                 + _pre(fit.summary() if hasattr(fit, "summary") else str(fit)),
        "priors": f"""<h2 id="priors">Priors and sampler settings</h2>{_pre(priors_text)}
{_pairs_html(sampler) if sampler else ""}
<p>Posterior stored as <code>{html.escape(stored)}</code>; the full tables are in
<code>fixef.csv</code>, <code>varcorr.csv</code> and <code>ranef.csv</code>.</p>""",
        "software": f'<h2 id="software">Software</h2>{_pairs_html(versions())}',
    }
    for sec in sections:
        blocks[sec.key] = (f'<section id="{sec.key}"><h2>{html.escape(sec.title)}</h2>\n'
                           f"{sec.body}\n</section>")
    order = _ordered(sections)
    nav = " ".join(f'<a href="#{k}">{html.escape(v)}</a>' for k, v in order)
    body = "\n".join(blocks[k] for k, _ in order)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hiermix: {html.escape(formula)}</title>
<style>{_CSS}</style></head><body>
<h1>Maximum likelihood and posterior, side by side</h1>
<p><code>{html.escape(formula)}</code> &middot; {html.escape(design.family.name)} &middot;
{design.nobs} observations &middot; intervals at {ci}</p>
<nav>{nav}</nav>
{body}
</body></html>
"""
