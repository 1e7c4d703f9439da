"""Task families: sampler statistics, exact oracles against brute force, Monte-Carlo oracles'
error bars against known answers, finite pools, and the study building every family."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.config import ConfigError
from jaxlab.tasks import baselines, inference, oracles
from jaxlab.tasks.chebyshev import ChebyshevRegression, chebyshev_features
from jaxlab.tasks.classification import LinearClassification
from jaxlab.tasks.dynamics import TransitionMatrix
from jaxlab.tasks.gp import GPRegression, _grid, kernel_matrix, predictive_given
from jaxlab.tasks.linear import LinearRegression
from jaxlab.tasks.mlp_tasks import LowRankMLPRegression, MLPRegression, fastfood_matrix, fastfood_vars
from jaxlab.tasks.pool import FinitePool
from jaxlab.tasks.sinusoid import SinusoidRegression

KEY = jax.random.PRNGKey(0)

FAMILIES = {
    "chebyshev": ChebyshevRegression(),
    "mlp": MLPRegression(),
    "lowrank_mlp": LowRankMLPRegression(),
    "classification": LinearClassification(),
    "gp_rbf": GPRegression("rbf"),
    "gp_matern": GPRegression("matern52"),
    "dynamics": TransitionMatrix(),
    "sinusoid": SinusoidRegression(),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_samplers_have_the_documented_shapes_and_are_pure_functions_of_the_key(name):
    task = FAMILIES[name]
    sample = jax.jit(lambda k: task.sample(k, 3, 5))
    a, b, c = sample(KEY), sample(KEY), sample(jax.random.PRNGKey(1))
    x, y = task.encode(a)
    assert x.shape == (3, 5, task.x_dim) and y.shape == (3, 5, task.y_dim)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a.x, c.x)


def _moments(task, n_tasks=3000, n_points=8):
    ep = jax.jit(lambda k: task.sample(k, n_tasks, n_points))(KEY)
    return ep, float(jnp.var(ep.y)), float(jnp.mean(ep.y))


def test_prior_variances_match_their_closed_forms():
    _, var, mean = _moments(ChebyshevRegression(x_dim=2))  # the fixed normalisation: Var(y)=1
    assert abs(mean) < 0.05 and var == pytest.approx(1.0, rel=0.1)
    mlp = MLPRegression(noise=0.0)
    _, var, _ = _moments(mlp)
    assert var == pytest.approx(mlp.prior_var(), rel=0.1)
    # GP: Var(y) = E[s^2] + jitter^2 for s ~ U(0.1, 1)
    _, var, _ = _moments(GPRegression(), 2000, 4)
    assert var == pytest.approx((1 - 0.1**3) / (3 * 0.9) + 0.02**2, rel=0.06)
    # sinusoid: the latent/point split draws the same prior as ``sample``
    sin = SinusoidRegression()
    ep = jax.jit(lambda k: sin.sample_given(KEY, sin.sample_latent(k, 3000), 8))(jax.random.PRNGKey(3))
    assert float(jnp.var(ep.y)) == pytest.approx(_moments(sin)[1], rel=0.06)


def test_classification_labels_are_the_argmax_at_tiny_temperature():
    task = LinearClassification(x_dim=2, n_classes=3)
    ep = task.sample(KEY, 200, 16)
    logits = jax.vmap(task.predict)(ep.w, ep.x)
    np.testing.assert_array_equal(ep.y[..., 0], jnp.argmax(logits, -1))
    counts = np.bincount(np.asarray(ep.y).ravel(), minlength=3) / ep.y.size
    np.testing.assert_allclose(counts, 1 / 3, atol=0.05)


def test_transition_matrices_have_unit_spectral_radius_and_trajectories_follow_euler():
    task = TransitionMatrix()
    ep = task.sample(KEY, 16, 4)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(np.asarray(ep.w))), -1), 1, rtol=1e-4)
    traj = np.concatenate([ep.x, ep.y], -1).reshape(16, 4, 40, 3)
    step = traj[:, :, :-1] + 0.01 * np.einsum("bnti,bij->bntj", traj[:, :, :-1], ep.w)
    np.testing.assert_allclose(traj[:, :, 1:], step, atol=1e-5)


def _fwht(v):
    """Unnormalised Walsh-Hadamard transform by repeated halving (the reference's recursion)."""
    v = np.array(v, dtype=np.float64)
    h = 1
    while h < len(v):
        v = v.reshape(-1, 2, h)
        v = np.stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]], 1).reshape(-1)
        h *= 2
    return v


@pytest.mark.parametrize("dim,z_dim", [(64, 10), (5, 3), (1, 10)])
def test_dense_fastfood_matrix_equals_the_fastfood_transform(dim, z_dim):
    mat = fastfood_matrix(dim, z_dim, np.random.default_rng(7))
    b, perm, g = fastfood_vars(dim, np.random.default_rng(7))
    ll = b.shape[0]
    z = np.random.default_rng(1).standard_normal(z_dim)
    padded = np.zeros(ll)
    padded[: min(ll, z_dim)] = z[:ll]  # the reference's pad (a truncation when ll < z_dim)
    out = _fwht(g * _fwht(b * padded)[perm])[:dim] / (np.sqrt(ll * np.sum(g**2)) * np.sqrt(dim / ll))
    np.testing.assert_allclose(mat @ z, out, rtol=1e-6, atol=1e-9)


def test_low_rank_mlp_moves_a_shared_base_along_the_projection():
    task = LowRankMLPRegression()
    theta0, _ = task.base
    zero = task.params(jnp.zeros(task.z_dim))
    for k in theta0:
        np.testing.assert_allclose(zero[k], theta0[k])
    ep = task.sample(KEY, 64, 8)
    assert float(jnp.var(ep.y.mean(1))) > 0.1  # tasks differ


def test_gp_predictive_matches_numpy_conditioning():
    x = np.random.default_rng(0).standard_normal((7, 1)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal(7).astype(np.float32)
    for kind in ("rbf", "matern52"):
        mean, var, _ = predictive_given(jnp.asarray(x), jnp.asarray(y), 0.4, 0.8, kind)
        k = np.asarray(kernel_matrix(jnp.asarray(x), 0.4, 0.8, kind), np.float64)
        for i in range(1, 7):
            sol = np.linalg.solve(k[:i, :i], k[:i, i])
            np.testing.assert_allclose(mean[i], sol @ y[:i], rtol=1e-3, atol=1e-4)
            np.testing.assert_allclose(var[i], k[i, i] - sol @ k[:i, i], rtol=1e-3, atol=1e-5)


def test_gp_oracle_is_the_hyperparameter_mixture_by_brute_force():
    task = GPRegression("rbf")
    ep = task.sample(KEY, 1, 6)
    pred = np.asarray(jax.jit(lambda x, y: task.mixture_predictive(x, y, 4))(ep.x[0], ep.y[0, :, 0]))
    x, y = np.asarray(ep.x[0], np.float64), np.asarray(ep.y[0, :, 0], np.float64)
    lg, sg = _grid(4)
    for i in range(6):
        logw, means = [], []
        for l_, s_ in zip(lg, sg):
            k = np.asarray(kernel_matrix(jnp.asarray(x), l_, s_, "rbf"), np.float64)
            kc = k[:i, :i]
            logw.append(-0.5 * y[:i] @ np.linalg.solve(kc, y[:i]) - 0.5 * np.linalg.slogdet(kc)[1]
                        if i else 0.0)
            means.append(k[i, :i] @ np.linalg.solve(kc, y[:i]) if i else 0.0)
        w = np.exp(np.array(logw) - max(logw))
        np.testing.assert_allclose(pred[i], w @ np.array(means) / w.sum(), rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_chebyshev_oracle_matches_float64_closed_form(noise):
    task = ChebyshevRegression(noise=noise)
    ep = task.sample(KEY, 6, 7)
    loss = np.asarray(jax.jit(lambda e: task.oracle(e)["loss"])(ep))
    phi = np.asarray(chebyshev_features(ep.x, 3), np.float64)
    y = np.asarray(ep.y[..., 0], np.float64)
    v = task.coef_var
    for b in range(6):
        for k in range(7):
            kern = v * phi[b, :k] @ phi[b, :k].T + noise**2 * np.eye(k)
            m = v * phi[b, k] @ phi[b, :k].T @ np.linalg.pinv(kern, rcond=1e-10) @ y[b, :k] if k else 0.0
            np.testing.assert_allclose(loss[b, k], (m - y[b, k]) ** 2, rtol=1e-2, atol=1e-4)


def _pool_enumeration(pool, ep, noise):
    """Brute force: posterior over the pool's tasks by explicit loops, float64."""
    lat = np.asarray(pool.latents, np.float64)  # (M, x_dim + 1, O): linear models
    out = []
    for b in range(ep.x.shape[0]):
        x = np.asarray(ep.x[b], np.float64)
        preds = np.einsum("np,mpo->mno", np.concatenate([x, np.ones((len(x), 1))], -1), lat)
        if pool.kind == "classification":
            probs = np.exp(preds / pool.temperature - np.logaddexp.reduce(preds / pool.temperature, -1, keepdims=True))
            lik = probs[:, np.arange(x.shape[0]), np.asarray(ep.y[b, :, 0])]
            row = []
            for k in range(x.shape[0]):
                w = np.prod(lik[:, :k], axis=1)
                row.append(-np.log(w @ lik[:, k] / w.sum()))
        else:
            y = np.asarray(ep.y[b], np.float64)
            ll = -0.5 * np.sum((preds - y) ** 2, -1) / noise**2
            row = []
            for k in range(x.shape[0]):
                w = np.exp(ll[:, :k].sum(1) - ll[:, :k].sum(1).max())
                row.append(np.mean((w @ preds[:, k] / w.sum() - y[k]) ** 2))
        out.append(row)
    return np.array(out)


def test_pool_draws_only_its_tasks_and_its_oracle_is_the_enumerated_posterior():
    pool = FinitePool(LinearRegression(2, 1, 0.3), 5, seed=3)
    ep = pool.sample(KEY, 200, 6)
    distinct = np.unique(np.asarray(ep.w).reshape(200, -1), axis=0)
    assert len(distinct) == 5
    np.testing.assert_allclose(np.sort(distinct, 0), np.sort(np.asarray(pool.latents).reshape(5, -1), 0))
    small = jax.tree.map(lambda a: a[:4], ep)
    np.testing.assert_allclose(jax.jit(lambda e: pool.oracle(e)["loss"])(small),
                               _pool_enumeration(pool, small, 0.3), rtol=1e-3, atol=1e-5)
    cls = FinitePool(LinearClassification(temperature=0.5), 6, seed=1)
    ep = cls.sample(KEY, 4, 6)
    np.testing.assert_allclose(jax.jit(lambda e: cls.oracle(e)["loss"])(ep),
                               _pool_enumeration(cls, ep, None), rtol=1e-3, atol=1e-5)


def test_dynamics_oracle_is_exact_without_noise():
    task = TransitionMatrix()
    ep = task.sample(KEY, 8, 5)
    loss = jax.jit(lambda ep: task.oracle(ep)["loss"])(ep)
    assert float(loss.max()) < 1e-4 * float(jnp.mean(ep.y**2))


@functools.lru_cache(maxsize=None)
def _sinusoid_oracle(noise, n_samples):
    task = SinusoidRegression(noise=noise)
    return task, jax.jit(lambda ep, k: task.oracle(ep, k, n_samples=n_samples))


def test_sinusoid_mc_oracle_error_bar_covers_the_known_prior_predictive():
    """At k = 0 the predictive mean is known: sum_j 0.5 sin(f_j x). The MC gen_error must
    sit within its bias + 4 standard errors of the exact one, and beats ridge."""
    task, oracle = _sinusoid_oracle(0.0, 256)
    ep = task.sample(KEY, 512, 4)
    agg = inference.aggregate(oracle(ep, jax.random.PRNGKey(5)))
    exact = jnp.mean(jnp.square(0.5 * task.features(ep.x[:, 0]).sum(-1) - ep.y[:, 0, 0]))
    gap = float(agg["gen_error"][0] - exact)
    assert -4 * float(agg["mc_se"][0]) <= gap <= float(agg["mc_bias"][0]) + 4 * float(agg["mc_se"][0])
    assert float(agg["mc_se"][0]) < 0.05 * float(exact)
    # noise 0: three points pin the three amplitudes, so the fourth is predicted exactly up
    # to float32 conditioning (three context x near 0 give nearly collinear features)
    assert float(agg["gen_error"][3]) < 1e-2 * float(exact)
    ridge = jax.jit(lambda x, y: baselines.ridge(x, y, 1.0)["loss"].mean(0))(ep.x, ep.y)
    assert np.all(np.asarray(agg["gen_error"][1:]) < np.asarray(ridge[1:]))


def test_sinusoid_mc_oracle_matches_brute_force_prior_sampling_with_noise():
    """With noise 0.1 the posterior is a truncated Gaussian; brute-force importance sampling
    from the U(0,1)^3 prior with 100k samples is the reference; per-point estimates agree
    within 4 standard errors (combined)."""
    task, oracle = _sinusoid_oracle(0.1, 512)
    ep = task.sample(jax.random.PRNGKey(2), 4, 3)
    terms = jax.jit(lambda ep, k: oracles.importance_oracle(task, ep, k, 100_000, block=1))
    ref = terms(ep, jax.random.PRNGKey(3))
    got = oracle(ep, jax.random.PRNGKey(4))
    se = jnp.sqrt(jnp.square(got["_se"]) + jnp.square(ref["_se"]))
    assert bool(jnp.all(jnp.abs(got["_pred"] - ref["_pred"]) <= 4 * se + 1e-4))
    assert float(jnp.max(got["_se"])) < 0.05


def test_generic_importance_oracle_error_bar_covers_the_exact_linear_answer():
    task = LinearRegression(x_dim=1, y_dim=1, noise=0.3)
    ep = task.sample(KEY, 256, 5)
    agg = inference.aggregate(jax.jit(
        lambda ep, k: oracles.importance_oracle(task, ep, k, 2048))(ep, jax.random.PRNGKey(1)))
    exact = jax.jit(lambda e: task.oracle(e)["loss"].mean(0))(ep)
    gap = np.asarray(agg["gen_error"] - exact)
    se, bias = np.asarray(agg["mc_se"]), np.asarray(agg["mc_bias"])
    assert np.all(gap >= -4 * se - 1e-5) and np.all(gap <= bias + 4 * se + 1e-5)
    # both bias estimates agree in size here (ESS is large), and are small
    np.testing.assert_allclose(agg["mc_split_bias"], bias, atol=4 * se.max())
    assert np.all(np.asarray(agg["ess"]) > 20)


def test_marginal_frequency_is_the_add_one_running_histogram():
    labels = jnp.asarray([[0, 0, 1, 0]])
    loss = baselines.marginal_frequency(jax.nn.one_hot(labels, 2), 1)["loss"][0]
    want = -np.log([1 / 2, 2 / 3, 1 / 4, 3 / 5])
    np.testing.assert_allclose(loss, want, rtol=1e-6)


def test_ridge_baseline_is_bayes_on_linear_tasks_at_the_matching_penalty():
    task = LinearRegression(x_dim=3, y_dim=1, noise=0.2)
    ep = task.sample(KEY, 64, 10)
    lam = task.noise**2 / task.prior_var
    # ridge with unit noise and prior I/lam has the posterior mean of the Bayes model
    ridge, bayes = jax.jit(lambda ep: (baselines.ridge(ep.x, ep.y, lam)["loss"],
                                       task.oracle(ep)["loss"]))(ep)
    np.testing.assert_allclose(ridge, bayes, rtol=2e-3, atol=1e-5)


# --- the study ---------------------------------------------------------------------------

STUDY_FAMILIES = ("chebyshev", "lowrank_mlp", "classification", "gp_matern", "dynamics",
                  "sinusoid", "linear,pool", "mastermind")


def _config(arg, *overrides):
    from jaxlab import config as config_lib
    from conftest import ROOT
    import os

    return config_lib.load(os.path.join(ROOT, "configs", "icl_occam.py") + ":smoke," + arg,
                           list(overrides))


@pytest.mark.parametrize("arg", STUDY_FAMILIES)
def test_the_study_validates_and_builds_every_family(arg):
    from jaxlab.papers.icl_occam import study

    config = _config(arg)
    study.validate(config)
    learner = study.make_learner(config)
    params = jax.eval_shape(learner.init_params, KEY)
    batch = jax.eval_shape(learner.sample_batch, KEY)
    hp = {"learning_rate": jnp.float32(1e-3), "objective": jnp.int32(0)}
    loss, _ = jax.eval_shape(learner.loss, params, batch, hp, KEY)
    assert loss.shape == ()
    n = config.eval.n_points - config.train.min_context
    rows = jax.eval_shape(lambda k: study.bayes_evaluate(config, k), KEY)
    assert rows["gen_error"].shape == (n,)
    assert jax.eval_shape(lambda k: study.baseline_evaluate(config, k), KEY)["gen_error"].shape == (n,)
    assert study.oracle_method(config)


@pytest.mark.parametrize("arg,override,field", [
    ("mlp", "--config.task.noise=0.0", "task.noise"),
    ("gp_rbf,pool", None, "task.pool_size"),
    ("classification", "--config.sgd.enabled=True", "sgd.enabled"),
    ("classification", "--config.task.n_classes=1", "task.n_classes"),
    ("dynamics", "--config.task.dt=0.0", "task.dt"),
    ("chebyshev", "--config.task.degree=-1", "task.degree"),
])
def test_impossible_task_parameters_are_one_line_errors(arg, override, field):
    from jaxlab.papers.icl_occam import study

    config = _config(arg, *([override] if override else []))
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as err:
        study.validate(config)
    assert "\n" not in str(err.value)
