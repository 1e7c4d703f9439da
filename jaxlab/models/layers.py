"""Pieces shared by the models of jaxlab.models: the Xavier initialiser, the sinusoidal
position code and the in-context learners' context tokens.

Shapes: B tasks, N context points, d model width.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

# Xavier/Glorot-uniform kernel initialiser (an initialiser, not a factory: pass it as is).
xavier_uniform = nn.initializers.xavier_uniform()


def sinusoidal_encoding(positions: jax.Array, d: int, interleave: bool = False) -> jax.Array:
    """(...,) integer positions -> (..., d) the Transformer's sin/cos position code, with
    frequencies 10000^(-i / (d/2)), i = 0..d/2-1. ``interleave=False``: sin in the first
    d/2 channels, cos in the last d/2; ``True``: sin on even channels, cos on odd ones."""
    if d % 2:
        raise ValueError(f"sinusoidal_encoding needs an even width, got d={d}")
    half = d // 2
    freq = jnp.exp(-jnp.log(10000.0) * jnp.arange(half) / half)
    angles = positions[..., None].astype(jnp.float32) * freq
    sin, cos = jnp.sin(angles), jnp.cos(angles)
    if interleave:
        return jnp.stack([sin, cos], axis=-1).reshape(*positions.shape, d)
    return jnp.concatenate([sin, cos], axis=-1)


def context_tokens(module: nn.Module, x: jax.Array, y: jax.Array, d_model: int) -> jax.Array:
    """[x0, Linear([x_1, y_1]), ..., Linear([x_N, y_N])]: (B, N, x_dim), (B, N, y_dim) ->
    (B, N+1, d_model), x0 a learned zero-initialised token. Call from a compact
    ``__call__``: the parameters ("embed", "start_token") belong to ``module``."""
    b, n, _ = x.shape
    xy = jnp.concatenate([x, y], axis=-1).reshape(b * n, -1)
    tokens = nn.Dense(d_model, name="embed", parent=module)(xy).reshape(b, n, d_model)
    start = module.param("start_token", nn.initializers.zeros, (d_model,))
    return jnp.concatenate([jnp.broadcast_to(start, (b, 1, d_model)), tokens], axis=1)
