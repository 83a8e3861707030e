"""Linear mixed models: hiermix against its peers on the same data, in one run.

Peers: mixedlm (PyPI, Rust core, an lme4 port), statsmodels MixedLM where it can express the
model, and lme4 through ``Rscript`` when R with lme4 is on PATH. For every case the script
prints each engine's best wall-clock time over ``--repeat`` fits, the time ratio to hiermix and
the difference of its criterion (REML criterion or deviance) from hiermix's (positive: the
peer's optimum is worse).

hiermix is timed twice: ``hiermix`` from the data frame (formula, design, fit), as the peers
are, and ``hiermix fit`` from a design already built (``Model(...).fit()``).

Usage::

    .venv/bin/python benchmarks/lmm.py                 # every case
    .venv/bin/python benchmarks/lmm.py --cases sleepstudy insteval --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from timing import best_time, print_table, run_rscript  # noqa: E402

import hiermix  # noqa: E402
from hiermix.frequentist import lmer  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    formula: str
    REML: bool
    load: Callable[[], pd.DataFrame]
    statsmodels: dict[str, Any] | None  # MixedLM.from_formula arguments, None if inexpressible
    repeat_scale: float = 1.0  # fraction of --repeat used (large cases run fewer times)


def _catalogue(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from catalogue import load_data

        return load_data(name)

    return load


def _insteval() -> pd.DataFrame:
    from catalogue import load_data

    return load_data("InstEval")[["y", "service", "s", "d", "dept"]]


def simulated_1m(n_groups: int = 100_000, per_group: int = 10, seed: int = 1) -> pd.DataFrame:
    """1,000,000 rows, 100,000 groups: y = 1 + 0.5 x + b0 + b1 x + e, SD(b0) = 1, SD(b1) = 0.5,
    corr(b0, b1) = 0.3, sigma = 1."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.standard_normal(g.size)
    cov = np.array([[1.0, 0.3 * 0.5], [0.3 * 0.5, 0.25]])
    b = rng.multivariate_normal(np.zeros(2), cov, size=n_groups)
    y = 1.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.standard_normal(g.size)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})


CASES = [
    Case("sleepstudy", "Reaction ~ Days + (Days | Subject)", True, _catalogue("sleepstudy"),
         {"formula": "Reaction ~ Days", "groups": "Subject", "re_formula": "~Days"}),
    Case("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", True,
         _catalogue("Penicillin"), None),
    Case("pastes", "strength ~ 1 + (1 | batch/cask)", True, _catalogue("Pastes"),
         {"formula": "strength ~ 1", "groups": "batch",
          "vc_formula": {"cask": "0 + C(cask)"}}),
    Case("insteval", "y ~ service + (1 | s) + (1 | d) + (1 | dept)", False, _insteval, None,
         repeat_scale=0.0),
    Case("sim1m", "y ~ x + (1 + x | g)", True, simulated_1m, None, repeat_scale=0.0),
]


def run_hiermix(case: Case, data: pd.DataFrame, repeat: int) -> list[tuple[str, float, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lmer(case.formula, data, REML=case.REML)  # compile the kernels, load modules
        t_all, fit = best_time(lambda: lmer(case.formula, data, REML=case.REML), repeat)
        model = hiermix.Model(case.formula, data)
        t_fit, _ = best_time(lambda: model.fit(REML=case.REML), repeat)
    return [("hiermix", t_all, fit.objective), ("hiermix fit", t_fit, fit.objective)]


def run_mixedlm(case: Case, data: pd.DataFrame, repeat: int) -> tuple[float, float] | str:
    try:
        import mixedlm
    except ImportError:
        return "not installed (pip install mixedlm)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixedlm.lmer(case.formula, data, REML=case.REML)
        t, fit = best_time(lambda: mixedlm.lmer(case.formula, data, REML=case.REML), repeat)
    crit = fit.REMLcrit() if case.REML else fit.deviance
    return t, float(crit)


def run_statsmodels(case: Case, data: pd.DataFrame, repeat: int) -> tuple[float, float] | str:
    if case.statsmodels is None:
        return "cannot express the model (crossed or too large)"
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        return "not installed (pip install statsmodels)"
    kw = dict(case.statsmodels)
    formula = kw.pop("formula")

    def fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return smf.mixedlm(formula, data, **kw).fit(reml=case.REML)

    t, res = best_time(fit, repeat)
    # statsmodels' REML log-likelihood drops lme4's constant (p log(2 pi)) ... its criterion
    # is reported as -2 llf and compared as printed.
    return t, float(-2 * res.llf)


R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
for (v in strsplit(args[5], ",")[[1]]) if (nzchar(v)) d[[v]] <- factor(d[[v]])
f <- as.formula(args[2]); reml <- as.logical(args[3])
invisible(lmer(f, d, REML = reml))
best <- Inf
for (i in seq_len(as.integer(args[4]))) {
  t <- system.time(fit <- lmer(f, d, REML = reml))[["elapsed"]]
  best <- min(best, t)
}
crit <- if (reml) REMLcrit(fit) else deviance(fit)
cat(sprintf('{"seconds": %.6f, "objective": %.10f}\n', best, crit))
"""


def run_lme4(case: Case, data: pd.DataFrame, repeat: int) -> tuple[float, float] | str:
    out = run_rscript(R_SCRIPT, data, [case.formula, "TRUE" if case.REML else "FALSE",
                                       str(max(repeat, 1))])
    return out if isinstance(out, str) else (out["seconds"], out["objective"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[c.name for c in CASES],
                        choices=[c.name for c in CASES])
    parser.add_argument("--repeat", type=int, default=20,
                        help="fits per engine on small cases (best time kept); large cases: 1")
    parser.add_argument("--no-lme4", action="store_true")
    args = parser.parse_args(argv)

    print(f"hiermix {hiermix.__version__}, numpy {np.__version__}; best of --repeat "
          f"{args.repeat} (large cases: 1 timed fit after a warm-up)")
    for case in (c for c in CASES if c.name in args.cases):
        data = case.load()
        repeat = max(1, round(args.repeat * case.repeat_scale))
        crit = "REML criterion" if case.REML else "deviance"
        print(f"\n== {case.name}: {case.formula} ({'REML' if case.REML else 'ML'}), "
              f"n = {len(data):,}; {crit}")
        rows = run_hiermix(case, data, repeat)
        peers: list[tuple[str, tuple[float, float] | str]] = [
            ("mixedlm", run_mixedlm(case, data, repeat)),
            ("statsmodels", run_statsmodels(case, data, repeat)),
        ]
        if not args.no_lme4:
            peers.append(("lme4 (Rscript)", run_lme4(case, data, repeat)))
        print_table(rows, peers, "criterion")


if __name__ == "__main__":
    main()
