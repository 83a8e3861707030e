"""``az.summary`` over a whole DataTree, checked entry by entry against values picked by label.

Reference: for each variable and each combination of its coordinates, the mean over (chain,
draw) of ``posterior[var].sel(...)``, computed with xarray from the same draws; the summary's
row ``var[c1, c2]`` must hold that mean (tolerance 1e-12 relative: the same numbers, summed
in another order).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np


def check_summary_labels(datatree: Any) -> int:
    """Assert every row of ``az.summary(datatree)`` labels its own variable's entry.

    Returns the number of rows checked (so a caller can check that b was among them).
    """
    import arviz as az

    table = az.summary(datatree, kind="stats")
    post = datatree["posterior"].to_dataset()
    checked = 0
    for name, da in post.data_vars.items():
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        values = [list(post[d].values) for d in dims]
        for combo in itertools.product(*values):
            label = f"{name}[{', '.join(str(c) for c in combo)}]" if dims else str(name)
            expected = float(da.sel(dict(zip(dims, combo, strict=True))).mean())
            np.testing.assert_allclose(table.loc[label, "mean"], expected, rtol=1e-12,
                                       atol=1e-12, err_msg=label)
            checked += 1
    assert checked == len(table)
    return checked
