"""How hiermix's objects pickle: by value, with their arrays read-only again after loading.

Every user-facing object (``Model``, ``Design``, the frequentist and Bayesian results, the
comparison) round-trips through :mod:`pickle` and ``cloudpickle`` with the default protocol:
they hold only data, frozen dataclasses and module-level functions (the links of
:mod:`hiermix.family.links` are never lambdas), so nothing needs a custom ``__reduce__``.

One thing the default protocol loses is NumPy's ``writeable = False`` flag: an unpickled array
is writeable. Classes that promise read-only arrays inherit :class:`ReadOnlyArrays`, whose
``__setstate__`` restores the flag on every array attribute (and on arrays inside tuples), so
a loaded object keeps the immutability of the one that was saved.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for item in value:
            _freeze(item)
    return value


class ReadOnlyArrays:
    """Mixin: after unpickling, every ndarray attribute is read-only again."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Frozen dataclasses forbid setattr; the instance dict is filled directly, as the
        # default protocol does.
        self.__dict__.update(state)
        for value in state.values():
            _freeze(value)
