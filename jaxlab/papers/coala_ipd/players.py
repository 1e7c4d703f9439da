"""The players of the IPD: naive learners and learning-aware sequence agents.

A ``Player`` is three pure functions used by ``rollout.meta_trajectory`` for one
meta-trajectory of M inner episodes, each a batch of B parallel games of T steps:
  init(key) -> state               carried over all M episodes
  act(state, obs (B,)) -> (logit (B,), state)   P(C) = sigmoid(logit), one step
  learn(state, Episode) -> state   after every inner episode

* ``naive_learner``: a memory-one tabular policy (one logit per state, 5 in all) that sees
  only the current episode. It is re-initialised at the start of every meta-trajectory and
  after every inner episode takes one REINFORCE step on its B episodes (returns-to-go
  with a batch-mean baseline).
* ``sequence_agent``: the learning-aware agent, a linear-recurrent block over all M*T
  steps of its own batch element (its state is never reset between inner episodes):
      u_t = W_in x_t + b_in,  h_t = lam * h_{t-1} + (1 - lam) * u_t,  lam = sigmoid(nu)
      logit_t = w_out . relu(W_1 [h_t, x_t] + b_1) + b_out
  with x_t the one-hot memory-one state. The recurrence is linear and diagonal (an LRU-type
  block with real decays): its state is an exponentially weighted count of what happened,
  the statistic that reveals a co-player's learning across episodes; it cannot blow up
  over long contexts (0 < lam < 1 and the (1 - lam) input gain keep |h| <= max |u|); and the
  training pass re-computes every logit of a recorded meta-trajectory with one parallel
  ``associative_scan`` instead of M*T sequential steps. The output head starts at zero, so
  a fresh agent plays P(C) = sigmoid(b_out) everywhere.
* ``tabular_agent``: a fixed memory-one policy (the unbiasedness test's agent).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.models.ssm import selective_scan
from jaxlab.papers.coala_ipd import ipd


class Episode(NamedTuple):
    """One inner episode seen from one player's side; every field (T, B)."""

    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array


class Player(NamedTuple):
    init: Callable[[jax.Array], Any]
    act: Callable[[Any, jax.Array], tuple[jax.Array, Any]]
    learn: Callable[[Any, Episode], Any]


# ------------------------------------------------------------------ naive learners
def returns_to_go(rewards: jax.Array, gamma: float) -> jax.Array:
    """G_t = sum_{t' >= t} gamma^(t'-t) r_t' along axis 0 of rewards (T, ...)."""
    def back(g, r):
        g = r + gamma * g
        return g, g

    _, g = jax.lax.scan(back, jnp.zeros_like(rewards[0]), rewards, reverse=True)
    return g


def naive_update(theta: jax.Array, ep: Episode, lr: float, gamma: float) -> jax.Array:
    """One REINFORCE step of a memory-one tabular policy theta (5,) on B episodes:
    theta + lr * (1/B) sum_{b,t} d log pi(a_t | s_t) / d theta * (G_t - mean_b G_t)."""
    g = returns_to_go(ep.rewards, gamma)                        # (T, B)
    adv = g - g.mean(axis=1, keepdims=True)
    score = (ep.actions == 0).astype(jnp.float32) - jax.nn.sigmoid(theta[ep.obs])
    grad = jnp.zeros_like(theta).at[ep.obs].add(score * adv) / ep.obs.shape[1]
    return theta + lr * grad


def naive_learner(lr: float, gamma: float, init_std: float, init_mean: float = 0.0) -> Player:
    """A naive co-player: logits ~ N(init_mean, init_std^2) per state at the start of each
    meta-trajectory, one ``naive_update`` after each inner episode."""
    return Player(
        init=lambda key: init_mean + init_std * jax.random.normal(key, (ipd.N_STATES,)),
        act=lambda theta, obs: (theta[obs], theta),
        learn=lambda theta, ep: naive_update(theta, ep, lr, gamma))


def tabular_agent(logits: jax.Array) -> Player:
    """A fixed memory-one policy: logits (5,) per state; it never learns."""
    return Player(init=lambda key: (), act=lambda s, obs: (logits[obs], s), learn=lambda s, ep: s)


# ------------------------------------------------------------------ sequence agents
def init_agent(key: jax.Array, hidden: int, mlp: int, init_logit: float) -> dict:
    """Parameters of the linear-recurrent agent (``sequence_agent``); decays lam start
    spread over [0.5, 0.98] (time constants 2 to 50 steps); the output head is zero."""
    k1, k2 = jax.random.split(key)
    lam = jnp.linspace(0.5, 0.98, hidden)
    x = ipd.N_STATES
    return {"w_in": jax.random.normal(k1, (x, hidden)), "b_in": jnp.zeros(hidden),
            "nu": jnp.log(lam / (1 - lam)),
            "w1": jax.random.normal(k2, (hidden + x, mlp)) / jnp.sqrt(hidden + x),
            "b1": jnp.zeros(mlp), "w_out": jnp.zeros(mlp), "b_out": jnp.asarray(init_logit)}


def _readout(params: dict, h: jax.Array, obs: jax.Array) -> jax.Array:
    """logit from h (..., H) and the state obs (...) (the one-hot part of the first layer
    is a row lookup)."""
    hidden = h.shape[-1]
    z = jax.nn.relu(h @ params["w1"][:hidden] + params["w1"][hidden:][obs] + params["b1"])
    return z @ params["w_out"] + params["b_out"]


def sequence_agent(params: dict, batch: int) -> Player:
    """The learning-aware agent as a Player: state h (B, hidden), one step per call."""
    lam = jax.nn.sigmoid(params["nu"])

    def act(h, obs):
        h = lam * h + (1 - lam) * (params["w_in"][obs] + params["b_in"])
        return _readout(params, h, obs), h

    hidden = params["b_in"].shape[0]
    return Player(init=lambda key: jnp.zeros((batch, hidden)), act=act, learn=lambda h, ep: h)


def sequence_logits(params: dict, obs: jax.Array, scan: str = "associative") -> jax.Array:
    """Every logit of recorded sequences at once: obs (B, L) int -> logits (B, L), equal to
    stepping ``sequence_agent`` along them (one associative scan over L)."""
    lam = jax.nn.sigmoid(params["nu"])
    drive = (1 - lam) * (params["w_in"][obs] + params["b_in"])   # (B, L, H)
    decay = jnp.broadcast_to(lam, drive.shape)
    h = selective_scan(decay[..., None], drive[..., None], scan)[..., 0]
    return _readout(params, h, obs)
