"""Benchmark of the Bayesian engine against Bambi and rstanarm (issue 5).

Run from the repository root::

    .venv/bin/python benchmarks/bayes.py            # everything
    .venv/bin/python benchmarks/bayes.py --only hiermix --sampler nutpie
    .venv/bin/python benchmarks/bayes.py --phases --model sleepstudy --draws 1000 --chains 4
    .venv/bin/python benchmarks/bayes.py --scale    # issue 14: 1M rows, 100k groups

Each contender runs in a fresh Python process (``--child``), so that every wall time includes
imports, model building and compilation, as a user would pay them; compiled code that PyTensor
and numba cache on disk is warmed by one untimed run first (``--warm``), for all contenders
alike. Reported per fit: wall time, the lowest bulk ESS over all parameters (fixed effects,
SDs, correlations, residual SD and every random effect), ESS per second and divergences.

Models:

* sleepstudy ``Reaction ~ Days + (Days | Subject)``, 4 chains x 1000 draws after 1000 tuning
  (Bambi fits the same formula without the correlation: it has no correlated random effects);
* doctors and patients: N = 8,525 patients, J = 407 doctors, five predictors, random
  intercept, simulated here with a fixed seed.

Measured 2026-12-01 on the project's shared 2-core machine while other jobs ran (load average
8.7 and 12.7, so every wall time is about ten times an idle machine's; the ratios, taken in one
run, are the figures to read): ``/tmp`` driver calling ``spawn("hiermix"|"bambi",
"sleepstudy")`` of this script, each after its untimed warm-up run. hiermix's default sampler,
nutpie over PyTensor's compiled log-density, b integrated out through the closed-form one-term
density (:mod:`hiermix.bayes.marginal_small`, no Python Op per gradient):

=======================================  ======  =================  =====  ===========
fit                                      wall s  min bulk ESS       ESS/s  divergences
=======================================  ======  =================  =====  ===========
run 1 (load 8.7): hiermix sleepstudy     112.33  2594 (sd_Subject)   23.1            0
run 1: bambi 0.21 sleepstudy             183.70  1924 (Days)         10.5            0
run 1: hiermix / bambi                    0.61x                      2.2x
run 2 (load 12.7): hiermix sleepstudy    158.23  2594 (sd_Subject)   16.4            0
run 2: bambi 0.21 sleepstudy             197.84  1924 (Days)          9.7            0
run 2: hiermix / bambi                    0.80x                      1.7x
=======================================  ======  =================  =====  ===========

Rerun at 07:03 UTC on a quiet machine (load average 0.5 at the start, about 1 during;
``.venv/bin/python benchmarks/bayes.py --model sleepstudy``, every contender in a fresh process
after its untimed warm-up run, seed 1):

=======================================  ======  ====================  =====  ===========
fit                                      wall s  min bulk ESS          ESS/s  divergences
=======================================  ======  ====================  =====  ===========
hiermix sleepstudy (marginal=auto)        11.06  2964 (corr_Subject)   268.0            0
hiermix sleepstudy (marginal=no)          21.22   736 (corr_Subject)    34.7            0
hiermix doctors (marginal=auto)           10.62  3062 (b_doctor)       288.2            0
bambi 0.21 sleepstudy (no correlation)    26.62  1924 (Days)            72.3            0
bambi 0.21 doctors                        32.98  1048 (1|doctor_sigma)  31.8            0
hiermix / bambi, sleepstudy               0.42x                         3.7x
=======================================  ======  ====================  =====  ===========

Targets (issue 14): wall time at most 0.5x Bambi's, ESS/s at least 2x: met on the quiet
machine (0.42x, 3.7x). Under load (the two runs above) the ratios were 0.61x and 0.80x, and
2.2x and 1.7x. The previous session, at load
average about 1, measured 7.45 s against Bambi's 9.89 s (0.75x) and ESS/s 360 against 212
(1.7x), with the marginal density as a Python Op; the doctors rows (hiermix 7.97 s, ESS/s 379;
Bambi 21.24 s, ESS/s 55) were not rerun.

At scale (issue 14), ``--scale``: 1M rows, 100,000 groups of 10, ``y ~ x + (1 + x | g)`` with
x ~ N(0, 1) and the truth beta = (1, 0.5), SDs (1, 0.5), correlation 0.3, sigma = 1
(:func:`scale_data`, seed 14), sampled by one ``Model.sample(draws=500, tune=500, chains=2)``
with default settings (nutpie with its low-rank modified mass matrix, b integrated out: the
one-term path of :mod:`hiermix.pls.one_term`; b summarised, as 2 x 500 x 200,000 numbers
exceed the threshold; no pointwise log-likelihood). Wall seconds per phase, measured
2026-12-01 06:57 to 06:59 UTC on the 2-core machine (``--scale --seed S``; load average
0.9 to 1.1 at the end of each run)::

    phase              seed 1   seed 2   seed 4
    import               1.4      1.5      2.0
    simulate + design    0.4      0.4      0.4
    model build          1.2      1.4      1.4
    compile              6.0      8.0      6.4
    sampling            26.8     25.1     24.8
    b draws (summary)    5.2      5.3      6.3
    data groups, log prior, diagnostics < 0.1
    total               41.1     41.7     41.2      (target: 300 s)
    peak RSS            0.67 GiB (all seeds; target 8 GiB)
    min bulk ESS        1238     1311     1173      (target 400)
    max R-hat           1.0028   1.0059   1.0025    (target 1.01)

Every posterior mean is within 3 posterior SDs of the truth. With nutpie's diagonal mass
matrix alone (before ``_marginal_nutpie_defaults``) the largest R-hat was 1.0128, 1.0103,
1.0104 and 1.0020 for seeds 1 to 4 (the folded R-hat of the correlation or sigma; bulk R-hats
below 1.003): at the edge of what 2 x 500 NUTS draws give, as nutpie on a 6-dimensional
standard normal, 2 x (500 + 500), has a largest R-hat above 1.01 for 7 of 40 seeds. Before the
one-term path, one gradient took 28 ms (the general blocked factor) against 5 ms now, the
compiled code embedded an 8 MB pickle of the Gram matrix per Op (30 to 60 s of compiling), and
b was drawn at 62 ms per draw against 10 ms.

InstEval (issue 14), ``--model insteval [--marginal auto|yes|no|all] [--seed N]``:
``y ~ service + (1 | s) + (1 | d) + (1 | dept)``, 73,421 rows, 2 chains x (500 + 500). The
route of ``marginal="auto"`` now (:mod:`hiermix.bayes.centring`): the nested chain d in dept
centred hierarchically (``a_d`` sampled, the intercept and dept integrated out and drawn
afterwards), the slope of ``service`` centred within lecturers, and ``s`` partially centred
per level. Measured 2026-12-01 on the 2-core machine at load average about 1
(``.venv/bin/python benchmarks/bayes.py --model insteval --seed N``; wall time of
``Model.sample``, 0 divergences, every SD's posterior mean within 0.5 posterior SDs of ML):

====  ======  ======================  ==================
seed  wall s  lowest bulk ESS         largest R-hat
====  ======  ======================  ==================
1       49.7  671 (sd_dept)           1.0104 (sd_dept)
2       40.5  819 (sd_s)              1.0044
3       47.1  808 (sd_d)              1.0035
4       50.3  863 (beta)              1.0073
5       47.5  695 (beta)              1.0072
6       46.7  897 (beta)              1.0066
====  ======  ======================  ==================

The walls are with PyTensor's compile cache warm; seed 6's first run in a fresh checkout,
compiling C code, took 87.9 s. nutpie's ``adaptation="low_rank"`` mixes better still
(seed 1: lowest bulk ESS 775, largest R-hat 1.0030; with ``mass_matrix_eigval_cutoff=1000``,
783 and 1.0064) but takes 136.0 s and 139.1 s, over the 120 s target, so the joint route
keeps the diagonal mass matrix. Before the slope was centred within lecturers, seed 3's beta
had bulk ESS 393. The prototype of this route, ``benchmarks/insteval_reparam.py`` (commit
c62b87a, removed once the library had it), measured the alternatives for ``s`` at seed 1:
centred, lowest bulk ESS 388 (sd_s); non-centred, 317 (sd_s); partially centred per level,
482. The history below is of the earlier routes, for the record.

Earlier routes, ``--model insteval``:
``y ~ service + (1 | s) + (1 | d) + (1 | dept)``, 73,421 rows, 2 chains x (500 + 500); target
every R-hat <= 1.01 and bulk ESS >= 400 over beta, the SDs and sigma within 120 s, posterior
means of the SDs within 3 posterior SDs of hiermix's ML fit. Measured 2026-12-01 on the
2-core machine shared with other jobs (load averages 6 to 13, so walls are 3 to 6 times an
idle machine's); ESS and R-hat do not depend on load:

==============================================  =======  =====  ======  =========  ==========
sampler (seed)                                   wall s  steps  ESS     max R-hat  load avg
==============================================  =======  =====  ======  =========  ==========
joint, d and dept centred (1)                     338     25.9   107     1.0085     3.0 - 6.5
auto = joint, all centred (1)                     472     25.8   112     1.0217     5.7 - 6.7
auto = joint, all centred (2)                     926     24.5   137     1.0096    12.4 - 12.7
auto = joint, all centred (3)                     149     25.3    53     1.0519     0.6 - 2.3
tried: all centred, dept carries intercept (1)    426     22.3    73     1.0270     8.0 - 8.5
tried: all centred, dept carries intercept (2)    854     25.1    99     1.0158     7.1 - 12.7
==============================================  =======  =====  ======  =========  ==========

(steps: leapfrog steps per draw; ESS: the lowest bulk ESS, sd_dept or the intercept; every
SD's posterior mean was within 0.35 posterior SDs of ML.) "dept carries intercept" was
hierarchical centring (dept's free variable m_j = intercept + b_j): it doubled the intercept's
ESS (244 and 312) but lowered sd_dept's (73 and 99), so the lowest ESS got worse and it was
dropped. The issue's earlier all-non-centred run: 84 s, sd_dept ESS 72, R-hat 1.038.
The marginal sampler (b integrated out, 6 free parameters) costs one dense 1,142 x 1,142
Cholesky factor and inverse per gradient: 0.34 s single-threaded at load 3 (1.1 s at load
12; the first call also compiles the numba kernels, 7 s), so 2 x 1000 iterations at even 4
leapfrog steps each need about 20 minutes of one core per chain: it cannot meet 120 s here,
whatever its ESS (a 2 x (40 + 40) marginal run did not finish within 25 minutes at load 7
to 13).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SLEEP = "Reaction ~ Days + (Days | Subject)"
DOCTORS = "y ~ x1 + x2 + x3 + x4 + x5 + (1 | doctor)"


def doctors_data(seed: int = 2024) -> pd.DataFrame:
    """N = 8,525 patients of J = 407 doctors; five predictors; doctor intercepts SD 0.8."""
    rng = np.random.default_rng(seed)
    n, j = 8525, 407
    doctor = np.concatenate([np.arange(j), rng.integers(0, j, n - j)])
    X = rng.normal(size=(n, 5))
    X[:, 3] = rng.integers(0, 2, n)  # a binary predictor, like a patient's sex
    beta = np.array([0.5, -0.3, 0.2, 0.4, -0.1])
    u = rng.normal(0.0, 0.8, j)
    y = 2.0 + X @ beta + u[doctor] + rng.normal(0.0, 1.5, n)
    df = pd.DataFrame(X, columns=[f"x{k}" for k in range(1, 6)])
    df["doctor"] = pd.Categorical([f"d{k:03d}" for k in doctor])
    df["y"] = y
    return df


def load(model: str) -> tuple[str, pd.DataFrame]:
    if model == "sleepstudy":
        from hiermix.datasets import load as load_bundled

        return SLEEP, load_bundled("sleepstudy")
    return DOCTORS, doctors_data()


def min_bulk_ess(posterior: object, names: list[str]) -> tuple[float, str]:
    import arviz_stats as azs

    ess = azs.ess(posterior, var_names=names, method="bulk")
    ds = ess.to_dataset() if hasattr(ess, "to_dataset") else ess
    vals = {k: float(np.nanmin(np.asarray(v))) for k, v in ds.data_vars.items()}
    worst = min(vals, key=vals.__getitem__)
    return vals[worst], worst


def run_hiermix(model: str, sampler: str, marginal: str, seed: int) -> dict:
    t0 = time.perf_counter()
    import hiermix

    formula, data = load(model)
    m = hiermix.Model(formula, data)
    mg: bool | str = {"auto": "auto", "yes": True, "no": False}[marginal]
    r = m.sample(draws=1000, tune=1000, chains=4, random_seed=seed,
                 sampler=None if sampler == "default" else sampler, marginal=mg, warn=False)
    wall = time.perf_counter() - t0
    ess, worst = min_bulk_ess(r.datatree, r.parameter_names())
    return {"wall_s": wall, "min_ess_bulk": ess, "worst": worst,
            "divergences": r.record.n_divergent, "marginal": r.record.marginal,
            "sampler": r.record.sampler}


def run_phases(model: str, draws: int, chains: int, seed: int) -> dict:
    """Import, build, compile and sampling timed apart in one process, for the marginal
    model (b integrated out), then a second sample of the same structure with a new response
    (compile once: the second compile should cost no compilation)."""
    t0 = time.perf_counter()
    import nutpie

    import hiermix
    from hiermix.bayes import nutpie_backend
    from hiermix.bayes.marginal import build_model as build_general
    from hiermix.bayes.marginal_small import applies
    from hiermix.bayes.marginal_small import build_model as build_small

    out: dict = {"import_s": time.perf_counter() - t0}
    formula, data = load(model)
    resp = formula.split("~")[0].strip()
    for run, frame in (("first", data), ("second", data.assign(**{resp: 1.1 * data[resp]}))):
        t = time.perf_counter()
        design = hiermix.Model(formula, frame).design
        # the builder sample() uses: the closed-form density for one term of q <= 2
        built = (build_small if applies(design) else build_general)(design)
        t_build = time.perf_counter()
        n0 = nutpie_backend.COMPILATIONS
        compiled = nutpie_backend.compile_model(built.model)
        t_compile = time.perf_counter()
        nutpie.sample(compiled, draws=draws, tune=draws, chains=chains, seed=seed,
                      progress_bar=False)
        t_sample = time.perf_counter()
        out[run] = {"build_s": t_build - t, "compile_s": t_compile - t_build,
                    "compilations": nutpie_backend.COMPILATIONS - n0,
                    "sample_s": t_sample - t_compile}
    return out


SCALE = "y ~ x + (1 + x | g)"
#: The simulated truth of the --scale model: beta, SDs of (Intercept, x), their correlation,
#: and sigma.
SCALE_TRUTH = {"beta": (1.0, 0.5), "sd": (1.0, 0.5), "corr": 0.3, "sigma": 1.0}


def scale_data(groups: int = 100_000, per_group: int = 10, seed: int = 14) -> pd.DataFrame:
    """``groups`` x ``per_group`` rows of y ~ x + (1 + x | g), x ~ N(0, 1), with
    :data:`SCALE_TRUTH` (the target of issue 14 is 100,000 groups of 10 rows)."""
    rng = np.random.default_rng(seed)
    n = groups * per_group
    g = np.repeat(np.arange(groups), per_group)
    x = rng.normal(size=n)
    sd, r = np.array(SCALE_TRUTH["sd"]), SCALE_TRUTH["corr"]
    cov = np.array([[sd[0] ** 2, r * sd[0] * sd[1]], [r * sd[0] * sd[1], sd[1] ** 2]])
    b = rng.normal(size=(groups, 2)) @ np.linalg.cholesky(cov).T  # (groups, 2)
    b0, b1 = SCALE_TRUTH["beta"]
    y = b0 + b1 * x + b[g, 0] + b[g, 1] * x + rng.normal(0.0, SCALE_TRUTH["sigma"], n)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})


def run_scale(groups: int, draws: int, chains: int, seed: int) -> dict:
    """The 1M-row target of issue 14 through one ``Model.sample`` call with default settings,
    each stage timed by wrapping the function that does it (the wrappers only read clocks)."""
    import resource

    t0 = time.perf_counter()
    import hiermix
    from hiermix.bayes import nutpie_backend

    # the module: hiermix.bayes re-exports its function ``sample`` under the same name
    sample_mod = importlib.import_module("hiermix.bayes.sample")
    wall: dict[str, float] = {"import": time.perf_counter() - t0}

    def timed(owner: object, attr: str, phase: str) -> None:
        fn = getattr(owner, attr)

        def wrapper(*a: object, **k: object) -> object:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                wall[phase] = wall.get(phase, 0.0) + time.perf_counter() - t
        setattr(owner, attr, wrapper)

    timed(sample_mod, "build_marginal", "model build")
    timed(nutpie_backend, "compile_model", "compile")
    timed(sample_mod, "_run_nuts", "compile + sampling")
    timed(sample_mod, "draw_b", "b draws")
    timed(sample_mod, "_add_data_groups", "data groups")
    timed(sample_mod, "log_prior_dataset", "log prior")
    timed(sample_mod, "diagnose", "diagnostics")
    t = time.perf_counter()
    data = scale_data(groups)
    wall["simulate data"] = time.perf_counter() - t
    t = time.perf_counter()
    model = hiermix.Model(SCALE, data)
    design = model.design
    wall["design"] = time.perf_counter() - t
    t = time.perf_counter()
    r = model.sample(draws=draws, tune=draws, chains=chains, random_seed=seed, warn=False)
    wall["sample() total"] = time.perf_counter() - t
    wall["sampling"] = wall.pop("compile + sampling") - wall["compile"]
    t = time.perf_counter()
    dt = r.datatree
    wall["total"] = time.perf_counter() - t0
    if os.environ.get("HIERMIX_SCALE_SAVE"):  # the draws, for a closer look at a run
        import pickle

        with open(os.environ["HIERMIX_SCALE_SAVE"], "wb") as fh:
            pickle.dump({g: dt[g].to_dataset() for g in ("posterior", "sample_stats")}, fh)
    import arviz_stats as azs

    names = r.parameter_names(with_b=False)
    ess = azs.ess(dt, var_names=names, method="bulk")
    rhat = azs.rhat(dt, var_names=names)
    ess_ds = ess.to_dataset() if hasattr(ess, "to_dataset") else ess
    rhat_ds = rhat.to_dataset() if hasattr(rhat, "to_dataset") else rhat
    min_ess = {k: float(np.min(np.asarray(v))) for k, v in ess_ds.data_vars.items()}
    max_rhat = {k: float(np.max(np.asarray(v))) for k, v in rhat_ds.data_vars.items()}
    return {"rows": design.nobs, "groups": groups, "chains": chains, "draws": draws,
            "wall_s": {k: round(v, 2) for k, v in wall.items()},
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "min_ess_bulk": min(min_ess.values()), "worst_ess": min(min_ess, key=min_ess.get),
            "max_rhat": max(max_rhat.values()), "worst_rhat": max(max_rhat, key=max_rhat.get),
            "divergences": r.record.n_divergent, "store_ranef": r.record.store_ranef,
            "log_likelihood": r.record.log_likelihood if hasattr(r.record, "log_likelihood")
            else "log_likelihood" in dt.children,
            "groups_stored": sorted(dt.children), "load_average": os.getloadavg(),
            "summary": r.summary().round(4).to_dict(orient="index"),
            "chain_means": {k: np.asarray(dt["posterior"][k].mean("draw")).round(5).tolist()
                            for k in names},
            "steps_per_draw": np.asarray(dt["sample_stats"]["n_steps"]).mean(axis=1).tolist()}


INSTEVAL = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


def run_insteval(marginal: str, seed: int, draws: int = 500, chains: int = 2) -> dict:
    """InstEval (issue 14): 2 x (500 + 500) with hiermix's sampler choice (``auto``), the
    marginal sampler forced (``yes``) or b sampled all non-centred (``no``).

    Reports the wall time of ``Model.sample`` (build, compile, sampling, draws of b), the
    lowest bulk ESS and highest R-hat over beta, the SDs and sigma, leapfrog steps per draw,
    and for each SD its posterior mean minus hiermix's own ML estimate (``Model.fit(REML=
    False)``) in posterior SDs (target: within 3).
    """
    import warnings

    import arviz_stats as azs

    sys.path.insert(0, str(ROOT / "tests"))
    from catalogue import load_data

    import hiermix

    data = load_data("InstEval")[["y", "service", "s", "d", "dept"]]
    m = hiermix.Model(INSTEVAL, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit(REML=False)
    mg: bool | str = {"auto": "auto", "yes": True, "no": False}[marginal]
    t0 = time.perf_counter()
    r = m.sample(draws=draws, tune=draws, chains=chains, random_seed=seed, marginal=mg,
                 warn=False, log_likelihood=False, store_ranef="summary")
    wall = time.perf_counter() - t0
    post = r.datatree["posterior"].to_dataset()
    sds = [f"sd_{t.label}" for t in m.design.reterms]
    names = ["beta", "sigma", *sds]
    ess = azs.ess(post[names], method="bulk")
    rhat = azs.rhat(post[names])
    ess_by = {k: float(np.min(np.asarray(v))) for k, v in ess.data_vars.items()}
    rhat_by = {k: float(np.max(np.asarray(v))) for k, v in rhat.data_vars.items()}
    ml_sd = dict(zip((t.label for t in m.design.reterms), _ml_sds(ml), strict=True))
    z = {sd: float((post[sd].mean() - ml_sd[sd[3:]]) / post[sd].std()) for sd in sds}
    stats = r.datatree["sample_stats"].to_dataset()
    return {"wall_s": wall, "min_ess_bulk": min(ess_by.values()),
            "worst": min(ess_by, key=ess_by.__getitem__), "max_rhat": max(rhat_by.values()),
            "ess": ess_by, "rhat": rhat_by, "sd_minus_ml_in_post_sd": z,
            "steps_per_draw": float(np.asarray(stats["n_steps"]).mean())
            if "n_steps" in stats else None,
            "divergences": r.record.n_divergent, "marginal": r.record.marginal,
            "why": r.record.marginal_why, "sampler": r.record.sampler}


def _ml_sds(fit: object) -> list[float]:
    """ML SDs of the scalar terms, in design order: sigma * theta_k."""
    theta = np.asarray(fit.theta)  # type: ignore[attr-defined]
    return list(float(fit.sigma) * theta)  # type: ignore[attr-defined]


def insteval_main(args: argparse.Namespace) -> None:
    modes = ["auto", "yes", "no"] if args.marginal == "all" else [args.marginal]
    print(f"# InstEval {INSTEVAL}; {args.chains} chains x ({args.draws} + {args.draws}); "
          f"load average {os.getloadavg()[0]:.2f} at start")
    for mode in modes:
        r = run_insteval(mode, args.seed, args.draws, args.chains)
        print(f"marginal={mode:<4} {r['wall_s']:7.1f} s  min bulk ESS {r['min_ess_bulk']:6.0f} "
              f"({r['worst']})  max R-hat {r['max_rhat']:.4f}  steps/draw "
              f"{r['steps_per_draw']}  divergences {r['divergences']}")
        print("   R-hat", {k: round(v, 4) for k, v in r["rhat"].items()})
        print("   ESS", {k: round(v) for k, v in r["ess"].items()},
              " SD - ML in posterior SDs", {k: round(v, 2)
                                            for k, v in r["sd_minus_ml_in_post_sd"].items()})
        print("  ", r["why"], f"; load average {os.getloadavg()[0]:.2f} at end")


def run_bambi(model: str, seed: int) -> dict:
    t0 = time.perf_counter()
    import bambi as bmb

    formula, data = load(model)
    if model == "sleepstudy":
        formula = "Reaction ~ Days + (Days | Subject)"
    fit = bmb.Model(formula, data)
    idata = fit.fit(draws=1000, tune=1000, chains=4, random_seed=seed, progressbar=False)
    wall = time.perf_counter() - t0
    post = idata["posterior"] if hasattr(idata, "children") else idata.posterior
    names = [str(v) for v in post.data_vars if not str(v).endswith("_offset")
             and str(v) != "mu"]
    ess, worst = min_bulk_ess(idata, names)
    stats = idata["sample_stats"] if hasattr(idata, "children") else idata.sample_stats
    return {"wall_s": wall, "min_ess_bulk": ess, "worst": worst,
            "divergences": int(np.asarray(stats["diverging"]).sum())}


RSTANARM = """
suppressMessages(library(rstanarm))
d <- read.csv(commandArgs(TRUE)[1])
d$Subject <- factor(d$Subject)
t0 <- Sys.time()
fit <- stan_lmer(Reaction ~ Days + (Days | Subject), data = d, chains = 4, iter = 2000,
                 seed = 1, refresh = 0, cores = 2)
wall <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
s <- summary(fit)
ess <- min(s[, "n_eff"], na.rm = TRUE)
div <- sum(rstan::get_divergent_iterations(fit$stanfit))
cat(sprintf('{"wall_s": %f, "min_ess_bulk": %f, "divergences": %d}\\n', wall, ess, div))
"""


def run_rstanarm() -> dict | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    _, data = load("sleepstudy")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sleep.csv"
        data.to_csv(csv, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(RSTANARM)
        t0 = time.perf_counter()
        out = subprocess.run([rscript, str(script), str(csv)], capture_output=True, text=True,
                             check=False)
        total = time.perf_counter() - t0
    if out.returncode != 0:
        if "no package called" in out.stderr:
            return None
        return {"error": out.stderr.strip()[-300:]}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s_with_R_startup"] = total
    return res


def child(args: argparse.Namespace) -> None:
    if args.who == "hiermix":
        res = run_hiermix(args.model, args.sampler, args.marginal, args.seed)
    else:
        res = run_bambi(args.model, args.seed)
    print("RESULT " + json.dumps(res))


def spawn(who: str, model: str, args: argparse.Namespace, marginal: str = "auto") -> dict:
    cmd = [sys.executable, __file__, "--child", "--who", who, "--model", model,
           "--sampler", args.sampler, "--marginal", marginal, "--seed", str(args.seed)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": out.stderr.strip()[-500:]}


def fmt(name: str, r: dict | None) -> str:
    if r is None:
        return f"{name:<38} skipped (not installed)"
    sampler = f" [{r['sampler']}]" if "sampler" in r else ""
    if "error" in r:
        return f"{name:<38} failed: {r['error']}"
    ess_s = r["min_ess_bulk"] / r["wall_s"]
    return (f"{name:<38} {r['wall_s']:7.2f} s  min bulk ESS {r['min_ess_bulk']:7.0f} "
            f"({r.get('worst', '-')})  ESS/s {ess_s:7.1f}  divergences {r['divergences']}"
            f"{sampler}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--who", default="hiermix")
    ap.add_argument("--model", default="sleepstudy")
    ap.add_argument("--sampler", default="default",
                    help="hiermix's sampler: default, nutpie, pymc, nutpie-numba")
    ap.add_argument("--marginal", default="auto", choices=["auto", "yes", "no", "all"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["hiermix", "bambi", "rstanarm"], default=None)
    ap.add_argument("--no-warm", action="store_true", help="skip the untimed warm-up runs")
    ap.add_argument("--phases", action="store_true",
                    help="time import, build, compile and sampling apart (hiermix, marginal)")
    ap.add_argument("--draws", type=int, default=1000, help="draws and tuning steps (--phases)")
    ap.add_argument("--chains", type=int, default=4, help="chains (--phases)")
    ap.add_argument("--scale", action="store_true",
                    help="the 1M-row, 100k-group target of issue 14 (2 x (500 + 500))")
    ap.add_argument("--groups", type=int, default=100_000, help="groups (--scale)")
    args = ap.parse_args()
    if args.scale:
        print(json.dumps(run_scale(args.groups, 500 if args.draws == 1000 else args.draws,
                                   2 if args.chains == 4 else args.chains, args.seed),
                         indent=1, default=str))
        return
    if args.model == "insteval":
        if args.draws == 1000 and args.chains == 4:  # this case's own defaults
            args.draws, args.chains = 500, 2
        insteval_main(args)
        return
    if args.phases:
        print(json.dumps(run_phases(args.model, args.draws, args.chains, args.seed), indent=1))
        return
    if args.child:
        child(args)
        return

    import importlib.util

    has_bambi = importlib.util.find_spec("bambi") is not None
    rows = []
    print(f"# {os.cpu_count()} cores; hiermix sampler {args.sampler}; seed {args.seed}")
    if args.only in (None, "hiermix"):
        for model, marg in (("sleepstudy", "auto"), ("sleepstudy", "no"), ("doctors", "auto")):
            if not args.no_warm:
                spawn("hiermix", model, args, marg)
            rows.append((f"hiermix {model} (marginal={marg})",
                         spawn("hiermix", model, args, marg)))
    if args.only in (None, "bambi"):
        for model in ("sleepstudy", "doctors"):
            if not has_bambi:
                rows.append((f"bambi {model}", None))
                continue
            if not args.no_warm:
                spawn("bambi", model, args)
            rows.append((f"bambi {model} (no correlation)", spawn("bambi", model, args)))
    if args.only in (None, "rstanarm"):
        rows.append(("rstanarm stan_lmer sleepstudy", run_rstanarm()))
    for name, r in rows:
        print(fmt(name, r))


if __name__ == "__main__":
    main()
