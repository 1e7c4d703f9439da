"""The explicit and implicit in-context learners of the study, with the reference's masks.

All transformers are post-LN encoders (``jaxlab.models.explicit.PostLNEncoderLayer``: ReLU,
no dropout) without positional encodings. Masks are bool, True = visible (the reference's
PyTorch masks are the negation):

  implicit   tokens [Linear([x_c; y_c]) ..., Linear([x_q; 0]) + q_emb ...]; every token sees
             every valid context token and no query token (so a query never sees itself or
             another query, and the padded context slots are invisible).
  context    tokens [CLS, Linear([x_c; y_c]) ...]; every token sees every valid context
             token, nobody sees the CLS (not even itself); z = CLS output (Linear to z_dim
             if z_dim != d).
  predictor  (transformer) tokens [Linear(z) or z, Linear(x_q) ...]; the z token sees only
             itself, query i only z and itself.

Model kinds (``KINDS``): implicit; tsf (context + transformer predictor); mlp (context +
MLP on [z; x_q], 3 hidden ReLU layers); known_f (Linear(z) -> the task's true function);
known_z (tsf plus an auxiliary Linear(z) head regressed on the true latent, gradients
into z); true_z (the true latent is z, fed to the transformer predictor); supervised (the
supervised ablation: the context encoder's z, of the latent's size, is itself the ``aux``
head regressed on the true latent, and the transformer predictor is fed the true latent, so
the encoder learns to infer it and the predictor learns the known function). Every model with
a learned z also carries the linear probe Linear(stop_gradient(z)) -> latent, whose
parameters are scaled by ``probe_scale`` (under Adam, a parameter stored divided by c and
multiplied by c on use moves c times faster: the reference's 10x learning rate).

Shapes: B tasks, N context slots, Q queries, d model width, P latent size.
"""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.explicit import PostLNEncoderLayer
from jaxlab.models.mlp import MLP

KINDS = ("implicit", "tsf", "mlp", "known_z", "known_f", "true_z", "supervised")
EXPLICIT = ("tsf", "mlp", "known_z", "known_f")  # a learned z (and so a probe)
LATENT_KINDS = ("known_z", "known_f", "true_z", "supervised")  # need a family with a finite latent


def implicit_mask(valid: jax.Array, n_queries: int) -> jax.Array:
    """valid (B, N) -> (B, 1, N+Q, N+Q): any token sees the valid context tokens only."""
    keys = jnp.concatenate([valid, jnp.zeros((valid.shape[0], n_queries), bool)], axis=1)
    t = keys.shape[1]
    return jnp.broadcast_to(keys[:, None, None, :], (valid.shape[0], 1, t, t))


def context_mask(valid: jax.Array) -> jax.Array:
    """valid (B, N) -> (B, 1, N+1, N+1): any token (CLS included) sees the valid context
    tokens, nobody sees the CLS."""
    keys = jnp.concatenate([jnp.zeros((valid.shape[0], 1), bool), valid], axis=1)
    t = keys.shape[1]
    return jnp.broadcast_to(keys[:, None, None, :], (valid.shape[0], 1, t, t))


def predictor_mask(n_queries: int) -> jax.Array:
    """(Q+1, Q+1): token 0 (z) sees itself; query i sees z and itself."""
    t = n_queries + 1
    return jnp.eye(t, dtype=bool) | (jnp.arange(t)[None, :] == 0)


class Encoder(nn.Module):
    """``n_layers`` post-LN layers under one mask: (B, T, d) -> (B, T, d)."""

    n_layers: int
    n_heads: int
    d_ff: int

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array) -> jax.Array:
        for i in range(self.n_layers):
            h = PostLNEncoderLayer(self.n_heads, self.d_ff, name=f"layer_{i}")(h, mask)
        return h


class Implicit(nn.Module):
    """(x_c, y_c, valid, x_q) -> y_q (B, Q, y_dim)."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    y_dim: int

    @nn.compact
    def __call__(self, x_c, y_c, valid, x_q):
        n, q = x_c.shape[1], x_q.shape[1]
        embed = nn.Dense(self.d_model, name="embed")
        query = self.param("query_embedding", nn.initializers.normal(self.d_model ** -0.5),
                           (self.d_model,))
        ctx = embed(jnp.concatenate([x_c, y_c], -1))
        qry = embed(jnp.concatenate([x_q, jnp.zeros(x_q.shape[:2] + (self.y_dim,))], -1)) + query
        h = Encoder(self.n_layers, self.n_heads, self.d_ff, name="encoder")(
            jnp.concatenate([ctx, qry], 1), implicit_mask(valid, q))
        return nn.Dense(self.y_dim, name="head")(h[:, n:])


class ContextEncoder(nn.Module):
    """(x_c, y_c, valid) -> z (B, z_dim): the CLS token's output."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    z_dim: int

    @nn.compact
    def __call__(self, x_c, y_c, valid):
        b = x_c.shape[0]
        ctx = nn.Dense(self.d_model, name="embed")(jnp.concatenate([x_c, y_c], -1))
        cls = self.param("cls", nn.initializers.normal(1.0), (self.d_model,))
        h = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.d_model)), ctx], 1)
        z = Encoder(self.n_layers, self.n_heads, self.d_ff, name="encoder")(h, context_mask(valid))[:, 0]
        return z if self.z_dim == self.d_model else nn.Dense(self.z_dim, name="to_z")(z)


class TransformerPredictor(nn.Module):
    """(z (B, z_dim), x_q (B, Q, x_dim)) -> (B, Q, y_dim)."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    y_dim: int

    @nn.compact
    def __call__(self, z, x_q):
        if z.shape[-1] != self.d_model:
            z = nn.Dense(self.d_model, name="embed_z")(z)
        h = jnp.concatenate([z[:, None], nn.Dense(self.d_model, name="embed_x")(x_q)], 1)
        h = Encoder(self.n_layers, self.n_heads, self.d_ff, name="encoder")(
            h, predictor_mask(x_q.shape[1]))
        return nn.Dense(self.y_dim, name="head")(h[:, 1:])


class MLPPredictor(nn.Module):
    """MLP on [z; x_q] with ``n_hidden`` ReLU layers of width ``hidden``."""

    hidden: int
    n_hidden: int
    y_dim: int

    @nn.compact
    def __call__(self, z, x_q):
        zq = jnp.broadcast_to(z[:, None], x_q.shape[:2] + z.shape[-1:])
        return MLP(self.hidden, self.n_hidden + 1, self.y_dim, name="mlp")(
            jnp.concatenate([zq, x_q], -1))


class KnownPredictor(nn.Module):
    """Linear(z) -> latent estimate -> ``function(latent, x_q)`` (the task's true form)."""

    n_params: int
    function: Callable[[jax.Array, jax.Array], jax.Array]

    @nn.compact
    def __call__(self, z, x_q):
        return self.function(nn.Dense(self.n_params, name="to_latent")(z), x_q)


class ScaledLinear(nn.Module):
    """y = scale * (x W + b), W and b initialised as a Dense layer's divided by ``scale``:
    the same function at init, and under Adam ``scale`` times the learning rate."""

    features: int
    scale: float

    @nn.compact
    def __call__(self, x):
        w = self.param("kernel", lambda k, s: nn.initializers.lecun_normal()(k, s) / self.scale,
                       (x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        return self.scale * (x @ w + b)


class Sizes(nn.Module):
    """The model kind and the sizes every family's model shares (the leading fields of
    ``Model`` and of Raven's model, in this order; ``sizes(config.model)`` gives them)."""

    kind: str
    d_model: int
    n_heads: int
    d_ff: int
    implicit_layers: int
    context_layers: int
    predictor_layers: int
    z_dim: int
    mlp_hidden: int
    mlp_layers: int


SIZE_FIELDS = ("d_model", "n_heads", "d_ff", "implicit_layers", "context_layers",
               "predictor_layers", "z_dim", "mlp_hidden", "mlp_layers")


def sizes(model_config) -> tuple:
    """``Sizes``' fields after ``kind`` from ``config.model``, in order."""
    return tuple(model_config[f] for f in SIZE_FIELDS)


class Model(Sizes):
    """One model kind. ``__call__(x_c, y_c, valid, x_q, latent)`` -> dict with ``pred``
    (B, Q, y_dim) and, for kinds with a learned z, ``z`` (B, z_dim), ``probe`` (B, P) (from
    stop_gradient(z)) and, for known_z, ``aux`` (B, P) (with gradients into z). The
    supervised kind returns ``pred`` (from the true latent), ``z`` and ``aux`` = z (z_dim = P)."""

    y_dim: int
    n_params: int
    function: Callable[[jax.Array, jax.Array], jax.Array]
    probe_scale: float = 10.0

    @nn.compact
    def __call__(self, x_c, y_c, valid, x_q, latent):
        m = self
        if m.kind == "implicit":
            return {"pred": Implicit(m.d_model, m.implicit_layers, m.n_heads, m.d_ff, m.y_dim,
                                     name="implicit")(x_c, y_c, valid, x_q)}
        tsf = lambda: TransformerPredictor(m.d_model, m.predictor_layers, m.n_heads, m.d_ff,
                                           m.y_dim, name="predictor")
        if m.kind == "true_z":
            return {"pred": tsf()(latent, x_q)}
        z = ContextEncoder(m.d_model, m.context_layers, m.n_heads, m.d_ff, m.z_dim,
                           name="context")(x_c, y_c, valid)
        if m.kind == "supervised":
            return {"pred": tsf()(latent, x_q), "z": z, "aux": z}
        if m.kind == "mlp":
            predictor = MLPPredictor(m.mlp_hidden, m.mlp_layers, m.y_dim, name="predictor")
        elif m.kind == "known_f":
            predictor = KnownPredictor(m.n_params, m.function, name="predictor")
        else:
            predictor = tsf()
        out = {"pred": predictor(z, x_q), "z": z}
        if m.n_params:  # a family with a finite latent: the probe
            out["probe"] = ScaledLinear(m.n_params, m.probe_scale, name="probe")(jax.lax.stop_gradient(z))
        if m.kind == "known_z":
            out["aux"] = nn.Dense(m.n_params, name="aux")(z)
        return out
