"""Small causal token transformer (GPT): the implicit next-token learner of the MetaHMM study.

Spec: ../shared/specs/metahmm.md, "Models". Pre-LN blocks, sinusoidal positions, fused QKV
attention in the heads-major layout of ``jaxlab.models.explicit`` (which has no mask input,
so the attention is re-stated here with a segment mask for packed rows).

Shapes: B rows, T positions. ``tokens`` (B, T) int32 are the inputs (BOS = ``vocab``, so
the embedding has vocab + 1 rows); ``positions`` (B, T) int32 each token's position in its
own sequence; ``segment`` (B, T) int32 or None: attention stays inside a segment (packed
rows). ``cond`` (B, F) int32 or None: discrete latent factors; the sum of one embedding per
factor is added to every BOS token (a soft conditioning token, the "known" encoder of the
reference). Output: (B, T, n_out) logits.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

_init = nn.initializers.normal(0.02)


def sinusoidal(positions: jax.Array, d: int) -> jax.Array:
    """(...,) int -> (..., d) the Transformer's sin/cos position code."""
    half = d // 2
    freq = jnp.exp(-jnp.log(10000.0) * jnp.arange(half) / max(half, 1))
    ang = positions[..., None].astype(jnp.float32) * freq
    return jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], -1)[..., :d]


class MaskedSelfAttention(nn.Module):
    """Causal multi-head attention inside segments. (B, T, d), (B, T) -> (B, T, d)."""

    n_heads: int

    @nn.compact
    def __call__(self, h: jax.Array, segment: jax.Array | None) -> jax.Array:
        b, t, d = h.shape
        dh = d // self.n_heads
        qkv = nn.Dense(3 * d, kernel_init=_init, name="qkv")(h.reshape(b * t, d))
        q, k, v = qkv.reshape(b, t, 3, self.n_heads, dh).transpose(2, 0, 3, 1, 4)
        scores = (q @ k.swapaxes(-1, -2)) / jnp.sqrt(dh).astype(h.dtype)
        mask = jnp.tril(jnp.ones((t, t), bool))[None]
        if segment is not None:
            mask = mask & (segment[:, :, None] == segment[:, None, :])
        scores = jnp.where(mask[:, None], scores, jnp.finfo(h.dtype).min)
        out = (jax.nn.softmax(scores, -1) @ v).transpose(0, 2, 1, 3).reshape(b * t, d)
        return nn.Dense(d, kernel_init=_init, name="out")(out).reshape(b, t, d)


class Block(nn.Module):
    n_heads: int
    d_ff: int

    @nn.compact
    def __call__(self, h: jax.Array, segment: jax.Array | None) -> jax.Array:
        b, t, d = h.shape
        h = h + MaskedSelfAttention(self.n_heads, name="attn")(nn.LayerNorm(name="ln1")(h), segment)
        rows = nn.LayerNorm(name="ln2")(h).reshape(b * t, d)
        ff = nn.Dense(d, kernel_init=_init, name="ff_out")(
            nn.gelu(nn.Dense(self.d_ff, kernel_init=_init, name="ff_in")(rows)))
        return h + ff.reshape(b, t, d)


class GPT(nn.Module):
    vocab: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    n_out: int
    cond_sizes: tuple[int, ...] = ()

    @nn.compact
    def __call__(self, tokens: jax.Array, positions: jax.Array, segment: jax.Array | None = None,
                 cond: jax.Array | None = None) -> jax.Array:
        b, t = tokens.shape
        h = nn.Embed(self.vocab + 1, self.d_model, embedding_init=_init, name="embed")(tokens)
        if self.cond_sizes:
            z = sum(nn.Embed(k, self.d_model, embedding_init=_init, name=f"cond_{i}")(cond[:, i])
                    for i, k in enumerate(self.cond_sizes))  # (B, d)
            h = h + jnp.where((tokens == self.vocab)[..., None], z[:, None], 0.0)
        h = h + sinusoidal(positions, self.d_model)
        for i in range(self.n_layers):
            h = Block(self.n_heads, self.d_ff, name=f"block_{i}")(h, segment)
        h = nn.LayerNorm(name="ln_f")(h).reshape(b * t, self.d_model)
        return nn.Dense(self.n_out, kernel_init=_init, name="head")(h).reshape(b, t, self.n_out)


def shift_inputs(x: jax.Array, bos: int, positions: jax.Array | None = None) -> jax.Array:
    """Targets x (B, T) -> inputs (B, T): BOS where a sequence starts (position 0), else
    the previous token."""
    prev = jnp.concatenate([jnp.full_like(x[:, :1], bos), x[:, :-1]], 1)
    if positions is None:
        return prev
    return jnp.where(positions == 0, bos, prev)


def n_params(params) -> int:
    return int(sum(a.size for a in jax.tree.leaves(params)))
