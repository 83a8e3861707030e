"""Parametric bootstrap of a fitted mixed model (lme4's ``bootMer``, MixedModels.jl's
``parametricbootstrap``).

Each replicate r draws a response y*_r from the fitted model (new random effects and new
noise: the fit's ``simulate``, lme4's ``use.u = FALSE``) and refits the same model to it. The
generator of replicate r is ``numpy.random.default_rng(SeedSequence(seed).spawn(nsim)[r])``,
so the replicates are the same whatever the number of processes.

Linear mixed models reuse the structure of the fit, as MixedModels.jl does: only the y row
and column of the Gram blocks are recomputed for y*_r
(:func:`hiermix.inference.criterion.gram_with_response`, O(n) once per replicate), the
criterion is the compiled one of :mod:`hiermix.inference.kernel` when the model has one
random-effects term, and BOBYQA starts from the fit's theta-hat (with lme4's restart from the
boundary). A binomial-logit or poisson-log GLMM with one scalar term (Laplace) is refitted
through the compiled Laplace criterion of :mod:`hiermix.inference.kernel`; other GLMMs by the
engine, starting from the fit's estimates.

Statistics per replicate, named as :func:`hiermix.inference.confint` names its rows: the SDs
and correlations of each term, ``sigma`` (LMMs; ``phi`` for GLMMs with a dispersion), the
fixed effects, and ``objective`` (the replicate's criterion).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from .kernel import BINOMIAL_LOGIT
from .parameters import ParameterLayout

#: Methods of :meth:`BootstrapResult.confint`.
BOOT_METHODS = ("percentile", "basic", "normal")


def _is_lmm(fit: Any) -> bool:
    fam = fit.design.family
    return fam.name == "gaussian" and fam.link.name == "identity" and not hasattr(fit, "nAGQ")


def layout_of(fit: Any) -> ParameterLayout:
    """The statistics' names: lme4's confint rows (plus ``phi`` for dispersion GLMMs)."""
    if _is_lmm(fit):
        return ParameterLayout.of(fit.design, has_sigma=True)
    lay = ParameterLayout.of(fit.design, has_sigma=False)
    return lay.with_phi() if fit.design.family.has_dispersion else lay


def estimates(fit: Any) -> np.ndarray:
    """The fit's parameters in :func:`layout_of`'s order."""
    lay = layout_of(fit)
    theta = np.asarray(fit.theta, dtype=float)
    if _is_lmm(fit):
        return np.concatenate([lay.sdcor(theta, fit.sigma), [fit.sigma], fit.beta])
    tail = [fit.phi] if fit.design.family.has_dispersion else []
    return np.concatenate([lay.sdcor(theta, fit.re_scale), fit.beta, tail])


class ResponseSimulator:
    """Draws responses of an LMM from its estimates, exactly as the fit's ``simulate`` does
    (the same generator calls in the same order: each term's u_k (l_k, q_k), then the noise
    (n,)), without building a DataFrame per draw.

    Parameters
    ----------
    fit : LmerResult
    """

    def __init__(self, fit: Any) -> None:
        from ..covariance import lambda_from_theta

        d = fit.design
        self.sigma = float(fit.sigma)
        self.eta = d.X @ np.asarray(fit.beta) + d.offset
        self.resid_sd = self.sigma / np.sqrt(d.weights)
        self.terms = []
        pos = 0
        theta = np.asarray(fit.theta, dtype=float)
        for t in d.reterms:
            lam = lambda_from_theta(theta[pos:pos + t.n_theta], t.q)
            pos += t.n_theta
            codes = np.where(t.codes >= 0, t.codes, 0).astype(np.intp)
            self.terms.append((t.nlevels, t.q, self.sigma * lam.T, codes,
                               np.where((t.codes >= 0)[:, None], t.X, 0.0)))
        self.n = d.nobs

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One response (n,)."""
        y = self.eta.copy()
        for nlev, q, lamT, codes, X in self.terms:
            b = rng.standard_normal((nlev, q)) @ lamT  # (l, q) @ (q, q) -> (l, q)
            y += np.einsum("nq,nq->n", b[codes], X)
        return y + self.resid_sd * rng.standard_normal(self.n)


#: BOBYQA's first step in a replicate, relative to theta-hat (at least INITIAL_STEP_MIN):
#: the replicates' optima lie within about this distance of the fit's, and a first step of
#: that size saves about 40% of the evaluations of nlopt's default on sleepstudy.
INITIAL_STEP = 0.2
INITIAL_STEP_MIN = 0.05
#: lme4's one-sided step for the restart from the boundary (``restart_edge``).
EDGE_STEP = 1e-5


def _minimize_theta(fun: Any, theta0: np.ndarray, lower: np.ndarray,
                    step: np.ndarray) -> tuple[np.ndarray, float]:
    """BOBYQA over theta >= lower from theta0 with lme4's tolerances (xtol_abs = ftol_abs =
    1e-8); the best point seen when nlopt stops on round-off."""
    import nlopt

    k = theta0.size
    best_f, best_x = [np.inf], [theta0.copy()]

    def f(x: np.ndarray, grad: np.ndarray) -> float:
        val = fun(x)
        if val < best_f[0]:
            best_f[0], best_x[0] = val, x.copy()
        return val if np.isfinite(val) else 1e300

    opt = nlopt.opt(nlopt.LN_BOBYQA, k)
    opt.set_min_objective(f)
    opt.set_lower_bounds(lower)
    opt.set_xtol_abs(1e-8)
    opt.set_ftol_abs(1e-8)
    opt.set_initial_step(step)
    try:
        opt.optimize(theta0.copy())
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        pass
    return best_x[0], float(best_f[0])


def _lmm_replicates(fit: Any, seeds: list[np.random.SeedSequence]) -> np.ndarray:
    from .criterion import LmmCriterion

    design = fit.design
    lay = layout_of(fit)
    obj = fit.objective_function()
    base = LmmCriterion(obj.gram)
    lower = np.asarray(obj.lower, dtype=float)
    theta0 = np.asarray(fit.theta, dtype=float)
    step = np.maximum(INITIAL_STEP * np.abs(theta0), INITIAL_STEP_MIN)
    n, p = design.nobs, design.p
    nu = n - p if fit.REML else n
    REML = bool(fit.REML)
    sim = ResponseSimulator(fit)
    out = np.empty((len(seeds), len(lay.names) + 1))
    crit = base
    dev = crit.deviance_function(REML)
    for r, ss in enumerate(seeds):
        y = sim.draw(np.random.default_rng(ss))
        if base.one_term:
            base.set_response(design, y)  # dev reads the rewritten blocks
        else:
            crit = base.with_response(design, y)
            dev = crit.deviance_function(REML)

        theta, fmin = _minimize_theta(dev, theta0, lower, step)
        # lme4's restart_edge: a bounded entry at 0 that would lower the criterion by moving
        # off it gets a second optimisation from there
        for i in np.flatnonzero((lower == 0) & (theta == 0)):
            th = theta.copy()
            th[i] = EDGE_STEP
            if dev(th) < fmin:
                again, fagain = _minimize_theta(dev, theta, lower, step)
                if fagain <= fmin:
                    theta, fmin = again, fagain
                break
        _, _, r2, factor = crit.parts(theta)
        if not r2 > 0:
            out[r] = np.nan
            continue
        sigma = float(np.sqrt(r2 / nu))
        out[r, :-1] = np.concatenate([lay.sdcor(theta, sigma), [sigma], crit.beta(factor)])
        out[r, -1] = fmin
    return out


def _scalar_glmm_replicates(fit: Any, compiled: Any,
                            seeds: list[np.random.SeedSequence]) -> np.ndarray:
    """Replicates of a one-scalar-term binomial or poisson GLMM (Laplace) through the compiled
    criterion: BOBYQA over (theta, beta) from the fit's estimates, beta whitened by its
    covariance as the engine's joint stage does; modes start from 0 in every replicate."""
    from scipy.special import gammaln

    design = fit.design
    p = design.p
    beta0 = np.asarray(fit.beta, dtype=float)
    V = np.asarray(fit.vcov_beta, dtype=float)
    try:
        C = np.linalg.cholesky(0.5 * (V + V.T))
    except np.linalg.LinAlgError:
        C = np.diag(np.sqrt(np.clip(np.abs(np.diag(V)), 1e-12, None)))
    theta0 = float(fit.theta[0])
    x0 = np.concatenate([[theta0], np.zeros(p)])
    lower = np.concatenate([[0.0], np.full(p, -np.inf)])
    step = np.concatenate([[max(0.1 * abs(theta0), 0.05)], np.full(p, 0.5)])
    wt = compiled.wt
    out = np.empty((len(seeds), 2 + p))
    for r, ss in enumerate(seeds):
        y = fit.simulate(1, seed=np.random.default_rng(ss)).to_numpy()[:, 0]
        compiled.y = np.asarray(y, dtype=float)
        compiled.u = np.zeros_like(compiled.u)

        def dev(x: np.ndarray) -> float:
            return compiled(x[0], beta0 + C @ x[1:])

        x, fmin = _minimize_theta(dev, x0, lower, step)
        # the terms of -2 log p(y | mu) free of mu, which the compiled criterion leaves out
        if compiled.family == BINOMIAL_LOGIT:
            k = wt * y
            const = -2.0 * float(np.sum(gammaln(wt + 1) - gammaln(k + 1) - gammaln(wt - k + 1)))
        else:
            const = 2.0 * float(np.sum(wt * gammaln(y + 1)))
        out[r] = np.concatenate([[x[0]], beta0 + C @ x[1:], [fmin + const]])
    return out


def _glmm_replicates(fit: Any, seeds: list[np.random.SeedSequence]) -> np.ndarray:
    import warnings

    from .devfun import ScalarLaplace

    compiled = (ScalarLaplace.for_design(fit.design, int(fit.nAGQ))
                if not fit.lme4_compat else None)
    if compiled is not None:
        return _scalar_glmm_replicates(fit, compiled, seeds)

    from ..frequentist.checks import ConvergenceWarning
    from ..frequentist.glmm import fit_glmm

    design = fit.design
    lay = layout_of(fit)
    start: dict[str, Any] = {"theta": np.asarray(fit.theta), "beta": np.asarray(fit.beta)}
    if design.family.has_dispersion:
        start["phi"] = float(fit.phi)
    out = np.empty((len(seeds), len(lay.names) + 1))
    for r, ss in enumerate(seeds):
        y = fit.simulate(1, seed=np.random.default_rng(ss)).to_numpy()[:, 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            rep = fit_glmm(design.with_response(y), nAGQ=fit.nAGQ, start=start,
                           check_derivs=False, lme4_compat=fit.lme4_compat)
        out[r, :-1] = estimates(rep)
        out[r, -1] = rep.objective
    return out


def _replicates(fit: Any, seeds: list[np.random.SeedSequence]) -> np.ndarray:
    """Statistics (len(seeds), k + 1) of the replicates with these seeds (a worker's job)."""
    from threadpoolctl import threadpool_limits

    # the blocks are tiny: BLAS threads cost more than they gain (as in the engine's fits)
    with threadpool_limits(limits=1, user_api="blas"):
        if _is_lmm(fit):
            return _lmm_replicates(fit, seeds)
        return _glmm_replicates(fit, seeds)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Replicates of a parametric bootstrap. Immutable; pickles.

    Attributes
    ----------
    replicates : DataFrame, shape (nsim, k + 1)
        One row per replicate: the parameters by lme4's confint names, then ``objective``.
    estimate : Series
        The fit's parameters, same names.
    seed : int or None
        The entropy of the SeedSequence the replicates were drawn from.
    seconds : float
        Wall-clock time of the replicates.
    formula : str
    """

    replicates: pd.DataFrame
    estimate: pd.Series
    seed: Any
    seconds: float
    formula: str = ""
    _layout: Any = field(default=None, repr=False)
    # the terms' labels and columns, and the fixed effects' hiermix names, for to_datatree
    _terms: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), repr=False)
    _fixef_names: tuple[str, ...] = field(default=(), repr=False)

    @property
    def nsim(self) -> int:
        return len(self.replicates)

    def confint(self, level: float = 0.95, method: str = "percentile",
                parm: Any = None) -> pd.DataFrame:
        """Bootstrap intervals, shaped as :func:`hiermix.inference.confint`'s.

        Parameters
        ----------
        level : float
        method : {"percentile", "basic", "normal"}
            ``percentile``: the alpha/2 and 1 - alpha/2 quantiles of the replicates (lme4's
            default ``boot.type = "perc"``); ``basic``: 2 estimate minus those quantiles;
            ``normal``: the bias-corrected estimate +- z times the replicates' SD.
        parm : None, str or list
            Rows to keep (lme4's names).
        """
        if method not in BOOT_METHODS:
            raise DataError(f"unknown bootstrap interval {method!r}; choose one of "
                            f"{BOOT_METHODS}")
        if not 0 < level < 1:
            raise DataError(f"level must be between 0 and 1; got {level!r}")
        names = list(self.estimate.index)
        keep = [names[i] for i in self._layout.select(parm)] if parm is not None else names
        reps = self.replicates[keep].to_numpy(dtype=float)
        a = (1 - level) / 2
        est = self.estimate[keep].to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            q = np.nanquantile(reps, [a, 1 - a], axis=0)
            if method == "percentile":
                lo, hi = q[0], q[1]
            elif method == "basic":
                lo, hi = 2 * est - q[1], 2 * est - q[0]
            else:
                z = stats.norm.ppf(1 - a)
                bias = np.nanmean(reps, axis=0) - est
                sd = np.nanstd(reps, axis=0, ddof=1)
                lo, hi = est - bias - z * sd, est - bias + z * sd
        out = pd.DataFrame({"lower": lo, "upper": hi}, index=keep)
        out.attrs["method"] = f"boot ({method}, nsim = {self.nsim})"
        out.attrs["level"] = level
        return out

    def to_datatree(self) -> Any:
        """The replicates as an ArviZ DataTree, group ``posterior`` with (chain = 1,
        draw = nsim) and the posterior's variable names (:mod:`hiermix.naming`): ``beta``,
        ``sd_<label>``, ``corr_<label>``, ``sigma`` or ``phi``; so ArviZ plots them next to a
        posterior."""
        import xarray as xr

        from ..naming import FIXEF_DIM, coef_dim, corr_var, pair_dim, pair_label, sd_var

        lay = self._layout
        reps = self.replicates
        data: dict[str, Any] = {}
        pos = 0
        for label, cnames in self._terms:
            q = len(cnames)
            sd_cols, cor_cols, pairs = [], [], []
            for j in range(q):
                for i in range(j, q):
                    if i == j:
                        sd_cols.append(lay.names[pos])
                    else:
                        cor_cols.append(lay.names[pos])
                        pairs.append(pair_label(cnames[j], cnames[i]))
                    pos += 1
            data[sd_var(label)] = xr.DataArray(
                reps[sd_cols].to_numpy()[None], dims=("chain", "draw", coef_dim(label)),
                coords={coef_dim(label): list(cnames)})
            if cor_cols:
                data[corr_var(label)] = xr.DataArray(
                    reps[cor_cols].to_numpy()[None], dims=("chain", "draw", pair_dim(label)),
                    coords={pair_dim(label): pairs})
        if "sigma" in lay.names:
            data["sigma"] = xr.DataArray(reps["sigma"].to_numpy()[None], dims=("chain", "draw"))
        if "phi" in lay.names:
            data["phi"] = xr.DataArray(reps["phi"].to_numpy()[None], dims=("chain", "draw"))
        beta_cols = [n for n, k in zip(lay.names, lay.kinds, strict=True) if k == "beta"]
        data["beta"] = xr.DataArray(reps[beta_cols].to_numpy()[None],
                                    dims=("chain", "draw", FIXEF_DIM),
                                    coords={FIXEF_DIM: list(self._fixef_names)})
        ds = xr.Dataset(data, coords={"chain": [0], "draw": np.arange(self.nsim)})
        ds.attrs.update({"inference_library": "hiermix",
                         "hiermix_kind": f"parametric bootstrap, {self.nsim} replicates",
                         "formula": self.formula})
        return xr.DataTree.from_dict({"posterior": ds})

    def __repr__(self) -> str:
        return (f"<BootstrapResult {self.formula} | {self.nsim} replicates in "
                f"{self.seconds:.3g} s>")


def _context() -> Any:
    """Worker processes start from a fork server that has imported this module once per
    session (forking the calling process itself can deadlock when BLAS threads run in it);
    the first parallel bootstrap of a session pays that import, a few seconds."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


def bootstrap(fit: Any, nsim: int, seed: Any = None, n_jobs: int | None = None
              ) -> BootstrapResult:
    """Parametric bootstrap of a fit (see the module docstring).

    Parameters
    ----------
    fit : LmerResult or GlmerResult
    nsim : int
        Number of replicates.
    seed : int, sequence of int or None
        Entropy of the SeedSequence (None: fresh entropy, recorded in the result).
    n_jobs : int or None
        Worker processes; None or 1 runs in this process. Workers start from a fork server
        (the first parallel call of a session imports hiermix there, a few seconds), so
        processes pay off for long bootstraps: GLMMs and large LMMs.

    Returns
    -------
    BootstrapResult
    """
    if not isinstance(nsim, (int, np.integer)) or nsim < 1:
        raise DataError(f"nsim must be a positive integer; got {nsim!r}")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise DataError(f"n_jobs must be a positive integer or None; got {n_jobs!r}")
    ss = np.random.SeedSequence(seed)
    seeds = ss.spawn(int(nsim))
    lay = layout_of(fit)
    start = time.perf_counter()
    jobs = min(int(n_jobs or 1), int(nsim))
    if jobs <= 1:
        out = _replicates(fit, seeds)
    else:
        chunks = [list(c) for c in np.array_split(np.array(seeds, dtype=object), jobs)]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
            out = np.vstack(list(pool.map(_replicates, [fit] * jobs, chunks)))
    seconds = time.perf_counter() - start
    reps = pd.DataFrame(out, columns=[*lay.names, "objective"])
    d = fit.design
    return BootstrapResult(
        replicates=reps, estimate=pd.Series(estimates(fit), index=list(lay.names),
                                            name="estimate"),
        seed=ss.entropy, seconds=seconds, formula=str(d.spec), _layout=lay,
        _terms=tuple((t.label, tuple(t.cnames)) for t in d.reterms),
        _fixef_names=tuple(d.fixef_names))
