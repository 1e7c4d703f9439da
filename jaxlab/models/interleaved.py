"""Interleaved implicit in-context learner: a causal transformer over [x1, y1, x2, y2, ...].

The reference code's ``DecoderTransformer`` ("DT1", the model behind the Mastermind implicit
curve of the paper's §3.3; docs/icl_occam.md). x and y have separate linear embeddings,
every token gets a sinusoidal position encoding, post-LN causal encoder layers
(self-attention, ReLU feed-forward) update the stream, and a linear readout at the x
position of point k predicts y_k from x_k and the k pairs before it.

To answer any query (the train-risk objective asks about points already in context) the
x tokens are read out as *probes*: a probe for x_q with context size k carries x_q's
embedding at position 2k and, in every layer, attends to the stream's first 2k tokens and
to itself, with the stream's attention weights. Nothing attends to a probe. A probe with
x_q = x_k therefore computes exactly what the x token at position 2k computes in the
interleaved sequence, so the prequential objective is DT1's own next-token loss.

Shapes: B tasks, N context points, K queries per task, d = d_model, L layers.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.attention import causal_mask, dot_product_attention, merge_heads, split_heads
from jaxlab.models.layers import sinusoidal_encoding, xavier_uniform


class InterleavedICL(nn.Module):
    """``__call__(x, y)`` -> stream states (L, B, 2N, d), the input of every layer;
    ``answer(x_query, states, first_k)`` -> (B, K, y_dim), query column j answered from
    the first ``first_k + j`` pairs.

    Each layer's projections are flat Dense layers ("layer_{i}_q", "layer_{i}_kv",
    "layer_{i}_out") shared by the stream and the probes; the attention itself is
    ``attention.dot_product_attention``.
    """

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    y_dim: int

    def setup(self):
        d = self.d_model
        self.embed_x = nn.Dense(d, name="embed_x")
        self.embed_y = nn.Dense(d, name="embed_y")
        layer_dense = lambda width, name: [
            nn.Dense(width, kernel_init=xavier_uniform, name=f"layer_{i}_{name}")
            for i in range(self.n_layers)]
        self.q = layer_dense(d, "q")
        self.kv = layer_dense(2 * d, "kv")
        self.out = layer_dense(d, "out")
        self.ff_in = layer_dense(self.d_ff, "ff_in")
        self.ff_out = layer_dense(d, "ff_out")
        self.ln_attn = [nn.LayerNorm(name=f"layer_{i}_ln_attn") for i in range(self.n_layers)]
        self.ln_ff = [nn.LayerNorm(name=f"layer_{i}_ln_ff") for i in range(self.n_layers)]
        self.readout = nn.Dense(self.y_dim, name="readout")

    def _dense(self, layer, a: jax.Array) -> jax.Array:
        """A Dense on 2-D token rows (the layout XLA:CPU multiplies fastest)."""
        b, t, d = a.shape
        return layer(a.reshape(b * t, d)).reshape(b, t, -1)

    def _feed_forward(self, i: int, h: jax.Array, attn: jax.Array) -> jax.Array:
        h = self.ln_attn[i](h + self._dense(self.out[i], attn))
        ff = self._dense(self.ff_out[i], nn.relu(self._dense(self.ff_in[i], h)))
        return self.ln_ff[i](h + ff)

    def _heads(self, a: jax.Array) -> jax.Array:
        """(B, T, d) -> (B, H, T, d / H)."""
        return split_heads(a, self.n_heads)

    def _stream_layer(self, i: int, h: jax.Array) -> jax.Array:
        """Causal self-attention over the interleaved stream (B, T, d), then feed-forward."""
        q = self._heads(self._dense(self.q[i], h))
        k, v = map(self._heads, jnp.split(self._dense(self.kv[i], h), 2, axis=-1))
        attn = dot_product_attention(q, k, v, causal_mask(h.shape[1]))
        return self._feed_forward(i, h, merge_heads(attn))

    def _probe_layer(self, i: int, p: jax.Array, stream: jax.Array, k_ctx: jax.Array) -> jax.Array:
        """Probes (B, K, d) attend to the stream's first 2 k_ctx[j] tokens and to themselves."""
        q = self._heads(self._dense(self.q[i], p))                      # (B, H, K, dh)
        ks, vs = map(self._heads, jnp.split(self._dense(self.kv[i], stream), 2, axis=-1))
        kp, vp = map(self._heads, jnp.split(self._dense(self.kv[i], p), 2, axis=-1))
        visible = jnp.arange(stream.shape[1])[None, :] < 2 * k_ctx[:, None]   # (K, T)
        attn = dot_product_attention(q, ks, vs, visible, self_kv=(kp, vp))
        return self._feed_forward(i, p, merge_heads(attn))

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        ex, ey = self._dense(self.embed_x, x), self._dense(self.embed_y, y)
        h = jnp.stack([ex, ey], axis=2).reshape(b, 2 * n, self.d_model)   # x1, y1, x2, y2, ...
        h = h + sinusoidal_encoding(jnp.arange(2 * n), self.d_model, interleave=True)
        states = [h]
        for i in range(self.n_layers - 1):  # the last layer's stream output is never read
            states.append(self._stream_layer(i, states[-1]))
        return jnp.stack(states)

    def next_token_predictions(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """DT1's own forward pass: every layer over the whole stream, read out at the x
        positions: (B, N, y_dim), row k from x_k and the k pairs before it."""
        h = self(x, y)[-1]
        h = self._stream_layer(self.n_layers - 1, h)
        return self._dense(self.readout, h[:, 0::2])

    def answer(self, x_query: jax.Array, states: jax.Array, first_k: int) -> jax.Array:
        kq = x_query.shape[1]
        k_ctx = first_k + jnp.arange(kq)
        pe = sinusoidal_encoding(2 * k_ctx, self.d_model, interleave=True)
        p = self._dense(self.embed_x, x_query) + pe
        for i in range(self.n_layers):
            p = self._probe_layer(i, p, states[i], k_ctx)
        return self._dense(self.readout, p)

    def init_all(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """Touches every submodule so ``init`` creates all parameters."""
        return self.answer(x, self(x, y), 0)
