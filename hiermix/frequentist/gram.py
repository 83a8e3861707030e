"""Re-export of :mod:`hiermix.pls.gram`, where this code lives now that the Bayesian engine
shares it; kept so that existing imports and the API pages keep working."""

from __future__ import annotations

from ..pls.gram import *  # noqa: F403
