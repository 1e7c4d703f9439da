"""Linear dynamical system: the transition-matrix task (the Occam reference's
``datasets/dynamical_systems.py: TransitionMatrix``).

Each task draws W ~ N(0, 1)^{dim x dim} divided by its spectral radius. Each point is one
trajectory: s_0 ~ N(0, I), then Euler steps s_{t+1} = s_t + dt s_t W (+ noise * N(0, I) * dt,
as the reference scales the noise by dt), for x_len + y_len states; x is the first x_len
states flattened, y the next y_len (reference: dim 3, x_len = y_len = 20, dt 0.01, noise 0,
so x_dim = y_dim = 60).

Oracle: W is estimated by least squares (ridge 1e-6) from every transition available when
predicting point k: the full trajectories of points 0..k-1 and the query's own x states,
then y is rolled out from the query's last x state. With noise 0 the trajectory is a
deterministic linear recursion and the estimate recovers W (up to float error) from the
query's x alone, so this predictor is Bayes-optimal (its error is float round-off); with
noise > 0 it is a plug-in estimate, not the Bayes predictor (the method string says so).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxlab.tasks import oracles
from jaxlab.tasks.linear import Episodes, LatentTaskFamily


@dataclasses.dataclass(frozen=True)
class TransitionMatrix(LatentTaskFamily):
    dim: int = 3
    x_len: int = 20
    y_len: int = 20
    dt: float = 0.01
    noise: float = 0.0
    kind = "regression"

    @property
    def x_dim(self) -> int:
        return self.dim * self.x_len

    @property
    def y_dim(self) -> int:
        return self.dim * self.y_len

    @property
    def oracle_method(self) -> str:
        if self.noise == 0:
            return "exact (noise 0): least-squares W from the context and the query's own states"
        return "plug-in least-squares W (not Bayes-optimal when noise > 0)"

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        w = jax.random.normal(key, (n, self.dim, self.dim))
        radius = jnp.max(jnp.abs(jnp.linalg.eigvals(w)), axis=-1)
        return w / radius[:, None, None].astype(w.dtype)

    def rollout(self, w: jax.Array, s0: jax.Array, steps: int, key: jax.Array | None = None):
        """One task: w (dim, dim), s0 (M, dim) -> (M, steps, dim) the next ``steps`` states."""

        def step(s, k):
            nxt = s + self.dt * s @ w
            if key is not None and self.noise > 0:
                nxt = nxt + self.noise * self.dt * jax.random.normal(k, s.shape)
            return nxt, nxt

        keys = jax.random.split(key if key is not None else jax.random.PRNGKey(0), steps)
        _, traj = jax.lax.scan(step, s0, keys)
        return jnp.swapaxes(traj, 0, 1)

    def predict(self, w: jax.Array, x: jax.Array) -> jax.Array:
        """Noise-free continuation: w (dim, dim), x (N, x_dim) -> (N, y_dim)."""
        last = x[:, -self.dim:]
        return self.rollout(w, last, self.y_len).reshape(x.shape[0], self.y_dim)

    def loglik(self, mean: jax.Array, y: jax.Array) -> jax.Array:
        return oracles.gaussian_loglik(mean, y, self.noise * self.dt)

    def x_loglik(self, w: jax.Array, x: jax.Array) -> jax.Array:
        """(N,) log-likelihood of each point's own x trajectory under W beyond its first
        state (Euler residuals; noise std noise * dt, floored as ``gaussian_loglik``)."""
        s = x.reshape(x.shape[0], self.x_len, self.dim)
        pred = s[:, :-1] + self.dt * s[:, :-1] @ w
        resid = (s[:, 1:] - pred).reshape(x.shape[0], -1)
        return oracles.gaussian_loglik(resid, jnp.zeros_like(resid), self.noise * self.dt)

    def sample_given(self, key: jax.Array, w: jax.Array, n_points: int) -> Episodes:
        k_s, k_noise = jax.random.split(key)
        s0 = jax.random.normal(k_s, (w.shape[0], n_points, self.dim))
        keys = jax.random.split(k_noise, w.shape[0])
        rest = jax.vmap(lambda wt, s, k: self.rollout(wt, s, self.x_len + self.y_len - 1, k))(
            w, s0, keys)
        traj = jnp.concatenate([s0[:, :, None], rest], axis=2)  # (B, N, T, dim)
        flat = traj.reshape(w.shape[0], n_points, -1)
        return Episodes(flat[..., : self.x_dim], flat[..., self.x_dim:], w)

    def _moments(self, states: jax.Array) -> tuple[jax.Array, jax.Array]:
        """states (..., T, dim) -> Gram sum_t s_t^T s_t and cross sum_t s_t^T (s_{t+1} - s_t)/dt."""
        prev, nxt = states[..., :-1, :], states[..., 1:, :]
        gram = jnp.einsum("...ti,...tj->...ij", prev, prev)
        cross = jnp.einsum("...ti,...tj->...ij", prev, (nxt - prev) / self.dt)
        return gram, cross

    def oracle(self, ep: Episodes, key: jax.Array | None = None, ridge: float = 1e-6) -> dict:
        """Per-point (B, N) squared error of the least-squares rollout predictor."""
        b, n = ep.x.shape[:2]
        full = jnp.concatenate([ep.x, ep.y], -1).reshape(b, n, -1, self.dim)
        xs = ep.x.reshape(b, n, -1, self.dim)
        g_full, c_full = self._moments(full)
        g_x, c_x = self._moments(xs)
        excl = lambda a: jnp.cumsum(a, axis=1) - a  # context points 0..k-1
        gram = excl(g_full) + g_x + ridge * jnp.eye(self.dim)
        w_hat = jnp.linalg.solve(gram, excl(c_full) + c_x)  # (B, N, dim, dim)
        last = xs[:, :, -1]  # (B, N, dim)
        pred = jax.vmap(jax.vmap(lambda w, s: self.rollout(w, s[None], self.y_len)[0]))(w_hat, last)
        pred = pred.reshape(b, n, self.y_dim)
        return {"loss": jnp.mean(jnp.square(pred - ep.y), -1)}
