"""Re-export of :mod:`hiermix.pls.kernels`, where this code lives now that the Bayesian engine
shares it; kept so that existing imports and the API pages keep working."""

from __future__ import annotations

from ..pls.kernels import *  # noqa: F403
