"""Policy-gradient estimators of a meta-trajectory: COALA-PG and its two baselines.

The agent's objective is its expected meta-return J = E[(1/B) sum_b sum_m R^b_m], the
batch-mean return summed over the M inner episodes. The naive co-player's update after
episode m depends on all B games of episode m, so the agent's action at step t of episode
m in game b moves its own rewards to the end of that episode and, through the co-player's
updates, every game of every later episode. The unbiased score-function weight of that
action (COALA-PG) is therefore

    W^b_{m,t} = (1/B) sum_{t' >= t} r^b_{m,t'}  +  sum_{m' > m} (1/B) sum_{b'} R^{b'}_{m'},

computed by one reverse scan over the M*T steps whose carry is (g^b, c): g^b the game's own
return to the end of the current episode, c the batch-mean return of all later episodes.
At an episode boundary (scanning backwards) c absorbs the batch mean of g and g restarts
at zero (the paper's "accumulator reset to the batch mean": g + c is that accumulator).

Baselines, same scan with other boundary rules:
  ``naive``     g restarts, c stays 0: rewards to the end of the inner episode only (the
                co-player treated as stationary: plain policy gradient);
  ``no_batch``  g runs on across episodes, c stays 0: the agent's own game's rewards to the
                end of the meta-trajectory (learning-aware, but blind to the batch: its
                action's effect on the other B-1 games is dropped; biased).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

KINDS = ("coala", "no_batch", "naive")
# At an episode boundary: c += ABSORB * mean_b g ; g *= KEEP
ABSORB = jnp.array([1.0, 0.0, 0.0])
KEEP = jnp.array([0.0, 1.0, 0.0])


def weights(rewards: jax.Array, kind: jax.Array | int, gamma: float = 1.0) -> jax.Array:
    """Per-step weights of the score function. rewards (M, T, B) -> W (M, T, B);
    ``kind`` indexes KINDS (may be traced); ``gamma`` discounts within the reverse scan."""
    m, t, b = rewards.shape
    absorb, keep = ABSORB[kind], KEEP[kind]
    flat = rewards.reshape(m * t, b)
    boundary = (jnp.arange(m * t) % t == t - 1) & (jnp.arange(m * t) < (m - 1) * t + t - 1)

    def back(carry, inputs):
        g, c = carry
        r, at_end = inputs
        c = jnp.where(at_end, c + absorb * g.mean(), c)
        g = jnp.where(at_end, keep * g, g)
        g = r + gamma * g
        return (g, c), g / b + c

    _, w = jax.lax.scan(back, (jnp.zeros(b), jnp.zeros(())), (flat, boundary), reverse=True)
    return w.reshape(m, t, b)


def surrogate(logp: jax.Array, w: jax.Array, baseline: jax.Array | float = 0.0) -> jax.Array:
    """Scalar whose gradient is minus the estimator, averaged over leading meta-batch axes
    and divided by the M*T steps: logp, w (..., M, T, B); baseline broadcast to (..., M, T)."""
    m, t = w.shape[-3:-1]
    adv = jax.lax.stop_gradient(w - jnp.asarray(baseline)[..., None])
    return -jnp.mean(jnp.sum(logp * adv, axis=(-3, -2, -1))) / (m * t)
