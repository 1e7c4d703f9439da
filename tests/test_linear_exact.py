"""The exact linear Bayes risk (quadrature) against estimates that share none of its steps."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jaxlab.tasks.linear import LinearRegression
from jaxlab.tasks.linear_exact import exact_bayes_risk

TASK = LinearRegression(x_dim=3, y_dim=1, noise=0.2)


def test_exact_risk_matches_monte_carlo_over_the_tasks_own_episodes():
    """n = 1, 2, 5: the quadrature vs the task's own closed form given the context
    (tasks/linear.py: noise^2 + tr of the posterior covariance, a direct matrix inverse)
    averaged over 100,000 contexts from its sampler: no centring, rotation or Wishart step."""
    ep = TASK.sample(jax.random.PRNGKey(11), 100_000, 5)
    var = TASK.expected_bayes_risk(ep.x)  # (B, 6): context sizes 0..5
    mc = np.asarray(jnp.mean(var, 0))
    se = np.asarray(jnp.std(var, 0)) / np.sqrt(var.shape[0])
    for n in (1, 2, 5):
        assert se[n] < 2.5e-4  # so that the 1e-3 tolerance is a check at 4 standard errors
        exact = exact_bayes_risk(TASK, n)
        assert abs(exact - mc[n]) < 1e-3, (n, exact, mc[n], se[n])
    assert abs(exact_bayes_risk(TASK, 0) - mc[0]) < 4 * se[0] + 1e-6  # prior: noise^2 + 4 * 1/4


def test_exact_risk_at_one_point_matches_a_one_dimensional_integral():
    """n = 1 by a second exact route: A = cI + phi phi^T / s has rank-one structure, so
    tr A^-1 = 4/c - |phi|^2 / (c (s c + |phi|^2)) with |phi|^2 = 1 + chi2_3."""
    c, s = 4.0, 0.04
    f = lambda q: (4 / c - (1 + q) / (c * (s * c + 1 + q)) + s) * stats.chi2.pdf(q, 3)
    direct, _ = integrate.quad(f, 0, np.inf, epsabs=1e-12)
    assert abs(exact_bayes_risk(TASK, 1) - direct) < 1e-7


def test_exact_risk_is_converged_and_decreasing():
    """Doubling the nodes moves no value by more than 1e-6, and R(n) falls toward noise^2."""
    ns = (1, 2, 3, 5, 10, 20)
    coarse = [exact_bayes_risk(TASK, n) for n in ns]
    fine = [exact_bayes_risk(TASK, n, nodes=20, u_nodes=90) for n in ns]
    np.testing.assert_allclose(coarse, fine, atol=1e-6)
    assert all(a > b > 0.04 for a, b in zip(coarse, coarse[1:]))


@pytest.mark.parametrize("task,n", [(TASK, -1), (TASK, 1.5),
                                    (LinearRegression(x_dim=3, y_dim=1, noise=0.0), 2)])
def test_bad_input_is_named(task, n):
    with pytest.raises(ValueError, match="n must|noise"):
        exact_bayes_risk(task, n)
