"""Explicit in-context learner: causal context aggregator -> latent z -> MLP predictor.

The reference code's ``Transfoptimizer`` + ``MLPConcatPredictor`` (paper §3.1; docs/icl_occam.md).

Shapes: B tasks, N context points, x_dim / y_dim features, z_dim latent width.
``z[:, k]`` summarises the first k points only (k = 0..N), so ``z`` has N+1 slots.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.attention import MultiHeadAttention, causal_mask
from jaxlab.models.layers import context_tokens, xavier_uniform
from jaxlab.models.ssm import MambaAggregator


class PostLNEncoderLayer(nn.Module):
    """``nn.TransformerEncoderLayer`` semantics: multi-head self-attention (fused QKV),
    post-LN, ReLU feed-forward, no dropout. (B, T, d) -> (B, T, d). ``mask``: bool, True =
    visible, broadcastable to (B, H, T, T); None = causal."""

    n_heads: int
    d_ff: int

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        b, t, d = h.shape
        attn = MultiHeadAttention(self.n_heads, kernel_init=xavier_uniform, name="attn")(
            h, mask=causal_mask(t) if mask is None else mask)
        h = nn.LayerNorm(name="ln_attn")(h + attn)
        rows = h.reshape(b * t, d)
        ff = nn.Dense(self.d_ff, kernel_init=xavier_uniform, name="ff_in")(rows)
        ff = nn.Dense(d, kernel_init=xavier_uniform, name="ff_out")(nn.relu(ff))
        return nn.LayerNorm(name="ln_ff")(h + ff.reshape(b, t, d))


class ContextAggregator(nn.Module):
    """Transformer over [x0, (x_1,y_1), ..., (x_N,y_N)] tokens, no positional encoding.

    x: (B, N, x_dim), y: (B, N, y_dim) -> z: (B, N+1, z_dim).
    """

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    z_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        h = context_tokens(self, x, y, self.d_model)
        for i in range(self.n_layers):
            h = PostLNEncoderLayer(self.n_heads, self.d_ff, name=f"layer_{i}")(h)
        z = nn.Dense(self.z_dim, name="to_z")(h.reshape(b * (n + 1), self.d_model))
        return z.reshape(b, n + 1, self.z_dim)


class MLPConcatPredictor(nn.Module):
    """MLP on [x, z] -> y with ``n_layers`` linear layers.

    With ``tie_hidden`` the n_layers-2 hidden layers share one weight matrix, as the
    reference's ``[Linear, ReLU] * (n_layers - 2)`` list does (a reference quirk, replicated).
    Rows: x (M, x_dim), z (M, z_dim) -> (M, y_dim).
    """

    hidden: int
    n_layers: int
    y_dim: int
    tie_hidden: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, z: jax.Array) -> jax.Array:
        h = nn.relu(nn.Dense(self.hidden, name="in")(jnp.concatenate([x, z], axis=-1)))
        shared = nn.Dense(self.hidden, name="hidden") if self.tie_hidden else None
        for i in range(self.n_layers - 2):
            layer = shared if self.tie_hidden else nn.Dense(self.hidden, name=f"hidden_{i}")
            h = nn.relu(layer(h))
        return nn.Dense(self.y_dim, name="out")(h)


class ExplicitICL(nn.Module):
    """Context aggregator + predictor. ``__call__`` returns z; ``predict`` applies the MLP.

    ``aggregator``: "transformer" (``Transfoptimizer``) or "mamba" (the selective SSM of
    jaxlab.models.ssm, ``Mambaoptimizer``; its gated MLPs are ``3 * d_model`` wide).
    """

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    z_dim: int
    predictor_hidden: int
    predictor_layers: int
    y_dim: int
    tie_predictor_hidden: bool = True
    aggregator: str = "transformer"
    ssm_scan: str = "associative"

    def setup(self):
        if self.aggregator == "mamba":
            self.context = MambaAggregator(self.d_model, self.n_layers, self.z_dim,
                                           3 * self.d_model, scan=self.ssm_scan)
        else:
            self.context = ContextAggregator(
                self.d_model, self.n_layers, self.n_heads, self.d_ff, self.z_dim)
        self.predictor = MLPConcatPredictor(
            self.predictor_hidden, self.predictor_layers, self.y_dim, self.tie_predictor_hidden)

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        return self.context(x, y)

    def predict(self, x_query: jax.Array, z: jax.Array) -> jax.Array:
        """x_query (..., x_dim), z (..., z_dim) -> (..., y_dim); leading dims flattened to rows."""
        lead = x_query.shape[:-1]
        out = self.predictor(x_query.reshape(-1, x_query.shape[-1]), z.reshape(-1, z.shape[-1]))
        return out.reshape(*lead, self.y_dim)

    def answer(self, x_query: jax.Array, z: jax.Array, first_k: int) -> jax.Array:
        """x_query (B, K, x_dim), z (B, N+1, z_dim) -> (B, K, y_dim); query column j is
        answered from z[:, first_k + j], i.e. conditioned on the first first_k + j points."""
        return self.predict(x_query, z[:, first_k : first_k + x_query.shape[1]])

    def init_all(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """Touches both submodules so ``init`` creates every parameter."""
        z = self(x, y)
        return self.predict(x, z[:, :-1])
