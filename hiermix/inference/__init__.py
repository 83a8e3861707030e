"""Inference on a fitted model, a stage after the fit: degrees of freedom for t and F tests
(:mod:`.ddf`, :mod:`.kenward_roger`) and likelihood-ratio tests between models (:mod:`.lrt`)."""

from __future__ import annotations
