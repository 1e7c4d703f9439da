"""Interleaved implicit in-context learner: a causal transformer over [x1, y1, x2, y2, ...].

Spec: ../shared/specs/icl_occam.md §2 (``DecoderTransformer``, "DT1", the model behind the
paper's Mastermind implicit curve). x and y have separate linear embeddings, every token
gets a sinusoidal position encoding, post-LN causal encoder layers (self-attention, ReLU
feed-forward) update the stream, and a linear readout at the x position of point k
predicts y_k from x_k and the k pairs before it.

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

from jaxlab.models.explicit import _xavier


def sinusoidal_encoding(positions: jax.Array, d: int) -> jax.Array:
    """(...,) integer positions -> (..., d): sin on even channels, cos on odd ones."""
    rates = jnp.exp(-jnp.log(10000.0) * jnp.arange(0, d, 2) / d)
    angles = positions[..., None].astype(jnp.float32) * rates
    return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(*positions.shape, d)


class InterleavedICL(nn.Module):
    """``__call__(x, y)`` -> stream states (L, B, 2N, d), the input of every layer;
    ``answer(x_query, states, first_k)`` -> (B, K, y_dim), query column j answered from
    the first ``first_k + j`` pairs."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    y_dim: int

    def setup(self):
        d = self.d_model
        self.embed_x = nn.Dense(d, name="embed_x")
        self.embed_y = nn.Dense(d, name="embed_y")
        self.q = [nn.Dense(d, kernel_init=_xavier, name=f"layer_{i}_q") for i in range(self.n_layers)]
        self.kv = [nn.Dense(2 * d, kernel_init=_xavier, name=f"layer_{i}_kv") for i in range(self.n_layers)]
        self.out = [nn.Dense(d, kernel_init=_xavier, name=f"layer_{i}_out") for i in range(self.n_layers)]
        self.ff_in = [nn.Dense(self.d_ff, kernel_init=_xavier, name=f"layer_{i}_ff_in")
                      for i in range(self.n_layers)]
        self.ff_out = [nn.Dense(d, kernel_init=_xavier, name=f"layer_{i}_ff_out")
                       for i in range(self.n_layers)]
        self.ln_attn = [nn.LayerNorm(name=f"layer_{i}_ln_attn") for i in range(self.n_layers)]
        self.ln_ff = [nn.LayerNorm(name=f"layer_{i}_ln_ff") for i in range(self.n_layers)]
        self.readout = nn.Dense(self.y_dim, name="readout")

    def _dense(self, layer, a: jax.Array) -> jax.Array:
        """A Dense on 2-D token rows (the layout XLA:CPU multiplies fastest)."""
        b, t, d = a.shape
        return layer(a.reshape(b * t, d)).reshape(b, t, -1)

    def _heads(self, a: jax.Array) -> jax.Array:
        b, t, d = a.shape
        return a.reshape(b, t, self.n_heads, d // self.n_heads).transpose(0, 2, 1, 3)

    def _merge(self, a: jax.Array) -> jax.Array:
        b, h, t, dh = a.shape
        return a.transpose(0, 2, 1, 3).reshape(b, t, h * dh)

    def _feed_forward(self, i: int, h: jax.Array, attn: jax.Array) -> jax.Array:
        h = self.ln_attn[i](h + self._dense(self.out[i], attn))
        ff = self._dense(self.ff_out[i], nn.relu(self._dense(self.ff_in[i], h)))
        return self.ln_ff[i](h + ff)

    def _stream_layer(self, i: int, h: jax.Array) -> jax.Array:
        """Causal self-attention over the interleaved stream (B, T, d)."""
        t, dh = h.shape[1], self.d_model // self.n_heads
        q = self._heads(self._dense(self.q[i], h))
        k, v = jnp.split(self._dense(self.kv[i], h), 2, axis=-1)
        k, v = self._heads(k), self._heads(v)
        scores = (q @ k.swapaxes(-1, -2)) / jnp.sqrt(dh).astype(h.dtype)
        causal = jnp.tril(jnp.ones((t, t), bool))
        scores = jnp.where(causal, scores, jnp.finfo(h.dtype).min)
        return self._feed_forward(i, h, self._merge(jax.nn.softmax(scores, axis=-1) @ v))

    def _probe_layer(self, i: int, p: jax.Array, stream: jax.Array, k_ctx: jax.Array) -> jax.Array:
        """Probes (B, K, d) attend to the stream's first 2 k_ctx[j] tokens and to themselves."""
        t, dh = stream.shape[1], self.d_model // self.n_heads
        q = self._heads(self._dense(self.q[i], p))                      # (B, H, K, dh)
        ks, vs = jnp.split(self._dense(self.kv[i], stream), 2, axis=-1)
        kp, vp = jnp.split(self._dense(self.kv[i], p), 2, axis=-1)
        ks, vs, kp, vp = map(self._heads, (ks, vs, kp, vp))
        scale = jnp.sqrt(dh).astype(p.dtype)
        to_stream = (q @ ks.swapaxes(-1, -2)) / scale                   # (B, H, K, T)
        visible = jnp.arange(t)[None, :] < 2 * k_ctx[:, None]           # (K, T)
        to_stream = jnp.where(visible, to_stream, jnp.finfo(p.dtype).min)
        to_self = jnp.sum(q * kp, axis=-1, keepdims=True) / scale       # (B, H, K, 1)
        weights = jax.nn.softmax(jnp.concatenate([to_stream, to_self], axis=-1), axis=-1)
        attn = weights[..., :t] @ vs + weights[..., t:] * vp
        return self._feed_forward(i, p, self._merge(attn))

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        ex, ey = self._dense(self.embed_x, x), self._dense(self.embed_y, y)
        h = jnp.stack([ex, ey], axis=2).reshape(b, 2 * n, self.d_model)   # x1, y1, x2, y2, ...
        h = h + sinusoidal_encoding(jnp.arange(2 * n), self.d_model)
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
        p = self._dense(self.embed_x, x_query) + sinusoidal_encoding(2 * k_ctx, self.d_model)
        for i in range(self.n_layers):
            p = self._probe_layer(i, p, states[i], k_ctx)
        return self._dense(self.readout, p)

    def init_all(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """Touches every submodule so ``init`` creates all parameters."""
        return self.answer(x, self(x, y), 0)
