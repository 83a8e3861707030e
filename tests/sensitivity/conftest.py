"""The mocked sampler of tests/bayes (prior draws shaped as a posterior) for plumbing tests."""

from __future__ import annotations

from tests.bayes.conftest import mock_sample

__all__ = ["mock_sample"]
