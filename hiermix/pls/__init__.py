"""Penalised least squares for the Gaussian mixed model, shared by both engines.

The frequentist engine profiles the likelihood over it (:mod:`hiermix.frequentist.lmm`); the
Bayesian engine integrates the random effects out with it (:mod:`hiermix.bayes.marginal`).
Neither engine is imported here.

* :mod:`~hiermix.pls.gram`: the Gram matrix of ``[Z X y]`` in blocks, built once per response;
* :mod:`~hiermix.pls.blocked`: the blocked Cholesky factor L(theta) of the PLS system;
* :mod:`~hiermix.pls.kernels`: its compiled inner loops;
* :mod:`~hiermix.pls.density`: the marginal log density log p(y | beta, theta, sigma), its
  gradient, and exact draws of b from p(b | y, beta, theta, sigma).
"""
