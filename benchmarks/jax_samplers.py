"""The JAX samplers against the default on the largest non-Gaussian model (issue 14).

Run from the repository root (``sampler="numpyro"`` needs the ``jax`` extra, which the
``dev`` extra includes)::

    .venv/bin/python benchmarks/jax_samplers.py                    # nutpie and numpyro
    .venv/bin/python benchmarks/jax_samplers.py --samplers numpyro --chain-method vectorized
    .venv/bin/python benchmarks/jax_samplers.py --seed 2 --draws 1000

Model: lme4's VerbAgg (tests/data/VerbAgg.csv, 7,584 rows), ``r2 ~ Anger + Gender + btype +
situ + (1 | id) + (1 | item)``, binomial with the logit link, 316 respondents crossed with 24
items; b is sampled (no closed form for a binomial), by every sampler in the same
parameterisation (:mod:`hiermix.bayes.level_centring`). Each sampler runs in a fresh Python
process (``--child``), and its wall time counts everything a user pays in that process:
import, design, model building, compilation (PyTensor's for nutpie, XLA's for numpyro) and
sampling. One untimed run of each first warms the compiled code PyTensor caches on disk (XLA
caches nothing across processes here). Reported per sampler: wall time, ``Model.sample``'s own
seconds, the lowest bulk ESS and largest R-hat over beta and the SDs, ESS per second,
divergences, the largest gap between a posterior mean and hiermix's Laplace ML estimate (beta
and SDs) in posterior SDs, and the device JAX ran on.

On an accelerator: JAX puts numpyro's chains on the first GPU it finds (``jax.devices()``,
printed per run); ``--chain-method vectorized`` runs the chains as one batched computation,
the usual choice on one GPU. CPU stays the default, and the tests never need a GPU.

Measured 2026-12-02 on the project's 2-core machine (no accelerator; the task was not lent
one), load average about 1, 2 chains x (500 + 500) (``.venv/bin/python
benchmarks/jax_samplers.py [--seed N --no-warm]``), with the joint sampler's default for a
GLMM: ``item`` and ``id`` centred hierarchically, each with the predictors constant within its
levels (:mod:`hiermix.bayes.level_centring`):

====  =======  ==============  ======  ========  ================  =====  ===========  ===
seed  sampler  device          wall s  sample s  min bulk ESS      ESS/s  max R-hat    gap
====  =======  ==============  ======  ========  ================  =====  ===========  ===
1     nutpie   CPU (PyTensor)    18.7      16.8  1000 (sd_id)       53.5  1.0046       0.83
1     numpyro  JAX cpu:0         15.8      11.2  1214 (sd_id)       77.0  1.0080       0.84
2     nutpie   CPU (PyTensor)    19.3      17.2  1079 (sd_item)     55.9  1.0038       0.80
2     numpyro  JAX cpu:0         15.4      10.9  850 (sd_id)        55.2  1.0046       0.84
3     nutpie   CPU (PyTensor)    20.1      18.1  809 (sd_id)        40.3  1.0111       0.86
3     numpyro  JAX cpu:0         16.6      11.9  892 (sd_id)        53.6  1.0030       0.88
====  =======  ==============  ======  ========  ================  =====  ===========  ===

(0 divergences in every run; gap: the largest |posterior mean - ML| / posterior SD over beta
and the SDs.) numpyro over nutpie: wall 0.84x, 0.80x and 0.83x; ESS/s 1.44x, 0.99x and
1.33x. Its XLA-compiled log density samples faster on this CPU (sample seconds 11 against
17), and a GPU figure is still to be taken.

Before the level centring, every term non-centred (the same commands, 2026-12-02 earlier):
nutpie 24.4, 23.2 and 23.2 s with lowest bulk ESS 74, 119 and 106 (beta) and R-hat up to
1.0328; numpyro 23.5, 22.2 and 22.8 s with 206, 196 and 182. The fixed effects traded off
against the random effects of the factor they are constant within (``Anger`` and ``Gender``
within respondents, ``btype`` and ``situ`` within items). Tried then with nutpie, seed 1 (bulk
ESS of the six coefficients; ``/tmp`` driver calling ``Model.sample``): ``centered=["item"]``
44 to 224, in 27.1 s; nutpie's ``adaptation="low_rank"`` 121 to 194, in 56.1 s; a
hand-written PyMC model with both terms centred and carrying their level predictors, 618 to
2443 (coefficients and SDs), in 17.1 s: the model :mod:`hiermix.bayes.level_centring` now
builds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FORMULA = "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"
DATA = ROOT / "tests" / "data" / "VerbAgg.csv"


def _model() -> object:
    import hiermix
    from hiermix.datasets import read_csv_with_types

    return hiermix.Model(FORMULA, read_csv_with_types(DATA), family="binomial")


def run(sampler: str, draws: int, chains: int, seed: int, chain_method: str) -> dict:
    """One timed fit in this process (see the module docstring)."""
    t0 = time.perf_counter()
    import arviz_stats as azs

    m = _model()
    kwargs = {"nuts": {"chain_method": chain_method}} if sampler == "numpyro" else {}
    r = m.sample(draws=draws, tune=draws, chains=chains, random_seed=seed, sampler=sampler,
                 warn=False, log_likelihood=False, **kwargs)
    wall = time.perf_counter() - t0
    names = [n for n in r.parameter_names() if not n.startswith("b_")]
    post = r.posterior[names]
    ess = azs.ess(r.datatree, var_names=names, method="bulk")
    rhat = azs.rhat(r.datatree, var_names=names)
    ess_min = {n: float(np.min(np.asarray(ess[n]))) for n in names}
    rhat_max = {n: float(np.max(np.asarray(rhat[n]))) for n in names}
    worst = min(ess_min, key=ess_min.__getitem__)
    device = "cpu (PyTensor)"
    if sampler in ("numpyro", "blackjax"):
        import jax

        device = str(jax.devices()[0])
    return {"sampler": sampler, "wall_s": wall, "sample_s": r.record.seconds,
            "ess": ess_min[worst], "worst": worst, "rhat": max(rhat_max.values()),
            "rhat_worst": max(rhat_max, key=rhat_max.__getitem__),
            "divergences": r.record.n_divergent, "device": device,
            "mean": {n: np.asarray(post[n].mean(("chain", "draw"))).ravel().tolist()
                     for n in names},
            "sd": {n: np.asarray(post[n].std(("chain", "draw"))).ravel().tolist()
                   for n in names}}


def ml_reference() -> dict[str, list[float]]:
    """hiermix's Laplace fit (lme4's glmer default): beta and the SDs, as the posterior
    names them."""
    fit = _model().fit()
    vc = fit.varcorr
    sds = {f"sd_{lab}": [float(v)] for lab, v in
           vc.loc[vc["var2"].isna(), ["grp", "sdcor"]].itertuples(index=False)}
    return {"beta": [float(v) for v in np.asarray(fit.fixef)], **sds}


def gap(res: dict, ml: dict[str, list[float]]) -> float:
    """The largest |posterior mean - ML| / posterior SD over beta and the SDs."""
    out = 0.0
    for name, ref in ml.items():
        mean, sd = np.asarray(res["mean"][name]), np.asarray(res["sd"][name])
        out = max(out, float(np.max(np.abs(mean - np.asarray(ref)) / sd)))
    return out


def spawn(args: argparse.Namespace, sampler: str) -> dict:
    cmd = [sys.executable, __file__, "--child", sampler, "--draws", str(args.draws),
           "--chains", str(args.chains), "--seed", str(args.seed),
           "--chain-method", args.chain_method]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    return {"sampler": sampler, "error": out.stderr.strip()[-800:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--samplers", default="nutpie,numpyro",
                    help="comma-separated; the first is the baseline of the ratios")
    ap.add_argument("--draws", type=int, default=500, help="draws and tuning steps per chain")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chain-method", default="parallel", choices=["parallel", "vectorized"],
                    help="numpyro's chain method")
    ap.add_argument("--no-warm", action="store_true", help="skip the untimed warm-up runs")
    args = ap.parse_args()
    if args.child:
        res = run(args.child, args.draws, args.chains, args.seed, args.chain_method)
        print("RESULT " + json.dumps(res))
        return
    samplers = args.samplers.split(",")
    ml = ml_reference()
    print(f"VerbAgg {FORMULA}, binomial; {args.chains} chains x ({args.draws} + {args.draws}),"
          f" seed {args.seed}; load average {os.getloadavg()[0]:.1f}")
    results = []
    for s in samplers:
        if not args.no_warm:
            spawn(args, s)
        results.append(spawn(args, s))
    head = (f"{'sampler':<9} {'device':<16} {'wall s':>7} {'sample s':>8} "
            f"{'min bulk ESS':>22} {'ESS/s':>6} {'max R-hat':>18} {'div':>4} {'|mean-ML|/sd':>12}")
    print(head)
    for r in results:
        if "error" in r:
            print(f"{r['sampler']:<9} failed: {r['error']}")
            continue
        print(f"{r['sampler']:<9} {r['device'][:16]:<16} {r['wall_s']:7.1f} "
              f"{r['sample_s']:8.1f} {r['ess']:8.0f} ({r['worst']:<11}) "
              f"{r['ess'] / r['wall_s']:6.1f} {r['rhat']:7.4f} ({r['rhat_worst']:<8}) "
              f"{r['divergences']:4d} {gap(r, ml):12.2f}")
    base = results[0]
    for r in results[1:]:
        if "error" in r or "error" in base:
            continue
        print(f"{r['sampler']} / {base['sampler']}: wall {r['wall_s'] / base['wall_s']:.2f}x, "
              f"ESS/s {(r['ess'] / r['wall_s']) / (base['ess'] / base['wall_s']):.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
