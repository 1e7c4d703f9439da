"""Chebyshev-polynomial regression (the Occam reference's ``TchebyshevRegression``).

``y = sum_d sum_{k <= degree} c_dk T_k(x_d) + noise * eps`` with x ~ N(0, I) (unbounded, as
the reference) and Gaussian coefficients. The reference draws c ~ N(0, 1/(x_dim + 1)) and
then z-scores y *across the tasks of the dataset* at each (point, output) position, which
couples tasks and makes a task's function depend on the others. We fix that: y is divided
by its analytic prior standard deviation instead (Var(y) = 1, mean 0, as the z-score gives
on average), which is the same as drawing c ~ N(0, v I) with
``v = 1 / (x_dim * sum_k E[T_k(x)^2])``. Every task is then an independent linear-Gaussian
model in the Chebyshev features, and its exact Bayes predictor is Bayesian linear
regression in that basis (``gaussian_linear_posterior``; noise 0 allowed).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.tasks import inference, oracles
from jaxlab.tasks.linear import Episodes, LatentTaskFamily


def chebyshev_features(x: jax.Array, degree: int) -> jax.Array:
    """(..., x_dim) -> (..., x_dim * (degree + 1)): T_0..T_degree of each coordinate."""
    t = [jnp.ones_like(x), x]
    for _ in range(2, degree + 1):
        t.append(2 * x * t[-1] - t[-2])
    t = jnp.stack(t[: degree + 1], axis=-1)
    return t.reshape(*x.shape[:-1], -1)


def gaussian_second_moments(degree: int) -> np.ndarray:
    """E[T_k(x)^2] for x ~ N(0, 1), k = 0..degree (Gauss-Hermite, exact for polynomials)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(degree + 2)
    weights = weights / weights.sum()
    return np.array([np.sum(weights * np.polynomial.chebyshev.chebval(nodes, np.eye(degree + 1)[k]) ** 2)
                     for k in range(degree + 1)])


@dataclasses.dataclass(frozen=True)
class ChebyshevRegression(LatentTaskFamily):
    x_dim: int = 1
    y_dim: int = 1
    degree: int = 3
    noise: float = 0.0
    kind = "regression"
    oracle_method = "exact: Bayesian linear regression in the Chebyshev basis"

    @property
    def n_features(self) -> int:
        return self.x_dim * (self.degree + 1)

    @property
    def coef_var(self) -> float:
        """Prior variance of each coefficient, chosen so that Var(y) = 1 before noise."""
        return float(1.0 / (self.x_dim * gaussian_second_moments(self.degree).sum()))

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        """(n, x_dim * (degree + 1), y_dim) coefficients."""
        return jax.random.normal(key, (n, self.n_features, self.y_dim)) * np.sqrt(self.coef_var)

    def predict(self, c: jax.Array, x: jax.Array) -> jax.Array:
        """One task's noise-free f: c (P, y_dim), x (N, x_dim) -> (N, y_dim)."""
        return chebyshev_features(x, self.degree) @ c

    def loglik(self, mean: jax.Array, y: jax.Array) -> jax.Array:
        return oracles.gaussian_loglik(mean, y, self.noise)

    def sample_given(self, key: jax.Array, c: jax.Array, n_points: int) -> Episodes:
        k_x, k_eps = jax.random.split(key)
        x = jax.random.normal(k_x, (c.shape[0], n_points, self.x_dim))
        y = jax.vmap(self.predict)(c, x)
        y = y + self.noise * jax.random.normal(k_eps, y.shape)
        return Episodes(x, y, c)

    def oracle(self, ep: Episodes, key: jax.Array | None = None) -> dict:
        """Per-point (B, N) squared error of the exact posterior predictive mean, and its
        closed-form expected value ``expected_risk`` (the predictive variance)."""
        phi = chebyshev_features(ep.x, self.degree)
        out = inference.gaussian_linear_posterior(
            phi, ep.y, jnp.zeros((self.n_features, self.y_dim)), self.coef_var, self.noise)
        return {"loss": jnp.mean(jnp.square(out.pred - ep.y), -1), "expected_risk": out.var}
