"""Mistakes in sample()'s arguments get an ArgumentError naming the argument, before any
model is built; zero prior weights mean the same likelihood as in the frequentist engine."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import hiermix as hm
from hiermix import errors as E
from hiermix.bayes.likelihood import loglik_graph
from hiermix.datasets import load


@pytest.fixture(scope="module")
def model() -> hm.Model:
    return hm.Model("Reaction ~ Days + (1 | Subject)", load("sleepstudy"))


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"random_seed": "abc"}, "random_seed must be None or a non-negative whole number"),
    ({"random_seed": -1}, "random_seed"),
    ({"random_seed": 2.5}, "random_seed"),
    ({"random_seed": True}, "random_seed"),
    ({"draws": 2.5}, "draws must be a whole number (an int), not 2.5"),
    ({"draws": "100"}, "draws must be a whole number"),
    ({"draws": 0}, "draws must be at least 1"),
    ({"tune": 2.5}, "tune must be a whole number"),
    ({"tune": -1}, "tune must be at least 0"),
    ({"chains": 0}, "chains must be at least 1"),
    ({"cores": 1.5}, "cores must be a whole number"),
    ({"target_accept": 1.2}, "target_accept must be a number in (0, 1)"),
])
def test_bad_sample_arguments(model: hm.Model, kwargs: dict, text: str) -> None:
    with pytest.raises(E.ArgumentError) as info:
        model.sample(**kwargs)
    assert isinstance(info.value, E.HiermixError) and isinstance(info.value, E.ModelError)
    assert text in str(info.value)


def test_numpy_integers_are_counts_and_seeds(model: hm.Model) -> None:
    from hiermix.arguments import check_count, check_seed

    assert check_count(np.int64(7), "draws") == 7
    assert check_seed(np.uint32(5)) == 5


@pytest.mark.parametrize(("family", "link", "y", "w"), [
    ("binomial", "logit", [0.0, 0.5, 1.0, 0.25], [0.0, 2.0, 3.0, 4.0]),
    ("binomial", "cloglog", [0.0, 0.5, 1.0, 0.25], [4.0, 0.0, 3.0, 4.0]),
    ("poisson", "log", [0.0, 3.0, 1.0, 7.0], [1.0, 0.0, 2.0, 0.0]),
])
def test_zero_weight_rows_add_nothing_in_both_engines(family: str, link: str, y: list,
                                                      w: list) -> None:
    """The PyTensor log-likelihood equals Family.loglik (1e-12 relative, rounding) and is 0
    on rows of weight 0, as in the frequentist engine."""
    fam = hm.get_family(family, link)
    y_, w_ = np.array(y), np.array(w)
    eta = np.array([0.3, -0.2, 0.1, 0.5])
    e = pt.dvector("eta")
    fn = pytensor.function([e], loglik_graph(fam, y_, w_, e, pt.constant(1.0)),
                           mode="FAST_COMPILE")
    got = fn(eta)
    want = fam.loglik(y_, fam.linkinv(eta), w_)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.all(got[w_ == 0] == 0.0)
