"""Sensitivity analyses: leave-one-group-out influence against one fit.

    .venv/bin/python benchmarks/sensitivity.py            # --repeat N (default 9)

Times, on sleepstudy ``Reaction ~ Days + (Days | Subject)`` (REML): one fit from the data frame
(``hiermix.lmer``, as a user fits), and ``fit.influence()``, the 18 refits without each subject
(warm-started, converged to ftol_abs 1e-12), with threads 1 and 2. The goal of issue 13:
influence under 10x one fit. On a shared machine the load changes within seconds, so the two
are timed in alternation, N rounds after a warm-up, and the ratio is given both as best over
best and as the median of the rounds' ratios. Also prints the evaluations of the refits.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from timing import best_time

import hiermix
from hiermix.datasets import load
from hiermix.inference.influence import refit_without

FORMULA = "Reaction ~ Days + (Days | Subject)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    data = load("sleepstudy")
    fit = hiermix.lmer(FORMULA, data)
    fit.influence()
    fits, infs, infs2 = [], [], []
    for _ in range(args.repeat):
        fits.append(best_time(lambda: hiermix.lmer(FORMULA, data), 1)[0])
        infs.append(best_time(lambda: fit.influence(), 1)[0])
        infs2.append(best_time(lambda: fit.influence(n_jobs=2), 1)[0])
    t_fit, t_inf, t_inf2 = min(fits), min(infs), min(infs2)
    median = float(np.median(np.array(infs) / np.array(fits)))
    median2 = float(np.median(np.array(infs2) / np.array(fits)))
    term = fit.design.reterms[0]
    evals = [refit_without(fit, term.codes != j).feval for j in range(term.nlevels)]
    print(f"sleepstudy {FORMULA} (REML), {term.nlevels} subjects, {args.repeat} rounds")
    print(f"  one fit (lmer from the data frame)  {1e3 * t_fit:8.1f} ms   "
          f"{fit.optsummary.feval} evaluations + derivative checks")
    print(f"  influence(), 18 refits              {1e3 * t_inf:8.1f} ms   "
          f"{t_inf / t_fit:5.1f}x one fit (median of rounds {median:.1f}x); {sum(evals)} "
          f"evaluations ({sum(evals) / len(evals):.0f} per refit)")
    print(f"  influence(n_jobs=2)                 {1e3 * t_inf2:8.1f} ms   "
          f"{t_inf2 / t_fit:5.1f}x one fit (median of rounds {median2:.1f}x)")


if __name__ == "__main__":
    main()
