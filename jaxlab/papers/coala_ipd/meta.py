"""Meta-training of two learning-aware agents as one per-run ``Trainer`` for the runner.

A run holds two agents (``a1``, ``a2``). Each meta-training step, every agent plays
``meta_batch`` meta-trajectories against fresh naive learners and ``meta_batch``
meta-trajectories against the other agent; its gradient is the pool mixture

    pool_naive * estimate(vs naive) + (1 - pool_naive) * estimate(vs the other agent),

the exact expectation over drawing its co-player from a pool holding naive learners with
probability ``pool_naive`` (1: learning-aware vs naive; 0: a pool of learning-aware
agents only). The estimate is ``estimator.weights`` of kind ``hp.estimator`` (COALA-PG or
a baseline), with a per-(episode, step) running-mean baseline from earlier steps (it does
not depend on the current sample, so the estimator stays unbiased). Parameters move by
the optimizer of ``config.train`` (Adam by default, per-run learning rate ``hp``).

When a run of the program may use ``coala_gae`` (``uses_critic``), every agent also has a
critic (``critic.py``, params ``v1``, ``v2``) trained on the same rollouts by its value loss
(the pool mixture of its losses vs naive learners and vs the other agent) with its own
Adam (``coala.value_learning_rate``, the same clipping); ``coala_gae`` runs weight the
scores by ``estimator.gae_weights`` (lambda ``coala.gae_lambda``) instead of weights minus
the running baseline. Other runs ignore the critic, so their updates are unchanged.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxlab.papers.coala_ipd import critic, estimator, ipd, players, rollout
from jaxlab.papers.coala_ipd.rollout import Trajectory
from jaxlab.train import Trainer, TrainState, make_optimizer

SCAN = "sequential"


def naive_of(config: ml_collections.ConfigDict) -> players.Player:
    n = config.naive
    return players.naive_learner(n.learning_rate, n.gamma, n.init_std, n.init_mean)


def play(config: ml_collections.ConfigDict, p1: players.Player, p2: players.Player,
         key: jax.Array, meta_batch: int) -> Trajectory:
    """``meta_batch`` independent meta-trajectories; fields (K, M, T, B)."""
    g = config.game
    return jax.vmap(lambda k: rollout.meta_trajectory(p1, p2, k, g.episodes, g.steps, g.batch))(
        jax.random.split(key, meta_batch))


def agent_logp(params: dict, obs: jax.Array, actions: jax.Array) -> jax.Array:
    """log pi of recorded actions under an agent: obs, actions (K, M, T, B) -> (K, M, T, B)
    (each game's M*T steps are one sequence)."""
    k, m, t, b = obs.shape
    seq = obs.transpose(0, 3, 1, 2).reshape(k * b, m * t)
    logits = players.sequence_logits(params, seq, SCAN).reshape(k, b, m, t).transpose(0, 2, 3, 1)
    return ipd.log_prob(logits, actions)


def rollouts(config, params: dict, key: jax.Array, meta_batch: int) -> dict[str, Trajectory]:
    """``n``: each agent vs naive learners (fields (2 agents, K, M, T, B), both agents in one
    program); ``aa``: agent 1 vs agent 2 ((K, M, T, B))."""
    b = config.game.batch
    k1, k2 = jax.random.split(key)
    naive = naive_of(config)
    stacked = jax.tree.map(lambda x, y: jnp.stack([x, y]), params["a1"], params["a2"])
    vs_naive = jax.vmap(lambda p, k: play(config, players.sequence_agent(p, b), naive, k, meta_batch))(
        stacked, jax.random.split(k1, 2))
    a1, a2 = (players.sequence_agent(params[n], b) for n in ("a1", "a2"))
    return {"n": vs_naive, "aa": play(config, a1, a2, k2, meta_batch)}


def agent_sides(tr: dict[str, Trajectory]) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Each agent's side of its games: obs, actions, rewards (2 agents, 2 co-player kinds
    (naive, agent), K, M, T, B)."""
    n, aa = tr["n"], tr["aa"]
    side = lambda vs_naive, a1, a2: jnp.stack([jnp.stack([vs_naive[0], a1]),
                                              jnp.stack([vs_naive[1], a2])])
    return (side(n.obs1, aa.obs1, aa.obs2), side(n.actions1, aa.actions1, aa.actions2),
            side(n.rewards1, aa.rewards1, aa.rewards2))


def uses_critic(config: ml_collections.ConfigDict) -> bool:
    """Whether a run of this config's program may use the GAE estimator (static)."""
    kinds = tuple(config.sweep.axes.get("estimator", ())) or (config.hp.estimator,)
    return "coala_gae" in kinds


def critic_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam at ``coala.value_learning_rate`` after the agents' gradient clipping."""
    clip = config.train.get("grad_clip_norm", 0.0)
    adam = optax.adam(config.coala.value_learning_rate)
    return optax.chain(optax.clip_by_global_norm(clip), adam) if clip else adam


def per_game(fn, *xs: jax.Array) -> jax.Array:
    """fn over the leading (2, 2, K) axes of (2, 2, K, M, T, B) arrays."""
    lead = xs[0].shape[:3]
    out = jax.vmap(fn)(*(x.reshape(-1, *x.shape[3:]) for x in xs))
    return out.reshape(*lead, *out.shape[1:])


def gae_advantages(config: ml_collections.ConfigDict, vparams: dict, obs: jax.Array,
                   rewards: jax.Array) -> jax.Array:
    """COALA-GAE advantages of both agents' games under their critics: obs, rewards
    (2 agents, 2 kinds, K, M, T, B) -> (2, 2, K, M, T, B)."""
    c = config.coala
    stacked = jax.tree.map(lambda x, y: jnp.stack([x, y]), vparams["v1"], vparams["v2"])
    k = obs.shape[2]
    v = jax.vmap(lambda p, o: critic.values(p, o, c.gamma, SCAN))(
        stacked, obs.reshape(2, 2 * k, *obs.shape[3:])).reshape(obs.shape)
    return per_game(lambda r, vv: estimator.gae_weights(r, vv, c.gamma, c.gae_lambda), rewards, v)


def critic_loss(config: ml_collections.ConfigDict, vparams: dict, obs: jax.Array,
                rewards: jax.Array, mix: jax.Array) -> jax.Array:
    """Both critics' value losses, each the pool mixture ``mix`` (2,) of its losses vs naive
    learners and vs the other agent: obs, rewards (2, 2, K, M, T, B)."""
    c = config.coala
    stacked = jax.tree.map(lambda x, y: jnp.stack([x, y]), vparams["v1"], vparams["v2"])
    per = jax.vmap(lambda p, o, r: jax.vmap(lambda oo, rr: critic.value_loss(p, oo, rr, c.gamma, SCAN))(o, r))(
        stacked, obs, rewards)                                     # (2, 2)
    return jnp.sum(per * mix)


def make_trainer(config: ml_collections.ConfigDict) -> Trainer:
    """The per-run Trainer: steps are meta-training steps; ``evaluate`` is ``evaluation``."""
    g, a = config.game, config.agent
    opt = make_optimizer(config)
    decay = config.coala.baseline_decay
    with_critic = uses_critic(config)
    vopt = critic_optimizer(config) if with_critic else None

    def init(key: jax.Array, hp: dict) -> TrainState:
        k1, k2 = jax.random.split(jax.random.fold_in(key, 0))
        params = {n: players.init_agent(k, a.hidden, a.mlp, a.init_logit)
                  for n, k in (("a1", k1), ("a2", k2))}
        base = jnp.zeros((2, 2, g.episodes, g.steps))   # (agent, co-player kind, M, T)
        opt_state = (opt.init(params), base)
        if with_critic:
            k3, k4 = jax.random.split(jax.random.fold_in(key, 1))
            vparams = {n: critic.init_critic(k, a.hidden, a.mlp) for n, k in (("v1", k3), ("v2", k4))}
            params = {**params, **vparams}
            opt_state = (*opt_state, vopt.init(vparams))
        return TrainState(jnp.zeros((), jnp.int32), params, opt_state, key, jnp.array(True))

    def step(state: TrainState, hp: dict) -> tuple[TrainState, dict]:
        key = jax.random.fold_in(state.key, state.step + 1)
        agents = {n: state.params[n] for n in ("a1", "a2")}
        tr = rollouts(config, jax.lax.stop_gradient(agents), key, g.meta_batch)
        obs, actions, rewards = agent_sides(tr)                   # (2, 2, K, M, T, B)
        k = g.meta_batch
        w = per_game(lambda r: estimator.weights(r, hp["estimator"], config.coala.gamma), rewards)
        mix = jnp.stack([hp["pool_naive"], 1 - hp["pool_naive"]])
        opt_state, base = state.opt_state[:2]
        w_pg, b_pg = w, base
        if with_critic:
            vparams = {n: state.params[n] for n in ("v1", "v2")}
            adv = gae_advantages(config, jax.lax.stop_gradient(vparams), obs, rewards)
            is_gae = hp["estimator"] == estimator.GAE
            w_pg, b_pg = jnp.where(is_gae, adv, w), jnp.where(is_gae, 0.0, base)

        def loss(params):
            stacked = jax.tree.map(lambda x, y: jnp.stack([x, y]), params["a1"], params["a2"])
            logp = jax.vmap(agent_logp)(stacked, obs.reshape(2, 2 * k, *obs.shape[3:]),
                                        actions.reshape(2, 2 * k, *obs.shape[3:])).reshape(obs.shape)
            per = jax.vmap(jax.vmap(estimator.surrogate))(logp, w_pg, b_pg)   # (2, 2)
            return jnp.sum(per * mix)

        value, grads = jax.value_and_grad(loss)(agents)
        opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams,
                                                    "learning_rate": hp["learning_rate"]})
        updates, new_opt = opt.update(grads, opt_state, agents)
        new_params = optax.apply_updates(agents, updates)
        new_base = decay * base + (1 - decay) * w.mean(axis=(2, 5))
        new_opt_state, metrics, finite = (new_opt, new_base), {}, jnp.isfinite(value)
        if with_critic:
            vvalue, vgrads = jax.value_and_grad(lambda p: critic_loss(config, p, obs, rewards, mix))(vparams)
            vupdates, new_vopt = vopt.update(vgrads, state.opt_state[2], vparams)
            new_params = {**new_params, **optax.apply_updates(vparams, vupdates)}
            new_opt_state, metrics = (*new_opt_state, new_vopt), {"value_loss": vvalue}
            finite = finite & jnp.isfinite(vvalue)
        finite = finite & jnp.all(jnp.stack(
            [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_params)]))
        healthy = state.healthy & finite
        keep = lambda new, old: jax.tree.map(lambda x, y: jnp.where(healthy, x, y), new, old)
        new_state = TrainState(state.step + 1, keep(new_params, state.params),
                               keep(new_opt_state, state.opt_state), state.key, healthy)
        return new_state, {"loss": value, **metrics, **training_metrics(tr)}

    def train_chunk(state: TrainState, hp: dict) -> tuple[TrainState, dict]:
        return jax.lax.scan(lambda s, _: step(s, hp), state, None, length=config.train.chunk_steps)

    def evaluate(state: TrainState, hp: dict, key: jax.Array) -> dict:
        return evaluation(config, state.params, key)

    return Trainer(init, train_chunk, evaluate, config.train.chunk_steps, config.train.steps)


def training_metrics(tr: dict[str, Trajectory]) -> dict[str, jax.Array]:
    """Per-step rewards and P(C) (means over the meta-trajectories) of agent 1 vs naive
    learners, of those naive learners, and of both agents vs each other."""
    n, aa = tr["n"], tr["aa"]
    return {"agent_vs_naive": n.rewards1[0].mean(), "naive_vs_agent": n.rewards2[0].mean(),
            "coop_agent_vs_naive": jax.nn.sigmoid(n.logits1[0]).mean(),
            "coop_naive_vs_agent": jax.nn.sigmoid(n.logits2[0]).mean(),
            "agent_vs_agent": 0.5 * (aa.rewards1.mean() + aa.rewards2.mean()),
            "coop_agent_vs_agent": 0.5 * (jax.nn.sigmoid(aa.logits1).mean()
                                          + jax.nn.sigmoid(aa.logits2).mean())}


def per_state_coop(obs: jax.Array, logits: jax.Array, late: int) -> jax.Array:
    """Mean P(C) in each memory-one state over the last ``late`` inner episodes:
    obs, logits (K, M, T, B) -> (5,) (nan for a state never visited)."""
    o, p = obs[:, -late:], jax.nn.sigmoid(logits[:, -late:])
    onehot = jax.nn.one_hot(o, 5)
    count = onehot.sum(axis=(0, 1, 2, 3))
    return jnp.where(count > 0, (onehot * p[..., None]).sum(axis=(0, 1, 2, 3)) / jnp.maximum(count, 1),
                     jnp.nan)


def evaluation(config: ml_collections.ConfigDict, params: dict, key: jax.Array) -> dict[str, Any]:
    """The trained agents (and two naive learners) on ``eval.meta_batch`` fresh
    meta-trajectories of each pairing. Per pairing ``vs_naive`` (agent 1 vs naive),
    ``vs_agent`` (agent 1 vs agent 2), ``naive_naive``: ``<pairing>_return{1,2}`` (M,)
    per-step rewards per inner episode of each side, ``<pairing>_coop{1,2}`` (5,) P(C) per
    state over the last ``eval.late_episodes`` episodes."""
    e = config.eval
    k1, k2, k3 = jax.random.split(key, 3)
    naive = naive_of(config)
    a1, a2 = (players.sequence_agent(params[n], config.game.batch) for n in ("a1", "a2"))
    out = {}
    for name, (p1, p2, k) in {"vs_naive": (a1, naive, k1), "vs_agent": (a1, a2, k2),
                              "naive_naive": (naive, naive, k3)}.items():
        tr = play(config, p1, p2, k, e.meta_batch)
        out[f"{name}_return1"] = tr.rewards1.mean(axis=(0, 2, 3))
        out[f"{name}_return2"] = tr.rewards2.mean(axis=(0, 2, 3))
        out[f"{name}_coop1"] = per_state_coop(tr.obs1, tr.logits1, e.late_episodes)
        out[f"{name}_coop2"] = per_state_coop(tr.obs2, tr.logits2, e.late_episodes)
        out[f"{name}_coopfreq1"] = jax.nn.sigmoid(tr.logits1[:, -e.late_episodes:]).mean()
        out[f"{name}_coopfreq2"] = jax.nn.sigmoid(tr.logits2[:, -e.late_episodes:]).mean()
    return out
