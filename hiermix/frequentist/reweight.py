"""The Gram matrix of ``[Z X r]`` rebuilt for new working weights, as PIRLS needs it each step.

A GLMM's penalised iteratively reweighted least squares (PIRLS) solves, at every step, the
penalised least-squares problem of an LMM with working weights w and working response r:

    min_{u (, beta)} ||W^{1/2}(r - X beta - Z Lambda u)||^2 + ||u||^2,   W = diag(w).

:mod:`hiermix.pls.gram` builds the blocks of A = [Z X r]' W [Z X r] from a design once;
here the sparsity pattern of every sparse block is worked out once, so that each PIRLS step is a
handful of weighted scatter-adds (``np.bincount``) and one sparse-times-dense product, then
handed to :class:`~hiermix.pls.blocked.BlockedCholesky` unchanged. With
``with_X=False`` (beta fixed, the Laplace stage) X drops out and p = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..design import Design
from ..errors import ModelError
from ..pls.gram import MAX_DENSE_REST, Gram, TermLayout

#: The r' W r entry of the Gram matrix (see :meth:`WorkingGram.build`, Notes).
RESPONSE_PIVOT = 1e100


@dataclass(frozen=True, eq=False)
class _Pattern:
    """Where each (observation, column pair) product lands in a sparse block.

    Attributes
    ----------
    obs : ndarray of intp, shape (k,)
        Observation of each contribution.
    xprod : ndarray, shape (k,)
        Product of the two model-matrix entries of each contribution.
    slot : ndarray of intp, shape (k,)
        Index of the contribution's non-zero in the block's sorted (row-major) pattern.
    rows, cols : ndarray of intp, shape (nnz,)
    indptr : ndarray of int32, shape (nrows + 1,)
        CSR row pointers of the pattern (its non-zeros are in row-major order already).
    """

    obs: np.ndarray
    xprod: np.ndarray
    slot: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    indptr: np.ndarray

    def csr(self, w: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
        """Z_a' W Z_b as CSR with this pattern."""
        return sp.csr_matrix((self.values(w), self.cols.astype(np.int32), self.indptr),
                             shape=shape)

    def values(self, w: np.ndarray) -> np.ndarray:
        """Non-zeros (nnz,) of Z_a' W Z_b for weights w (n,)."""
        return np.bincount(self.slot, weights=w[self.obs] * self.xprod,
                           minlength=self.rows.size)


def _pattern(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]], ncols: int,
             nrows: int) -> _Pattern:
    """The pattern of sum over ``pairs`` of (row codes (n,), col codes (n,), products (n,))."""
    n = pairs[0][0].shape[0]
    rows = np.concatenate([r for r, _, _ in pairs]).astype(np.int64)
    cols = np.concatenate([c for _, c, _ in pairs]).astype(np.int64)
    xprod = np.concatenate([x for _, _, x in pairs])
    obs = np.tile(np.arange(n), len(pairs))
    keep = xprod != 0  # structural zeros (0 in a slope column) would only bloat the pattern
    keys = rows[keep] * ncols + cols[keep]
    uniq, slot = np.unique(keys, return_inverse=True)
    rows_u = (uniq // ncols).astype(np.intp)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows_u, minlength=nrows))])
    return _Pattern(obs=obs[keep], xprod=xprod[keep], slot=slot.astype(np.intp),
                    rows=rows_u, cols=(uniq % ncols).astype(np.intp),
                    indptr=indptr.astype(np.int32))


class WorkingGram:
    """Builds :class:`Gram` objects of ``[Z X r]`` for any working weights and response.

    Parameters
    ----------
    design : Design
        Gives Z (its random-effects terms, lme4's order) and X.

    Raises
    ------
    ModelError
        No random-effects terms, or terms 1..K-1 too large for the dense rest block.
    """

    def __init__(self, design: Design) -> None:
        terms = design.reterms
        if not terms:
            raise ModelError("no random effects terms specified in formula; a generalised "
                             "linear mixed model needs at least one term like (1 | group)")
        self.X = np.asarray(design.X, dtype=float)
        self.n, self.p = self.X.shape
        t0 = terms[0]
        self.l0, self.q0 = t0.nlevels, t0.q
        self.c0 = t0.codes.astype(np.intp)
        self.X0 = np.asarray(t0.X, dtype=float)
        layouts = [TermLayout(t0.q, t0.nlevels, 0)]
        off = 0
        for t in terms[1:]:
            layouts.append(TermLayout(t.q, t.nlevels, off))
            off += t.q * t.nlevels
        self.layouts = tuple(layouts)
        self.m_z = off
        if off + self.p + 1 > MAX_DENSE_REST:
            raise ModelError(
                f"the random-effects terms after the first have {off} columns in total; this "
                f"engine keeps them in a dense block and accepts at most "
                f"{MAX_DENSE_REST - self.p - 1}")
        # Z_0' (l_0 q_0, n) as CSR: one product with [X r] W gives A_{[X r],0}.
        rows0 = (self.c0[:, None] * self.q0 + np.arange(self.q0)[None, :]).ravel()
        cols0 = np.repeat(np.arange(self.n), self.q0)
        self.Z0T = sp.csr_matrix((self.X0.ravel(), (rows0, cols0)),
                                 shape=(self.l0 * self.q0, self.n))
        self.d0_pairs = [(i, j, self.X0[:, i] * self.X0[:, j])
                         for i in range(self.q0) for j in range(i + 1)]
        self._no_rest = sp.csr_matrix((0, self.l0 * self.q0))  # one term: A_Z0 is empty
        self.az0: _Pattern | None = None
        self.zz: _Pattern | None = None
        self.ZrT: sp.csr_matrix | None = None
        if terms[1:]:
            pairs0, pairs_rr = [], []
            zr_rows, zr_cols, zr_vals = [], [], []
            for t, lay in zip(terms[1:], layouts[1:], strict=True):
                ca = t.codes.astype(np.intp)
                for i in range(t.q):
                    ra = lay.offset + ca * t.q + i
                    zr_rows.append(ra)
                    zr_cols.append(np.arange(self.n))
                    zr_vals.append(t.X[:, i])
                    for j in range(self.q0):
                        pairs0.append((ra, self.c0 * self.q0 + j, t.X[:, i] * self.X0[:, j]))
                    for tb, lb in zip(terms[1:], layouts[1:], strict=True):
                        cb = tb.codes.astype(np.intp)
                        for j in range(tb.q):
                            pairs_rr.append((ra, lb.offset + cb * tb.q + j,
                                             t.X[:, i] * tb.X[:, j]))
            self.az0 = _pattern(pairs0, self.l0 * self.q0, off)
            self.zz = _pattern(pairs_rr, off, off)
            self.ZrT = sp.csr_matrix((np.concatenate(zr_vals),
                                      (np.concatenate(zr_rows), np.concatenate(zr_cols))),
                                     shape=(off, self.n))

    def build(self, w: np.ndarray, wr: np.ndarray, with_X: bool) -> Gram:
        """The Gram blocks of ``[Z X r]`` (or ``[Z r]``) with weights ``w``.

        Parameters
        ----------
        w : ndarray, shape (n,)
            Working weights. They may be negative for some observations (Newton weights of a
            non-canonical link) as long as the penalised system stays positive definite.
        wr : ndarray, shape (n,)
            w times the working response r, where r has everything not fitted (offset, and
            X beta when ``with_X`` is False) subtracted. Passing the product keeps r = s / w
            finite where a weight vanishes.
        with_X : bool
            Include X (PIRLS over beta and u) or not (u only).

        Notes
        -----
        PIRLS reads beta and u (the last row of L without its diagonal) and log|L|^2, never
        the penalised residual r' W r: its entry is set to a large constant, so that its
        pivot stays positive whatever the weights' signs.
        """
        p = self.p if with_X else 0
        Xw = self.X * w[:, None] if with_X else np.zeros((self.n, 0))
        XYw = np.column_stack([Xw, wr])  # (n, p + 1): columns of W [X r]
        D0 = np.empty((self.l0, self.q0, self.q0))
        for i, j, x in self.d0_pairs:
            s = np.bincount(self.c0, weights=w * x, minlength=self.l0)
            D0[:, i, j] = s
            D0[:, j, i] = s
        if self.q0 == 1:
            # one bincount per column beats a sparse product's overhead on small data
            x0 = self.X0[:, 0]
            AXY0 = np.stack([np.bincount(self.c0, weights=XYw[:, c] * x0, minlength=self.l0)
                             for c in range(p + 1)])
        else:
            AXY0 = np.asarray(self.Z0T @ XYw).T.copy()  # (l_0 q_0, p + 1)' -> (p + 1, l_0 q_0)
        mz = self.m_z
        m = mz + p + 1
        ARR = np.zeros((m, m))
        if with_X:
            ARR[mz:mz + p, mz:mz + p] = Xw.T @ self.X
            xr = self.X.T @ wr
            ARR[mz:mz + p, -1] = xr
            ARR[-1, mz:mz + p] = xr
        ARR[-1, -1] = RESPONSE_PIVOT
        if self.az0 is not None and self.zz is not None and self.ZrT is not None:
            AZ0 = self.az0.csr(w, (mz, self.l0 * self.q0))
            ARR[self.zz.rows, self.zz.cols] = self.zz.values(w)
            zxy = np.asarray(self.ZrT @ XYw)  # (m_z, p + 1)
            ARR[:mz, mz:] = zxy
            ARR[mz:, :mz] = zxy.T
        else:
            AZ0 = self._no_rest
        return Gram(terms=self.layouts, D0=D0, AZ0=AZ0, AXY0=AXY0, ARR=ARR, p=p, n=self.n,
                    sum_log_w=0.0)
