"""The linear-regression task family and its exact Bayes oracle."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.tasks.linear import LinearRegression

TASK = LinearRegression(x_dim=3, y_dim=1, noise=0.2)


def test_sample_statistics_match_the_prior():
    ep = TASK.sample(jax.random.PRNGKey(0), 4000, 16)
    assert ep.x.shape == (4000, 16, 3) and ep.y.shape == (4000, 16, 1) and ep.w.shape == (4000, 4, 1)
    # Var(y) = Var([x,1] w) + noise^2 = 1 + 0.04 under the prior.
    np.testing.assert_allclose(float(jnp.var(ep.y)), 1.04, rtol=0.03)
    np.testing.assert_allclose(float(jnp.var(ep.w)), 0.25, rtol=0.03)


def test_posterior_matches_importance_sampling_from_the_prior():
    """Posterior mean/cov after 2 points vs self-normalised importance sampling."""
    ep = TASK.sample(jax.random.PRNGKey(1), 1, 2)
    mean, cov = TASK.posterior(ep.x, ep.y)
    w = jax.random.normal(jax.random.PRNGKey(2), (400_000, 4)) * 0.5
    phi = jnp.concatenate([ep.x[0], jnp.ones((2, 1))], axis=-1)
    resid = ep.y[0, :, 0][None] - w @ phi.T
    logw = -0.5 * jnp.sum(resid**2, axis=1) / TASK.noise**2
    p = jax.nn.softmax(logw)
    mc_mean = p @ w
    mc_cov = (w - mc_mean).T @ ((w - mc_mean) * p[:, None])
    np.testing.assert_allclose(mean[0, 2, :, 0], mc_mean, atol=0.02)
    np.testing.assert_allclose(cov[0, 2], mc_cov, atol=0.02)


def test_bayes_risk_closed_form_matches_monte_carlo():
    """The oracle's mean squared error over many episodes equals noise^2 + E tr(Sigma_k)."""
    ep = TASK.sample(jax.random.PRNGKey(3), 20_000, 8)
    pred, var = TASK.bayes_next_token(ep.x, ep.y)
    mse = jnp.mean(jnp.square(pred - ep.y)[..., 0], axis=0)
    closed = jnp.mean(TASK.expected_bayes_risk(ep.x), axis=0)[:-1]
    np.testing.assert_allclose(mse, closed, rtol=0.04)
    np.testing.assert_allclose(jnp.mean(var, axis=0), closed, rtol=0.02)  # both Monte-Carlo
    np.testing.assert_allclose(float(closed[0]), 1.04, rtol=1e-5)  # prior predictive
    # The exact Bayes risk R(n) (ours, jaxlab.tasks.linear_exact; docs/icl_occam.md): .803 at
    # n = 1, .581 at n = 2.
    np.testing.assert_allclose(closed[1:3], [0.803, 0.581], atol=0.02)
