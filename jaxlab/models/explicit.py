"""Explicit in-context learner: causal context aggregator -> latent z -> MLP predictor.

Spec: ../shared/specs/icl_occam.md §2 (``Transfoptimizer`` + ``MLPConcatPredictor``).

Shapes: B tasks, N context points, x_dim / y_dim features, z_dim latent width.
``z[:, k]`` summarises the first k points only (k = 0..N), so ``z`` has N+1 slots.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

_xavier = nn.initializers.xavier_uniform()


def context_tokens(module: nn.Module, x: jax.Array, y: jax.Array, d_model: int) -> jax.Array:
    """[x0, Linear([x_1, y_1]), ..., Linear([x_N, y_N])]: (B, N, x_dim), (B, N, y_dim) ->
    (B, N+1, d_model), x0 a learned zero-initialised token. Call from a compact
    ``__call__``: the parameters ("embed", "start_token") belong to ``module``."""
    b, n, _ = x.shape
    xy = jnp.concatenate([x, y], axis=-1).reshape(b * n, -1)
    tokens = nn.Dense(d_model, name="embed", parent=module)(xy).reshape(b, n, d_model)
    start = module.param("start_token", nn.initializers.zeros, (d_model,))
    return jnp.concatenate([jnp.broadcast_to(start, (b, 1, d_model)), tokens], axis=1)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with one fused QKV projection.

    (B, T, d) -> (B, T, d). Token rows are flattened to 2-D before the dense layers, the
    layout XLA:CPU multiplies fastest.
    """

    n_heads: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        b, t, d = h.shape
        dh = d // self.n_heads
        qkv = nn.Dense(3 * d, kernel_init=_xavier, name="qkv")(h.reshape(b * t, d))
        # heads-major (3, B, H, T, dh): both attention products are plain batched matmuls
        q, k, v = qkv.reshape(b, t, 3, self.n_heads, dh).transpose(2, 0, 3, 1, 4)
        scores = (q @ k.swapaxes(-1, -2)) / jnp.sqrt(dh).astype(h.dtype)
        causal = jnp.tril(jnp.ones((t, t), dtype=bool))
        scores = jnp.where(causal, scores, jnp.finfo(h.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        out = (weights @ v).transpose(0, 2, 1, 3).reshape(b * t, d)
        return nn.Dense(d, kernel_init=_xavier, name="out")(out).reshape(b, t, d)


class PostLNEncoderLayer(nn.Module):
    """``nn.TransformerEncoderLayer`` semantics: post-LN, ReLU feed-forward, no dropout."""

    n_heads: int
    d_ff: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        b, t, d = h.shape
        h = nn.LayerNorm(name="ln_attn")(h + CausalSelfAttention(self.n_heads, name="attn")(h))
        rows = h.reshape(b * t, d)
        ff = nn.Dense(self.d_ff, kernel_init=_xavier, name="ff_in")(rows)
        ff = nn.Dense(d, kernel_init=_xavier, name="ff_out")(nn.relu(ff))
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
    reference's ``[Linear, ReLU] * (n_layers - 2)`` list does (spec §2 quirk, replicated).
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
            from jaxlab.models.ssm import MambaAggregator

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
