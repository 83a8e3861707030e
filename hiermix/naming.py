"""One naming contract for parameters, dims and coordinates, used by both engines and `compare`.

Comparing a frequentist fit with a posterior is a join on these names, never a translation.

Fixed effects
    Named as formulaic names the columns of X: ``Intercept``, ``Days``, ``period[T.2]``,
    ``x:f[T.b]``. R users find lme4's spelling (``(Intercept)``, ``period2``, ``x:fb``) through
    :func:`lme4_name` and :func:`from_lme4_name`.

Random-effects terms
    Each term of the design (after ``||`` is split) has a *label*: the grouping factor's name,
    with ``.1``, ``.2`` ... appended to repeats in design order, as lme4's ``VarCorr`` prints
    them (``Subject``, ``Subject.1``). Its columns are named as formulaic names them.

Variables (in the Bayesian posterior and in the frequentist fit's DataTree)
    ===================  ===========================================  ==========================
    variable             meaning                                      dims
    ===================  ===========================================  ==========================
    ``beta``             fixed effects                                ``(coef,)``
    ``sd_<label>``       SDs of term <label>'s effects                ``(<label>_coef,)``
    ``corr_<label>``     correlations within term <label> (q > 1)     ``(<label>_pair,)``
    ``b_<label>``        random effects b                             ``(<label>_level,
                                                                      <label>_coef)``
    ``sigma``            residual SD (gaussian)                       ``()``
    ``phi``              dispersion (gamma, inverse gaussian; theta   ``()``
                         of the negative binomial)
    ===================  ===========================================  ==========================

    Correlation pairs are ordered as lme4's ``as.data.frame(VarCorr())`` orders them and
    labelled ``"<var1>, <var2>"``.

Parameter labels (one per scalar parameter, in every table, plot, study and sensitivity result):

==============================  ====================================================
label                           parameter
==============================  ====================================================
``Days``                        fixed effect (its coefficient name)
``sd(Intercept|Subject)``       SD of a term's column (term label after the bar)
``cor(Intercept,Days|Subject)`` correlation of two columns of one term
``sigma``, ``phi``              residual SD, dispersion
==============================  ====================================================

:func:`param_label` maps a (variable, coordinate) of the posterior to its label and
:func:`varcorr_label` a row (grp, var1, var2) of ``varcorr``.

Variable and dim order
    A Dataset of draws holds its variables in the order :func:`posterior_var_order` gives
    (``beta``, then per term ``b_<label>``, ``sd_<label>``, ``corr_<label>``, then ``sigma`` or
    ``phi``), so that its dims are declared in the order :func:`posterior_dims` gives:
    ``chain``, ``draw``, ``coef``, then per term ``<label>_level``, ``<label>_coef``,
    ``<label>_pair``, the order in which ``b_<label>`` lists them. xarray declares a Dataset's
    dims in the order its variables first use them (a DataTree keeps no other record), and
    ArviZ 1.3 flattens a Dataset in that declared order but labels each variable in its own:
    with ``sd_<label>`` (dims ``<label>_coef``) ahead of ``b_<label>``, ``az.summary`` printed
    ``b_Subject[308, Days]`` with subject 309's intercept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

INTERCEPT = "Intercept"
LME4_INTERCEPT = "(Intercept)"
FIXEF_DIM = "coef"
RESIDUAL = "Residual"

_LEVEL = re.compile(r"\[(?:T\.)?(.*)\]$")


def lme4_name(name: str) -> str:
    """lme4's spelling of a column name: ``period[T.2]`` -> ``period2``, ``Intercept`` ->
    ``(Intercept)``, ``x:f[b]`` -> ``x:fb``."""
    if name == INTERCEPT:
        return LME4_INTERCEPT
    parts = []
    for piece in _split_interaction(name):
        m = _LEVEL.search(piece)
        parts.append(piece[: m.start()] + m.group(1) if m else piece)
    return ":".join(parts)


def from_lme4_name(lme4: str, names: Iterable[str]) -> str:
    """Find the hiermix name among ``names`` whose lme4 spelling is ``lme4``.

    Raises
    ------
    KeyError
        When no name matches.
    """
    for n in names:
        if lme4_name(n) == lme4 or n == lme4:
            return n
    raise KeyError(lme4)


def _split_interaction(name: str) -> list[str]:
    """Split at ':' outside brackets and parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(name):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == ":" and depth == 0:
            out.append(name[start:i])
            start = i + 1
    out.append(name[start:])
    return out


def term_labels(groups: Sequence[str]) -> list[str]:
    """lme4's VarCorr labels for terms with these grouping factors, in design order.

    >>> term_labels(["Subject", "Subject", "item"])
    ['Subject', 'Subject.1', 'item']
    """
    seen: dict[str, int] = {}
    out = []
    for g in groups:
        k = seen.get(g, 0)
        out.append(g if k == 0 else f"{g}.{k}")
        seen[g] = k + 1
    return out


def corr_pairs(cnames: Sequence[str]) -> list[tuple[str, str]]:
    """(var1, var2) for each correlation of a term, in lme4's order."""
    q = len(cnames)
    return [(cnames[j], cnames[i]) for j in range(q) for i in range(j + 1, q)]


def pair_label(var1: str, var2: str) -> str:
    return f"{var1}, {var2}"


def sd_var(label: str) -> str:
    return f"sd_{label}"


def corr_var(label: str) -> str:
    return f"corr_{label}"


def b_var(label: str) -> str:
    return f"b_{label}"


def coef_dim(label: str) -> str:
    return f"{label}_coef"


def pair_dim(label: str) -> str:
    return f"{label}_pair"


def level_dim(label: str) -> str:
    return f"{label}_level"


# ----------------------------------------------------------------------------------------------
# parameter labels
# ----------------------------------------------------------------------------------------------


def sd_label(label: str, cname: str) -> str:
    """``sd(Intercept|Subject)``: the SD of column ``cname`` of term ``label``."""
    return f"sd({cname}|{label})"


def cor_label(label: str, var1: str, var2: str) -> str:
    """``cor(Intercept,Days|Subject)``: the correlation of two columns of term ``label``."""
    return f"cor({var1},{var2}|{label})"


def varcorr_label(grp: str, var1: str | None, var2: str | None,
                  dispersion: str = "sigma") -> str:
    """The label of a ``varcorr`` row (grp, var1, var2).

    Parameters
    ----------
    grp, var1, var2 : str or None
        As in ``as.data.frame(VarCorr())``; var2 is None for SDs.
    dispersion : {"sigma", "phi"}
        The label of the Residual row: ``sigma`` (gaussian) or ``phi``.
    """
    if grp == RESIDUAL:
        return dispersion
    if var1 is None:
        raise KeyError(f"a varcorr row of {grp!r} without var1")
    if var2 is None or var2 != var2:  # None or NaN
        return sd_label(grp, var1)
    return cor_label(grp, var1, var2)


def param_label(var: str, coord: str | None = None,
                cnames: Sequence[str] | None = None) -> str:
    """The label of one scalar of a posterior variable in the naming contract.

    ``cnames``, the term's column names, resolves a correlation coordinate whose column names
    themselves hold ``", "`` (``poly(x, 2)[1]``); without it the coordinate is split at its
    first ``", "``.

    >>> param_label("beta", "Days"), param_label("sd_Subject", "Intercept")
    ('Days', 'sd(Intercept|Subject)')
    >>> param_label("corr_Subject", "Intercept, Days"), param_label("sigma")
    ('cor(Intercept,Days|Subject)', 'sigma')

    Raises
    ------
    KeyError
        A variable outside the contract, or a coordinate missing where one is needed.
    """
    if var in ("sigma", "phi"):
        return var
    if coord is None:
        raise KeyError(f"variable {var!r} needs a coordinate")
    if var == "beta":
        return coord
    if var.startswith("sd_"):
        return sd_label(var[len("sd_"):], coord)
    if var.startswith("corr_"):
        pairs = [p for p in corr_pairs(cnames) if pair_label(*p) == coord] if cnames else []
        var1, sep, var2 = (pairs[0][0], ", ", pairs[0][1]) if pairs else coord.partition(", ")
        if not sep:
            raise KeyError(f"correlation coordinate {coord!r} is not '<var1>, <var2>'")
        return cor_label(var[len("corr_"):], var1, var2)
    raise KeyError(f"variable {var!r} has no parameter label")

def posterior_dims(terms: Iterable[tuple[str, int]]) -> list[str]:
    """The dims of a Dataset of draws, in the order to declare them (see the module docstring).

    Parameters
    ----------
    terms : iterable of (label, q)
        Each random-effects term's label and number of columns, in design order.

    Examples
    --------
    >>> posterior_dims([("Subject", 2)])
    ['chain', 'draw', 'coef', 'Subject_level', 'Subject_coef', 'Subject_pair']
    """
    dims = ["chain", "draw", FIXEF_DIM]
    for label, q in terms:
        dims += [level_dim(label), coef_dim(label)]
        if q > 1:
            dims.append(pair_dim(label))
    return dims


def posterior_var_order(terms: Iterable[tuple[str, int]], names: Iterable[str]) -> list[str]:
    """``names`` (the variables of a Dataset of draws) in the contract's order.

    ``beta``, then per term ``b_<label>``, ``sd_<label>``, ``corr_<label>``, then ``sigma``,
    ``phi``, then any other name in its given order; names absent from ``names`` are skipped.

    >>> posterior_var_order([("g", 2)], ["sigma", "sd_g", "beta", "corr_g", "b_g", "z_g"])
    ['beta', 'b_g', 'sd_g', 'corr_g', 'sigma', 'z_g']
    """
    given = list(names)
    order = ["beta"]
    for label, _ in terms:
        order += [b_var(label), sd_var(label), corr_var(label)]
    order += ["sigma", "phi"]
    present = set(given)
    head = [n for n in order if n in present]
    return head + [n for n in given if n not in set(head)]
