"""Every reference model binds with lme4's dimensions.

Source: tests/reference/lme4/<id>.json (lme4 1.1-31): ``nobs``, ``ngrps`` (names and level
counts, in lme4's term order) and the fixed-effect names (exact, through the lme4 mapping).
"""

from __future__ import annotations

import pytest
from catalogue import ALL_IDS, lme4_reference, model_args

import hiermix as hm


@pytest.mark.parametrize("ref_id", ALL_IDS)
def test_design_has_lme4_dimensions(ref_id: str) -> None:
    ref = lme4_reference(ref_id)
    design = hm.Model(**model_args(ref_id)).design
    assert design.nobs == ref["nobs"]
    assert design.ngrps == ref["ngrps"]
    assert list(design.ngrps) == list(ref["ngrps"])  # lme4's order of terms
    assert design.p == len(ref["fixef"])
    assert design.fixef_names_lme4 == tuple(ref["fixef"])
    # theta has lme4's length
    n_theta = len(ref["theta"]) if isinstance(ref["theta"], list) else 1
    assert design.n_theta == n_theta


@pytest.mark.parametrize("ref_id", ALL_IDS)
def test_ranef_levels_match_lme4(ref_id: str) -> None:
    ref = lme4_reference(ref_id)
    design = hm.Model(**model_args(ref_id)).design
    for term in design.reterms:
        assert set(term.levels) == set(ref["ranef"][term.group]["levels"])


def test_varcorr_labels_follow_lme4() -> None:
    ref = lme4_reference("sleepstudy_uncorrelated")
    design = hm.Model(**model_args("sleepstudy_uncorrelated")).design
    labels = [t.label for t in design.reterms]
    assert labels == [row["grp"] for row in ref["varcorr"] if row["grp"] != "Residual"]


def test_nested_levels_in_r_order() -> None:
    # R's factor(cask:batch) orders levels by cask, then batch: a:A, a:B, ..., b:A
    design = hm.Model(**model_args("pastes_nested")).design
    term = design.reterms[0]
    assert term.group == "cask:batch"
    assert list(term.levels) == lme4_reference("pastes_nested")["ranef"]["cask:batch"]["levels"]
