"""The parameters that intervals are stated for, on lme4's scales and with lme4's names.

lme4's ``confint(fit, oldNames = FALSE)`` and ``profile`` work with, in order,

* per random-effects term, in theta's order (the lower triangle of Lambda_k column by
  column): an SD ``sd_<column>|<group>`` for a diagonal entry and a correlation
  ``cor_<row column>.<column>|<group>`` for an entry below it;
* ``sigma``, the residual SD, for linear mixed models;
* the fixed effects, named as lme4 names them (``(Intercept)``, ``Days``, ``period2``).

theta and this "sdcor" vector v are two coordinates of the same covariance: with s the scale
(sigma for an LMM, whose theta is relative to it; 1 for a GLMM),
Sigma_k = s^2 Lambda_k Lambda_k' has SDs sqrt(diag Sigma_k) and correlations
Sigma_ij / (sd_i sd_j). The SDs are bounded below by 0 and the correlations lie in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design import Design
from ..naming import RESIDUAL, lme4_name
from .kernel import sdcor_from_theta, theta_from_sdcor

#: Kinds of parameter, in the order lme4 lists them.
KINDS = ("sd", "cor", "sigma", "beta")


@dataclass(frozen=True)
class ParameterLayout:
    """Names, kinds and bounds of the variance parameters (sdcor) and fixed effects of a design.

    Attributes
    ----------
    names : tuple of str
        lme4's row names: the variance parameters, ``sigma`` (LMMs), then the fixed effects.
    kinds : tuple of str
        ``"sd"``, ``"cor"``, ``"sigma"`` or ``"beta"`` per name.
    n_vc : int
        Number of variance parameters (n_theta, plus 1 for sigma).
    lower, upper : ndarray, shape (len(names),)
        0 for SDs and sigma, -1 and 1 for correlations, -inf and inf for fixed effects.
    qs : tuple of int
        Columns per random-effects term.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    n_vc: int
    lower: np.ndarray
    upper: np.ndarray
    qs: tuple[int, ...]

    @classmethod
    def of(cls, design: Design, has_sigma: bool) -> ParameterLayout:
        names: list[str] = []
        kinds: list[str] = []
        groups = [t.group for t in design.reterms]
        for t in design.reterms:
            # lme4 names a term by its grouping factor; a factor that has two terms with the
            # same column (rare) would repeat a name, so the term's unique label is used then.
            grp = t.group if groups.count(t.group) == 1 else t.label
            cn = [lme4_name(c) for c in t.cnames]
            for j in range(t.q):
                for i in range(j, t.q):
                    if i == j:
                        names.append(f"sd_{cn[i]}|{grp}")
                        kinds.append("sd")
                    else:
                        names.append(f"cor_{cn[i]}.{cn[j]}|{grp}")
                        kinds.append("cor")
        if has_sigma:
            names.append("sigma")
            kinds.append("sigma")
        n_vc = len(names)
        names += [lme4_name(n) for n in design.fixef_names]
        kinds += ["beta"] * design.p
        k = np.array(kinds)
        lower = np.where(k == "cor", -1.0, np.where(k == "beta", -np.inf, 0.0))
        upper = np.where(k == "cor", 1.0, np.inf)
        return cls(names=tuple(names), kinds=tuple(kinds), n_vc=n_vc, lower=lower, upper=upper,
                   qs=tuple(t.q for t in design.reterms))

    def with_phi(self) -> ParameterLayout:
        """The layout with a last parameter ``phi``, the dispersion of a GLMM (bounded below
        by 0; lme4 does not profile it)."""
        return ParameterLayout(names=(*self.names, "phi"), kinds=(*self.kinds, "sigma"),
                               n_vc=self.n_vc, lower=np.append(self.lower, 0.0),
                               upper=np.append(self.upper, np.inf), qs=self.qs)

    @property
    def n_theta(self) -> int:
        return sum(q * (q + 1) // 2 for q in self.qs)

    def sdcor(self, theta: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The SDs and correlations (n_theta,) in theta's order, for Sigma_k = scale^2
        Lambda_k Lambda_k' (a correlation with a zero SD is 0)."""
        return sdcor_from_theta(np.asarray(theta, dtype=float), self._qs_array, float(scale))

    def theta(self, sdcor: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """theta (n_theta,) from SDs and correlations in theta's order (inverse of
        :meth:`sdcor`); singular covariances are allowed."""
        return theta_from_sdcor(np.asarray(sdcor, dtype=float), self._qs_array, float(scale))

    @property
    def _qs_array(self) -> np.ndarray:
        return np.asarray(self.qs, dtype=np.int64)

    def varcorr_keys(self, design: Design) -> dict[str, tuple[str, str | None, str | None]]:
        """Variance parameter name -> (grp, var1, var2) of its row in ``fit.varcorr``
        (``("Residual", None, None)`` for sigma or phi)."""
        keys: list[tuple[str, str | None, str | None]] = []
        for t in design.reterms:
            for j in range(t.q):
                for i in range(j, t.q):
                    keys.append((t.label, t.cnames[i], None) if i == j
                                else (t.label, t.cnames[j], t.cnames[i]))
        names = [n for n, k in zip(self.names, self.kinds, strict=True) if k != "beta"]
        keys += [(RESIDUAL, None, None)] * (len(names) - len(keys))
        return dict(zip(names, keys, strict=True))

    def select(self, parm: Any) -> list[int]:
        """Indices of the parameters named by ``parm`` (None: all; names; ``"theta_"`` or
        ``"beta_"`` as in lme4; integer positions).

        Raises
        ------
        DataError
            An unknown name or position.
        """
        from ..errors import DataError

        if parm is None:
            return list(range(len(self.names)))
        items = [parm] if isinstance(parm, (str, int, np.integer)) else list(parm)
        out: list[int] = []
        for it in items:
            if isinstance(it, (int, np.integer)) and not isinstance(it, bool):
                if not 0 <= int(it) < len(self.names):
                    raise DataError(f"parameter position {it} is out of range; there are "
                                    f"{len(self.names)} parameters: {list(self.names)}")
                out.append(int(it))
            elif it == "theta_":
                out += [i for i, k in enumerate(self.kinds) if k != "beta"]
            elif it == "beta_":
                out += [i for i, k in enumerate(self.kinds) if k == "beta"]
            elif it in self.names:
                out.append(self.names.index(it))
            else:
                raise DataError(f"unknown parameter {it!r}; parameters are "
                                f"{list(self.names)} (or 'theta_', 'beta_')")
        return sorted(set(out))
