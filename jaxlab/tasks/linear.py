"""Linear-regression task family and its exact Bayes-optimal predictor.

The Occam reference's ``LinearRegression`` (paper §3.1; docs/icl_occam.md). Each task draws
``w ~ N(0, I / (x_dim + 1))`` of shape (x_dim + 1, y_dim), the last row being the bias,
inputs ``x ~ N(0, I)`` and targets ``y = [x, 1] w + noise * eps``. The prior variance of y
is therefore 1 and the noise variance ``noise**2``.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp


class Episodes(NamedTuple):
    """x: (B, N, x_dim), y: (B, N, y_dim), w: (B, x_dim + 1, y_dim) the latent task."""

    x: jax.Array
    y: jax.Array
    w: jax.Array


class LatentTaskFamily:
    """Mixin for a task family sampled in two steps: ``sample_latent(key, n_tasks)`` draws
    each task's latent, ``sample_given(key, latent, n_points)`` its points. Real-valued
    families feed (x, y) to the models as they are; others override ``encode``."""

    def sample(self, key: jax.Array, n_tasks: int, n_points: int) -> Episodes:
        """Fresh tasks and their points, (B, N, ...): a pure function of ``key``."""
        k_latent, k_points = jax.random.split(key)
        return self.sample_given(k_points, self.sample_latent(k_latent, n_tasks), n_points)

    def encode(self, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """Model inputs (x, y): the raw features, already real-valued."""
        return ep.x, ep.y


def with_bias(x: jax.Array) -> jax.Array:
    """[x, 1]: (..., x_dim) -> (..., x_dim + 1)."""
    return jnp.concatenate([x, jnp.ones_like(x[..., :1])], axis=-1)


@dataclasses.dataclass(frozen=True)
class LinearRegression:
    x_dim: int
    y_dim: int
    noise: float
    kind = "regression"
    oracle_method = "exact: closed-form Bayesian linear regression"

    @property
    def prior_var(self) -> float:
        """Prior variance of each weight, chosen so that Var(f(x)) = 1."""
        return 1.0 / (self.x_dim + 1)

    def sample(self, key: jax.Array, n_tasks: int, n_points: int) -> Episodes:
        """Fresh tasks and their points: a pure function of ``key``."""
        k_w, k_x, k_eps = jax.random.split(key, 3)
        w = jax.random.normal(k_w, (n_tasks, self.x_dim + 1, self.y_dim)) * jnp.sqrt(
            self.prior_var)
        x = jax.random.normal(k_x, (n_tasks, n_points, self.x_dim))
        eps = jax.random.normal(k_eps, (n_tasks, n_points, self.y_dim))
        y = jnp.einsum("bnp,bpo->bno", with_bias(x), w) + self.noise * eps
        return Episodes(x, y, w)

    def encode(self, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """Model inputs (x, y): the raw features, already real-valued."""
        return ep.x, ep.y

    # Latent / point split (finite pools, importance sampling). ``sample`` keeps its own
    # key schedule so that existing results are unchanged.
    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, self.x_dim + 1, self.y_dim)) * jnp.sqrt(self.prior_var)

    def predict(self, w: jax.Array, x: jax.Array) -> jax.Array:
        """One task's noise-free f: w (x_dim + 1, y_dim), x (N, x_dim) -> (N, y_dim)."""
        return with_bias(x) @ w

    def loglik(self, mean: jax.Array, y: jax.Array) -> jax.Array:
        from jaxlab.tasks.oracles import gaussian_loglik

        return gaussian_loglik(mean, y, self.noise)

    def sample_given(self, key: jax.Array, w: jax.Array, n_points: int) -> Episodes:
        k_x, k_eps = jax.random.split(key)
        x = jax.random.normal(k_x, (w.shape[0], n_points, self.x_dim))
        y = jnp.einsum("bnp,bpo->bno", with_bias(x), w)
        return Episodes(x, y + self.noise * jax.random.normal(k_eps, y.shape), w)

    def oracle(self, ep: Episodes, key: jax.Array | None = None) -> dict:
        """Per-point (B, N) squared error of the exact posterior-predictive mean and its
        closed-form expectation ``expected_risk``."""
        pred, var = self.bayes_next_token(ep.x, ep.y)
        return {"loss": jnp.mean(jnp.square(pred - ep.y), -1), "expected_risk": var}

    def posterior(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Posterior over w after the first k points of each episode, for every k.

        x: (B, N, x_dim), y: (B, N, y_dim) -> mean (B, N+1, P, y_dim), cov (B, N+1, P, P),
        with P = x_dim + 1 and slot k conditioning on points 0..k-1. The y dims share one
        covariance (independent outputs, same design).
        """
        chex.assert_rank([x, y], 3)
        phi = with_bias(x)
        p = phi.shape[-1]
        s2 = self.noise**2
        outer = jnp.einsum("bni,bnj->bnij", phi, phi)
        cross = jnp.einsum("bni,bno->bnio", phi, y)
        zeros = lambda a: jnp.zeros_like(a[:, :1])
        outer = jnp.cumsum(jnp.concatenate([zeros(outer), outer], axis=1), axis=1)
        cross = jnp.cumsum(jnp.concatenate([zeros(cross), cross], axis=1), axis=1)
        precision = jnp.eye(p) / self.prior_var + outer / s2
        cov = jnp.linalg.inv(precision)
        mean = jnp.einsum("bnij,bnjo->bnio", cov, cross / s2)
        return mean, cov

    def bayes_next_token(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Posterior predictive of point k given points 0..k-1, for k = 0..N-1.

        Returns mean (B, N, y_dim) and variance (B, N) (noise included). Under squared
        error the mean is the Bayes-optimal prediction and the variance its expected risk.
        """
        mean_w, cov_w = self.posterior(x, y)
        phi = with_bias(x)
        pred = jnp.einsum("bni,bnio->bno", phi, mean_w[:, :-1])
        var = jnp.einsum("bni,bnij,bnj->bn", phi, cov_w[:, :-1], phi) + self.noise**2
        return pred, var

    def expected_bayes_risk(self, x: jax.Array) -> jax.Array:
        """Closed-form Bayes MSE at context size k, averaged over the query x ~ N(0, I).

        E[(y* - mean)^2 | x_1..x_k] = noise^2 + tr(Sigma_k), because E[phi phi^T] = I for
        phi = [x, 1]. x: (B, N, x_dim) -> (B, N+1) for k = 0..N.
        """
        _, cov = self.posterior(x, jnp.zeros(x.shape[:-1] + (self.y_dim,)))
        return jnp.trace(cov, axis1=-2, axis2=-1) + self.noise**2
