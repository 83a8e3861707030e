"""Where the wall time of a REML-profile study goes (issue 12, the case study's profile rows).

    .venv/bin/python benchmarks/study_profile.py             # --nsim 20 --J 12 --jobs 1

Runs ``["reml-profile"]`` on ``nsim`` replicates of a J-group random-intercept model (5 rows
per group) and prints the study's wall time beside the sum of the per-replicate ``seconds``
(fit and profile intervals, measured inside the method), the first replicate's seconds (which
carry the one-off imports and numba's loading, or compiling when its on-disk cache is stale,
of the profile kernels) and the median of the others. Wall minus the sum is the study's own
overhead: simulation, bookkeeping, and with ``--jobs`` > 1 the workers' start-up and import.
Run it twice to see a cold and a warm numba cache after an edit of the kernels.
"""

from __future__ import annotations

import argparse
import time

import hiermix as hm
from hiermix.study import random_intercept

FORMULA = "y ~ 1 + (1 | g)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nsim", type=int, default=20)
    ap.add_argument("--J", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args()
    data, truth = random_intercept(J=args.J, n=5, icc=0.2)
    t0 = time.perf_counter()
    res = hm.simulation_study(FORMULA, data, truth, ["reml-profile"], nsim=args.nsim,
                              seed=args.seed, n_jobs=args.jobs)
    wall = time.perf_counter() - t0
    sec = res.estimates.drop_duplicates(["rep", "method"]).sort_values("rep")["seconds"]
    print(f"reml-profile, {args.nsim} replicates of J = {args.J} (n_jobs={args.jobs}): "
          f"wall {wall:.2f} s, sum of per-replicate seconds {sec.sum():.2f} s, "
          f"first {sec.iloc[0]:.2f} s, median of the rest {sec.iloc[1:].median():.3f} s")


if __name__ == "__main__":
    main()
