"""Penalised iteratively reweighted least squares (PIRLS): the conditional modes of a GLMM.

Model (Bates et al. 2015, JSS; lme4's ``pwrssUpdate``, MixedModels.jl's ``pirls!``)::

    eta = offset + X beta + Z Lambda(theta) u,   mu = g^{-1}(eta),
    y_i | u ~ family(mu_i, phi / w_i),            u ~ N(0, I),   b = Lambda u.

For a GLMM Lambda is the Cholesky factor of the random-effects covariance itself (no sigma
scaling); phi is the dispersion (1 for binomial and poisson; for the negative binomial phi holds
its theta, which enters V and d_i instead of scaling them). For fixed theta, beta and phi the
conditional mode u* minimises the penalised deviance

    pdev(u) = sum_i d_i(y_i, mu_i) / phi + ||u||^2

(d_i the unit deviance times prior weight, R's ``dev.resids``; no division by phi for the
negative binomial). Each PIRLS step is the penalised least-squares problem of an LMM with
working weights (Fisher scoring) w_i = a_i mu_eta_i^2 / (phi V(mu_i)) (V(mu_i) alone for the
negative binomial) and working response z_i = eta_i + (y_i - mu_i) / mu_eta_i,
solved with the blocked Cholesky of :mod:`hiermix.pls.blocked` on the Gram matrix of
:mod:`hiermix.frequentist.reweight`; a step that does not lower pdev is halved. With
``with_beta=True`` beta joins u in the least-squares step (lme4's nAGQ = 0, and a GLM when
theta = 0).

For non-canonical links the Fisher weights are only the expected curvature, and Fisher
scoring converges linearly (slowly for skewed data such as inverse Gaussian responses). There
the step is Newton's: w_i is the exact second derivative of -log p(y_i | eta_i)
(:func:`observed_weights`, possibly negative for single observations) and r_i = eta_i + s_i / w_i
with s_i the score, entered as the product w_i r_i; an iteration whose Newton system is not
positive definite falls back to Fisher scoring. For canonical links the two coincide.

The iteration stops when the step from the current point is negligible, so the factor L of the
last step belongs to the mode itself: log|L|^2 is then the Laplace log-determinant, with the
exact Hessian's weights after a Newton step (glmmTMB's Laplace) and Fisher weights otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..covariance import lambda_from_theta
from ..design import Design
from ..errors import ConvergenceError
from ..family import Family
from ..pls.blocked import BlockedCholesky, Factor
from .reweight import WorkingGram

#: (family, link) pairs for which the Fisher and observed weights coincide.
CANONICAL = {("binomial", "logit"), ("poisson", "log"), ("gamma", "inverse"),
             ("inverse_gaussian", "1/mu^2"), ("gaussian", "identity")}


class PirlsError(ConvergenceError):
    """PIRLS could not find the conditional modes (invalid linear predictor, no descent)."""


def _dmu_eta(link: str, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """d^2 mu / d eta^2 for each link, shape (n,)."""
    if link == "identity":
        return np.zeros_like(eta)
    if link == "log":
        return mu
    if link == "logit":
        return mu * (1.0 - mu) * (1.0 - 2.0 * mu)
    if link == "probit":
        return -eta * np.exp(-0.5 * eta**2) / np.sqrt(2.0 * np.pi)
    if link == "cloglog":
        e = np.exp(np.minimum(eta, 700.0))
        return e * np.exp(-e) * (1.0 - e)
    if link == "sqrt":
        return np.full_like(eta, 2.0)
    if link == "inverse":
        return 2.0 / eta**3
    return 0.75 * eta**-2.5  # 1/mu^2: mu = eta^{-1/2}


def _dvariance(family: str, mu: np.ndarray, phi: float = 1.0) -> np.ndarray:
    """V'(mu), shape (n,) (phi is theta for the negative binomial and unused otherwise)."""
    if family == "negative_binomial":
        return 1.0 + 2.0 * mu / phi
    if family == "gaussian":
        return np.zeros_like(mu)
    if family == "binomial":
        return 1.0 - 2.0 * mu
    if family == "poisson":
        return np.ones_like(mu)
    if family == "gamma":
        return 2.0 * mu
    return 3.0 * mu**2


def observed_weights(family: Family, y: np.ndarray, wt: np.ndarray, eta: np.ndarray,
                     phi: float) -> np.ndarray:
    """Second derivative of -log p(y_i | eta_i) in eta_i, shape (n,).

    With s_i = a_i (y_i - mu_i) / (phi V_i) the score in mu, the curvature is
    a_i mu_eta^2 / (phi V) - s_i (mu'' - mu_eta^2 V' / V), which reduces to the Fisher weight
    for canonical links. (For the negative binomial with theta fixed, an exponential family
    in mu, the same holds with phi V replaced by mu + mu^2 / theta.)
    """
    mu = family.linkinv(eta)
    me = family.mu_eta(eta)
    V = family.variance(mu, phi)
    fisher = wt * me**2 / (family.deviance_scale(phi) * V)
    if (family.name, family.link.name) in CANONICAL:
        return fisher
    score = wt * (y - mu) / (family.deviance_scale(phi) * V)
    return fisher - score * (_dmu_eta(family.link.name, eta, mu)
                             - me**2 * _dvariance(family.name, mu, phi) / V)


@dataclass(frozen=True, eq=False)
class PirlsState:
    """The conditional modes at (theta, beta, phi), and what the Laplace step reads from them.

    Attributes
    ----------
    theta : ndarray, shape (n_theta,)
    beta : ndarray, shape (p,)
    phi : float
    u, b : tuple of ndarray, shape (l_k, q_k) each
        Spherical modes and b = Lambda u.
    eta, mu : ndarray, shape (n,)
    pdev : float
        sum d_i / phi + ||u||^2 at the mode.
    factor : Factor
        L at the mode (``chol`` is its solver), with the exact Hessian's weights when
        ``observed`` and Fisher weights otherwise (the same for canonical links).
    chol : BlockedCholesky
    iterations : int
    observed : bool
    """

    theta: np.ndarray
    beta: np.ndarray
    phi: float
    u: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    eta: np.ndarray
    mu: np.ndarray
    pdev: float
    factor: Factor
    chol: BlockedCholesky
    iterations: int
    observed: bool = False

    @property
    def sum_u2(self) -> float:
        return float(sum(np.sum(x * x) for x in self.u))


class Pirls:
    """PIRLS for one design: conditional modes for given theta, beta and phi.

    Parameters
    ----------
    design : Design
    tol : float
        Stop when the largest change of u (and beta) in a Newton step is below
        ``tol * (1 + max |u|)``.
    maxit : int
    max_halvings : int
    """

    def __init__(self, design: Design, tol: float = 1e-10, maxit: int = 100,
                 max_halvings: int = 30) -> None:
        self.design = design
        self.family = design.family
        self.y = np.asarray(design.y, dtype=float)
        self.wt = np.asarray(design.weights, dtype=float)
        self.offset = np.asarray(design.offset, dtype=float)
        self.X = np.asarray(design.X, dtype=float)
        self.wgram = WorkingGram(design)
        self.tol = tol
        self.maxit = maxit
        self.max_halvings = max_halvings
        self._codes = tuple(t.codes.astype(np.intp) for t in design.reterms)
        self._Xk = tuple(t.X for t in design.reterms)
        self.newton = (self.family.name, self.family.link.name) not in CANONICAL
        # d_i = c_i - a_i log mu_i - b_i log(1 - mu_i)   (binomial)
        # d_i = c_i - a_i log mu_i + b_i mu_i            (poisson, log link)
        y, wt = self.y, self.wt
        self._kernel: tuple[float, np.ndarray, np.ndarray] | None = None
        if self.family.name == "binomial":
            c = 2.0 * wt * (special.xlogy(y, y) + special.xlogy(1.0 - y, 1.0 - y))
            self._kernel = (float(np.sum(c)), 2.0 * wt * y, 2.0 * wt * (1.0 - y))
        elif self.family.name == "poisson" and self.family.link.name == "log":
            c = 2.0 * wt * (special.xlogy(y, y) - y)
            self._kernel = (float(np.sum(c)), 2.0 * wt * y, 2.0 * wt)

    def lambdas(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        """Lambda_k (q_k, q_k) per term from theta (n_theta,) in lme4's order."""
        out, start = [], 0
        for t in self.design.reterms:
            out.append(lambda_from_theta(theta[start:start + t.n_theta], t.q))
            start += t.n_theta
        return tuple(out)

    def zb(self, b: tuple[np.ndarray, ...]) -> np.ndarray:
        """Z b, shape (n,)."""
        out = np.zeros(self.y.shape[0])
        for bk, ck, xk in zip(b, self._codes, self._Xk, strict=True):
            if bk.shape[1] == 1:
                out += bk[ck, 0] * xk[:, 0]
            else:
                out += np.einsum("nq,nq->n", bk[ck], xk)  # (n, q_k) * (n, q_k) -> (n,)
        return out

    def pdev(self, eta: np.ndarray, phi: float, sum_u2: float) -> tuple[float, np.ndarray]:
        """Penalised deviance and mu at a linear predictor; +inf where eta is invalid."""
        fam = self.family
        if not fam.link.valid_eta(eta):
            return float("inf"), eta
        mu = fam.linkinv(eta)
        with np.errstate(all="ignore"):
            dev = self._deviance(mu, phi)
        if not np.isfinite(dev):
            return float("inf"), mu
        return dev / float(fam.deviance_scale(phi)) + sum_u2, mu

    def _deviance(self, mu: np.ndarray, phi: float = 1.0) -> float:
        """sum_i d_i(y_i, mu_i), shape ().

        For binomial (any link: mu is kept inside (0, 1)) and poisson with the log link (mu
        > 0), the deviance is a constant plus two dot products with log mu; this equals R's
        ``dev.resids`` summed, to rounding, at a fraction of its cost.
        """
        if self._kernel is None:
            return float(np.sum(self.family.dev_resids(self.y, mu, self.wt, phi)))
        const, a, b = self._kernel
        if self.family.name == "binomial":
            return float(const - a @ np.log(mu) - b @ np.log1p(-mu))
        return float(const - a @ np.log(mu) + b @ mu)

    def _factor(self, w: np.ndarray, wr: np.ndarray, theta: np.ndarray,
                with_beta: bool) -> tuple[BlockedCholesky, Factor] | None:
        """L for weights w, or None when the penalised system is not positive definite."""
        chol = BlockedCholesky(self.wgram.build(w, wr, with_beta))
        try:
            # Indefinite Newton weights show as a log of a negative determinant: expected,
            # and caught below.
            with np.errstate(invalid="ignore", divide="ignore"):
                f = chol.update(theta)
        except np.linalg.LinAlgError:
            return None
        if not (f.ok and np.isfinite(f.ldL2)
                and np.all(np.diagonal(f.M0inv, axis1=1, axis2=2) > 0)):
            return None
        return chol, f

    def fit(self, theta: np.ndarray, beta: np.ndarray, phi: float,
            u0: tuple[np.ndarray, ...] | None = None, with_beta: bool = False,
            eta0: np.ndarray | None = None) -> PirlsState:
        """Iterate to the conditional mode.

        For non-canonical links the step is Newton's (weights from
        :func:`observed_weights`, quadratic convergence), falling back to Fisher scoring in an
        iteration where those weights leave the system indefinite; ``observed`` in the
        returned state says which weights the final factor holds.

        Parameters
        ----------
        theta : ndarray, shape (n_theta,)
        beta : ndarray, shape (p,)
            Fixed (``with_beta=False``) or the starting value.
        phi : float
        u0 : tuple of ndarray (l_k, q_k), optional
            Starting spherical effects (warm start); zeros when None.
        with_beta : bool
            Update beta together with u (nAGQ = 0; a GLM when theta = 0).
        eta0 : ndarray, shape (n,), optional
            A starting linear predictor for the first working response only (a GLM's start
            from the family's initial mu); the first step is then taken in full.

        Raises
        ------
        PirlsError
            The starting point is invalid for the link or the family, or no step lowers the
            penalised deviance and the Newton step is not negligible.
        """
        # Trial steps may overflow the inverse link (exp of a large eta): such points get
        # pdev = +inf and are halved away, so the floating-point warnings carry no news.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._iterate(theta, beta, phi, u0, with_beta, eta0)

    def _iterate(self, theta: np.ndarray, beta: np.ndarray, phi: float,
                 u0: tuple[np.ndarray, ...] | None, with_beta: bool,
                 eta0: np.ndarray | None) -> PirlsState:
        """The PIRLS loop of :meth:`fit`."""
        fam = self.family
        theta = np.asarray(theta, dtype=float)
        beta = np.asarray(beta, dtype=float).copy()
        terms = self.design.reterms
        u = (tuple(np.zeros((t.nlevels, t.q)) for t in terms) if u0 is None
             else tuple(np.array(x, dtype=float) for x in u0))
        lams = self.lambdas(theta)
        sum_u2 = float(sum(np.sum(x * x) for x in u))
        if eta0 is not None:
            eta = np.asarray(eta0, dtype=float)
            pd_cur, mu = float("inf"), fam.linkinv(eta)
        else:
            b = tuple(x @ lam.T for x, lam in zip(u, lams, strict=True))
            eta = self.offset + self.X @ beta + self.zb(b)
            pd_cur, mu = self.pdev(eta, phi, sum_u2)
            if not np.isfinite(pd_cur):
                raise PirlsError("the starting linear predictor is outside the range of the "
                                 f"{fam.link.name} link or the {fam.r_name} family's support")
        pd_prev = float("inf")
        for it in range(1, self.maxit + 1):
            me = fam.mu_eta(eta)
            V = fam.deviance_scale(phi) * fam.variance(mu, phi)  # a_i Var(y_i)
            score = self.wt * (self.y - mu) * me / V  # -d log p / d eta, negated
            fitted = eta - self.offset if with_beta else eta - self.offset - self.X @ beta
            got = None
            observed = False
            if self.newton:
                h = observed_weights(fam, self.y, self.wt, eta, phi)
                if np.all(np.isfinite(h)):
                    got = self._factor(h, h * fitted + score, theta, with_beta)
                    observed = got is not None
            if got is None:
                w = self.wt * me**2 / V
                if not (np.all(np.isfinite(w)) and np.all(np.isfinite(score))):
                    raise PirlsError("the working weights or response are not finite "
                                     f"(the {fam.r_name} family's mean left its range)")
                got = self._factor(w, w * fitted + score, theta, with_beta)
                if got is None:
                    raise PirlsError("the penalised least-squares system is not positive "
                                     "definite")
            chol, f = got
            beta_new, u_new, _ = chol.solve(f)
            du = max(float(np.max(np.abs(a - c))) for a, c in zip(u_new, u, strict=True))
            if with_beta and beta.size:
                du = max(du, float(np.max(np.abs(beta_new - beta))))
            scale = 1.0 + max(float(np.max(np.abs(x))) for x in u)
            # With beta in the step, an ill-conditioned X can leave noise in beta above
            # ``tol``; a step that leaves pdev unchanged to rounding has reached it. (u alone
            # solves a system with eigenvalues >= 1 and always reaches ``tol``.)
            stalled = (with_beta and du < 1e-6 * scale and np.isfinite(pd_cur)
                       and abs(pd_prev - pd_cur) <= 1e-13 * abs(pd_cur))
            if (du < self.tol * scale and np.isfinite(pd_cur)) or stalled:
                return self._state(theta, beta, phi, u, lams, eta, mu, pd_cur, f, chol, it,
                                   observed)
            step = 1.0
            for _ in range(self.max_halvings):
                u_c = tuple(a + step * (c - a) for a, c in zip(u, u_new, strict=True))
                beta_c = beta + step * (beta_new - beta) if with_beta else beta
                b_c = tuple(x @ lam.T for x, lam in zip(u_c, lams, strict=True))
                s2 = float(sum(np.sum(x * x) for x in u_c))
                eta_c = self.offset + self.X @ beta_c + self.zb(b_c)
                pd_c, mu_c = self.pdev(eta_c, phi, s2)
                # Near the mode a Newton step changes pdev by less than its rounding
                # (about 1e-14 relative for a sum of n deviances); it is taken, not halved.
                # A candidate outside the link's range (pd_c = inf) is never taken, also
                # from a start with pd_cur = inf (a GLM's first step from eta0).
                if np.isfinite(pd_c) and (pd_c <= pd_cur + 1e-12 * abs(pd_cur)
                                          or not np.isfinite(pd_cur)):
                    break
                step *= 0.5
            else:
                if du < 1e-5 * scale and np.isfinite(pd_cur):
                    # Rounding in pdev hides a step this small: the mode is found to the
                    # precision the criterion can resolve.
                    return self._state(theta, beta, phi, u, lams, eta, mu, pd_cur, f, chol, it,
                                       observed)
                raise PirlsError(f"PIRLS step halving failed to reduce the penalised deviance "
                                 f"(iteration {it}, {self.max_halvings} halvings)")
            pd_prev = pd_cur
            u, beta, eta, mu, pd_cur = u_c, beta_c, eta_c, mu_c, pd_c
        raise PirlsError(f"PIRLS did not converge in {self.maxit} iterations")

    @staticmethod
    def _state(theta: np.ndarray, beta: np.ndarray, phi: float, u: tuple[np.ndarray, ...],
               lams: tuple[np.ndarray, ...], eta: np.ndarray, mu: np.ndarray, pdev: float,
               f: Factor, chol: BlockedCholesky, it: int, observed: bool) -> PirlsState:
        b = tuple(x @ lam.T for x, lam in zip(u, lams, strict=True))
        return PirlsState(theta=theta, beta=beta, phi=phi, u=u, b=b, eta=eta, mu=mu,
                          pdev=pdev, factor=f, chol=chol, iterations=it, observed=observed)
