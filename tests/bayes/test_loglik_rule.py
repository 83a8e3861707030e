"""The size rule of the pointwise log-likelihood group (hiermix.bayes.sample.loglik_rule), on
sleepstudy with the mocked sampler and the threshold lowered: 2 chains x 50 draws x 180
observations = 18,000 numbers. No numbers are checked here but the group's presence; its
values are tested in test_result.py."""

from __future__ import annotations

import logging
import sys
import warnings

import pytest

import hiermix
from hiermix.bayes import BayesResult, SamplingWarning
from hiermix.datasets import load
from hiermix.errors import ArgumentError, ModelError

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _sample(**kw) -> BayesResult:
    m = hiermix.Model(FORMULA, load("sleepstudy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return m.sample(draws=50, chains=2, random_seed=1, sampler="pymc", **kw)


@pytest.fixture
def sample_mod():
    return sys.modules["hiermix.bayes.sample"]


def test_default_leaves_it_out_above_the_threshold(
        mock_sample: None, sample_mod, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sample_mod, "LOGLIK_DRAWS_MAX", 17_999)
    with caplog.at_level(logging.INFO, logger="hiermix"):
        r = _sample()
    assert "log_likelihood" not in r.datatree.children
    assert r.record.log_likelihood.startswith("not stored: 18,000 numbers")
    assert "pointwise log-likelihood: not stored" in str(r)
    assert any("18,000 numbers" in rec.getMessage() for rec in caplog.records)
    # b is still stored, and True insists whatever the size
    assert "b_Subject" in r.posterior
    forced = _sample(log_likelihood=True)
    assert "log_likelihood" in forced.datatree.children
    assert forced.record.log_likelihood == "stored"
    monkeypatch.setattr(sample_mod, "LOGLIK_DRAWS_MAX", 18_000)
    assert "log_likelihood" in _sample().datatree.children


def test_false_and_bad_values(mock_sample: None) -> None:
    r = _sample(log_likelihood=False)
    assert "log_likelihood" not in r.datatree.children
    assert r.record.log_likelihood == "not stored: log_likelihood=False"
    with pytest.raises(ArgumentError, match="log_likelihood must be"):
        _sample(log_likelihood="yes")
    with pytest.raises(ModelError, match="store_ranef='all'"):
        _sample(log_likelihood=True, store_ranef="summary")
    note = _sample(store_ranef="none").record.log_likelihood
    assert note.startswith("not stored: computed from the draws of b")


def test_sensitivity_without_it(mock_sample: None, sample_mod,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The likelihood side needs the group and says why it is missing; the prior side does not
    (its numbers equal those of the same draws with the group: ArviZ's psense reads only
    log_prior for it)."""
    full = _sample()
    monkeypatch.setattr(sample_mod, "LOGLIK_DRAWS_MAX", 0)
    lean = _sample()
    with pytest.raises(ModelError, match=r"log-likelihood \(this posterior's: not stored: "
                                         r"18,000 numbers"):
        lean.sensitivity()
    with pytest.raises(ModelError, match="log_likelihood=True"):
        lean.sensitivity(component="likelihood")
    prior = lean.sensitivity(component="prior")
    assert list(prior["prior"]) == list(full.sensitivity(component="prior")["prior"])
