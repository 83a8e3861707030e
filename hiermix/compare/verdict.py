"""The plain-language verdict of a comparison: where ML and the posterior agree, and why not.

A parameter *agrees* when its ML estimate lies within ``threshold`` posterior standard
deviations of its posterior mean, ``|std_diff| <= threshold`` (default
:data:`THRESHOLD` = 0.5). The two estimates answer different questions, so some gaps are
expected; each gap gets the reason that fits its kind of parameter:

* an SD, sigma or phi: its posterior is skewed to the right (bounded below by 0), so the
  posterior mean lies above the median, which lies above the mode that ML (and REML) is
  closest to; with few groups the data say little about an SD and its prior shapes the
  posterior;
* a correlation: it rests on as many pairs of effects as the term has levels, and the LKJ
  prior and the SDs' uncertainty widen and move its posterior;
* a fixed effect: the posterior averages over the uncertainty in the variance components,
  which ML holds at their estimates, and its prior pulls it towards the prior mean when the
  data are weak;
* any estimate on the boundary (a singular fit): no posterior draw is exactly 0, so the mean
  lies above the ML estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import Check, sampler_checks
from .tables import varcorr_label

#: Largest |std_diff| (in posterior SDs) at which ML and the posterior are said to agree.
THRESHOLD = 0.5
#: Posterior SD / posterior mean above which the data are said to pin an SD down loosely.
LOOSE = 0.2


@dataclass(frozen=True)
class Gap:
    """One parameter whose ML estimate and posterior mean differ by more than the threshold.

    Attributes
    ----------
    label : str
        Reader's name of the parameter.
    kind : {"fixef", "sd", "corr", "sigma", "phi"}
    ml, post_mean, post_median, post_sd, std_diff : float
    reason : str
        Why a gap of this kind is expected, with this model's numbers.
    """

    label: str
    kind: str
    ml: float
    post_mean: float
    post_median: float
    post_sd: float
    std_diff: float
    reason: str

    def summary(self) -> str:
        """ML, posterior mean and median, and the gap in posterior SDs, in one phrase."""
        gap = (f"{self.std_diff:+.2f} posterior SDs" if np.isfinite(self.std_diff)
               else "a gap that cannot be measured in posterior SDs (their SD is 0)")
        return (f"ML {self.ml:.4g}, posterior mean {self.post_mean:.4g} (median "
                f"{self.post_median:.4g}), {gap}")


@dataclass(frozen=True)
class Verdict:
    """What a reader should take from a comparison; build with :func:`verdict`.

    Attributes
    ----------
    threshold : float
        In posterior SDs.
    n_params : int
        Fixed effects and variance components compared.
    agree : tuple of str
        Labels of the parameters within the threshold.
    gaps : tuple of Gap
        The others, largest |std_diff| first.
    largest : str
        The parameter with the largest |std_diff| and its value, in words.
    notes : tuple of str
        Caveats: sampler problems, Monte Carlo error, priors, group counts.
    """

    threshold: float
    n_params: int
    agree: tuple[str, ...]
    gaps: tuple[Gap, ...]
    largest: str
    notes: tuple[str, ...]

    @property
    def headline(self) -> str:
        """One sentence: how many parameters agree."""
        t = f"{self.threshold:g} posterior SD{'s' if self.threshold != 1 else ''}"
        if not self.gaps:
            return (f"ML and the posterior agree on all {self.n_params} parameters: every ML "
                    f"estimate lies within {t} of the posterior mean.")
        return (f"ML and the posterior agree on {len(self.agree)} of {self.n_params} "
                f"parameters (within {t} of the posterior mean) and differ by more on "
                f"{len(self.gaps)}.")

    def text(self) -> str:
        """The verdict as plain text (headline, gaps with reasons, notes)."""
        lines = [self.headline, self.largest]
        for g in self.gaps:
            lines.append(f"- {g.label}: {g.summary()}. {g.reason}")
        lines += list(self.notes)
        return "\n".join(lines)


def _nlevels(design: Any, label: str) -> int | None:
    for t in design.reterms:
        if t.label == label:
            return int(t.nlevels)
    return None


def _prior_text(post: Any, design: Any, kind: str, label: str, column: int | None = None
                ) -> str:
    priors = getattr(post, "priors", None)
    if priors is None:
        return "its prior"
    prior: Any = None
    if kind == "sd":
        prior = priors.sd.get(label)
    elif kind == "corr":
        prior = priors.corr.get(label)
    elif kind in ("sigma", "phi"):
        prior = getattr(priors, kind, None)
    elif kind == "fixef":
        prior = priors.intercept if label == "Intercept" else priors.coef
        if prior is not None and label != "Intercept":
            names = [n for n in design.fixef_names if n != "Intercept"]
            prior = _column(prior, names.index(label) if label in names else 0)
    if kind == "sd" and prior is not None and column is not None:
        prior = _column(prior, column)
    return f"its prior, {prior}" if prior is not None else "its prior"


def _column(prior: Any, j: int) -> Any:
    """The prior of column j of a prior with one scale per column."""
    import dataclasses

    changes = {}
    for f in dataclasses.fields(prior):
        a = np.ravel(np.asarray(getattr(prior, f.name), dtype=float))
        if a.size > 1:
            changes[f.name] = float(a[min(j, a.size - 1)])
    return dataclasses.replace(prior, **changes) if changes else prior


def _reason(kind: str, key: str, row: Any, cmp: Any) -> str:
    """Why a gap is expected; ``key`` is the coefficient name or the term label."""
    design = cmp.fit.design
    column = None
    if kind == "sd":
        term = next((t for t in design.reterms if t.label == key), None)
        if term is not None and row["var1"] in term.cnames:
            column = list(term.cnames).index(row["var1"])
    prior = _prior_text(cmp.post, design, kind, key, column)
    if bool(row.get("boundary", False)):
        return ("ML puts this estimate on the boundary (a singular fit); no posterior draw is "
                "exactly at the boundary, so the posterior mean must lie away from it.")
    if kind in ("sd", "sigma", "phi"):
        skew = ""
        if row["post_mean"] > row["post_median"]:
            med = (row["ml"] - row["post_median"]) / row["post_sd"]
            skew = (f"Its posterior is skewed to the right (bounded by 0): the mean lies above "
                    f"the median, and measured from the median the gap is {med:+.2f} "
                    "posterior SDs. ")
        cv = row["post_sd"] / row["post_mean"] if row["post_mean"] > 0 else np.inf
        spread = f"posterior SD {row['post_sd']:.3g}, {100 * cv:.0f}% of its mean"
        if cv <= LOOSE:
            return skew + f"The data pin it down well ({spread}), so the prior matters little."
        few = ""
        if kind == "sd":
            n = _nlevels(design, str(row["grp"]))
            few = f": it rests on the {n} effects of {row['grp']}" if n is not None else ""
        return skew + f"The data pin it down loosely ({spread}){few}, so {prior} has a say."
    if kind == "corr":
        n = _nlevels(design, str(row["grp"]))
        return (f"A correlation of random effects rests on {n} pairs of effects; "
                f"{prior} and the uncertainty in both SDs move its posterior.")
    return ("The posterior averages over the uncertainty in the variance components, which "
            f"ML holds at their estimates; {prior} pulls it when the data are weak.")


def verdict(cmp: Any, threshold: float = THRESHOLD,
            checks: Sequence[Check] | None = None) -> Verdict:
    """Read a comparison: which parameters agree, which differ and why (module docstring).

    Parameters
    ----------
    cmp : Comparison
    threshold : float
        Largest |std_diff| called agreement, in posterior SDs.
    checks : sequence of Check, optional
        :func:`~hiermix.compare.checks.sampler_checks` of ``cmp.post``, if already computed.

    Returns
    -------
    Verdict
    """
    rows: list[tuple[str, str, str, Any]] = [(str(name), "fixef", str(name), r)
                                             for name, r in cmp.fixef.iterrows()]
    rows += [(varcorr_label(r), str(r["param"]), str(r["grp"]), r)
             for _, r in cmp.varcorr.iterrows()]
    agree: list[str] = []
    gaps: list[Gap] = []
    for label, kind, key, r in rows:
        d = float(r["std_diff"])
        if np.isfinite(d) and abs(d) <= threshold:
            agree.append(label)
            continue
        gaps.append(Gap(label=label, kind=kind, ml=float(r["ml"]),
                        post_mean=float(r["post_mean"]), post_median=float(r["post_median"]),
                        post_sd=float(r["post_sd"]), std_diff=d,
                        reason=_reason(kind, key, r, cmp)))
    gaps.sort(key=lambda g: -abs(g.std_diff) if np.isfinite(g.std_diff) else -np.inf)
    diffs = [(abs(float(r["std_diff"])), label, kind, key, r) for label, kind, key, r in rows
             if np.isfinite(float(r["std_diff"]))]
    largest = ""
    if diffs:
        _, label, kind, key, r = max(diffs, key=lambda x: x[0])
        rel = ""
        if float(r["ml"]) != 0 and kind != "corr":
            pct = 100 * (float(r["post_mean"]) / float(r["ml"]) - 1)
            rel = f", {abs(pct):.0f}% {'above' if pct > 0 else 'below'} the ML estimate"
        largest = (f"The largest gap is on {label}: ML {float(r['ml']):.4g} against a "
                   f"posterior mean of {float(r['post_mean']):.4g}{rel}, "
                   f"{float(r['std_diff']):+.2f} posterior SDs."
                   + ("" if gaps else " " + _reason(kind, key, r, cmp)))
    notes: list[str] = []
    if checks is None:
        checks = sampler_checks(cmp.post)
    failed = [c.name for c in checks if c.ok is False]
    if failed:
        notes.append(f"The draws failed {len(failed)} check(s) ({', '.join(failed)}; see "
                     "Diagnostics): the posterior side is only as good as its draws.")
    mcse = np.concatenate([cmp.fixef["mcse_mean"].to_numpy(float),
                           cmp.varcorr["mcse_mean"].to_numpy(float)])
    sd = np.concatenate([cmp.fixef["post_sd"].to_numpy(float),
                         cmp.varcorr["post_sd"].to_numpy(float)])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nanmax(mcse / sd) if np.isfinite(mcse / sd).any() else np.nan
    if np.isfinite(ratio):
        notes.append(f"Monte Carlo error moves each std_diff by at most about {ratio:.2f} "
                     "posterior SDs (MCSE of the mean / posterior SD); gaps smaller than that "
                     "are noise.")
    return Verdict(threshold=threshold, n_params=len(rows), agree=tuple(agree),
                   gaps=tuple(gaps), largest=largest, notes=tuple(notes))
