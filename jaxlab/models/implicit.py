"""Implicit in-context learner: queries cross-attend to the context, no latent bottleneck.

The reference code's ``DecoderTransformer2`` (the model behind the final linear and sinusoid
implicit curves of the paper's §3.3; docs/icl_occam.md). A query x_q with context size k
reads a memory of k + 1 tokens: a learned start token and one ``Linear([x_j, y_j])`` per
context pair j < k. Each layer is post-LN cross-attention from the query stream to that
memory, then a ReLU feed-forward; the memory is the same at every layer and queries never
attend to each other, so every (query, context size) pair is answered independently and the
train-risk objective (query a point already in context) is as cheap as the prequential one.

Shapes: B tasks, N context points, K queries per task, d = d_model.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.attention import MultiHeadAttention
from jaxlab.models.layers import xavier_uniform


class PostLNCrossLayer(nn.Module):
    """Post-LN cross-attention + ReLU feed-forward (no query self-attention, no dropout).

    Queries h (B, K, d) attend to memory (B, N+1, d); query j sees slots 0..first_k + j.
    -> (B, K, d).
    """

    n_heads: int
    d_ff: int

    @nn.compact
    def __call__(self, h: jax.Array, memory: jax.Array, first_k: int) -> jax.Array:
        b, kq, d = h.shape
        visible = jnp.arange(memory.shape[1])[None, :] <= first_k + jnp.arange(kq)[:, None]
        attn = MultiHeadAttention(self.n_heads, fused_qkv=False, kernel_init=xavier_uniform,
                                  name="cross")(h, memory, mask=visible)  # mask (K, N+1)
        h = nn.LayerNorm(name="ln_cross")(h + attn)
        rows = h.reshape(b * kq, d)
        ff = nn.Dense(self.d_ff, kernel_init=xavier_uniform, name="ff_in")(rows)
        ff = nn.Dense(d, kernel_init=xavier_uniform, name="ff_out")(nn.relu(ff))
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
