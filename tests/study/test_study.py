"""simulation_study: agreement with a plain Monte Carlo loop, reproducibility, resumption."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermix as hm
from hiermix.errors import DataError, ModelError
from hiermix.frequentist import LmerResult
from hiermix.study import design_template, random_intercept, study_grid
from hiermix.study import runner as runner_mod
from hiermix.study.performance import measures

FORMULA = "y ~ 1 + (1 | g)"


def _plain_loop(data: pd.DataFrame, truth: dict[str, float], nsim: int, seed: int,
                REML: bool) -> dict[str, dict[str, float]]:
    """An independent Monte Carlo: numpy draws of the random-intercept model, hm.lmer fits."""
    rng = np.random.default_rng(seed)
    codes = pd.factorize(data["g"])[0]
    J = codes.max() + 1
    est: dict[str, list[tuple[float, float, float]]] = {k: [] for k in truth}
    for _ in range(nsim):
        b = rng.normal(0.0, truth["sd(Intercept|g)"], J)
        y = truth["Intercept"] + b[codes] + rng.normal(0.0, truth["sigma"], len(data))
        fit = hm.lmer(FORMULA, data.assign(y=y), REML=REML)
        se = float(fit.fixef_se.iloc[0])
        beta = float(fit.beta[0])
        est["Intercept"].append((beta, beta - 1.959964 * se, beta + 1.959964 * se))
        vc = fit.varcorr_intervals()
        est["sd(Intercept|g)"].append(tuple(vc.loc[0, ["ml", "ml_lower", "ml_upper"]]))
        est["sigma"].append(tuple(vc.loc[1, ["ml", "ml_lower", "ml_upper"]]))
    return {k: measures(*map(np.array, zip(*v, strict=True)), truth[k])
            for k, v in est.items()}


def test_agrees_with_plain_loop_within_four_mcse() -> None:
    """Bias and coverage of REML-Wald: study vs an independent loop on other random draws;
    each difference within 4 combined Monte Carlo SEs."""
    data, truth = random_intercept(J=10, n=5, icc=0.4, intercept=1.0)
    nsim = 60
    res = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=nsim, seed=11)
    perf = res.performance.set_index("param")
    ref = _plain_loop(data, truth, nsim, seed=99, REML=True)
    for p in truth:
        for m in ("bias", "coverage"):
            se = np.hypot(perf.loc[p, f"{m}_mcse"], ref[p][f"{m}_mcse"])
            se = max(se, np.sqrt(0.05 * 0.95 / nsim)) if m == "coverage" else se
            assert abs(perf.loc[p, m] - ref[p][m]) <= 4 * se, (p, m)
    assert (perf["n_ok"] == nsim).all()


def test_replicate_i_comes_from_its_seed_sequence() -> None:
    """Replicate 3's response is drawn from SeedSequence(seed).spawn(nsim)[3] (first child),
    so its REML estimate equals a fit on that response (to the last digit)."""
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=5, seed=7,
                              block_size=2)
    seq = np.random.SeedSequence(7).spawn(5)[3]
    rng = np.random.default_rng(seq.spawn(1)[0])
    design = runner_mod.template_design(FORMULA, data, "gaussian", None)
    sims = hm.frequentist.simulate(design, beta=[0.0], sigma=1.0,
                                   sd={"g": [truth["sd(Intercept|g)"]]}, seed=rng)
    fit = hm.lmer(FORMULA, data.assign(y=sims["sim_1"].to_numpy()))
    row = res.estimates.query("rep == 3 and param == 'sd(Intercept|g)'")
    assert float(row["estimate"].iat[0]) == float(fit.varcorr["sdcor"].iat[0])


def test_estimates_do_not_depend_on_blocking_or_order() -> None:
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    a = hm.simulation_study(FORMULA, data, truth, ["reml-wald", "ml-wald"], nsim=6, seed=3,
                            block_size=1)
    b = hm.simulation_study(FORMULA, data, truth, ["ml-wald", "reml-wald"], nsim=6, seed=3,
                            block_size=4)
    cols = ["rep", "method", "param", "estimate", "lower", "upper"]
    key = ["rep", "method", "param"]
    pd.testing.assert_frame_equal(a.estimates[cols].sort_values(key).reset_index(drop=True),
                                  b.estimates[cols].sort_values(key).reset_index(drop=True),
                                  check_exact=True)


def test_resumes_after_interrupt_and_extends(tmp_path, monkeypatch) -> None:
    """A run interrupted in replicate 5 keeps blocks 0-1 and 2-3; the rerun computes only the
    rest, and a larger nsim only adds files; estimates equal a run without a store."""
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    store = tmp_path / "store"
    real = runner_mod.simulate_response
    calls = {"n": 0}

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "simulate_response", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=8, seed=5, store=store,
                            block_size=2)
    monkeypatch.setattr(runner_mod, "simulate_response", real)
    kept = sorted(p.name for p in store.glob("c*.csv"))
    assert kept == ["c0000_m00_r00000000_00000002.csv", "c0000_m00_r00000002_00000004.csv"]
    stamps = {p.name: p.stat().st_mtime_ns for p in store.glob("c*.csv")}
    res = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=8, seed=5, store=store,
                              block_size=2)
    assert all((store / n).stat().st_mtime_ns == t for n, t in stamps.items())
    more = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=11, seed=5,
                               store=store, block_size=2)
    assert len(list(store.glob("c*.csv"))) == 6
    fresh = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=11, seed=5)
    cols = ["rep", "method", "param", "estimate", "lower", "upper", "converged", "singular"]
    pd.testing.assert_frame_equal(more.estimates[cols], fresh.estimates[cols],
                                  check_exact=True)
    pd.testing.assert_frame_equal(res.estimates[cols],
                                  fresh.estimates[cols][fresh.estimates["rep"] < 8],
                                  check_exact=True)


def test_store_refuses_another_study(tmp_path) -> None:
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=2, seed=5, store=tmp_path / "s")
    with pytest.raises(DataError, match="seed"):
        hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=2, seed=6,
                            store=tmp_path / "s")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="did not write"):
        hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=2, seed=5,
                            store=tmp_path / "other")


def test_grid_carries_condition_columns() -> None:
    grid = study_grid(J=[6, 8], n=3, icc=[0.2])
    res = hm.simulation_study(FORMULA, grid, None, ["ml-wald"], nsim=3, seed=1)
    perf = res.performance
    assert list(perf.columns[:3]) == ["J", "n", "icc"]
    assert sorted(perf["J"].unique()) == [6, 8]
    assert len(res.estimates) == 2 * 3 * 3
    assert "fits" in res.summary()


def test_bad_truth_and_methods_name_the_culprit() -> None:
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    with pytest.raises(ModelError, match=r"missing \['sigma'\]"):
        hm.simulation_study(FORMULA, data, {k: v for k, v in truth.items() if k != "sigma"},
                            nsim=2)
    with pytest.raises(ModelError, match="unknown method 'reml-magic'"):
        hm.simulation_study(FORMULA, data, truth, ["reml-magic"], nsim=2)
    with pytest.raises(ModelError, match="plain response column"):
        hm.simulation_study("log(y) ~ 1 + (1 | g)", data, truth, nsim=2)


def test_failed_fits_are_counted_not_dropped(monkeypatch) -> None:
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    import hiermix.frequentist as freq

    real = freq.fit
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise ModelError("synthetic failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(freq, "fit", flaky)
    res = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=4, seed=1)
    assert res.fits["failed"].iat[0] == 1
    assert (res.performance["n_ok"] == 3).all() and (res.performance["n_fail"] == 1).all()
    assert "synthetic failure" in res.summary()


def test_slope_template_and_netcdf(tmp_path) -> None:
    data = design_template(J=8, n=5, covariates={"x": "within", "w": "between"}, seed=2)
    truth = {"Intercept": 1.0, "x": 0.5, "w": -0.2, "sd(Intercept|g)": 0.8, "sd(x|g)": 0.3,
             "cor(Intercept,x|g)": 0.2, "sigma": 1.0}
    res = hm.simulation_study("y ~ x + w + (1 + x | g)", data, truth, ["reml-wald"], nsim=3,
                              seed=4)
    assert set(res.performance["param"]) == set(truth)
    res.to_netcdf(tmp_path / "s.nc")
    import xarray as xr

    ds = xr.open_dataset(tmp_path / "s.nc", engine="scipy")
    assert ds["estimate"].shape == (1, 3, 1, 7)
    np.testing.assert_array_equal(np.sort(ds["estimate"].values.ravel()),
                                  np.sort(res.estimates["estimate"].to_numpy()))
    res.to_zarr(tmp_path / "s.zarr")
    z = xr.open_zarr(tmp_path / "s.zarr", consolidated=False)
    np.testing.assert_array_equal(z["estimate"].values, ds["estimate"].values)


def test_plots(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth, ["reml-wald", "ml-wald"], nsim=4, seed=1)
    res.plot().savefig(tmp_path / "p.png")
    res.zip_plot("sigma").savefig(tmp_path / "z.png")


def test_pickles() -> None:
    import pickle

    data, truth = random_intercept(J=6, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth, ["reml-wald"], nsim=2, seed=1)
    back = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(back.performance, res.performance, check_exact=True)


@pytest.mark.skipif(not hasattr(LmerResult, "confint"), reason="fit.confint not on this branch")
@pytest.mark.parametrize("method", ["reml-profile", "ml-profile"])
def test_profile_methods(method: str) -> None:
    data, truth = random_intercept(J=8, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth, [method], nsim=2, seed=1)
    assert res.estimates["error"].isna().all()
    assert res.estimates["lower"].notna().all()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(LmerResult, "confint"), reason="fit.confint not on this branch")
def test_boot_method() -> None:
    data, truth = random_intercept(J=8, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth, [hm.study.ml_method(interval="boot",
                                                                        nboot=50)],
                              nsim=2, seed=1)
    assert res.estimates["error"].isna().all()


@pytest.mark.slow
def test_bayes_method_flags() -> None:
    data, truth = random_intercept(J=8, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth, ["bayes", "reml-wald"], nsim=2, seed=1,
                              sample_kwargs={"draws": 200, "tune": 200, "chains": 2})
    b = res.estimates[res.estimates["method"] == "bayes"]
    assert b["error"].isna().all() and b["rhat_max"].notna().all()
    assert (b["lower"] < b["estimate"]).all() and (b["estimate"] < b["upper"]).all()


def test_interval_failure_keeps_the_estimate(monkeypatch) -> None:
    """confint raising leaves the point estimate, counts the fit in no_interval."""
    from hiermix.study.methods import Method

    def broken(self, *a, **k):  # type: ignore[no-untyped-def]
        raise ModelError("no profile today")

    monkeypatch.setattr(LmerResult, "confint", broken, raising=False)
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    res = hm.simulation_study(FORMULA, data, truth,
                              [Method(name="reml-profile", interval="profile")], nsim=2, seed=1)
    est = res.estimates
    assert est["estimate"].notna().all() and est["lower"].isna().all()
    assert est["error"].isna().all()
    assert (est["interval_error"] == "ModelError: no profile today").all()
    assert res.fits["no_interval"].iat[0] == 2 and res.fits["failed"].iat[0] == 0
    assert (res.performance["n_ci"] == 0).all()


@pytest.mark.slow
def test_local_processes_equal_this_process() -> None:
    """n_jobs=2 (forkserver worker processes) gives this process's estimates."""
    data, truth = random_intercept(J=6, n=4, icc=0.3)
    kw = dict(methods=["reml-wald"], nsim=6, seed=2, block_size=2)
    pool = hm.simulation_study(FORMULA, data, truth, n_jobs=2, **kw)
    here = hm.simulation_study(FORMULA, data, truth, **kw)
    cols = ["rep", "param", "estimate", "lower", "upper"]
    pd.testing.assert_frame_equal(pool.estimates[cols], here.estimates[cols], check_exact=True)
