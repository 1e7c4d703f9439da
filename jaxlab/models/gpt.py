"""Small causal token transformer (GPT): the implicit next-token learner of the MetaHMM study.

After the reference's x-transformers GPTs (docs/metahmm.md). Pre-LN blocks, sinusoidal positions
(``layers.sinusoidal_encoding``), fused-QKV causal attention (``attention.MultiHeadAttention``)
with a segment mask for packed rows.

Shapes: B rows, T positions. ``tokens`` (B, T) int32 are the inputs (BOS = ``vocab``, so
the embedding has vocab + 1 rows); ``positions`` (B, T) int32 each token's position in its
own sequence; ``segment`` (B, T) int32 or None: attention stays inside a segment (packed
rows). ``cond`` (B, F) int32 or None: discrete latent factors; the sum of one embedding per
factor is added to every BOS token (a soft conditioning token, the "known" encoder of the
reference). Output: (B, T, n_out) logits.

Layout options (defaults: the original layout): ``head_dim`` dh (default d_model / n_heads;
x-transformers fixes it at 64, so n_heads * dh may differ from d_model); ``attn_bias``,
``norm_bias``, ``head_bias``: biases on the attention projections, the LayerNorms and the
output head; ``learned_pos_scale``: the sinusoid is multiplied by a learned scalar
initialised to d_model^-0.5 (x-transformers' scaled sinusoidal embedding).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.attention import MultiHeadAttention, causal_mask
from jaxlab.models.layers import sinusoidal_encoding

_init = nn.initializers.normal(0.02)


def segment_causal_mask(segment: jax.Array | None, t: int) -> jax.Array:
    """Causal mask, restricted to equal segments when ``segment`` (B, T) is given:
    (B or 1, 1, T, T) bool, True = visible."""
    mask = causal_mask(t)[None]
    if segment is not None:
        mask = mask & (segment[:, :, None] == segment[:, None, :])
    return mask[:, None]


class Block(nn.Module):
    """Pre-LN block: masked self-attention, GELU feed-forward. (B, T, d), mask -> (B, T, d).
    ``head_dim``, ``attn_bias``, ``norm_bias``: as in ``GPT``."""

    n_heads: int
    d_ff: int
    head_dim: int | None = None
    attn_bias: bool = True
    norm_bias: bool = True

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array) -> jax.Array:
        b, t, d = h.shape
        attn = MultiHeadAttention(self.n_heads, kernel_init=_init, head_dim=self.head_dim,
                                  use_bias=self.attn_bias, name="attn")
        h = h + attn(nn.LayerNorm(use_bias=self.norm_bias, name="ln1")(h), mask=mask)
        rows = nn.LayerNorm(use_bias=self.norm_bias, name="ln2")(h).reshape(b * t, d)
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
    head_dim: int | None = None
    attn_bias: bool = True
    norm_bias: bool = True
    head_bias: bool = True
    learned_pos_scale: bool = False

    @nn.compact
    def __call__(self, tokens: jax.Array, positions: jax.Array, segment: jax.Array | None = None,
                 cond: jax.Array | None = None) -> jax.Array:
        b, t = tokens.shape
        h = nn.Embed(self.vocab + 1, self.d_model, embedding_init=_init, name="embed")(tokens)
        if self.cond_sizes:
            z = sum(nn.Embed(k, self.d_model, embedding_init=_init, name=f"cond_{i}")(cond[:, i])
                    for i, k in enumerate(self.cond_sizes))  # (B, d)
            h = h + jnp.where((tokens == self.vocab)[..., None], z[:, None], 0.0)
        pos = sinusoidal_encoding(positions, self.d_model)
        if self.learned_pos_scale:
            pos = pos * self.param("pos_scale", nn.initializers.constant(self.d_model ** -0.5), ())
        h = h + pos
        mask = segment_causal_mask(segment, t)
        for i in range(self.n_layers):
            h = Block(self.n_heads, self.d_ff, self.head_dim, self.attn_bias, self.norm_bias,
                      name=f"block_{i}")(h, mask)
        h = nn.LayerNorm(use_bias=self.norm_bias, name="ln_f")(h).reshape(b * t, self.d_model)
        head = nn.Dense(self.n_out, use_bias=self.head_bias, kernel_init=_init, name="head")
        return head(h).reshape(b, t, self.n_out)


def shift_inputs(x: jax.Array, bos: int, positions: jax.Array | None = None) -> jax.Array:
    """Targets x (B, T) -> inputs (B, T): BOS where a sequence starts (position 0), else
    the previous token."""
    prev = jnp.concatenate([jnp.full_like(x[:, :1], bos), x[:, :-1]], 1)
    if positions is None:
        return prev
    return jnp.where(positions == 0, bos, prev)


def n_params(params) -> int:
    return int(sum(a.size for a in jax.tree.leaves(params)))
