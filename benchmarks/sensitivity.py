"""Sensitivity analyses: leave-one-group-out influence against one fit; a prior sweep's
compilations.

    .venv/bin/python benchmarks/sensitivity.py            # --repeat N (default 9), --no-sweep

Influence. Times, on sleepstudy ``Reaction ~ Days + (Days | Subject)`` (REML): one fit from
the data frame (``hiermix.lmer``, as a user fits), and ``fit.influence()``, the 18 refits
without each subject (warm-started, converged to ftol_abs 1e-12), with threads 1 and 2. The
goal of issue 13: influence under 10x one fit. On a shared machine the load changes within
seconds, so the two are timed in alternation, N rounds after a warm-up, and the ratio is
given both as best over best and as the median of the rounds' ratios. Also prints the
evaluations of the refits.

Prior sweep. ``hm.prior_sweep`` over three prior sets of the default priors' families
(different parameters: the default, a weak and a tight set) with tiny runs (1 chain, 20 + 20
draws), the compile cache emptied first: the compilations of the log density
(``hiermix.bayes.nutpie_backend.COMPILATIONS``) and the time of each set. The goal of
issue 13: one compilation, not three.

Measured 2026-12-01 (2-core machine shared with other jobs; the load average beside each)::

    influence()            61.3 ms against 24.1 ms for one fit: 2.5x (median of 9 rounds
                           2.5x), load 7.1; 777 evaluations, 43 per refit
    influence(n_jobs=2)    2.5x (median 2.4x), same run
      before the refits ran the compiled criterion on zero-weight Gram blocks (each refit a
      new design, LmmObjective and LmerResult): 9.1x (median 10.2x) at load 1.3
    prior sweep, 3 sets    1 compilation; default 35.4 s (compiles), weak 3.7 s, tight 3.3 s,
                           load 8.5
      before priors handed PyMC float64 parameters of the variable's shape: 3 compilations
      (default 33.9 s, weak 31.1 s, tight 28.4 s), load 10.9
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from timing import best_time

import hiermix
from hiermix.datasets import load
from hiermix.inference.influence import refit_without

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def influence_ratio(repeat: int) -> None:
    data = load("sleepstudy")
    fit = hiermix.lmer(FORMULA, data)
    fit.influence()
    fits, infs, infs2 = [], [], []
    for _ in range(repeat):
        fits.append(best_time(lambda: hiermix.lmer(FORMULA, data), 1)[0])
        infs.append(best_time(lambda: fit.influence(), 1)[0])
        infs2.append(best_time(lambda: fit.influence(n_jobs=2), 1)[0])
    t_fit, t_inf, t_inf2 = min(fits), min(infs), min(infs2)
    median = float(np.median(np.array(infs) / np.array(fits)))
    median2 = float(np.median(np.array(infs2) / np.array(fits)))
    term = fit.design.reterms[0]
    evals = [refit_without(fit, term.codes != j).feval for j in range(term.nlevels)]
    print(f"sleepstudy {FORMULA} (REML), {term.nlevels} subjects, {repeat} rounds; {_load()}")
    print(f"  one fit (lmer from the data frame)  {1e3 * t_fit:8.1f} ms   "
          f"{fit.optsummary.feval} evaluations + derivative checks")
    print(f"  influence(), 18 refits              {1e3 * t_inf:8.1f} ms   "
          f"{t_inf / t_fit:5.1f}x one fit (median of rounds {median:.1f}x); {sum(evals)} "
          f"evaluations ({sum(evals) / len(evals):.0f} per refit)")
    print(f"  influence(n_jobs=2)                 {1e3 * t_inf2:8.1f} ms   "
          f"{t_inf2 / t_fit:5.1f}x one fit (median of rounds {median2:.1f}x)")


def sweep_compilations() -> None:
    from hiermix.bayes import LKJ, Exponential, HalfStudentT, Normal, SamplingWarning
    from hiermix.bayes import nutpie_backend as nb

    model = hiermix.Model(FORMULA, load("sleepstudy"))
    fit = model.fit()
    sets = {"default": None,
            "weak": {"sd": HalfStudentT(3, 50.0), "coef": Normal(0, 100),
                     "sigma": Exponential(0.01)},
            "tight": {"sd_Subject": HalfStudentT(3, 1.0), "corr": LKJ(2),
                      "sigma": Exponential(1)}}
    nb._CACHE.clear()
    before = nb.COMPILATIONS
    times = []
    for name, pri in sets.items():
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            hiermix.prior_sweep(model, {name: pri}, draws=20, tune=20, chains=1,
                                random_seed=1, fit=fit, interval="wald", sampler="nutpie")
        times.append(f"{name} {time.perf_counter() - t:.1f} s")
    print(f"prior sweep, {len(sets)} sets of the default families (1 chain, 20 + 20 draws); "
          f"{_load()}")
    print(f"  compilations {nb.COMPILATIONS - before}; per set: {', '.join(times)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--no-sweep", action="store_true", help="time the influence only")
    args = ap.parse_args()
    influence_ratio(args.repeat)
    if not args.no_sweep:
        sweep_compilations()


if __name__ == "__main__":
    main()
