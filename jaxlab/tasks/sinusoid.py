"""Sinusoid regression task family (spec icl_occam.md §1, ``SinusoidRegression``).

``y = sum_d sum_{j < n_freq} a_dj sin(f_dj x_d) + noise * eps`` with amplitudes
``a ~ U(0, 1)`` per task and inputs ``x ~ N(0, I)``. With ``fixed_freq`` the frequencies
are the same for every task and seed: the reference draws ``5 * U(0, 1)`` once under
``torch.manual_seed(1)``, which the spec gives as 0.7576, 0.2793, 0.4031 (x_dim = 1);
we use those values (for x_dim > 1 a fixed JAX draw). Otherwise each task draws its own.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxlab.tasks.linear import Episodes

REFERENCE_FREQS_XDIM1 = (5 * 0.7576, 5 * 0.2793, 5 * 0.4031)


@dataclasses.dataclass(frozen=True)
class SinusoidRegression:
    x_dim: int = 1
    n_freq: int = 3
    noise: float = 0.0
    fixed_freq: bool = True
    y_dim: int = 1

    def fixed_frequencies(self) -> jax.Array:
        """(x_dim, n_freq) frequencies shared by every task."""
        if self.x_dim == 1 and self.n_freq == 3:
            return jnp.asarray([REFERENCE_FREQS_XDIM1], jnp.float32)
        return 5 * jax.random.uniform(jax.random.PRNGKey(1), (self.x_dim, self.n_freq))

    def encode(self, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """Model inputs (x, y): the raw features, already real-valued."""
        return ep.x, ep.y

    def sample(self, key: jax.Array, n_tasks: int, n_points: int) -> Episodes:
        """x (B, N, x_dim), y (B, N, 1); the latent ``w`` is (B, x_dim, n_freq, 2) holding
        amplitudes and frequencies."""
        k_a, k_f, k_x, k_eps = jax.random.split(key, 4)
        amps = jax.random.uniform(k_a, (n_tasks, self.x_dim, self.n_freq))
        if self.fixed_freq:
            freqs = jnp.broadcast_to(self.fixed_frequencies(), amps.shape)
        else:
            freqs = 5 * jax.random.uniform(k_f, amps.shape)
        x = jax.random.normal(k_x, (n_tasks, n_points, self.x_dim))
        y = jnp.einsum("bdj,bndj->bn", amps, jnp.sin(x[..., None] * freqs[:, None]))[..., None]
        y = y + self.noise * jax.random.normal(k_eps, y.shape)
        return Episodes(x, y, jnp.stack([amps, freqs], axis=-1))
