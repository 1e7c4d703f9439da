"""The inductive-bias paper's own science: the chi-squared estimator, the samplers, bad input.

Every number asserted is checked against an independent route: samples of a known
distribution, Imhof's exact CDF of a Gaussian quadratic form, the closed-form Gaussian
conditional, or a member trained on its own.
"""
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from conftest import ROOT, assert_refused_before_writing
from jaxlab import config as config_lib
from jaxlab import runner
from jaxlab.papers.inductive_bias import estimator as E
from jaxlab.papers.inductive_bias import kernel, study, tasks
from jaxlab.papers.inductive_bias.ensemble import ConvNet, conv3x3, make_learner
from jaxlab.train import build_trainer

SMOKE = os.path.join(ROOT, "configs", "inductive_bias.py") + ":smoke"


# ----------------------------------------------------------------------------- estimator
def test_the_fit_recovers_a_known_scaled_noncentral_chi_squared():
    true = E.Ncx2Fit(4.0, 6.0, 0.05)
    x = stats.ncx2.rvs(true.df, true.nc, scale=true.scale, size=3000, random_state=0)
    fit = E.fit_ncx2(x)
    # df and nc trade off along a shallow ridge (3,000 samples pin them to ~30 %); the
    # scale, the first two moments and the lower tail are pinned much tighter
    assert abs(fit.df - 4) < 1.5 and abs(fit.nc - 6) < 2.0 and abs(fit.scale / 0.05 - 1) < 0.1
    assert abs(fit.mean / true.mean - 1) < 0.02 and abs(fit.var / true.var - 1) < 0.1
    eps = true.scale * stats.ncx2.ppf(1e-3, true.df, true.nc)  # IB = log2(1000) = 9.97 bits
    assert abs(E.inductive_bias_bits(eps, fit) - math.log2(1000)) < 0.8
    # and it beats the moment match in likelihood (it is the maximum)
    df0, nc0, s0 = E.moment_start(x)
    assert E.ncx2_logpdf(x, fit.df, fit.nc, fit.scale).sum() >= E.ncx2_logpdf(x, df0, nc0, s0).sum()


def test_the_small_noncentrality_density_is_the_poisson_mixture_scipy_gives_where_finite():
    x = np.linspace(1, 20, 7)
    for nc in (0.0, 0.3, 0.9):
        want = stats.ncx2.logpdf(x, 5.0, nc) if nc else stats.chi2.logpdf(x, 5.0)
        np.testing.assert_allclose(E.ncx2_logpdf(x, 5.0, nc, 1.0), want, rtol=1e-9)
    # where scipy's density fails (large df, small nc), the mixture still integrates to 1
    grid = np.linspace(0.3, 2.0, 4001)
    dens = np.exp(E.ncx2_logpdf(grid, 542.6, 0.5, 0.00184))
    assert np.all(np.isfinite(dens)) and abs(np.trapezoid(dens, grid) - 1) < 1e-3


@pytest.mark.parametrize("fit", [E.Ncx2Fit(5, 3, 0.02), E.Ncx2Fit(500, 2000, 1e-3),
                                 E.Ncx2Fit(3000, 1e-8, 1e-4)])
def test_ib_is_finite_non_negative_and_non_increasing_in_eps(fit):
    eps = np.geomspace(fit.mean * 1e-4, fit.mean * 10, 400)
    bits = E.inductive_bias_bits(eps, fit)
    assert np.all(np.isfinite(bits)) and np.all(bits >= 0)
    assert np.all(np.diff(bits) <= 1e-9 * np.maximum(bits[:-1], 1))
    assert bits[-1] < 1e-3  # eps far above the errors: no bits needed


def test_the_far_tail_approximation_continues_the_exact_log_cdf_of_concentrated_errors():
    fit = E.Ncx2Fit(500, 2000, 1e-3)  # concentrated: the log-CDF underflows below ~0.6
    eps = np.linspace(0.7, 2.3, 30)
    exact = np.asarray(fit.logcdf(eps))
    assert np.all(np.isfinite(exact)) and exact.min() < -300
    np.testing.assert_allclose(E.sankaran_log_cdf(eps, fit), exact, rtol=0.03)
    deep = E.inductive_bias_bits(np.array([0.3, 0.5]), fit)  # where it underflows
    assert np.all(np.isfinite(deep)) and deep[0] > deep[1] > -exact.min() / math.log(2)


def imhof_cdf(x: float, weights: np.ndarray, shifts: np.ndarray, const: float) -> float:
    """P[const + sum_j w_j (z_j + b_j)^2 <= x], z_j iid N(0, 1): Imhof's (1961) inversion."""
    y = x - const

    def integrand(u):
        wu = weights * u
        theta = 0.5 * np.sum(np.arctan(wu) + shifts ** 2 * wu / (1 + wu ** 2)) - 0.5 * y * u
        rho = np.exp(np.sum(0.25 * np.log1p(wu ** 2) + 0.5 * shifts ** 2 * wu ** 2 / (1 + wu ** 2)))
        return np.sin(theta) / (u * rho)

    value, _ = integrate.quad(integrand, 0, np.inf, limit=500)
    return 0.5 - value / math.pi


def linear_gaussian_errors(phi_train, phi_test, y_train, y_test, n):
    """Test MSEs of n hypotheses h(x) = phi(x)^T theta, theta ~ N(0, I) conditioned on
    the training data (the GP of the linear kernel), and the exact distribution's
    (weights, shifts, const) of the quadratic form they follow."""
    mean, cov = kernel.posterior(phi_train @ phi_train.T, phi_test @ phi_train.T,
                                 phi_test @ phi_test.T, y_train, jitter=1e-9)
    errors = kernel.sample_errors(jax.random.PRNGKey(0), mean, kernel.sample_root(cov, 1e-9),
                                  y_test, n, 1000)
    # (1/m) |mean - y + C z|^2 = sum_j (lam_j/m) (z_j + b_j)^2 + the residual outside C
    m = len(y_test)
    lam, vec = np.linalg.eigh(cov)
    keep = lam > 1e-6 * lam.max()
    r = (mean - y_test)[:, 0]
    b = vec[:, keep].T @ r / np.sqrt(lam[keep])
    const = (r @ r - np.sum((vec[:, keep].T @ r) ** 2)) / m
    return errors, (lam[keep] / m, b, const)


def test_an_isotropic_linear_gaussian_class_has_exactly_scaled_ncx2_errors():
    """Test features with orthonormal columns (phi*^T phi* = c I) make every non-zero
    weight c/m: the test MSE is exactly c/m * ncx2(p - n, |b|^2) when the targets come from
    training data (a teacher theta* in the class). The sampler follows it, and the fit
    recovers it."""
    rng = np.random.default_rng(0)
    p, n, m, c = 8, 3, 40, 4.0
    q, _ = np.linalg.qr(rng.normal(size=(m, p)))
    phi_test, phi_train = math.sqrt(c) * q, rng.normal(size=(n, p))
    teacher = rng.normal(size=(p, 1))
    y_train, y_test = phi_train @ teacher, phi_test @ teacher  # no constant offset
    errors, (w, b, const) = linear_gaussian_errors(phi_train, phi_test, y_train, y_test, 4000)
    assert len(w) == p - n and np.allclose(w, c / m) and abs(const) < 1e-9
    exact = stats.ncx2(p - n, b @ b, scale=c / m)
    assert abs(imhof_cdf(exact.median(), w, b, const) - 0.5) < 1e-4  # Imhof agrees with scipy
    assert stats.kstest(errors, exact.cdf).pvalue > 1e-3
    fit = E.fit_ncx2(errors)
    eps = exact.ppf(1e-3)
    assert abs(E.inductive_bias_bits(eps, fit) - math.log2(1000)) < 1.0
    assert abs(fit.scale * (fit.df + fit.nc) / exact.mean() - 1) < 0.02


def test_a_general_linear_gaussian_class_follows_its_quadratic_form_and_ncx2_approximates_it():
    """Unequal weights and an offset: the errors follow Imhof's exact CDF of the
    quadratic form; the scaled ncx2 fit is an approximation, within 0.06 of it in CDF."""
    rng = np.random.default_rng(0)
    p, n, m = 12, 4, 30
    phi_train, phi_test = rng.normal(size=(n, p)) / 2, rng.normal(size=(m, p)) / 2
    errors, form = linear_gaussian_errors(phi_train, phi_test, rng.normal(size=(n, 1)),
                                          rng.normal(size=(m, 1)), 4000)
    exact = lambda x: imhof_cdf(x, *form)
    probs = [0.05, 0.25, 0.5, 0.75, 0.95]
    qs = np.quantile(errors, probs)
    np.testing.assert_allclose([exact(q) for q in qs], probs, atol=0.025)
    fit = E.fit_ncx2(errors)
    assert max(abs(fit.cdf(q) - exact(q)) for q in qs) < 0.06


# ----------------------------------------------------------------------------- samplers
def test_gp_posterior_samples_match_the_closed_form_conditional():
    rng = np.random.default_rng(1)
    x_train, x_test = rng.normal(size=(6, 2)), rng.normal(size=(3, 2))
    y_train = rng.normal(size=(6, 2))
    jitter = 1e-8
    mean, cov = kernel.rbf_posterior(x_train, y_train, x_test, 1.0, jitter)
    # closed form from the joint Gaussian by an explicit inverse (an independent route)
    x = np.vstack([x_train, x_test])
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 2) + jitter * np.eye(9) * (np.arange(9) < 6)
    kxx_inv = np.linalg.inv(k[:6, :6])
    np.testing.assert_allclose(mean, k[6:, :6] @ kxx_inv @ y_train, atol=1e-6)
    np.testing.assert_allclose(cov, k[6:, 6:] - k[6:, :6] @ kxx_inv @ k[:6, 6:], atol=1e-6)
    # the samples have that mean and covariance
    f = np.asarray(kernel.sample_functions(jax.random.PRNGKey(2), mean, kernel.sample_root(cov, jitter),
                                           40000), np.float64)  # (S, 3, 2)
    se = np.sqrt(np.diag(cov))[:, None] / math.sqrt(40000)
    assert np.all(np.abs(f.mean(0) - mean) < 5 * se + 1e-5)
    np.testing.assert_allclose(np.cov(f[:, :, 0].T), cov, atol=0.02 * cov.max())
    # and interpolate the training targets: the posterior at a training input is its target
    m0, c0 = kernel.rbf_posterior(x_train, y_train, x_train[:2], 1.0, jitter)
    np.testing.assert_allclose(m0, y_train[:2], atol=1e-5)
    assert np.all(np.diag(c0) < 1e-6)


@pytest.mark.parametrize("cell", [study.Cell("teacher", 3, "mlp", 8, 1),
                                  study.Cell("digits", 0, "cnn", 4, 1)])
def test_ensemble_members_trained_in_one_program_equal_each_member_trained_alone(cell, tmp_path):
    config = config_lib.load(SMOKE, ["--config.sweep.n_seeds=3"])
    learner = make_learner(study.dataset(config, cell), cell.width, cell.depth, config.mlp.batch,
                           cell.model)
    phase = runner.train_runs(config, learner, runner.Session(str(tmp_path), progress=False),
                              phase=f"ensemble_{cell.key}")
    together = phase.gather(phase.state.params)
    trainer = build_trainer(config, learner)
    hp = {"learning_rate": jnp.float32(config.hp.learning_rate)}
    state = trainer.init(phase.grid.keys()[2], hp)
    for _ in range(config.train.steps // config.train.chunk_steps):
        state, _ = jax.jit(trainer.train_chunk)(state, hp)
    alone = jax.tree.map(np.asarray, state.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a[2], b, rtol=1e-4, atol=1e-6), together, alone)
    # and members differ (independent initialisations)
    first = jax.tree.leaves(together)[0]
    assert not np.allclose(first[0], first[1])


def test_the_convnet_convolution_is_the_library_convolution():
    kx, kk, kb = jax.random.split(jax.random.PRNGKey(3), 3)
    x = jax.random.normal(kx, (2, 8, 8, 3))
    k = jax.random.normal(kk, (3, 3, 3, 5))
    b = jax.random.normal(kb, (5,))
    want = jax.lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")) + b
    np.testing.assert_allclose(conv3x3(x, k, b), want, rtol=1e-5, atol=1e-5)
    # the network's shapes and PyTorch-style bounds: fan_in 9 for the first layer
    net = ConvNet(channels=4, depth=2, out=10)
    params = net.init(jax.random.PRNGKey(0), jnp.ones((1, 64)))["params"]
    assert net.apply({"params": params}, jnp.ones((7, 64))).shape == (7, 10)
    assert float(jnp.abs(params["conv_0_kernel"]).max()) <= 1 / 3
    assert params["readout"]["kernel"].shape == (8 * 8 * 4, 10)


def test_tasks_have_the_promised_shapes_and_one_hot_targets():
    for data, d, k in [(tasks.teacher(5, 30, 20, 3, 8, 0), 5, 3), (tasks.digits(30, 20, 0), 64, 10)]:
        assert data.x_train.shape == (30, d) and data.y_test.shape == (20, k)
        np.testing.assert_allclose(np.linalg.norm(data.x_train, axis=1), 1, atol=1e-5)
        assert np.all(data.y_train.sum(1) == 1)
    pend = tasks.pendulum(30, 20, 0)
    assert pend.x_train.shape == (30, 5) and pend.y_test.shape == (20, 4)
    # the simulated pole falls towards its lean: theta_dot grows with theta, force off
    s = tasks.pendulum_step(jnp.array([0.0, 0.0, 0.1, 0.0]), jnp.float32(0.0))
    s = tasks.pendulum_step(s, jnp.float32(0.0))
    assert float(s[3]) > 0 and float(s[2]) > 0.1


class _Session:
    """What ``study.estimate`` needs of a run's session: a workdir and a unit counter."""

    def __init__(self, workdir: str):
        self.workdir, self.units = workdir, 0

    def unit_done(self) -> None:
        self.units += 1


@pytest.mark.parametrize("reference", [0.0, 0.05])
def test_eps_is_a_fraction_of_the_mean_predictor_error_or_of_a_fixed_reference(reference, tmp_path):
    config = config_lib.load(SMOKE, [f"--config.estimate.eps_reference={reference}"])
    errors = stats.ncx2.rvs(4.0, 6.0, scale=0.01, size=300, random_state=1)
    cell, base = study.Cell("teacher", 2, "kernel"), 0.18
    out = study.estimate(config, cell, errors, base, _Session(str(tmp_path)))
    want = np.asarray(config.estimate.eps_fracs) * (reference or base)
    np.testing.assert_allclose(out["eps"], want)
    assert out["eps_reference"] == (reference or base)
    # the bits are the fit's read at those eps, whichever reference set them
    fit = E.Ncx2Fit(out["df"], out["nc"], out["scale"])
    np.testing.assert_allclose(out["ib_bits"], E.inductive_bias_bits(want, fit), rtol=1e-9)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("override,field", [
    ("--config.task.n_train=1", "task.n_train"),
    ("--config.task.n_test=1790", "task.n_test"),  # more digits than exist
    ("--config.task.dims=(0,)", "task.dims"),
    ("--config.task.classes=1", "task.classes"),
    ("--config.task.classes_task=mnist", "task.classes_task"),
    ("--config.kernel.sigma=0.0", "kernel.sigma"),
    ("--config.kernel.jitter=-1e-6", "kernel.jitter"),
    ("--config.kernel.chunk=7", "kernel.chunk"),
    ("--config.mlp.batch=41", "mlp.batch"),  # more than the 40 training points
    ("--config.mlp.widths=(0,)", "mlp.widths"),
    ("--config.estimate.eps_fracs=(0.0,)", "estimate.eps_fracs"),
    ("--config.estimate.level=1.5", "estimate.level"),
    ("--config.estimate.eps_reference=-0.1", "estimate.eps_reference"),
    ("--config.estimate.bootstrap=1", "estimate.bootstrap"),
    ("--config.sweep.n_seeds=2", "sweep.n_seeds"),
    ("--config.comparisons=('bogus',)", "comparisons"),
    ("--config.cnn.channels=(0,)", "cnn.channels"),
    ("--config.cnn.depth=0", "cnn.depth"),
])
def test_impossible_values_are_one_line_errors_before_anything_is_written(override, field, tmp_path):
    assert_refused_before_writing(SMOKE, override, field, tmp_path / "w")
