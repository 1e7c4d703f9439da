"""Selective state-space (Mamba-1 style) context aggregator, in pure JAX.

The reference code's ``Mambaoptimizer`` (paper §3.3; docs/icl_occam.md): the explicit learner's
``[x0, (x_1,y_1), ..., (x_N,y_N)]`` tokens through pre-LN blocks, each a selective-scan
mixer then a gated MLP, and a linear map to z. The recurrence
h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t is run by ``lax.associative_scan`` (log depth:
the layout accelerators want) or ``lax.scan`` (sequential), by ``scan``.

Reference quirk, replicated: the reference's blocks return (hidden, residual) separately and
z is read from the last block's MLP output, so the residual stream never reaches z and
there is no final norm. ``residual_to_z=True`` adds it back (the usual design).

Shapes: B tasks, T = N+1 tokens, d = d_model, E = expand * d inner width, S = d_state.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.layers import context_tokens


def selective_scan(decay: jax.Array, drive: jax.Array, scan: str = "associative") -> jax.Array:
    """h_t = decay_t * h_{t-1} + drive_t with h_{-1} = 0, along axis 1.

    decay, drive: (B, T, E, S) -> h (B, T, E, S).
    """
    if scan == "associative":
        combine = lambda a, b: (a[0] * b[0], b[0] * a[1] + b[1])
        return jax.lax.associative_scan(combine, (decay, drive), axis=1)[1]

    def step(h, inputs):
        a, u = inputs
        h = a * h + u
        return h, h

    h0 = jnp.zeros_like(drive[:, 0])
    _, hs = jax.lax.scan(step, h0, (decay.swapaxes(0, 1), drive.swapaxes(0, 1)))
    return hs.swapaxes(0, 1)


def _dt_bias_init(key, shape, dtype=jnp.float32, dt_min=1e-3, dt_max=1e-1):
    """Inverse softplus of dt ~ logU(dt_min, dt_max), so softplus(bias) starts in that range."""
    u = jax.random.uniform(key, shape, dtype)
    dt = jnp.exp(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    return dt + jnp.log(-jnp.expm1(-dt))


class MambaMixer(nn.Module):
    """Mamba-1 mixer: in-proj, causal depthwise conv, input-dependent (dt, B, C), scan, gate.

    (B, T, d) -> (B, T, d).
    """

    d_state: int = 8
    d_conv: int = 4
    expand: int = 2
    scan: str = "associative"

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        b, t, d = h.shape
        e, s = self.expand * d, self.d_state
        dt_rank = math.ceil(d / 16)
        u, gate = jnp.split(nn.Dense(2 * e, use_bias=False, name="in_proj")(
            h.reshape(b * t, d)).reshape(b, t, 2 * e), 2, axis=-1)
        # causal depthwise convolution over time (kernel d_conv, left padding)
        kernel = self.param("conv_kernel", nn.initializers.lecun_normal(), (self.d_conv, e))
        padded = jnp.pad(u, ((0, 0), (self.d_conv - 1, 0), (0, 0)))
        u = sum(padded[:, i : i + t] * kernel[i] for i in range(self.d_conv))
        u = nn.silu(u + self.param("conv_bias", nn.initializers.zeros, (e,)))
        rows = u.reshape(b * t, e)
        proj = nn.Dense(dt_rank + 2 * s, use_bias=False, name="x_proj")(rows)
        dt_low, b_t, c_t = jnp.split(proj, [dt_rank, dt_rank + s], axis=-1)
        dt = nn.softplus(nn.Dense(e, bias_init=_dt_bias_init, name="dt_proj")(dt_low))
        a_log = self.param("A_log", lambda k, sh: jnp.log(jnp.broadcast_to(
            jnp.arange(1, s + 1, dtype=jnp.float32), sh)), (e, s))
        dt, b_t, c_t = (a.reshape(b, t, -1) for a in (dt, b_t, c_t))
        decay = jnp.exp(dt[..., None] * -jnp.exp(a_log))                 # (B, T, E, S)
        drive = (dt * u)[..., None] * b_t[:, :, None, :]                  # (B, T, E, S)
        states = selective_scan(decay, drive, self.scan)
        out = jnp.einsum("btes,bts->bte", states, c_t)
        out = out + u * self.param("D", nn.initializers.ones, (e,))
        out = out * nn.silu(gate)
        return nn.Dense(d, use_bias=False, name="out_proj")(out.reshape(b * t, e)).reshape(b, t, d)


class GatedMLP(nn.Module):
    """SiLU-gated MLP without biases: (B, T, d) -> (B, T, d)."""

    hidden: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        b, t, d = h.shape
        val, gate = jnp.split(nn.Dense(2 * self.hidden, use_bias=False, name="fc1")(
            h.reshape(b * t, d)), 2, axis=-1)
        out = nn.Dense(d, use_bias=False, name="fc2")(val * nn.silu(gate))
        return out.reshape(b, t, d)


class MambaAggregator(nn.Module):
    """Pre-LN (mixer, gated MLP) blocks over [x0, (x_i, y_i)...]: x (B, N, x_dim),
    y (B, N, y_dim) -> z (B, N+1, z_dim), z[:, k] depending on the first k points."""

    d_model: int
    n_layers: int
    z_dim: int
    mlp_hidden: int
    d_state: int = 8
    d_conv: int = 4
    scan: str = "associative"
    residual_to_z: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        h = context_tokens(self, x, y, self.d_model)
        for i in range(self.n_layers):
            h = h + MambaMixer(self.d_state, self.d_conv, scan=self.scan, name=f"mixer_{i}")(
                nn.LayerNorm(name=f"ln_mixer_{i}")(h))
            mlp = GatedMLP(self.mlp_hidden, name=f"mlp_{i}")(nn.LayerNorm(name=f"ln_mlp_{i}")(h))
            h = h + mlp
        out = h if self.residual_to_z else mlp
        z = nn.Dense(self.z_dim, name="to_z")(out.reshape(b * (n + 1), self.d_model))
        return z.reshape(b, n + 1, self.z_dim)
