"""Fitting the reference models of ``tests/reference/inference/<id>.json`` (lme4 1.1-31,
R 4.2.2: ``confint(method = "profile")``, Wald limits and ``bootMer`` quantiles; copied from
the project's shared reference folder, see its README)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from catalogue import REFERENCE, load_data

import hiermix as hm


@cache
def inference_reference(ref_id: str) -> dict[str, Any]:
    return json.loads((REFERENCE / "inference" / f"{ref_id}.json").read_text())


@cache
def reference_fit(ref_id: str) -> Any:
    """The model of ``ref_id`` fitted by hiermix (REML as lme4's fit; GLMMs by Laplace)."""
    ref = inference_reference(ref_id)
    data = load_data(ref["data"])
    if ref.get("family", "gaussian") != "gaussian":
        return hm.glmer(ref["formula"], data, family=ref["family"])
    return hm.lmer(ref["formula"], data, REML=bool(ref["REML"]))
