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

The GAE variant (``coala_gae``, ``gae_weights``) runs the COALA scan on TD errors of a
critic V^b_s (a prediction of the game's own discounted return to the end of the
meta-trajectory from the agent's history in that game, s = m*T + t the step index):

    delta^b_s = r^b_s + gamma V^b_{s+1} - V^b_s       (V after the last step = 0; inner-episode
                                                      ends are not terminal: V bootstraps
                                                      from the next episode's first step)
    A^b_s = (1/B) sum_{s' >= s, in s's episode} k^(s'-s) delta^b_{s'}
            + sum_{s' in later episodes} k^(s'-s) mean_b' delta^{b'}_{s'},      k = gamma*lambda,

one reverse scan carrying (a^b, G): a^b the per-game accumulator, G the batch-mean one;
at an episode boundary a^b is reset to G. With gamma = lambda = 1 the TD errors telescope:
A^b_{m,t} = W^b_{m,t} - V^b_{m,t}/B - (1/B) sum_{b' != b} V^{b'}_{m+1,0}. Both subtracted
terms are baselines (the first depends on game b's history before the action, the second
on the other games' histories up to the end of episode m, which the action at (m, t) in
game b cannot change: the co-player's update it shapes acts from episode m+1 on), so at
lambda = 1 the estimator stays unbiased for any critic; lambda < 1 trades bias for variance
as in GAE. ``weights`` of kind ``coala_gae`` is COALA's (its Monte Carlo counterpart).
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

KINDS = ("coala", "no_batch", "naive", "coala_gae")
GAE = KINDS.index("coala_gae")
# At an episode boundary: c += ABSORB * mean_b g ; g *= KEEP
ABSORB = jnp.array([1.0, 0.0, 0.0, 1.0])
KEEP = jnp.array([0.0, 1.0, 0.0, 0.0])


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


def _flat_boundaries(m: int, t: int) -> jax.Array:
    """(M*T,) bool: the last step of each inner episode."""
    return jnp.arange(m * t) % t == t - 1


def td_errors(rewards: jax.Array, values: jax.Array, gamma: float) -> jax.Array:
    """delta_s = r_s + gamma V_{s+1} - V_s along the M*T steps of each game:
    rewards, values (M, T, B) -> (M, T, B); V after the last step is 0, episode ends are
    not terminal (the critic's return runs to the end of the meta-trajectory)."""
    m, t, b = rewards.shape
    v = values.reshape(m * t, b)
    nxt = jnp.concatenate([v[1:], jnp.zeros((1, b), v.dtype)])
    return (rewards.reshape(m * t, b) + gamma * nxt - v).reshape(m, t, b)


def gae_weights(rewards: jax.Array, values: jax.Array, gamma: float, lam: float) -> jax.Array:
    """COALA-GAE advantages (module docstring): rewards, values (M, T, B) -> A (M, T, B)."""
    chex.assert_rank(rewards, 3)
    chex.assert_equal_shape([rewards, values])
    m, t, b = rewards.shape
    delta = td_errors(rewards, values, gamma).reshape(m * t, b)
    k = gamma * lam

    def back(carry, inputs):
        a, g = carry
        d, at_end = inputs
        a = jnp.where(at_end, g, a)          # entering an episode from the next: batch mean
        a = d / b + k * a
        g = d.mean() + k * g
        return (a, g), a

    init = (jnp.zeros(b, delta.dtype), jnp.zeros((), delta.dtype))
    _, adv = jax.lax.scan(back, init, (delta, _flat_boundaries(m, t)), reverse=True)
    return adv.reshape(m, t, b)


def horizon(m: int, t: int, gamma: float) -> jax.Array:
    """(M, T, 1): sum_{k < M*T - s} gamma^k, the discounted number of steps left from step s
    (the critic predicts the return per step left, times this)."""
    left = m * t - jnp.arange(m * t)
    h = left.astype(jnp.float32) if gamma == 1.0 else (1 - gamma ** left) / (1 - gamma)
    return h.reshape(m, t, 1)


def value_targets(rewards: jax.Array, gamma: float) -> jax.Array:
    """The critic's Monte Carlo target: each game's own discounted return to the end of the
    meta-trajectory, rewards (M, T, B) -> (M, T, B)."""
    m, t, b = rewards.shape

    def back(g, r):
        g = r + gamma * g
        return g, g

    _, y = jax.lax.scan(back, jnp.zeros(b, rewards.dtype), rewards.reshape(m * t, b), reverse=True)
    return y.reshape(m, t, b)
