"""Which sampler ``marginal="auto"`` runs, and which terms it centres (issue 14).

References, computed here without the code under test:
* :func:`hiermix.bayes.build.information` on simulated one-way data whose data-to-prior
  precision ratio n_j tau^2 / sigma^2 is known by construction (50 per level with tau = sigma;
  0.5 with tau = sigma / 10): the moment estimate within 40% of it (its sampling error with
  200 levels is about 10%; the threshold 1 sits a factor 2 from either);
* the choice itself against the rule's statement (sizes and labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermix
from hiermix.bayes import marginal as marginal_mod
from hiermix.bayes.build import CENTRE_MIN_INFORMATION, build_model, information
from hiermix.bayes.marginal import AUTO_MAX_REST, sampler_choice
from hiermix.errors import ModelError


def _two_terms(seed: int = 3) -> hiermix.design.Design:
    """y ~ x + (1 | g) + (1 | h): g has 100 levels of 20 rows and SD 1 (ratio ~20), h has 40
    levels of ~50 rows and SD 0.1 (ratio ~0.5)."""
    rng = np.random.default_rng(seed)
    n = 2_000
    g = np.repeat(np.arange(100), 20)
    h = rng.integers(0, 40, n)
    x = rng.normal(size=n)
    y = 1.0 + 0.5 * x + rng.normal(0, 1.0, 100)[g] + rng.normal(0, 0.1, 40)[h] \
        + rng.normal(0, 1.0, n)
    df = pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g), "h": pd.Categorical(h)})
    return hiermix.Model("y ~ x + (1 | g) + (1 | h)", df).design


def test_information_estimates_the_precision_ratio() -> None:
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(200), 50)
    for tau, expected in ((1.0, 50.0), (0.1, 0.5)):
        y = 2.0 + rng.normal(0, tau, 200)[g] + rng.normal(0, 1.0, g.size)
        d = hiermix.Model("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": pd.Categorical(g)})).design
        got = information(d)["g"]
        assert abs(got - expected) < 0.4 * expected
        assert (got >= CENTRE_MIN_INFORMATION) == (expected >= CENTRE_MIN_INFORMATION)


def test_information_skips_terms_with_several_columns() -> None:
    from hiermix.datasets import load

    d = hiermix.Model("Reaction ~ Days + (Days | Subject)", load("sleepstudy")).design
    assert information(d) == {}


def test_small_dense_block_integrates_b_out() -> None:
    d = _two_terms()
    assert d.reterms[1].ncols <= AUTO_MAX_REST
    use, plan, why = sampler_choice(d)
    assert use and plan is None and why.startswith("b integrated out")


def test_large_dense_block_samples_b_partially_centred(monkeypatch: pytest.MonkeyPatch) -> None:
    """g and h are crossed (no chain): both partially centred, lambda_j = k_j / (1 + k_j)
    with k_j from level_information (h_j tau^2 / sigma^2)."""
    from hiermix.bayes.build import level_information

    d = _two_terms()
    monkeypatch.setattr(marginal_mod, "AUTO_MAX_REST", d.reterms[1].ncols - 1)
    use, plan, why = sampler_choice(d)
    assert not use and plan is not None and plan.chain is None
    kappa = level_information(d)
    for lab in ("g", "h"):
        np.testing.assert_allclose(plan.lam[lab], kappa[lab] / (1 + kappa[lab]), rtol=1e-15)
    assert np.median(plan.lam["g"]) > 0.9 > 0.5 > np.median(plan.lam["h"])
    assert why.startswith("b sampled jointly") and "partially centred per level: g" in why


def test_glmm_choice_is_unchanged() -> None:
    from .points import model_for

    use, plan, why = sampler_choice(model_for("poisson", "log").design)
    assert not use and plan is None and "poisson" in why


def test_build_centres_the_terms_named() -> None:
    d = _two_terms()
    names = build_model(d, centered=("h",)).free_names
    assert "b_h" in names and "z_g" in names and "z_h" not in names and "b_g" not in names
    both = build_model(d, centered=True)
    assert both.centered and both.centered_terms == ("g", "h")
    assert not build_model(d, centered=("g",)).centered
    with pytest.raises(ModelError, match="'k'"):
        build_model(d, centered=("k",))


def test_sample_records_the_automatic_choice(monkeypatch: pytest.MonkeyPatch,
                                             mock_sample: None) -> None:
    d = _two_terms()
    monkeypatch.setattr(marginal_mod, "AUTO_MAX_REST", 0)
    post = hiermix.bayes.sample(d, draws=5, tune=5, chains=1, sampler="pymc", random_seed=1,
                                warn=False, log_likelihood=False)
    assert not post.record.marginal
    assert post.record.marginal_why.startswith("b sampled jointly: the terms after the first")
    forced = hiermix.bayes.sample(d, draws=5, tune=5, chains=1, sampler="pymc", random_seed=1,
                                  warn=False, log_likelihood=False, marginal=True)
    assert forced.record.marginal


def test_marginal_nutpie_defaults_low_rank_and_user_choice() -> None:
    """The marginal model gets nutpie's low-rank adaptation in the spelling the installed
    nutpie takes (0.16.11 warns on ``low_rank_modified_mass_matrix``); a user's own choice,
    in either spelling, is kept; the joint model and other samplers get nothing."""
    import inspect

    nutpie = pytest.importorskip("nutpie")
    from hiermix.bayes.sample import _marginal_nutpie_defaults

    kw: dict = {}
    _marginal_nutpie_defaults(True, "nutpie", kw)
    if "adaptation" in inspect.signature(nutpie.sample).parameters:
        assert kw == {"adaptation": "low_rank"}
    else:
        assert kw == {"low_rank_modified_mass_matrix": True}
    for mine in ({"adaptation": "diag"}, {"low_rank_modified_mass_matrix": False}):
        kw = dict(mine)
        _marginal_nutpie_defaults(True, "nutpie", kw)
        assert kw == mine
    for use, name in ((False, "nutpie"), (True, "pymc")):
        kw = {}
        _marginal_nutpie_defaults(use, name, kw)
        assert kw == {}
