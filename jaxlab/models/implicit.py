"""Implicit in-context learner: queries cross-attend to the context, no latent bottleneck.

Spec: ../shared/specs/icl_occam.md §2 (``DecoderTransformer2``, the model behind the paper's
final linear and sinusoid implicit curves). A query x_q with context size k reads a memory
of k + 1 tokens: a learned start token and one ``Linear([x_j, y_j])`` per context pair
j < k. Each layer is post-LN cross-attention from the query stream to that memory, then a
ReLU feed-forward; the memory is the same at every layer and queries never attend to each
other, so every (query, context size) pair is answered independently and the train-risk
objective (query a point already in context) is as cheap as the prequential one.

Shapes: B tasks, N context points, K queries per task, d = d_model.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.explicit import _xavier


class ContextCrossAttention(nn.Module):
    """Queries (B, K, d) attend to memory (B, N+1, d); query j sees slots 0..first_k + j."""

    n_heads: int

    @nn.compact
    def __call__(self, h: jax.Array, memory: jax.Array, first_k: int) -> jax.Array:
        b, kq, d = h.shape
        t = memory.shape[1]
        dh = d // self.n_heads
        q = nn.Dense(d, kernel_init=_xavier, name="q")(h.reshape(b * kq, d))
        kv = nn.Dense(2 * d, kernel_init=_xavier, name="kv")(memory.reshape(b * t, d))
        q = q.reshape(b, kq, self.n_heads, dh).transpose(0, 2, 1, 3)
        k, v = kv.reshape(b, t, 2, self.n_heads, dh).transpose(2, 0, 3, 1, 4)
        scores = (q @ k.swapaxes(-1, -2)) / jnp.sqrt(dh).astype(h.dtype)
        visible = jnp.arange(t)[None, :] <= first_k + jnp.arange(kq)[:, None]  # (K, N+1)
        scores = jnp.where(visible, scores, jnp.finfo(h.dtype).min)
        out = (jax.nn.softmax(scores, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(b * kq, d)
        return nn.Dense(d, kernel_init=_xavier, name="out")(out).reshape(b, kq, d)


class PostLNCrossLayer(nn.Module):
    """Post-LN cross-attention + ReLU feed-forward (no query self-attention, no dropout)."""

    n_heads: int
    d_ff: int

    @nn.compact
    def __call__(self, h: jax.Array, memory: jax.Array, first_k: int) -> jax.Array:
        b, kq, d = h.shape
        attn = ContextCrossAttention(self.n_heads, name="cross")(h, memory, first_k)
        h = nn.LayerNorm(name="ln_cross")(h + attn)
        rows = h.reshape(b * kq, d)
        ff = nn.Dense(self.d_ff, kernel_init=_xavier, name="ff_in")(rows)
        ff = nn.Dense(d, kernel_init=_xavier, name="ff_out")(nn.relu(ff))
        return nn.LayerNorm(name="ln_ff")(h + ff.reshape(b, kq, d))


class ImplicitICL(nn.Module):
    """``__call__(x, y)`` -> memory (B, N+1, d); ``answer(x_query, memory, first_k)`` ->
    (B, K, y_dim), query column j conditioned on the first ``first_k + j`` pairs."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    y_dim: int

    def setup(self):
        self.embed_pair = nn.Dense(self.d_model, name="embed_pair")
        self.embed_query = nn.Dense(self.d_model, name="embed_query")
        self.start = self.param("start_token", nn.initializers.zeros, (self.d_model,))
        self.layers = [PostLNCrossLayer(self.n_heads, self.d_ff, name=f"layer_{i}")
                       for i in range(self.n_layers)]
        self.readout = nn.Dense(self.y_dim, name="readout")

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        pairs = self.embed_pair(jnp.concatenate([x, y], axis=-1).reshape(b * n, -1))
        start = jnp.broadcast_to(self.start, (b, 1, self.d_model))
        return jnp.concatenate([start, pairs.reshape(b, n, self.d_model)], axis=1)

    def answer(self, x_query: jax.Array, memory: jax.Array, first_k: int) -> jax.Array:
        b, kq, x_dim = x_query.shape
        h = self.embed_query(x_query.reshape(b * kq, x_dim)).reshape(b, kq, self.d_model)
        for layer in self.layers:
            h = layer(h, memory, first_k)
        return self.readout(h.reshape(b * kq, self.d_model)).reshape(b, kq, self.y_dim)

    def init_all(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """Touches every submodule so ``init`` creates all parameters."""
        return self.answer(x, self(x, y), 0)
