"""The critic of the GAE variant of COALA-PG: a separate small linear-recurrent block.

A critic has the learning-aware agent's architecture (``players.init_agent``, read by
``players.sequence_logits``) with its own parameters: it reads the same observation
sequence of one game (all M*T steps, never reset) and outputs v_s, the predicted own reward
per discounted step left; the value is V_s = H_s * v_s with H_s the discounted number of
steps to the end of the meta-trajectory (``estimator.horizon``), so the regression target
v = Y_s / H_s is O(1) at every step (Y_s the Monte Carlo return, ``estimator.value_targets``).
Separate parameters and a separate optimizer keep the agents' updates exactly what they are
without a critic (the value loss never enters the policy's gradient or its clipping).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.papers.coala_ipd import estimator, players


def init_critic(key: jax.Array, hidden: int, mlp: int) -> dict:
    """Critic parameters; the output head starts at zero (V = 0)."""
    return players.init_agent(key, hidden, mlp, 0.0)


def per_step(params: dict, obs: jax.Array, scan: str) -> jax.Array:
    """v (the value per discounted step left): obs (K, M, T, B) int -> (K, M, T, B)."""
    k, m, t, b = obs.shape
    seq = obs.transpose(0, 3, 1, 2).reshape(k * b, m * t)
    return players.sequence_logits(params, seq, scan).reshape(k, b, m, t).transpose(0, 2, 3, 1)


def values(params: dict, obs: jax.Array, gamma: float, scan: str) -> jax.Array:
    """V = H * v: obs (K, M, T, B) -> (K, M, T, B)."""
    m, t = obs.shape[1:3]
    return estimator.horizon(m, t, gamma) * per_step(params, obs, scan)


def value_loss(params: dict, obs: jax.Array, rewards: jax.Array, gamma: float, scan: str) -> jax.Array:
    """mean (v_s - Y_s / H_s)^2 over obs, rewards (K, M, T, B): the squared error of the
    value in units of reward per step left."""
    m, t = obs.shape[1:3]
    y = jax.vmap(lambda r: estimator.value_targets(r, gamma))(rewards)
    return jnp.mean((per_step(params, obs, scan) - y / estimator.horizon(m, t, gamma)) ** 2)
