"""Multi-head scaled dot-product attention, the one implementation behind every model in
jaxlab.models: causal, segment-masked and cross attention differ only in their arguments.

Shapes: B batch, H heads, Tq queries, Tk keys, d model width, dh head width (d / H unless
set: H * dh may differ from d, as in x-transformers' fixed dim_head = 64). Masks are boolean,
True = visible, broadcastable to (B, H, Tq, Tk). Layout is heads-major (B, H, T, dh), so
both attention products are plain batched matmuls.
"""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.layers import xavier_uniform


def split_heads(a: jax.Array, n_heads: int) -> jax.Array:
    """(B, T, H * dh) -> (B, H, T, dh)."""
    b, t, d = a.shape
    return a.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)


def merge_heads(a: jax.Array) -> jax.Array:
    """(B, H, T, dh) -> (B, T, H * dh)."""
    b, h, t, dh = a.shape
    return a.transpose(0, 2, 1, 3).reshape(b, t, h * dh)


def causal_mask(t: int) -> jax.Array:
    """(T, T) bool, True where key position <= query position."""
    return jnp.tril(jnp.ones((t, t), dtype=bool))


def dot_product_attention(q: jax.Array, k: jax.Array, v: jax.Array,
                          mask: jax.Array | None = None,
                          self_kv: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
    """softmax(q k^T / sqrt(dh), masked) v: q (B, H, Tq, dh), k, v (B, H, Tk, dh) ->
    (B, H, Tq, dh). ``self_kv``: optional (k_self, v_self), each (B, H, Tq, dh); query i
    then also attends (unmasked) to one extra key k_self[..., i, :] of its own."""
    scale = jnp.sqrt(q.shape[-1]).astype(q.dtype)
    scores = (q @ k.swapaxes(-1, -2)) / scale
    if mask is not None:
        scores = jnp.where(mask, scores, jnp.finfo(q.dtype).min)
    if self_kv is None:
        return jax.nn.softmax(scores, axis=-1) @ v
    k_self, v_self = self_kv
    to_self = jnp.sum(q * k_self, axis=-1, keepdims=True) / scale      # (B, H, Tq, 1)
    weights = jax.nn.softmax(jnp.concatenate([scores, to_self], axis=-1), axis=-1)
    tk = k.shape[-2]
    return weights[..., :tk] @ v + weights[..., tk:] * v_self


class MultiHeadAttention(nn.Module):
    """Multi-head attention with input and output projections: queries from h (B, Tq, d),
    keys and values from ``memory`` (B, Tk, d) (default h) -> (B, Tq, d).

    ``head_dim``: dh (default d / H); the inner width is e = H * dh. ``fused_qkv``: one
    Dense "qkv" (d -> 3e) on h, self-attention only; otherwise Dense "q" (d -> e) on h and
    "kv" (d -> 2e) on memory. Output Dense "out" (e -> d). ``use_bias``: biases on these
    projections. ``mask``: bool, broadcastable to (B, H, Tq, Tk), True = visible. Dense
    layers act on 2-D token rows, the layout XLA:CPU multiplies fastest.
    """

    n_heads: int
    fused_qkv: bool = True
    kernel_init: Callable[..., jax.Array] = xavier_uniform
    head_dim: int | None = None
    use_bias: bool = True

    @nn.compact
    def __call__(self, h: jax.Array, memory: jax.Array | None = None,
                 mask: jax.Array | None = None) -> jax.Array:
        b, tq, d = h.shape
        dh = d // self.n_heads if self.head_dim is None else self.head_dim
        e = self.n_heads * dh

        def dense(width: int, name: str) -> nn.Dense:
            return nn.Dense(width, use_bias=self.use_bias, kernel_init=self.kernel_init, name=name)

        if self.fused_qkv:
            if memory is not None:
                raise ValueError("fused_qkv projects q, k and v from h: self-attention only")
            qkv = dense(3 * e, "qkv")(h.reshape(b * tq, d))
            q, k, v = qkv.reshape(b, tq, 3, self.n_heads, dh).transpose(2, 0, 3, 1, 4)
        else:
            memory = h if memory is None else memory
            tk = memory.shape[1]
            q = split_heads(dense(e, "q")(h.reshape(b * tq, d)).reshape(b, tq, e), self.n_heads)
            kv = dense(2 * e, "kv")(memory.reshape(b * tk, memory.shape[-1]))
            k, v = kv.reshape(b, tk, 2, self.n_heads, dh).transpose(2, 0, 3, 1, 4)
        out = merge_heads(dot_product_attention(q, k, v, mask)).reshape(b * tq, e)
        return dense(d, "out")(out).reshape(b, tq, d)
