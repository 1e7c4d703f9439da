"""A finite pool of M tasks over any family with a latent/point split.

The pool's M latents are drawn once from ``PRNGKey(seed)`` (the same pool for training and
evaluation, every run seed and every step); an episode picks one of them uniformly and
draws fresh points from it with the base family's ``sample_given``. ``pool_size = 0`` in
the study means fresh tasks per episode (no wrapper).

Oracle: the exact Bayes predictor under the pool prior, i.e. the posterior over the M pool
tasks given the context (uniform prior x likelihood) mixing their predictions: the
discrete MMSE estimate for regression, the posterior-predictive class probabilities for
classification. A noise-free regression family's likelihood uses a 1e-3 standard-deviation
floor, which makes it an exact-match test up to float error.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from jaxlab.tasks import oracles
from jaxlab.tasks.linear import Episodes, LatentTaskFamily


@dataclasses.dataclass(frozen=True)
class FinitePool(LatentTaskFamily):
    base: object
    size: int
    seed: int = 0
    oracle_method = "exact: posterior over the finite pool's tasks (discrete MMSE)"

    def __getattr__(self, name):  # x_dim, y_dim, kind, predict, loglik, probs, noise, ...
        if name.startswith("__") or name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    @functools.cached_property
    def latents(self):
        """The pool: the base family's latent pytree with leading axis ``size``."""
        with jax.ensure_compile_time_eval():  # concrete even when first used under jit
            return self.base.sample_latent(jax.random.PRNGKey(self.seed), self.size)

    def sample_latent(self, key: jax.Array, n: int):
        idx = jax.random.randint(key, (n,), 0, self.size)
        return jax.tree.map(lambda a: jnp.asarray(a)[idx], self.latents)

    def sample_given(self, key: jax.Array, latent, n_points: int) -> Episodes:
        return self.base.sample_given(key, latent, n_points)

    def encode(self, ep: Episodes):
        return self.base.encode(ep)

    def oracle(self, ep: Episodes, key: jax.Array | None = None, block: int = 8) -> dict:
        return oracles.pool_oracle(self, ep, self.latents, block)
