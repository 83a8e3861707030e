"""The Gram matrix of ``[Z X y]``, built once per response and weights, kept in blocks.

For n observations with prior weights w, the penalised least-squares problem of a linear mixed
model only ever needs the weighted cross-products

    A = [Z X y]' W [Z X y],   W = diag(w),

never Z itself (Bates et al. 2015, JSS, section 3; MixedModels.jl's ``A`` blocks). With the
random-effects terms in lme4's order (term 0 has the most levels), A is split as

    A = [[A_00, A_R0'],
         [A_R0, A_RR ]]

where R ("the rest") is ``[Z_1 ... Z_{K-1}, X, y]`` with m = sum_{k>=1} l_k q_k + p + 1 columns:

``D0``      (l_0, q_0, q_0)  A_00, block diagonal over the levels of term 0 (every observation
                             belongs to one level)
``AZ0``     sparse CSR (m_z, l_0 q_0)  the rows of A_R0 that belong to terms 1..K-1
``AXY0``    (p + 1, l_0 q_0)  the rows of A_R0 that belong to [X y], dense
``ARR``     (m, m)  dense

Everything here costs O(n) once; the objective then never touches n again. A GLMM refits the
Gram matrix with new working weights and working response at each PIRLS step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..design import Design
from ..errors import ModelError

#: Largest dense "rest" block (m x m) the engine accepts; beyond it the second and later
#: random-effects terms have too many levels in total for a dense Schur complement.
MAX_DENSE_REST = 20_000


@dataclass(frozen=True, eq=False)
class TermLayout:
    """Where one random-effects term sits: its size and, for terms 1.., its offset in R.

    Attributes
    ----------
    q : int
        Columns of the term (q_k).
    nlevels : int
        Levels of its grouping factor (l_k).
    offset : int
        First row of the term in R (terms 1..K-1); 0 for term 0.
    """

    q: int
    nlevels: int
    offset: int

    @property
    def size(self) -> int:
        return self.q * self.nlevels


@dataclass(frozen=True, eq=False)
class Gram:
    """Blocks of A = [Z X y]' W [Z X y] (see the module docstring for the layout).

    Attributes
    ----------
    terms : tuple of TermLayout
        One per random-effects term, in design order.
    D0 : ndarray, shape (l_0, q_0, q_0)
    AZ0 : scipy.sparse.csr_matrix, shape (m_z, l_0 q_0)
    AXY0 : ndarray, shape (p + 1, l_0 q_0)
    ARR : ndarray, shape (m, m)
    p : int
    n : int
        Number of observations.
    sum_log_w : float
        sum(log w) over observations with w > 0, the weights' term in the deviance.
    n_eff : int
        Observations with positive weight (lme4 counts all; zero weights are refused).
    """

    terms: tuple[TermLayout, ...]
    D0: np.ndarray
    AZ0: sp.csr_matrix
    AXY0: np.ndarray
    ARR: np.ndarray
    p: int
    n: int
    sum_log_w: float

    @property
    def m_z(self) -> int:
        """Rows of R that belong to terms 1..K-1."""
        return sum(t.size for t in self.terms[1:])

    @property
    def m(self) -> int:
        return self.m_z + self.p + 1


def _cross(codes_a: np.ndarray, xa: np.ndarray, codes_b: np.ndarray, xb: np.ndarray,
           w: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Z_a' W Z_b as CSR, shape (l_a q_a, l_b q_b), from codes (n,) and columns (n, q)."""
    qa, qb = xa.shape[1], xb.shape[1]
    rows, cols, vals = [], [], []
    for i in range(qa):
        for j in range(qb):
            rows.append(codes_a * qa + i)
            cols.append(codes_b * qb + j)
            vals.append(w * xa[:, i] * xb[:, j])
    mat = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=shape).tocsr()
    mat.sum_duplicates()
    return mat


def _level_sums(codes: np.ndarray, values: np.ndarray, nlevels: int) -> np.ndarray:
    """Per-level sums of ``values`` (n,) -> (nlevels,)."""
    return np.bincount(codes, weights=values, minlength=nlevels)


def build_gram(design: Design, y: np.ndarray | None = None,
               weights: np.ndarray | None = None) -> Gram:
    """Cross-products of ``[Z X y]`` with weights, in the blocks the blocked Cholesky reads.

    Parameters
    ----------
    design : Design
        Gives Z (through its terms) and X.
    y : ndarray, shape (n,), optional
        Response already corrected for the offset; default ``design.y - design.offset``.
    weights : ndarray, shape (n,), optional
        Default ``design.weights`` (lme4: rows scaled by sqrt(w)).

    Raises
    ------
    ModelError
        No random-effects terms, or terms 1..K-1 too large for the dense rest block.
    """
    terms = design.reterms
    if not terms:
        raise ModelError("no random effects terms specified in formula; a linear mixed model "
                         "needs at least one term like (1 | group)")
    yv = (design.y - design.offset) if y is None else np.asarray(y, dtype=float)
    w = design.weights if weights is None else np.asarray(weights, dtype=float)
    n, p = design.X.shape

    layouts = [TermLayout(terms[0].q, terms[0].nlevels, 0)]
    off = 0
    for t in terms[1:]:
        layouts.append(TermLayout(t.q, t.nlevels, off))
        off += t.ncols
    m_z = off
    m = m_z + p + 1
    if m > MAX_DENSE_REST:
        raise ModelError(
            f"the random-effects terms after the first have {m_z} columns in total; this engine "
            f"keeps them in a dense block and accepts at most {MAX_DENSE_REST - p - 1}")

    t0 = terms[0]
    l0, q0 = t0.nlevels, t0.q
    c0 = t0.codes.astype(np.intp)
    x0w = t0.X * w[:, None]  # (n, q_0) * (n, 1) -> (n, q_0)
    D0 = np.empty((l0, q0, q0))
    for i in range(q0):
        for j in range(i + 1):
            s = _level_sums(c0, x0w[:, i] * t0.X[:, j], l0)
            D0[:, i, j] = s
            D0[:, j, i] = s

    XY = np.column_stack([design.X, yv])  # (n, p + 1)
    AXY0 = np.empty((p + 1, l0 * q0))
    for c in range(p + 1):
        for j in range(q0):
            AXY0[c, j::q0] = _level_sums(c0, x0w[:, j] * XY[:, c], l0)

    ARR = np.zeros((m, m))
    XYw = XY * w[:, None]
    ARR[m_z:, m_z:] = XYw.T @ XY
    blocks0 = []
    for a, (ta, la) in enumerate(zip(terms[1:], layouts[1:], strict=True)):
        ca = ta.codes.astype(np.intp)
        blocks0.append(_cross(ca, ta.X, c0, t0.X, w, (la.size, l0 * q0)))
        sl_a = slice(la.offset, la.offset + la.size)
        xaw = ta.X * w[:, None]
        for j in range(p + 1):
            col = np.empty(la.size)
            for i in range(ta.q):
                col[i::ta.q] = _level_sums(ca, xaw[:, i] * XY[:, j], ta.nlevels)
            ARR[sl_a, m_z + j] = col
            ARR[m_z + j, sl_a] = col
        for tb, lb in zip(terms[1:a + 2], layouts[1:a + 2], strict=True):
            sl_b = slice(lb.offset, lb.offset + lb.size)
            block = _cross(ca, ta.X, tb.codes.astype(np.intp), tb.X, w,
                           (la.size, lb.size)).toarray()
            ARR[sl_a, sl_b] = block
            ARR[sl_b, sl_a] = block.T
    if blocks0:
        AZ0 = sp.vstack(blocks0, format="csr")
    else:
        AZ0 = sp.csr_matrix((0, l0 * q0))
    AZ0.sort_indices()
    pos = w > 0
    return Gram(terms=tuple(layouts), D0=D0, AZ0=AZ0, AXY0=AXY0, ARR=ARR, p=p, n=n,
                sum_log_w=float(np.sum(np.log(w[pos]))))
