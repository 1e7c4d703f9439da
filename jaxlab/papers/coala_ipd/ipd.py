"""The iterated prisoner's dilemma as pure, vmappable functions.

Actions: 0 = cooperate (C), 1 = defect (D). Payoffs (LOLA's, Foerster et al. 2018), to the
player choosing the row against the column:

             C    D
        C   -1   -3
        D    0   -2

so mutual cooperation pays R = -1 per step, mutual defection P = -2, the sucker S = -3 and
the temptation T = 0 (T > R > P > S, 2R > T + S: a dilemma).

Observations are memory-one states seen from the observing player's side:
0 = episode start, 1 = CC, 2 = CD, 3 = DC, 4 = DD (own action first).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

N_STATES = 5
START = 0
PAYOFF = jnp.array([[-1.0, -3.0], [0.0, -2.0]])  # PAYOFF[own action, other's action]
R, S, T, P = -1.0, -3.0, 0.0, -2.0
# The same joint state from the other player's side (CD <-> DC).
SWAP = jnp.array([0, 1, 3, 2, 4], jnp.int32)
STATE_NAMES = ("start", "CC", "CD", "DC", "DD")


def joint_state(own: jax.Array, other: jax.Array) -> jax.Array:
    """The next memory-one state (int32, any shape) from the two actions, own side."""
    return (1 + 2 * own + other).astype(jnp.int32)


def step(state: jax.Array, a1: jax.Array, a2: jax.Array
         ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One simultaneous move. state: player 1's observation (unused by the dynamics: the
    game has no hidden state), a1, a2: actions (same shape).
    Returns (player 1's next observation, reward 1, reward 2)."""
    del state
    return joint_state(a1, a2), PAYOFF[a1, a2], PAYOFF[a2, a1]


def sample_action(u: jax.Array, logit_coop: jax.Array) -> jax.Array:
    """Action 0 (C) with probability sigmoid(logit_coop), else 1 (D), from uniforms u in
    [0, 1) of the logit's shape; int32."""
    return (u >= jax.nn.sigmoid(logit_coop)).astype(jnp.int32)


def log_prob(logit_coop: jax.Array, action: jax.Array) -> jax.Array:
    """log pi(action) for P(C) = sigmoid(logit_coop)."""
    return jnp.where(action == 0, jax.nn.log_sigmoid(logit_coop), jax.nn.log_sigmoid(-logit_coop))
