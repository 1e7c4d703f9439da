"""COALA-PG on the IPD: the game, the players, the estimator's unbiasedness against an exact
meta-return, ZD fits, the run axis, and bad configs."""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from jaxlab import config as config_lib
from jaxlab.config import ConfigError
from jaxlab.papers.coala_ipd import critic, estimator, ipd, meta, players, rollout, study, zd

SMOKE = "configs/coala_ipd.py:smoke"


# ------------------------------------------------------------------ the game
def test_payoffs_are_a_prisoners_dilemma_and_transitions_record_both_actions():
    table = {(0, 0): (-1, -1), (0, 1): (-3, 0), (1, 0): (0, -3), (1, 1): (-2, -2)}
    for (a1, a2), (r1, r2) in table.items():
        nxt, g1, g2 = ipd.step(jnp.int32(0), jnp.int32(a1), jnp.int32(a2))
        assert (float(g1), float(g2)) == (r1, r2)
        assert ipd.STATE_NAMES[int(nxt)] == "CD"[a1] + "CD"[a2]
        assert ipd.STATE_NAMES[int(ipd.SWAP[nxt])] == "CD"[a2] + "CD"[a1]
    assert ipd.T > ipd.R > ipd.P > ipd.S and 2 * ipd.R > ipd.T + ipd.S
    u = jax.random.uniform(jax.random.PRNGKey(0), (200_000,))
    freq = float((ipd.sample_action(u, jnp.full(u.shape, 0.7)) == 0).mean())
    assert abs(freq - float(jax.nn.sigmoid(0.7))) < 4 * 0.5 / np.sqrt(u.size)


def test_rollout_follows_the_game_and_players_learn_only_between_episodes():
    agent = players.tabular_agent(jnp.array([3.0, 3.0, -3.0, 3.0, -3.0]))  # ~tit-for-tat
    naive = players.naive_learner(1.0, 0.9, 1.0)
    tr = rollout.meta_trajectory(agent, naive, jax.random.PRNGKey(1), 4, 5, 6)
    assert tr.obs1.shape == (4, 5, 6)
    np.testing.assert_array_equal(tr.obs1[:, 0], 0)                          # each episode starts
    np.testing.assert_array_equal(tr.obs1[:, 1:], ipd.joint_state(tr.actions1, tr.actions2)[:, :-1])
    np.testing.assert_array_equal(tr.rewards1, ipd.PAYOFF[tr.actions1, tr.actions2])
    np.testing.assert_array_equal(tr.obs2, ipd.SWAP[tr.obs1])
    # the naive learner's logits are constant within an episode (per state) and change between
    lg = np.asarray(tr.logits2)
    for m in range(4):
        for s in range(5):
            vals = lg[m][np.asarray(tr.obs2[m]) == s]
            assert vals.size == 0 or np.ptp(vals) == 0
    assert np.abs(np.diff(lg[:, 0, :].mean(-1))).max() > 0


def test_naive_update_is_reinforce_with_a_batch_baseline():
    key = jax.random.PRNGKey(2)
    obs = jax.random.randint(key, (4, 3), 0, 5)
    act = jax.random.randint(jax.random.fold_in(key, 1), (4, 3), 0, 2)
    rew = jax.random.normal(jax.random.fold_in(key, 2), (4, 3))
    theta = jax.random.normal(jax.random.fold_in(key, 3), (5,))
    g = np.zeros((4, 3))
    for t in range(4):  # brute-force discounted returns
        g[t] = sum(0.8 ** (k - t) * np.asarray(rew[k]) for k in range(t, 4))
    adv = g - g.mean(1, keepdims=True)
    grad = jax.grad(lambda th: jnp.sum(ipd.log_prob(th[obs], act) * adv) / 3)(theta)
    np.testing.assert_allclose(players.naive_update(theta, players.Episode(obs, act, rew), 0.5, 0.8),
                               theta + 0.5 * grad, rtol=1e-5, atol=1e-6)


def test_sequence_logits_equal_stepping_the_agent():
    params = players.init_agent(jax.random.PRNGKey(3), 6, 5, 0.0)
    params["w_out"] = jax.random.normal(jax.random.PRNGKey(4), (5,))
    naive = players.naive_learner(1.0, 0.9, 1.0)
    tr = rollout.meta_trajectory(players.sequence_agent(params, 4), naive, jax.random.PRNGKey(5), 3, 4, 4)
    seq = tr.obs1.transpose(2, 0, 1).reshape(4, 12)
    for scan in ("associative", "sequential"):
        np.testing.assert_allclose(players.sequence_logits(params, seq, scan).reshape(4, 3, 4).transpose(1, 2, 0),
                                   tr.logits1, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ the estimator
def brute_weights(r: np.ndarray, kind: str) -> np.ndarray:
    """The weights written out term by term (r (M, T, B))."""
    m_, t_, b_ = r.shape
    w = np.zeros_like(r)
    for m, t, b in itertools.product(range(m_), range(t_), range(b_)):
        own = r[m, t:, b].sum()
        if kind == "naive":
            w[m, t, b] = own / b_
        elif kind == "no_batch":
            w[m, t, b] = (own + r[m + 1:, :, b].sum()) / b_
        else:
            w[m, t, b] = own / b_ + r[m + 1:].sum() / b_
    return w


@pytest.mark.parametrize("kind", estimator.KINDS)
def test_weights_match_their_definition(kind):
    r = np.asarray(jax.random.normal(jax.random.PRNGKey(6), (3, 4, 5)))
    np.testing.assert_allclose(estimator.weights(jnp.asarray(r), estimator.KINDS.index(kind)),
                               brute_weights(r, kind), rtol=1e-5, atol=1e-5)


def brute_td_errors(r: np.ndarray, v: np.ndarray, gamma: float) -> np.ndarray:
    """delta written step by step over the flattened M*T steps of each game: an episode's
    last step bootstraps from the next episode's first value, the meta-trajectory's from 0."""
    m_, t_, b_ = r.shape
    d = np.zeros_like(r)
    for m, t, b in itertools.product(range(m_), range(t_), range(b_)):
        if t < t_ - 1:
            nxt = v[m, t + 1, b]
        elif m < m_ - 1:
            nxt = v[m + 1, 0, b]
        else:
            nxt = 0.0
        d[m, t, b] = r[m, t, b] + gamma * nxt - v[m, t, b]
    return d


def brute_gae(r: np.ndarray, v: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """COALA-GAE as an explicit double sum: the own game's TD errors to the end of the
    current episode (1/B), the batch-mean TD errors of every later step, each discounted by
    (gamma lam)^distance."""
    m_, t_, b_ = r.shape
    d, k = brute_td_errors(r, v, gamma), gamma * lam
    a = np.zeros_like(r)
    for m, t, b in itertools.product(range(m_), range(t_), range(b_)):
        s = m * t_ + t
        for m2, t2 in itertools.product(range(m, m_), range(t_)):
            s2 = m2 * t_ + t2
            if s2 < s:
                continue
            term = d[m2, t2, b] / b_ if m2 == m else d[m2, t2].mean()
            a[m, t, b] += k ** (s2 - s) * term
    return a


def random_rv(seed: int, shape=(3, 4, 5)) -> tuple[np.ndarray, np.ndarray]:
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return np.asarray(jax.random.normal(k1, shape)), np.asarray(3 * jax.random.normal(k2, shape))


def test_gae_with_lambda_one_and_a_zero_critic_is_coala():
    r, _ = random_rv(8)
    np.testing.assert_allclose(estimator.gae_weights(jnp.asarray(r), jnp.zeros(r.shape), 1.0, 1.0),
                               estimator.weights(jnp.asarray(r), estimator.KINDS.index("coala")),
                               rtol=1e-5, atol=1e-5)


def test_gae_with_lambda_one_subtracts_only_baselines():
    """gamma = lambda = 1: A = W - V^b_{m,t}/B - (1/B) sum_{b' != b} V^{b'}_{m+1,0}: the
    critic enters only through the game's value now and the other games' values at the
    next episode's start (which the action cannot change)."""
    r, v = random_rv(9)
    m_, t_, b_ = r.shape
    want = brute_weights(r, "coala") - v / b_
    for m, b in itertools.product(range(m_ - 1), range(b_)):
        want[m, :, b] -= (v[m + 1, 0].sum() - v[m + 1, 0, b]) / b_
    np.testing.assert_allclose(estimator.gae_weights(jnp.asarray(r), jnp.asarray(v), 1.0, 1.0),
                               want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("gamma, lam", [(1.0, 0.0), (0.9, 0.0), (1.0, 0.5), (0.9, 0.7)])
def test_gae_matches_its_double_sum(gamma, lam):
    r, v = random_rv(10)
    got = np.asarray(estimator.gae_weights(jnp.asarray(r), jnp.asarray(v), gamma, lam))
    np.testing.assert_allclose(got, brute_gae(r, v, gamma, lam), rtol=1e-5, atol=1e-4)
    if lam == 0.0:  # the per-step TD error alone, own game, scaled 1/B
        np.testing.assert_allclose(got, brute_td_errors(r, v, gamma) / r.shape[2], rtol=1e-5, atol=1e-5)


def test_value_targets_and_horizon_are_the_discounted_sums():
    r, _ = random_rv(11, (2, 3, 2))
    y = np.asarray(estimator.value_targets(jnp.asarray(r), 0.8)).reshape(6, 2)
    h = np.asarray(estimator.horizon(2, 3, 0.8)).reshape(6)
    flat = r.reshape(6, 2)
    for s in range(6):
        np.testing.assert_allclose(y[s], sum(0.8 ** (k - s) * flat[k] for k in range(s, 6)), rtol=1e-5)
        assert h[s] == pytest.approx(sum(0.8 ** k for k in range(6 - s)), rel=1e-6)


def test_critic_value_loss_decreases_on_a_fixed_batch():
    """Adam on the critic's value loss over one fixed batch of rollouts (agent vs naive
    learners): the loss falls to a tenth of its start (a zero critic) and below the loss of
    the best constant per-step value (most of what is left is the rollouts' own noise)."""
    agent = players.sequence_agent(players.init_agent(jax.random.PRNGKey(12), 4, 4, 0.0), 4)
    naive = players.naive_learner(3.0, 0.9, 0.5)
    tr = jax.vmap(lambda k: rollout.meta_trajectory(agent, naive, k, 3, 3, 4))(
        jax.random.split(jax.random.PRNGKey(13), 8))
    obs, rew = tr.obs1, tr.rewards1                                   # (K, M, T, B)
    params = critic.init_critic(jax.random.PRNGKey(14), 4, 4)
    opt = optax.adam(3e-2)
    loss = jax.jit(lambda p: critic.value_loss(p, obs, rew, 1.0, "sequential"))

    @jax.jit
    def fit(p, s):
        g = jax.grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    start, state = float(loss(params)), opt.init(params)
    for _ in range(150):
        params, state = fit(params, state)
    per_step_target = np.asarray(jax.vmap(lambda x: estimator.value_targets(x, 1.0))(rew)
                                 / estimator.horizon(3, 3, 1.0))
    assert start == pytest.approx(float(np.mean(per_step_target ** 2)), rel=1e-5)   # zero critic
    end = float(loss(params))
    assert end < 0.1 * start and end < float(np.var(per_step_target)), (start, end)


M, T, B, LR, GAMMA = 2, 2, 3, 2.0, 1.0
THETA0 = jnp.array([0.3, -0.2, 0.5, 0.1, -0.4])
PHI0 = jnp.array([0.2, 0.4, -0.3, 0.6, -0.1])


def episode_value(phi: jax.Array, theta: jax.Array) -> jax.Array:
    """Exact expected per-game return of T steps of memory-one phi vs memory-one theta."""
    d, total = jnp.zeros(5).at[0].set(1.0), 0.0
    for _ in range(T):
        p1, p2 = jax.nn.sigmoid(phi), jax.nn.sigmoid(theta[ipd.SWAP])
        joint = d[:, None, None] * jnp.stack([p1, 1 - p1], -1)[:, :, None] * jnp.stack([p2, 1 - p2], -1)[:, None, :]
        total = total + jnp.sum(joint * ipd.PAYOFF[None])
        d = jnp.zeros(5).at[1:].set(joint.sum(0).reshape(4))
    return total


def exact_meta_return(phi: jax.Array) -> tuple[jax.Array, jax.Array]:
    """J(phi) = E[(1/B) sum_b (R^b_1 + R^b_2)] with the naive learner's sampled update after
    episode 1: every one of the 16^B joint outcomes of episode 1 enumerated, episode 2
    exact given the updated learner. Returns (J, total probability of the outcomes)."""
    games = np.array(list(itertools.product(range(2), repeat=2 * T))).reshape(-1, T, 2)
    outcomes = games[np.array(list(itertools.product(range(len(games)), repeat=B)))]  # (C, B, T, 2)
    a1 = jnp.asarray(outcomes[..., 0]).transpose(0, 2, 1)
    a2 = jnp.asarray(outcomes[..., 1]).transpose(0, 2, 1)                               # (C, T, B)
    obs1 = jnp.concatenate([jnp.zeros_like(a1[:, :1]), ipd.joint_state(a1, a2)[:, :-1]], 1)
    obs2 = ipd.SWAP[obs1]
    p = jnp.exp((ipd.log_prob(phi[obs1], a1) + ipd.log_prob(THETA0[obs2], a2)).sum((1, 2)))
    theta1 = jax.vmap(lambda o, a, r: players.naive_update(THETA0, players.Episode(o, a, r), LR, GAMMA))(
        obs2, a2, ipd.PAYOFF[a2, a1])
    v2 = jax.vmap(lambda th: episode_value(phi, th))(theta1)
    return jnp.sum(p * (ipd.PAYOFF[a1, a2].sum(1).mean(1) + v2)), p.sum()


def test_coala_pg_is_unbiased_and_its_baselines_are_not():
    """The estimator's mean over 60,000 meta-trajectories vs the exact gradient of the
    exact meta-return (naive learner with sampled REINFORCE updates, memory-one agent).
    ``coala_gae`` runs with lambda = 1 and an arbitrary critic V(episode, step, state) (a
    function of the history before each action): unbiased for any critic; with lambda = 0.5
    it is biased (the test has power on the GAE path too)."""
    j, total = exact_meta_return(PHI0)
    assert float(total) == pytest.approx(1.0, abs=1e-5)
    exact = np.asarray(jax.grad(lambda phi: exact_meta_return(phi)[0])(PHI0))
    n = 60_000
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    agent, naive = players.tabular_agent(PHI0), players.naive_learner(LR, GAMMA, 0.0, THETA0)
    table = -2.0 + jax.random.normal(jax.random.PRNGKey(15), (M, T, 5))   # V(m, t, state)

    @jax.jit
    def estimates(kind, lam=1.0):
        def one(key):
            tr = rollout.meta_trajectory(agent, naive, key, M, T, B)
            v = table[jnp.arange(M)[:, None, None], jnp.arange(T)[None, :, None], tr.obs1]
            w = jnp.where(kind == estimator.GAE, estimator.gae_weights(tr.rewards1, v, 1.0, lam),
                          estimator.weights(tr.rewards1, kind))
            g = jax.grad(lambda phi: -estimator.surrogate(ipd.log_prob(phi[tr.obs1], tr.actions1), w))(PHI0)
            return g * M * T, tr.rewards1.sum((0, 1)).mean()
        return jax.vmap(one)(keys)

    z, std = {}, {}
    for i, kind in enumerate(estimator.KINDS):
        g, ret = estimates(i)
        g = np.asarray(g, np.float64)
        z[kind], std[kind] = (g.mean(0) - exact) / (g.std(0) / np.sqrt(n)), g.std(0)
        if i == 0:  # the exact meta-return itself agrees with the sampled returns
            assert abs(float(ret.mean()) - float(j)) < 4 * float(ret.std()) / np.sqrt(n)
    assert np.abs(z["coala"]).max() < 4.0, z["coala"]
    assert np.abs(z["coala_gae"]).max() < 4.0, z["coala_gae"]
    assert not np.allclose(std["coala_gae"], std["coala"], rtol=1e-3)   # the critic did act
    g = np.asarray(estimates(estimator.GAE, 0.5)[0], np.float64)
    assert np.abs((g.mean(0) - exact) / (g.std(0) / np.sqrt(n))).max() > 5.0
    assert np.abs(z["no_batch"]).max() > 5.0, z["no_batch"]
    assert np.abs(z["naive"]).max() > 5.0, z["naive"]


# ------------------------------------------------------------------ zero-determinant fits
def stationary_payoffs(p: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """Long-run average payoffs of memory-one p (X) vs q (Y), both in X's state order."""
    q_y = q[[0, 2, 1, 3]]
    mat = np.zeros((4, 4))
    for s in range(4):
        for a1, a2 in itertools.product(range(2), repeat=2):
            pa = p[s] if a1 == 0 else 1 - p[s]
            pb = q_y[s] if a2 == 0 else 1 - q_y[s]
            mat[s, 2 * a1 + a2] += pa * pb
    w, v = np.linalg.eig(mat.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    pi /= pi.sum()
    sx = np.array([ipd.R, ipd.S, ipd.T, ipd.P])
    sy = np.array([ipd.R, ipd.T, ipd.S, ipd.P])
    return float(pi @ sx), float(pi @ sy)


def test_zd_fit_recovers_the_extortion_factor_that_the_payoffs_obey():
    for chi in (1.0, 2.0, 3.0):
        p = zd.zd_policy(chi, 0.1)
        assert np.all((p >= 0) & (p <= 1))
        fit_chi, fit_phi, resid = zd.fit_extortion(p)
        assert fit_chi == pytest.approx(chi, rel=1e-6) and fit_phi == pytest.approx(0.1) and resid < 1e-9
        for q in np.random.RandomState(0).uniform(0.05, 0.95, (3, 4)):
            sx, sy = stationary_payoffs(p, q)
            assert zd.surplus_ratio(sx, sy) == pytest.approx(chi, rel=1e-4)
    assert zd.fit_extortion(np.array([0.9, 0.1, 0.9, 0.1]))[2] > 0.05  # win-stay lose-shift is not ZD


# ------------------------------------------------------------------ the run axis, configs
@pytest.mark.e2e  # compiles the meta-training chunk twice (~30 s)
def test_a_vmapped_seed_equals_the_seed_alone():
    c = config_lib.load(SMOKE, ["--config.train.chunk_steps=2"])  # 2 meta-steps: a small program
    trainer = meta.make_trainer(c)
    hp = {"learning_rate": jnp.full((3,), 0.05), "pool_naive": jnp.array([1.0, 0.5, 0.0]),
          "estimator": jnp.zeros((3,), jnp.int32)}
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    state = jax.vmap(trainer.init)(keys, hp)
    together, _ = jax.jit(jax.vmap(trainer.train_chunk))(state, hp)
    one = jax.tree.map(lambda x: x[1], state)
    alone, _ = jax.jit(trainer.train_chunk)(one, jax.tree.map(lambda x: x[1], hp))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a[1], b, rtol=1e-5, atol=1e-6),
                 together.params, alone.params)
    assert not np.allclose(together.params["a1"]["w_out"][0], together.params["a1"]["w_out"][1])


@pytest.mark.e2e  # compiles two meta-training chunks (~30 s)
def test_a_critic_in_the_program_leaves_the_other_runs_unchanged():
    """A program with a ``coala_gae`` run builds critics for every run; its ``coala`` run
    must equal the same run in a program without critics, and the GAE run's critic learns."""
    gae = config_lib.load(SMOKE, ["--config.train.chunk_steps=2",
                                  "--config.sweep.axes.estimator=('coala','coala_gae')"])
    plain = config_lib.load(SMOKE, ["--config.train.chunk_steps=2"])
    assert meta.uses_critic(gae) and not meta.uses_critic(plain)
    hp = {"learning_rate": jnp.full((2,), 0.05), "pool_naive": jnp.array([0.5, 0.5]),
          "estimator": jnp.array([0, estimator.GAE], jnp.int32)}
    keys = jax.random.split(jax.random.PRNGKey(16), 2)
    with_critic = meta.make_trainer(gae)
    state, metrics = jax.jit(jax.vmap(with_critic.train_chunk))(jax.vmap(with_critic.init)(keys, hp), hp)
    without = meta.make_trainer(plain)
    one = lambda tree: jax.tree.map(lambda x: x[0], tree)
    alone, _ = jax.jit(without.train_chunk)(without.init(keys[0], one(hp)), one(hp))
    for n in ("a1", "a2"):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[0], b, rtol=1e-5, atol=1e-6),
                     state.params[n], alone.params[n])
    assert np.asarray(state.healthy).all() and np.all(np.isfinite(np.asarray(metrics["value_loss"])))
    assert np.abs(np.asarray(state.params["v1"]["w_out"][1])).max() > 0    # zero-initialised head moved


@pytest.mark.e2e  # two smoke runs (~1 min)
def test_a_gae_run_stopped_and_resumed_equals_uninterrupted(tmp_path):
    """The critics and their optimizer state are part of the checkpointed run state."""
    from jaxlab import papers
    gae = ["--config.sweep.axes.estimator=('coala','coala_gae')", "--config.sweep.axes.pool_naive=(0.5,)"]
    want = papers.run(config_lib.load(SMOKE, gae), str(tmp_path / "a"), progress=False)
    stopped = str(tmp_path / "b")
    assert papers.run(config_lib.load(SMOKE, gae), stopped, progress=False, should_stop=lambda c: c >= 1) is None
    got = papers.run(config_lib.load(SMOKE, gae), stopped, progress=False)
    assert set(got.tables) == set(want.tables)
    for table in want.tables:
        pd.testing.assert_frame_equal(got.tables[table], want.tables[table], check_exact=False, rtol=1e-6, atol=1e-9)
    assert set(want.tables["summary"].estimator) == {"coala", "coala_gae"}


@pytest.mark.parametrize("override, field", [
    ("--config.game.steps=0", "game.steps"), ("--config.game.batch=-1", "game.batch"),
    ("--config.game.episodes=1", "game.episodes"), ("--config.naive.gamma=1.5", "naive.gamma"),
    ("--config.naive.learning_rate=0.0", "naive.learning_rate"), ("--config.hp.pool_naive=1.2", "hp.pool_naive"),
    ("--config.sweep.axes.pool_naive=(0.5,-0.1)", "sweep.axes.pool_naive"),
    ("--config.hp.estimator=lola", "hp.estimator"), ("--config.eval.late_episodes=4", "eval.late_episodes"),
    ("--config.coala.baseline_decay=1.0", "coala.baseline_decay"), ("--config.agent.hidden=0", "agent.hidden"),
    ("--config.eval.meta_batch=0", "eval.meta_batch"), ("--config.naive.init_std=-1.0", "naive.init_std"),
    ("--config.coala.gae_lambda=1.5", "coala.gae_lambda"), ("--config.coala.gae_lambda=-0.1", "coala.gae_lambda"),
    ("--config.coala.value_learning_rate=0.0", "coala.value_learning_rate")])
def test_impossible_values_are_one_line_errors(override, field):
    with pytest.raises(ConfigError) as err:
        study.validate(config_lib.load(SMOKE, [override]))
    assert f"config.{field}" in str(err.value) and "\n" not in str(err.value)
