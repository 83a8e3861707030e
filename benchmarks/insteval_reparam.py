"""InstEval experiment (issue 14): the joint sampler re-parameterised, before it enters hiermix.

Not yet the library's sampler: a measured prototype that the next step moves into
``hiermix.bayes`` (see the closing note of the 2026-12-01 session). The model is
``y ~ service + (1 | s) + (1 | d) + (1 | dept)`` with hiermix's default priors, b sampled
jointly (the marginal sampler's dense 1,142 x 1,142 factor is too slow here), with two changes:

* Hierarchical centring of the nested chain d in dept (every lecturer belongs to one
  department) with the coarse levels integrated out: the free variable is a_i = intercept +
  b_dept[dept(i)] + b_d[i] per lecturer, and its prior, with b_dept and the intercept (Normal
  prior) integrated out exactly, is evaluated level by level from precision-weighted means
  (``level``). The intercept is drawn afterwards from its exact conditional given a.
* Partial centring per level of ``s`` (Papaspiliopoulos, Roberts & Skold 2003):
  z_j ~ N(0, sd^lambda_j), b_j = sd^(1 - lambda_j) z_j with lambda_j = k_j / (1 + k_j) and
  k_j = n_j tau^2 / sigma^2 the data-to-prior precision of level j (``p``; ``c`` centres s,
  ``n`` does not).

Usage: ``.venv/bin/python benchmarks/insteval_reparam.py SEED {p,c,n}``; KW='{...}' passes
options to nutpie. Measured 2026-12-01, 2 x (500 + 500), load average 0.6 to 0.8:

=====  =====  ======  =====  ==========================================  =========
seed   s      wall s  steps  lowest bulk ESS (variable)                  max R-hat
=====  =====  ======  =====  ==========================================  =========
1      c      50.1    23.1   388 (sd_s); sd_dept 1116, intercept 890     1.0050
1      n      47.3    26.0   317 (sd_s); sd_dept 997                     1.0072
2      c      35.8    24.4   419 (sd_s); sd_dept 1249                    1.0044
1      p      48.5    18.1   482 (beta_slope); sd_s 615, sd_dept 1015    1.0020
2      p      38.5    23.3   544 (beta_slope); sd_s 1100, sd_dept 1200   1.0072
3      p      52.9    22.1   633 (beta_slope); sd_s 1091, sd_dept 926    1.0023
=====  =====  ======  =====  ==========================================  =========

Against the library's current joint sampler in the same session (d and dept centred, dept not
integrated; seed 1): 101 s, 22.6 steps per draw, sd_dept bulk ESS 149, sd_s 323. Posterior
means of the SDs of s, d and dept (0.326, 0.516, 0.093) against ML's sigma * theta (0.325,
0.515, 0.079): within 0.5 posterior SDs.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def level(x, v, codes, m):
    """Children x with variances v grouped by codes into m parents -> (log density of the
    within-parent part, precision-weighted parent means, their variances)."""
    import pytensor.tensor as pt

    w = 1.0 / v
    wsum = pt.inc_subtensor(pt.zeros(m)[codes], w)
    xb = pt.inc_subtensor(pt.zeros(m)[codes], w * x) / wsum
    dev = x - xb[codes]
    lp = (-0.5 * pt.sum(w * dev * dev) + 0.5 * pt.sum(pt.log(w))
          - 0.5 * pt.sum(pt.log(wsum)))
    return lp, xb, 1.0 / wsum


def main() -> None:
    import arviz_stats as azs
    import pymc as pm
    import pytensor.tensor as pt
    from catalogue import load_data

    import hiermix
    from hiermix.bayes import nutpie_backend
    from hiermix.bayes.priors import resolve_priors

    kw = json.loads(os.environ.get("KW", "{}"))
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    scen = sys.argv[2] if len(sys.argv) > 2 else "p"
    data = load_data("InstEval")[["y", "service", "s", "d", "dept"]]
    des = hiermix.Model("y ~ service + (1 | s) + (1 | d) + (1 | dept)", data).design
    pri = resolve_priors(des, None)
    terms = {t.label: t for t in des.reterms}
    X, y = np.array(des.X, float), np.array(des.y, float)
    xs = X[:, 1]
    cd, cs = np.array(terms["d"].codes), np.array(terms["s"].codes)
    nd, ns, ndept = terms["d"].nlevels, terms["s"].nlevels, terms["dept"].nlevels
    par = np.zeros(nd, dtype=np.int64)
    par[cd] = np.array(terms["dept"].codes)  # lecturer -> department
    m0, s0 = float(pri.intercept.mu), float(pri.intercept.sigma)
    with pm.Model() as model:
        sd_s = pri.sd["s"].rv("sd_s", shape=(1,))
        if scen == "c":
            bs = pm.Normal("b_s", 0, sd_s[0], shape=ns)
        else:
            lam = np.zeros(ns)
            if scen == "p":  # k_j from ML-like values sd_s 0.33, sigma 1.18
                kap = np.bincount(cs, minlength=ns) * 0.33**2 / 1.18**2
                lam = kap / (1 + kap)
            zs = pm.Normal("z_s", 0, sd_s[0] ** lam, shape=ns)
            bs = zs * sd_s[0] ** (1 - lam)
        sd_d = pri.sd["d"].rv("sd_d", shape=(1,))
        sd_dept = pri.sd["dept"].rv("sd_dept", shape=(1,))
        slope = pri.coef.rv("beta_slope", shape=(1,))
        sigma = pri.sigma.rv("sigma")
        a = pm.Flat("a_d", shape=nd, initval=np.full(nd, m0))
        lp1, xb1, v1 = level(a, pt.ones(nd) * sd_d[0] ** 2, par, ndept)
        lp2, xb2, v2 = level(xb1, v1 + sd_dept[0] ** 2, np.zeros(ndept, dtype=np.int64), 1)
        vr = v2[0] + s0**2
        pm.Potential("prior_chain", lp1 + lp2 - 0.5 * pt.log(vr) - 0.5 * (xb2[0] - m0) ** 2 / vr)
        pm.Normal("y", a[cd] + bs[cs] + (xs - xs.mean()) * slope[0], sigma, observed=y)
    t0 = time.perf_counter()
    dt = nutpie_backend.sample(model, draws=500, tune=500, chains=2, seed=seed, cores=2,
                               target_accept=0.8, progressbar=False, **kw)
    wall = time.perf_counter() - t0
    post = dt["posterior"].to_dataset()
    # The intercept (of centred predictors) from its exact conditional given a and the SDs.
    A = post["a_d"].values
    cnt = np.bincount(par, minlength=ndept)
    abar = A @ np.eye(ndept)[par] / cnt  # (chain, draw, nd) @ (nd, ndept): department means
    v = (post["sd_dept"].values[..., 0] ** 2)[..., None] \
        + (post["sd_d"].values[..., 0] ** 2)[..., None] / cnt
    prec = (1 / v).sum(-1) + 1 / s0**2
    mean = ((abar / v).sum(-1) + m0 / s0**2) / prec
    rng = np.random.default_rng(0)
    post["intercept_c"] = (("chain", "draw"), mean + rng.standard_normal(mean.shape)
                           / np.sqrt(prec))
    names = ["sd_s", "sd_d", "sd_dept", "sigma", "beta_slope", "intercept_c"]
    ess, rh = azs.ess(post[names], method="bulk"), azs.rhat(post[names])
    st = dt["sample_stats"].to_dataset()
    print(f"seed {seed} {scen} wall {wall:.1f} s, steps/draw {float(st['n_steps'].mean()):.1f}, "
          f"divergences {int(st['diverging'].sum())}, load {os.getloadavg()[0]:.2f}")
    for k in names:
        print(f"{k:12s} mean {float(post[k].mean()):.4f} sd {float(post[k].std()):.4f} "
              f"bulk ESS {float(ess[k].min()):.0f} R-hat {float(rh[k].max()):.4f}")


if __name__ == "__main__":
    main()
