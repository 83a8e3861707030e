"""What the report checked about both fits: the sampler's draws and the optimiser's result.

:func:`sampler_checks` reads the posterior's draws and ``sample_stats`` and returns one
:class:`Check` per diagnostic, passed or not, so that a reader sees what was looked at and not
only what failed. Thresholds:

* divergent transitions: none (any divergence means the draws may be biased);
* R-hat at most 1.01, bulk and tail ESS at least 100 per chain (Vehtari et al. 2021,
  "Rank-normalization, folding, and localization"), over every parameter the comparison
  reports: beta, the SDs, correlations, sigma or phi, and the random effects b;
* E-BFMI at least 0.3 in every chain (Betancourt 2016, "Diagnosing suboptimal cotangent
  disintegrations in Hamiltonian Monte Carlo"): below it the momentum resampling explores the
  energy distribution poorly, typical of funnels;
* tree depth: no transition stopped at the sampler's maximum depth (a stopped trajectory is
  cut short, and sampling is slow and may be biased in heavy tails);
* step size: the adapted step size per chain, for information (a very small one points to
  strong curvature).

:func:`optimiser_rows` lists the optimiser's record (``fit.optsummary``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..naming import b_var, corr_var, sd_var

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
EBFMI_MIN = 0.3


@dataclass(frozen=True)
class Check:
    """One diagnostic and its result.

    Attributes
    ----------
    name : str
        What was checked.
    result : str
        What was found, in numbers.
    rule : str
        The threshold it is held to.
    ok : bool or None
        None when it could not be checked (the draws carry no ``sample_stats``) or it is for
        information only.
    """

    name: str
    result: str
    rule: str
    ok: bool | None


def _group(post: Any, name: str) -> Any:
    dt = getattr(post, "datatree", None)
    if dt is None or name not in dt.children:
        return None
    return dt[name].to_dataset()


def _parameters(post: Any) -> Any:
    posterior = _group(post, "posterior")
    if posterior is None:
        return None
    names = ["beta", "sigma", "phi"]
    for t in post.design.reterms:
        names += [sd_var(t.label), corr_var(t.label), b_var(t.label)]
    return posterior[[n for n in names if n in posterior.data_vars]]


def _extreme(values: Any, worst: Any) -> tuple[float, str]:
    """The worst element over every variable of an ArviZ summary dataset, with its name."""
    best_val, best_name = np.nan, ""
    for name in values.data_vars:
        a = np.asarray(values[name], dtype=float)
        if not np.isfinite(a).any():
            continue
        v = float(worst(a[np.isfinite(a)]))
        if not np.isfinite(best_val) or worst([v, best_val]) == v:
            best_val, best_name = v, str(name)
    return best_val, best_name


def ebfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI per chain from the energy of shape (chain, draw): E[(E_n - E_{n-1})^2] / Var(E).

    The estimator ArviZ's ``bfmi`` uses (mean squared first difference over the variance).
    """
    energy = np.asarray(energy, dtype=float)
    return np.square(np.diff(energy, axis=1)).mean(axis=1) / np.var(energy, axis=1)


def sampler_checks(post: Any) -> list[Check]:
    """Every sampler diagnostic of the module docstring, passed or not.

    Parameters
    ----------
    post
        A Bayesian result (``Model.sample()``), or anything with ``datatree`` and ``design``.

    Returns
    -------
    list of Check
    """
    import arviz as az

    out: list[Check] = []
    stats = _group(post, "sample_stats")
    params = _parameters(post)
    missing = "not recorded (the draws carry no sample_stats)"
    if stats is not None and "diverging" in stats:
        div = np.asarray(stats["diverging"], dtype=bool)
        out.append(Check("divergent transitions", f"{int(div.sum())} of {div.size}",
                         "none", not div.any()))
    else:
        out.append(Check("divergent transitions", missing, "none", None))
    if params is not None and len(params.data_vars):
        chains = int(params.sizes["chain"])
        if chains > 1:
            r, where = _extreme(az.rhat(params), np.max)
            out.append(Check("R-hat", f"max {r:.3f} ({where})",
                             f"at most {RHAT_MAX} (rank-normalised split R-hat)",
                             bool(r <= RHAT_MAX)))
        else:
            out.append(Check("R-hat", "needs two or more chains",
                             f"at most {RHAT_MAX} (rank-normalised split R-hat)", None))
        need = ESS_PER_CHAIN_MIN * chains
        for method in ("bulk", "tail"):
            e, where = _extreme(az.ess(params, method=method), np.min)
            out.append(Check(f"{method} ESS", f"min {e:.0f} ({where})",
                             f"at least {need} ({ESS_PER_CHAIN_MIN} per chain)",
                             bool(e >= need)))
    if stats is not None and "energy" in stats:
        bfmi = ebfmi(np.asarray(stats["energy"]))
        out.append(Check("E-BFMI per chain", ", ".join(f"{v:.2f}" for v in bfmi),
                         f"at least {EBFMI_MIN} in every chain", bool((bfmi >= EBFMI_MIN).all())))
    else:
        out.append(Check("E-BFMI per chain", missing, f"at least {EBFMI_MIN}", None))
    if stats is not None and "depth" in stats:
        depth = np.asarray(stats["depth"])
        hit = (int(np.asarray(stats["maxdepth_reached"], dtype=bool).sum())
               if "maxdepth_reached" in stats else 0)
        out.append(Check("tree depth", f"max {int(depth.max())}; {hit} transition(s) stopped "
                         "at the maximum depth", "none stopped at the maximum", hit == 0))
    else:
        out.append(Check("tree depth", missing, "none stopped at the maximum", None))
    if stats is not None and "step_size" in stats:
        step = np.asarray(stats["step_size"], dtype=float).mean(axis=1)
        out.append(Check("step size per chain", ", ".join(f"{v:.3g}" for v in step),
                         "for information", None))
    else:
        out.append(Check("step size per chain", missing, "for information", None))
    return out


def optimiser_rows(fit: Any) -> list[tuple[str, str]]:
    """(item, value) rows of the optimiser's record; empty when the fit carries none."""
    opt = getattr(fit, "optsummary", None)
    if opt is None:
        return []
    rows = [("optimiser", str(opt.optimizer)),
            ("result", str(opt.return_code)),
            ("REML criterion at the optimum" if getattr(fit, "REML", False)
             else "deviance at the optimum", f"{float(opt.fmin):.6f}"),
            ("evaluations", str(int(opt.feval))),
            ("time", f"{float(opt.seconds):.3g} s"),
            ("tolerances", f"xtol_abs {opt.xtol_abs:g}, ftol_abs {opt.ftol_abs:g}, "
                           f"xtol_rel {opt.xtol_rel:g}"),
            ("theta at the optimum", ", ".join(f"{v:.4f}" for v in np.ravel(opt.final)))]
    if getattr(opt, "restarts", 0):
        rows.append(("restarts from the boundary", str(opt.restarts)))
    singular = getattr(fit, "is_singular", None)
    if singular is not None:
        rows.append(("singular (on the boundary)", "yes" if singular else "no"))
    messages = tuple(getattr(opt, "messages", ()))
    rows.append(("convergence messages", "; ".join(map(str, messages)) if messages else "none"))
    return rows
