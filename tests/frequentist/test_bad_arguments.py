"""Realistic mistakes with the frequentist engine get a hiermix error naming the culprit:
bad counts and seeds, REML for a GLMM, a family for lmer, and perfect separation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermix as hm
from hiermix import errors as E
from hiermix.datasets import load

SLEEP = "Reaction ~ Days + (1 | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def fits() -> dict[str, object]:
    return {"lmer": hm.lmer(SLEEP, load("sleepstudy")),
            "glmer": hm.glmer(CBPP, load("cbpp"), family="binomial")}


@pytest.mark.parametrize("kind", ["lmer", "glmer"])
@pytest.mark.parametrize(("kwargs", "text"), [
    ({"nsim": -1}, "nsim must be at least 1; got -1"),
    ({"nsim": 0}, "nsim must be at least 1"),
    ({"nsim": 2.5}, "nsim must be a whole number (an int), not 2.5"),
    ({"nsim": "3"}, "nsim must be a whole number"),
    ({"seed": "abc"}, "seed must be None, a non-negative whole number or a numpy Generator"),
    ({"seed": -4}, "seed must be None"),
    ({"seed": 1.5}, "seed must be None"),
])
def test_simulate_arguments(fits: dict, kind: str, kwargs: dict, text: str) -> None:
    with pytest.raises(E.ArgumentError) as info:
        fits[kind].simulate(**kwargs)
    assert text in str(info.value)


def test_simulate_takes_a_generator(fits: dict) -> None:
    a = fits["lmer"].simulate(2, seed=np.random.default_rng(4))
    b = fits["lmer"].simulate(2, seed=4)
    assert a.equals(b)


def test_datatree_arguments(fits: dict) -> None:
    with pytest.raises(E.ArgumentError, match="draws must be a whole number"):
        fits["lmer"].to_datatree(draws=10.5)
    with pytest.raises(E.ArgumentError, match="seed"):
        fits["lmer"].to_datatree(seed="x")


def test_reml_for_a_glmm_is_refused() -> None:
    cbpp = load("cbpp")
    with pytest.raises(E.ArgumentError, match="REML=True applies to linear mixed models only"):
        hm.glmer(CBPP, cbpp, family="binomial", REML=True)
    model = hm.Model(CBPP, cbpp, family="binomial")
    with pytest.raises(E.ArgumentError, match=r"binomial\(logit\) GLMM"):
        model.fit(REML=True)
    # REML left out, or False, is the maximum-likelihood fit lme4's glmer makes
    assert model.fit().objective == model.fit(REML=False).objective
    with pytest.raises(E.ArgumentError, match="REML must be True or False, not 'yes'"):
        hm.Model(SLEEP, load("sleepstudy")).fit(REML="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"family": "poisson"}, {"link": "log"},
                                    {"family": "gaussian"}])
def test_lmer_takes_no_family(kwargs: dict) -> None:
    name = next(iter(kwargs))
    with pytest.raises(E.ArgumentError, match=f"lmer\\(\\) .* takes no {name}; .*glmer"):
        hm.lmer(SLEEP, load("sleepstudy"), **kwargs)


def test_lmer_defaults_to_reml() -> None:
    m = hm.Model(SLEEP, load("sleepstudy"))
    assert m.fit().REML and not m.fit(REML=False).REML


# -- perfect separation ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 120
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n),
                       "g": np.repeat(list("abcdefghij"), 12), "f": np.tile(["p", "q", "r"], 40)})
    df["coin"] = rng.binomial(1, 0.5, n)
    df["count"] = rng.poisson(3.0, n)
    return df


@pytest.mark.parametrize(("formula", "family", "prepare", "columns"), [
    # complete separation by a continuous column
    ("y ~ x + z + (1 | g)", "binomial", lambda d: d.assign(y=(d.x > 0.2).astype(int)), ("x",)),
    # quasi-complete: one level of a factor has failures only
    ("y ~ z + f + (1 | g)", "binomial",
     lambda d: d.assign(y=np.where(d.f == "r", 0, d.coin)), ("f[T.r]",)),
    # poisson: one level with zero counts only
    ("y ~ f + (1 | g)", "poisson",
     lambda d: d.assign(y=np.where(d.f == "q", 0, d["count"])), ("f[T.q]",)),
])
def test_separation_is_named(frame: pd.DataFrame, formula: str, family: str, prepare: object,
                             columns: tuple) -> None:
    data = prepare(frame)  # type: ignore[operator]
    with pytest.raises(E.SeparationError) as info:
        hm.glmer(formula, data, family=family)
    err = info.value
    assert isinstance(err, E.ConvergenceError) and isinstance(err, E.HiermixError)
    assert err.columns == columns
    assert str(err).startswith(f"perfect separation: the fixed-effect column(s) "
                               f"{', '.join(repr(c) for c in columns)} separate")
    assert "Model.sample()" in str(err)


def test_no_separation_is_claimed_without_one(frame: pd.DataFrame) -> None:
    from hiermix.frequentist.separation import separating_columns

    model = hm.Model("coin ~ x + f + (1 | g)", frame, family="binomial")
    assert separating_columns(model.design) == ()
