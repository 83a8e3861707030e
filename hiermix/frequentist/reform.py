"""Which random effects a prediction includes: lme4's ``re.form``.

``re_form`` is None (every random-effects term), ``"NA"``, ``"~0"`` or ``np.nan`` (none: the
population prediction X beta + offset), or a random-effects formula such as
``"~(1 | Subject)"``: then only the named columns of the named grouping factors contribute, as
in lme4's ``predict(fit, re.form = ~(1 | Subject))`` for a fit with ``(Days | Subject)``, which
adds each subject's intercept but not its slope. The columns named must be columns of the fit
(lme4: "random effects specified in re.form that were not present in original model"); the
fixed part of the formula, if any, is ignored, as lme4 ignores it.

The selection is a boolean mask per design term over its q_k columns (:func:`random_selection`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..design import Design
from ..errors import DataError, FormulaSyntaxError
from ..naming import INTERCEPT


def _none(re_form: Any) -> bool:
    if isinstance(re_form, float) and np.isnan(re_form):
        return True
    return isinstance(re_form, str) and re_form.replace(" ", "") in ("NA", "~0", "0", "~-1")


def _squash(text: str) -> str:
    return text.replace(" ", "")


def random_selection(design: Design, re_form: Any) -> tuple[np.ndarray, ...] | None:
    """Per design term, the columns of b a prediction includes.

    Parameters
    ----------
    design : Design
    re_form : None, "NA", "~0", nan, or a formula string of random-effects terms

    Returns
    -------
    tuple of ndarray of bool, shape (q_k,) each, or None when no random effects are included.

    Raises
    ------
    DataError
        An unsupported re_form, or one naming a grouping factor or column the fit lacks.
    """
    masks = tuple(np.ones(t.q, dtype=bool) for t in design.reterms)
    if re_form is None:
        return masks
    if _none(re_form):
        return None
    if not isinstance(re_form, str):
        raise DataError(f"re_form={re_form!r} is not supported; use None (all random effects), "
                        "'NA' / '~0' (none) or a formula such as '~(1 | Subject)'")
    from ..formula import parse

    rhs = re_form.strip()
    rhs = rhs[1:] if rhs.startswith("~") else rhs
    try:
        spec = parse("re_form_response ~ " + rhs)
    except FormulaSyntaxError as err:
        raise DataError(f"re_form {re_form!r} is not a formula of random-effects terms: "
                        f"{err}") from None
    if not spec.random:
        return None
    masks = tuple(np.zeros(t.q, dtype=bool) for t in design.reterms)
    for term in spec.random:
        fitted = [k for k, t in enumerate(design.reterms) if t.group == term.group_name]
        if not fitted:
            known = sorted({t.group for t in design.reterms})
            raise DataError(f"re_form names grouping factor {term.group_name!r}, which is not "
                            f"in the model (its grouping factors: {known})")
        same_expr = [k for k in fitted if _squash(design.spec.random[
            design.reterms[k].spec_index].expr) == _squash(term.expr)]
        if same_expr:
            for k in same_expr:
                masks[k][:] = True
            continue
        from ..design.matrices import _plain_terms

        names = _plain_terms(term.expr)
        if names is None:
            raise DataError(f"re_form term ({term.expr} | {term.group_name}) must repeat a term "
                            "of the model or name some of its columns")
        for name in (INTERCEPT if n is None else n for n in names):
            hits = [k for k in fitted if name in design.reterms[k].cnames]
            if not hits:
                raise DataError(f"random effect {name!r} for {term.group_name!r} in re_form is "
                                "not in the model")
            for k in hits:
                masks[k][list(design.reterms[k].cnames).index(name)] = True
    return masks
