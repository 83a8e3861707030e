"""Sensitivity analyses: leave-one-group-out influence against one fit.

    .venv/bin/python benchmarks/sensitivity.py            # --repeat N (default 5)

Times, best of N after a warm-up, on sleepstudy ``Reaction ~ Days + (Days | Subject)`` (REML):
one fit from the data frame (``hiermix.lmer``, as a user fits), and ``fit.influence()``, the 18
refits without each subject (warm-started, converged to ftol_abs 1e-12), with threads 1 and 2.
The goal of issue 13: influence under 10x one fit. Also prints the evaluations of the refits
against the full fit's.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from timing import best_time

import hiermix
from hiermix.datasets import load
from hiermix.inference.influence import refit_without

FORMULA = "Reaction ~ Days + (Days | Subject)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    data = load("sleepstudy")
    t_fit, fit = best_time(lambda: hiermix.lmer(FORMULA, data), args.repeat, warmup=True)
    t_inf, _ = best_time(lambda: fit.influence(), args.repeat, warmup=True)
    t_inf2, _ = best_time(lambda: fit.influence(n_jobs=2), args.repeat, warmup=True)
    term = fit.design.reterms[0]
    evals = [refit_without(fit, term.codes != j).optsummary.feval for j in range(term.nlevels)]
    print(f"sleepstudy {FORMULA} (REML), {term.nlevels} subjects, best of {args.repeat}")
    print(f"  one fit (lmer from the data frame)  {1e3 * t_fit:8.1f} ms   "
          f"{fit.optsummary.feval} evaluations + derivative checks")
    print(f"  influence(), 18 refits              {1e3 * t_inf:8.1f} ms   "
          f"{t_inf / t_fit:5.1f}x one fit; {sum(evals)} evaluations "
          f"({sum(evals) / len(evals):.0f} per refit)")
    print(f"  influence(n_jobs=2)                 {1e3 * t_inf2:8.1f} ms   "
          f"{t_inf2 / t_fit:5.1f}x one fit")


if __name__ == "__main__":
    main()
