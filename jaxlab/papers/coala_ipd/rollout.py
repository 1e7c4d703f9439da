"""One meta-trajectory: M inner episodes of B parallel IPD games of T steps between two
players, the players' learning between episodes included (a ``lax.scan`` over episodes
around a ``lax.scan`` over steps)."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.papers.coala_ipd import ipd
from jaxlab.papers.coala_ipd.players import Episode, Player


class Trajectory(NamedTuple):
    """Everything of a meta-trajectory, each (M, T, B); obs/actions/rewards/logits of
    player 1 and player 2, each from its own side (obs2 = SWAP[obs1])."""

    obs1: jax.Array
    actions1: jax.Array
    rewards1: jax.Array
    logits1: jax.Array
    obs2: jax.Array
    actions2: jax.Array
    rewards2: jax.Array
    logits2: jax.Array


def meta_trajectory(p1: Player, p2: Player, key: jax.Array, episodes: int, steps: int,
                    batch: int) -> Trajectory:
    """Plays M = ``episodes`` inner episodes of ``batch`` games of T = ``steps`` steps;
    after each, both players ``learn`` from their side of it."""
    k1, k2, k_play = jax.random.split(key, 3)

    def game_step(carry, u):
        s1, s2, obs = carry
        l1, s1 = p1.act(s1, obs)
        l2, s2 = p2.act(s2, ipd.SWAP[obs])
        a1, a2 = ipd.sample_action(u[0], l1), ipd.sample_action(u[1], l2)
        nxt, r1, r2 = ipd.step(obs, a1, a2)
        return (s1, s2, nxt), (obs, a1, r1, l1, ipd.SWAP[obs], a2, r2, l2)

    def episode(carry, u):
        s1, s2 = carry
        start = jnp.full((batch,), ipd.START, jnp.int32)
        (s1, s2, _), rec = jax.lax.scan(game_step, (s1, s2, start), u)
        s1 = p1.learn(s1, Episode(rec[0], rec[1], rec[2]))
        s2 = p2.learn(s2, Episode(rec[4], rec[5], rec[6]))
        return (s1, s2), rec

    # every action's uniform drawn at once (one RNG call, not one per step)
    u = jax.random.uniform(k_play, (episodes, steps, 2, batch))
    _, rec = jax.lax.scan(episode, (p1.init(k1), p2.init(k2)), u)
    return Trajectory(*rec)
