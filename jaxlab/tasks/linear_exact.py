"""Exact expected Bayes risk of the linear-regression task, by deterministic quadrature.

An oracle computation in numpy/scipy (not a training path) for a ``LinearRegression`` task
(``tasks/linear.py``): ``x ~ N(0, I_p)``, features ``phi = [x, 1]``, ``w ~ N(0, v I_{p+1})``
(``v = task.prior_var``), ``y = phi w + sigma eps`` (``sigma = task.noise``). The Bayes
predictor after n context points is the posterior-predictive mean; its mean squared error
on the next point (the study's ``bayes`` gen_error, in MSE units) has expectation

    R(n) = sigma^2 + E tr(A^{-1}),   A = I / v + Phi^T Phi / sigma^2,

since ``E[phi phi^T] = I`` for the query. The expectation over the n context inputs is
reduced to at most p + 1 one-dimensional quadratures (derivation in docs/icl_occam.md,
"Exact Bayes risk"):

1. Centre the inputs: ``X^T X = S + n m m^T`` with ``S`` ~ Wishart_p(n - 1, I) the scatter
   matrix and ``m`` ~ N(0, I/n) the mean, independent. A Schur complement on the bias
   coordinate gives, with ``c = 1/v``, ``D = c + n/sigma^2``, ``kappa = n c / (sigma^2 D)``,
   ``G = c I + S/sigma^2 + kappa m m^T``:
   ``tr A^{-1} = tr G^{-1} + 1/D + (n / (sigma^2 D))^2 m^T G^{-1} m``.
2. ``S`` is rotation invariant and independent of ``m``: in S's eigenbasis (eigenvalues
   lambda, ``b = c + lambda/sigma^2``) Sherman-Morrison gives ``tr G^{-1} = sum 1/b -
   kappa P/(1 + kappa Q)`` and ``m^T G^{-1} m = Q/(1 + kappa Q)`` with ``P = sum m_i^2/b_i^2``,
   ``Q = sum m_i^2/b_i``; ``m`` is still N(0, I/n).
3. ``1/(1 + kappa Q) = int_0^inf exp(-u (1 + kappa Q)) du`` makes the Gaussian expectation
   over m closed-form for each u; the u-integral is Gauss-Laguerre.
4. The eigenvalues of S (r = min(n - 1, p) of them non-zero) have the joint density
   ``prod lambda_i^alpha exp(-lambda_i / 2) prod_{i<j} |lambda_i - lambda_j|`` with
   ``alpha = (|n - 1 - p| - 1)/2``. Ordered and written in gaps ``g`` (``lambda_(j) =
   g_1 + ... + g_j``) the Vandermonde factor is a polynomial; each gap gets a generalized
   Gauss-Laguerre rule (``g_1``: ``g^alpha e^{-r g/2}``; the others: ``g e^{-(r-j+1) g/2}``)
   and the remaining factor is a weight at the nodes, normalised by the same rule.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.special import roots_genlaguerre, roots_jacobi

from jaxlab.tasks.linear import LinearRegression


# Gap rules: below this exponent the density does not vanish fast at 0, so the integrand's
# pole at lambda = -sigma^2 / v (just left of 0) slows a plain Laguerre rule; those gaps get
# Gauss-Jacobi on [0, SPLIT] (weight g^a, nodes clustered at 0) plus Laguerre beyond.
SMOOTH_EXPONENT = 2.0
SPLIT = 2.0
RULE_SHAPE = 60.0  # scipy's generalized-Laguerre weights overflow for exponents >~ 150


def _gap_rule(a: float, beta: float, nodes: int, mean: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log-weights for int_0^inf g^a exp(-beta g) h(g) dg (up to a constant).

    ``mean``: where the gap's mass really lies (large n, where the other eigenvalues'
    factors move it far from the mode of g^a exp(-beta g)); the rule is then a Gamma rule of
    that mean and shape at most RULE_SHAPE, the rest of the weight evaluated at the nodes.
    """
    if a >= SMOOTH_EXPONENT:
        a_rule = min(a, RULE_SHAPE)
        b_rule = beta if mean is None else (a_rule + 1) / mean
        t, w = roots_genlaguerre(nodes, a_rule)
        g = t / b_rule
        return g, np.log(w) + (a - a_rule) * np.log(g) - (beta - b_rule) * g
    x, wj = roots_jacobi(nodes, 0.0, a)  # weight (1 + x)^a on [-1, 1]
    g_in = SPLIT * (1 + x) / 2
    t, wl = roots_genlaguerre(nodes, 0.0)
    b_out = beta if mean is None else min(beta, (a + 1) / mean)
    g_out = SPLIT + t / b_out
    logw_in = np.log(wj) + (a + 1) * np.log(SPLIT / 2) - beta * g_in
    logw_out = np.log(wl) - np.log(b_out) + a * np.log(g_out) - beta * g_out + t
    return np.concatenate([g_in, g_out]), np.concatenate([logw_in, logw_out])


def _eigen_rule(n: int, p: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature for the eigenvalues of S ~ Wishart_p(n - 1, I): lambda (K, p), the
    non-zero ones first (ascending), and normalised weights (K,)."""
    k = n - 1
    r = min(k, p)
    if r == 0:
        return np.zeros((1, p)), np.ones(1)
    alpha = (abs(k - p) - 1) / 2
    # where the mass lies when n - 1 >> p (Marchenko-Pastur edges): the smallest eigenvalue
    # near (sqrt(k) - sqrt(p))^2, the gaps near 2 sqrt(k p) / (r - 1)
    big = k > 4 * p
    lo = (np.sqrt(k) - np.sqrt(p)) ** 2 if big else None
    gap = 2 * np.sqrt(k * p) / max(r - 1, 1) if big else None
    # gap j (0-based) enters r - j eigenvalues: weight exp(-(r - j) g / 2)
    rules = [_gap_rule(alpha if j == 0 else 1.0, (r - j) / 2, nodes, lo if j == 0 else gap)
             for j in range(r)]
    grids = np.meshgrid(*[g for g, _ in rules], indexing="ij")
    logw = sum(np.meshgrid(*[lw for _, lw in rules], indexing="ij")).ravel()
    lam = np.cumsum(np.stack([g.ravel() for g in grids], -1), -1)  # (K, r)
    # what the 1-D weights left out: lambda_(j)^alpha for j >= 2 and the non-adjacent
    # differences of the Vandermonde product (the adjacent ones are the gaps' own g^1)
    if r > 1:
        logw = logw + alpha * np.log(lam[:, 1:]).sum(-1)
    for i, j in itertools.combinations(range(r), 2):
        if j > i + 1:
            logw = logw + np.log(lam[:, j] - lam[:, i])
    w = np.exp(logw - logw.max())
    lam = np.concatenate([lam, np.zeros((lam.shape[0], p - r))], -1)
    return lam, w / w.sum()


def exact_bayes_risk(task: LinearRegression, n: int, nodes: int = 16, u_nodes: int = 60) -> float:
    """E[(y_{n+1} - posterior-predictive mean)^2] after n context points of ``task``, exactly
    up to the quadrature (``nodes`` per eigenvalue gap, ``u_nodes`` for the mean's integral).

    Cost: nodes^min(n - 1, x_dim) x u_nodes evaluations; the defaults converge to about
    1e-6 for n <= 20 (docs/icl_occam.md lists the convergence check).
    """
    if not (isinstance(n, (int, np.integer)) and n >= 0):
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    if task.x_dim < 1 or task.noise <= 0:
        raise ValueError(f"need x_dim >= 1 and noise > 0, got x_dim={task.x_dim}, "
                         f"noise={task.noise}")
    p, s = task.x_dim, task.noise**2
    v = task.prior_var
    c = 1.0 / v
    if n == 0:
        return s + (p + 1) * v
    d = c + n / s
    kappa = n * c / (s * d)
    lam, w = _eigen_rule(n, p, nodes)
    b = c + lam / s  # (K, p)
    u, wu = roots_genlaguerre(u_nodes, 0.0)  # weight exp(-u)
    e = 2.0 * kappa * u[:, None, None] / (n * b[None])  # (U, K, p): 2 u kappa Var(m_i) / b_i
    prod = np.prod(1.0 + e, -1) ** -0.5  # E exp(-u kappa Q)
    ep = np.einsum("u,ukp->k", wu, (1.0 / (n * b**2))[None] / (1.0 + e) * prod[..., None])
    eq = np.einsum("u,ukp->k", wu, (1.0 / (n * b))[None] / (1.0 + e) * prod[..., None])
    tr = (1.0 / b).sum(-1) + 1.0 / d - kappa * ep + (n / (s * d)) ** 2 * eq
    return float(s + w @ tr)
