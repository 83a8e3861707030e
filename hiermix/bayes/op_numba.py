"""How PyTensor's numba backend calls the marginal log-density Ops: by reference, not by copy.

Without a registered implementation, PyTensor runs a Python ``Op`` in numba's object mode
through a closure over the Op and its node, and numba pickles that closure into the compiled
code (``numba.core.pythonapi.ObjModeUtils.load_dispatcher``) and calls the unpickled copy.
For the marginal log-likelihood Op (``MarginalLoglik``, made by
``hiermix.bayes.marginal._op_classes``) the Op holds the data's Gram matrix, so the pickle is
as large as the data (8 MB for 100,000 levels of a ``(1 + x | g)`` term, once per Op): LLVM
then escapes and parses megabytes of constants, and compiling took 30 to 60 s on the 1M-row
model of issue 14 instead of a few seconds.

:func:`register_numba` gives both Ops an implementation whose object-mode body refers to the
node only through an integer token, looked up in a process-wide table of weak references; the
pickled closure is a few hundred bytes whatever the data, and the compiled function calls the
live Op (so pointing its :class:`~hiermix.bayes.marginal.DensitySlot` at new data reaches the
compiled code). The node stays alive as long as the compiled function's graph does.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

_LIVE: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_TOKENS = itertools.count()
_REGISTERED: set[type] = set()


def _perform(token: int, n_out: int, inputs: tuple[Any, ...]) -> Any:
    """Run the node behind ``token`` on ``inputs``; its outputs (one, or a tuple)."""
    node = _LIVE.get(token)
    if node is None:  # pragma: no cover - the compiled graph keeps its nodes alive
        raise RuntimeError("the marginal log-density Op of this compiled function is gone")
    storage: list[list[Any]] = [[None] for _ in range(n_out)]
    node.op.perform(node, list(inputs), storage)
    outs = tuple(s[0] for s in storage)
    return outs[0] if n_out == 1 else outs


def _funcify(op: Any, node: Any = None, **kwargs: Any) -> Any:
    import numba
    from pytensor.link.numba.dispatch.basic import get_numba_type, numba_njit

    token = next(_TOKENS)
    _LIVE[token] = node
    n_out = len(node.outputs)
    if n_out == 1:
        ret_sig = get_numba_type(node.outputs[0].type)
    else:
        ret_sig = numba.types.Tuple([get_numba_type(o.type) for o in node.outputs])

    def py_perform(inputs: tuple[Any, ...]) -> Any:  # closes over two ints only
        return _perform(token, n_out, inputs)

    @numba_njit
    def perform(*inputs: Any) -> Any:  # pragma: no cover - jit
        with numba.objmode(ret=ret_sig):
            ret = py_perform(inputs)
        return ret

    return perform


def register_numba(*op_classes: type) -> None:
    """Register :func:`_funcify` as PyTensor's numba implementation of ``op_classes``."""
    from pytensor.link.numba.dispatch.basic import numba_funcify

    for cls in op_classes:
        if cls not in _REGISTERED:
            numba_funcify.register(cls)(_funcify)
            _REGISTERED.add(cls)
