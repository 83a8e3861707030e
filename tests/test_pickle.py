"""Every user-facing object round-trips through pickle and cloudpickle and still works.

Each object is dumped and loaded with both libraries; the loaded object must give exactly the
same predictions, simulations (same seed), summaries and comparisons as the original (compared
with ``==`` or ``np.array_equal``: a round trip must not change a single bit), and its arrays
must still be read-only. The Bayesian results here come from the mocked sampler of
tests/bayes/conftest.py (prior draws, which is all that pickling needs); ``test_real_nuts`` is
the same check on a real NUTS run, in the slow tier.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pymc as pm
import pytest

import hiermix as hm
from hiermix import errors as E
from hiermix.datasets import load
from hiermix.family import LINKS
from hiermix.family.families import _ALLOWED_LINKS

from .bayes.conftest import _prior_as_posterior

DUMPERS: dict[str, Callable[[Any], bytes]] = {"pickle": pickle.dumps,
                                               "cloudpickle": cloudpickle.dumps}
SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(params=list(DUMPERS))
def roundtrip(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    dumps = DUMPERS[request.param]
    return lambda obj: pickle.loads(dumps(obj))


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return load("sleepstudy")


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return load("cbpp")


def _assert_read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        assert not a.flags.writeable


# -- families, links, errors -----------------------------------------------------------------

@pytest.mark.parametrize("name", list(LINKS))
def test_every_link_pickles_by_reference(name: str, roundtrip: Callable[[Any], Any]) -> None:
    link = LINKS[name]
    loaded = roundtrip(link)
    assert loaded == link
    for attr in ("linkfun", "linkinv", "mu_eta", "valid_eta"):
        assert getattr(loaded, attr) is getattr(link, attr), attr


@pytest.mark.parametrize(("family", "link"), [(f, lk) for f, links in _ALLOWED_LINKS.items()
                                              for lk in links])
def test_every_family_pickles(family: str, link: str, roundtrip: Callable[[Any], Any]) -> None:
    fam = hm.get_family(family, link)
    loaded = roundtrip(fam)
    assert loaded == fam and repr(loaded) == repr(fam)
    mu = np.array([0.2, 0.5, 0.7])
    eta = fam.linkfun(mu)
    assert np.array_equal(loaded.linkinv(eta), fam.linkinv(eta))
    assert np.array_equal(loaded.mu_eta(eta), fam.mu_eta(eta))


@pytest.mark.parametrize("err", [
    E.FormulaSyntaxError("missing term", "y ~ x +", 7),
    E.UnknownColumnError("Dys", ["Days", "Reaction"], where="fixed effects"),
    E.SeparationError("perfect separation", ("x",)),
    E.ArgumentError("draws must be a whole number (an int), not 2.5"),
    E.DataError("weights must be > 0"),
])
def test_errors_pickle_with_their_message(err: Exception,
                                          roundtrip: Callable[[Any], Any]) -> None:
    # Errors raised in worker processes (multiprocessing, Dask) travel back pickled.
    loaded = roundtrip(err)
    assert type(loaded) is type(err) and str(loaded) == str(err)
    assert loaded.__dict__ == err.__dict__


# -- Model and Design ------------------------------------------------------------------------

def test_model_and_design(sleep: pd.DataFrame, roundtrip: Callable[[Any], Any]) -> None:
    m = hm.Model(SLEEP, sleep)
    loaded = roundtrip(m)
    assert repr(loaded) == repr(m) and loaded.formula == m.formula
    assert loaded.spec == m.spec and loaded.family == m.family
    d, ld = m.design, loaded.design
    assert ld.fingerprint == d.fingerprint and ld.summary() == d.summary()
    _assert_read_only(ld.y, ld.X, ld.weights, ld.offset, ld.rows,
                      *(t.codes for t in ld.reterms), *(t.X for t in ld.reterms))
    new = sleep.head(7).assign(Subject=["308", "309", "x1", "x1", "330", "x2", "372"])
    a = d.encode_new(new, allow_new_levels=True)
    b = roundtrip(d).encode_new(new, allow_new_levels=True)
    assert np.array_equal(a.X, b.X) and all(np.array_equal(x, y) for x, y in zip(a.codes,
                                                                                 b.codes))
    assert loaded.fit().summary() == m.fit().summary()


# -- frequentist results ---------------------------------------------------------------------

def _check_fit(fit: Any, loaded: Any, newdata: pd.DataFrame) -> None:
    assert type(loaded) is type(fit)
    assert loaded.summary() == fit.summary() and repr(loaded) == repr(fit)
    assert loaded.varcorr.equals(fit.varcorr)
    assert loaded.deviance == fit.deviance and loaded.aic == fit.aic
    assert np.array_equal(loaded.predict(newdata), fit.predict(newdata))
    assert np.array_equal(loaded.predict(), fit.predict())
    assert loaded.simulate(3, seed=11).equals(fit.simulate(3, seed=11))
    for grp, frame in fit.ranef_condsd.items():
        assert loaded.ranef_condsd[grp].equals(frame)
    _assert_read_only(loaded.theta, loaded.beta, *loaded.b, loaded.fitted)


@pytest.mark.parametrize("REML", [True, False])
def test_lmer_result(sleep: pd.DataFrame, REML: bool, roundtrip: Callable[[Any], Any]) -> None:
    fit = hm.lmer(SLEEP, sleep, REML=REML)
    loaded = roundtrip(fit)
    _check_fit(fit, loaded, sleep.head(12))
    assert loaded.varcorr_intervals().equals(fit.varcorr_intervals())
    # the objective is rebuilt from the design after loading, and gives the same criterion
    assert roundtrip(fit)._objective_fn is None
    assert loaded.objective_function()(fit.theta) == fit.objective_function()(fit.theta)
    refit = loaded.refit(np.asarray(sleep["Reaction"]))
    assert refit.objective == pytest.approx(fit.objective, rel=1e-12)


def _glmm_fit(family: str, link: str, sleep: pd.DataFrame, cbpp: pd.DataFrame) -> Any:
    """One fit per family and link, on data inside its support (sleepstudy's reaction times
    are positive; cbpp's herd sizes make an identity-link poisson mean positive)."""
    if family == "binomial":
        return hm.glmer(CBPP, cbpp, family=family, link=link), cbpp.head(9)
    if family == "poisson":
        resp = "size" if link == "identity" else "incidence"
        return hm.glmer(f"{resp} ~ period + (1 | herd)", cbpp, family=family,
                        link=link), cbpp.head(9)
    # With the inverse link the slope on Days makes the Gamma and inverse gaussian fits slow
    # (10 s); the intercept-only model pickles the same objects.
    rhs = "1" if (family, link) in (("gamma", "inverse"), ("inverse_gaussian", "inverse")) \
        else "Days"
    return hm.glmer(f"Reaction ~ {rhs} + (1 | Subject)", sleep, family=family,
                    link=link), sleep.head(9)


_GLMM_CASES = [(f, lk) for f, links in _ALLOWED_LINKS.items() for lk in links
               if (f, lk) != ("gaussian", "identity")]
_GLMM_FITS: dict[tuple[str, str], Any] = {}


@pytest.mark.parametrize(("family", "link"), _GLMM_CASES)
def test_glmer_result_every_family_and_link(family: str, link: str, sleep: pd.DataFrame,
                                            cbpp: pd.DataFrame) -> None:
    if (family, link) not in _GLMM_FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence checks are not what is tested here
            _GLMM_FITS[family, link] = _glmm_fit(family, link, sleep, cbpp)
    fit, newdata = _GLMM_FITS[family, link]
    assert (fit.family.name, fit.family.link.name) == (family, link)
    for dumps in DUMPERS.values():
        loaded = pickle.loads(dumps(fit))
        _check_fit(fit, loaded, newdata)
        assert np.array_equal(loaded.predict(newdata, type="response"),
                              fit.predict(newdata, type="response"))
    # The objective is left out and rebuilt on use: the criterion at the estimates agrees
    # with the fit's to rounding (1e-12 relative; its constant is recomputed).
    x = np.concatenate([fit.theta, fit.beta, [np.log(fit.phi)]
                        if fit.objective_function().dispersion else []])
    assert loaded.objective_function()(x) == pytest.approx(fit.objective, rel=1e-12)
    if (family, link) in (("binomial", "logit"), ("gamma", "log")):
        # Wald intervals need the criterion's Hessian: the rebuilt objective gives the same
        assert pickle.loads(pickle.dumps(fit)).varcorr_intervals().equals(
            fit.varcorr_intervals())


# -- Bayesian result and comparison ----------------------------------------------------------

def _sample(model: hm.Model) -> Any:
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setattr(pm, "sample", _prior_as_posterior)
        warnings.simplefilter("ignore")  # prior draws fail the convergence diagnostics
        return model.sample(draws=40, chains=2, random_seed=3, sampler="pymc")


def _check_post(post: Any, loaded: Any, newdata: pd.DataFrame) -> None:
    assert str(loaded) == str(post) and repr(loaded) == repr(post)
    assert loaded.record == post.record and str(loaded.priors) == str(post.priors)
    assert loaded.summary().equals(post.summary())
    assert loaded.varcorr_summary().equals(post.varcorr_summary())
    assert np.array_equal(loaded.fitted(), post.fitted())
    new = newdata.copy()
    grp = post.design.reterms[0].factors[0]
    new[grp] = new[grp].astype(str).where(np.arange(len(new)) % 2 == 0, "a new level")
    for kind in ("response", "predictive"):
        a = loaded.predict(new, kind=kind, random_seed=5)
        assert np.array_equal(a.values, post.predict(new, kind=kind, random_seed=5).values)
    assert np.array_equal(loaded.posterior_predictive(random_seed=2).values,
                          post.posterior_predictive(random_seed=2).values)


def _check_comparison(comp: Any, loaded: Any) -> None:
    assert repr(loaded) == repr(comp)
    for table in ("fixef", "varcorr", "ranef"):
        assert getattr(loaded, table).equals(getattr(comp, table)), table


@pytest.mark.parametrize("which", ["gaussian", "binomial"])
def test_bayes_result_and_comparison(which: str, sleep: pd.DataFrame,
                                     cbpp: pd.DataFrame) -> None:
    if which == "gaussian":
        model, newdata = hm.Model(SLEEP, sleep), sleep.head(8)
    else:
        model, newdata = hm.Model(CBPP, cbpp, family="binomial"), cbpp.head(8)
    post = _sample(model)
    fit = model.fit()
    comp = hm.compare(fit, post)
    for dumps in DUMPERS.values():
        loaded = pickle.loads(dumps(post))
        _check_post(post, loaded, newdata)
        _check_comparison(comp, pickle.loads(dumps(comp)))
        # Compare after loading: each side loaded on its own still joins on the fingerprint.
        _check_comparison(comp, hm.compare(pickle.loads(dumps(fit)), loaded))


@pytest.mark.slow
def test_real_nuts(sleep: pd.DataFrame) -> None:
    """The same checks on a real (tiny) nutpie run, whose compiled log-density never enters
    the result."""
    model = hm.Model(SLEEP, sleep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 50 draws do not pass the diagnostics
        post = model.sample(draws=50, tune=50, chains=1, random_seed=1)
    comp = hm.compare(model.fit(), post)
    for dumps in DUMPERS.values():
        _check_post(post, pickle.loads(dumps(post)), sleep.head(8))
        _check_comparison(comp, pickle.loads(dumps(comp)))
