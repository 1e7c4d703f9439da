"""Linear classification (the explicit/implicit ICL reference's ``LinearClassificationDataset``).

Each task draws ``w ~ N(0, 1)^{(x_dim + 1) x n_classes}`` (unscaled, as the reference); a
point has x ~ N(0, I) and label y ~ Categorical(softmax([x, 1] w / T)). The reference's
scripts use T = 1e-6 (labels are the argmax; the config default is 0.1). Labels are stored
as int32 (B, N, 1); ``encode`` one-hots them, so the learners predict ``n_classes`` logits
and are scored by cross-entropy in nats.

Oracle: importance sampling from the prior over w (self-normalised; a Monte-Carlo estimate
with its error bar). With small T the likelihood is an indicator of consistency with the
context, so the effective sample size falls as the version space shrinks (reported as
``ess``); the predictive keeps a pseudo-count of 1/S per class so its cross-entropy stays
finite when no sample explains a label.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxlab.tasks import oracles
from jaxlab.tasks.linear import Episodes, LatentTaskFamily, with_bias


@dataclasses.dataclass(frozen=True)
class LinearClassification(LatentTaskFamily):
    x_dim: int = 2
    n_classes: int = 2
    temperature: float = 1e-6
    kind = "classification"
    oracle_method = "Monte Carlo: self-normalised importance sampling from the prior"

    @property
    def y_dim(self) -> int:
        """Width of the encoded (one-hot) labels, the learners' output size."""
        return self.n_classes

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, self.x_dim + 1, self.n_classes))

    def predict(self, w: jax.Array, x: jax.Array) -> jax.Array:
        """Logits of one task: w (x_dim + 1, C), x (N, x_dim) -> (N, C)."""
        return with_bias(x) @ w

    def log_probs(self, logits: jax.Array) -> jax.Array:
        return jax.nn.log_softmax(logits / self.temperature, axis=-1)

    def probs(self, logits: jax.Array) -> jax.Array:
        return jnp.exp(self.log_probs(logits))

    def loglik(self, logits: jax.Array, y: jax.Array) -> jax.Array:
        """(N, C) logits, (N, 1) int labels -> (N,) log p(y | x, w)."""
        return jnp.take_along_axis(self.log_probs(logits), y, axis=-1)[:, 0]

    def sample_given(self, key: jax.Array, w: jax.Array, n_points: int) -> Episodes:
        k_x, k_y = jax.random.split(key)
        x = jax.random.normal(k_x, (w.shape[0], n_points, self.x_dim))
        logits = jax.vmap(self.predict)(w, x)
        y = jax.random.categorical(k_y, logits / self.temperature, axis=-1)
        return Episodes(x, y[..., None].astype(jnp.int32), w)

    def encode(self, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """x (B, N, x_dim) and one-hot labels (B, N, n_classes)."""
        return ep.x, jax.nn.one_hot(ep.y[..., 0], self.n_classes)

    def oracle(self, ep: Episodes, key: jax.Array, n_samples: int = 1024, block: int = 8) -> dict:
        return oracles.importance_oracle(self, ep, key, n_samples, block)
