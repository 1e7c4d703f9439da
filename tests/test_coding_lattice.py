"""Lattice (Skellam) and categorical codes of jaxlab.coding.lattice against scipy."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from jaxlab.coding import lattice

# Eager calls dispatch op by op (slow); every call goes through jit.
_logpmf = jax.jit(lattice.skellam_logpmf)
_nll = jax.jit(lattice.lattice_gaussian_nll)

MUS = (0.05, 0.5, 1.0, 3.7, 20.0, 150.0, 2000.0, 5000.0)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    ks, mus = [], []
    for mu in MUS:
        half = int(4 * math.sqrt(2 * mu)) + 5
        k = np.arange(-half, half + 1)
        ks.append(k)
        mus.append(np.full(k.shape, mu))
    return np.concatenate(ks), np.concatenate(mus)


@pytest.mark.parametrize("terms", [32, 2048])
def test_exact_bound_is_exact_and_not_vacuous(terms):
    """At mu = skellam_exact_mu_max(terms) the window of ``terms`` summands still matches
    scipy's full series; at 16x that mu a window of ``terms`` (centred on the largest
    summand, found by brute force in float64) loses a visible share of the mass, so the
    bound is neither too generous nor arbitrarily small."""
    mu = lattice.skellam_exact_mu_max(terms)
    sd = math.sqrt(2 * mu)
    k = np.unique(np.round(np.linspace(-6 * sd, 6 * sd, 41)))
    got = np.asarray(jax.jit(lattice.skellam_logpmf, static_argnums=2)(
        jnp.asarray(k, jnp.float32), jnp.full(k.shape, mu, jnp.float32), terms))
    np.testing.assert_allclose(got, stats.skellam.logpmf(k, mu, mu), rtol=1e-5, atol=1e-5)

    big = 16 * (mu + 1)
    j = np.arange(int(big + 40 * math.sqrt(big)))
    summands = stats.poisson.logpmf(j, big) * 2  # k = 0: Pois(j; mu)^2, the widest window
    top = int(np.argmax(summands))
    window = summands[max(top - terms // 2, 0):max(top - terms // 2, 0) + terms]
    missing = -np.expm1(logsumexp(window) - stats.skellam.logpmf(0, big, big))
    assert missing > 1e-3


def test_default_window_is_exact_at_the_documented_mu_4095():
    k = np.arange(-400, 401, 20)
    got = np.asarray(_logpmf(jnp.asarray(k, jnp.float32), jnp.full(k.shape, 4095.0)))
    np.testing.assert_allclose(got, stats.skellam.logpmf(k, 4095.0, 4095.0), rtol=1e-5, atol=1e-5)


def test_skellam_matches_scipy():
    k, mu = _grid()
    assert 0 in k
    got = np.asarray(_logpmf(jnp.asarray(k, jnp.float32), jnp.asarray(mu, jnp.float32)))
    ref = stats.skellam.logpmf(k, mu, mu)
    mask = ref > -50
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[mask], ref[mask], atol=1e-3, rtol=0)
    # Relative accuracy where the exact series is used (the Gaussian branch is O(1/mu)).
    exact = mask & (mu <= lattice.skellam_exact_mu_max())
    np.testing.assert_allclose(got[exact], ref[exact], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mu", [0.5, 300.0])
def test_skellam_normalised(mu):
    half = int(12 * math.sqrt(2 * mu)) + 30
    k = jnp.arange(-half, half + 1, dtype=jnp.int32)
    total = float(jnp.sum(jnp.exp(_logpmf(k, jnp.full(k.shape, mu)))))
    assert abs(total - 1.0) < 1e-4


def test_skellam_extremes_finite():
    k = jnp.array([0.0, 7.0, 3e4, -1e5, 1e5])
    for mu in (1e-3, 0.5, 4000.0, 1e6):
        out = _logpmf(k, jnp.full(k.shape, mu))
        assert bool(jnp.all(jnp.isfinite(out)))
    # Far tail against a float64 series reference: log P(1e5) at mu = 100.
    np.testing.assert_allclose(float(_logpmf(1e5, 100.0)), -590982.1033, rtol=1e-6)


def test_lattice_gaussian_unit_ratio_is_skellam_half():
    precision = 0.01
    mean = 0.3
    k = np.arange(-8, 9)
    x = mean + k * precision + 0.3 * precision  # off-lattice, rounds to k
    got = np.asarray(_nll(jnp.asarray(x, jnp.float32), mean, precision, precision))
    np.testing.assert_allclose(got, -stats.skellam.logpmf(k, 0.5, 0.5), atol=1e-4)


@pytest.mark.parametrize("ratio", [40.0, 200.0])
def test_lattice_gaussian_approaches_gaussian(ratio):
    precision = 0.05
    mean, std = -1.2, ratio * precision
    k = np.arange(-int(2 * ratio), int(2 * ratio) + 1, 7)
    x = mean + k * precision
    got = np.asarray(_nll(jnp.asarray(x, jnp.float32), mean, std, precision))
    ref = -np.log(precision * stats.norm.pdf(x, mean, std))
    np.testing.assert_allclose(got, ref, atol=1e-3, rtol=0)


def test_lattice_gaussian_grad_finite():
    grad = jax.jit(jax.grad(lambda s: jnp.sum(_nll(jnp.array([0.1, -2.0]), 0.0, s, 0.01))))
    for std in (0.01, 0.3, 1.0):  # exact (mu = 0.5, 450) and Gaussian (mu = 5000) branches
        assert bool(jnp.isfinite(grad(jnp.float32(std))))


def test_categorical_nll():
    logits = jax.random.normal(jax.random.key(0), (3, 4, 5))
    labels = jnp.array([[0, 1, 2, 3], [4, 4, 0, 1], [2, 2, 2, 2]])
    got = np.asarray(jax.jit(lattice.categorical_nll)(logits, labels))
    lp = np.asarray(logits, np.float64)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    ref = -np.take_along_axis(lp, np.asarray(labels)[..., None], -1)[..., 0]
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_naive_codes():
    assert lattice.naive_categorical_code(10, 7) == pytest.approx(10 * math.log(7))
    x = jax.random.normal(jax.random.key(1), (6, 3)) * jnp.array([2.0, 0.5, 0.0])
    precision = 0.1
    got = float(jax.jit(lattice.naive_lattice_code)(x, precision))
    xn = np.asarray(x, np.float64)
    mean, std = xn.mean(0), np.maximum(xn.std(0), precision)
    k = np.round((xn - mean) / precision)
    mu = 0.5 * (std / precision) ** 2
    ref = -stats.skellam.logpmf(k, mu, mu).sum()
    assert got == pytest.approx(ref, abs=1e-3)


def test_jit_and_vmap():
    k = jnp.arange(-5, 6, dtype=jnp.int32)
    mu = jnp.linspace(0.1, 6000.0, k.shape[0])
    direct = _logpmf(k, mu)
    ref = stats.skellam.logpmf(np.asarray(k), np.asarray(mu), np.asarray(mu))
    np.testing.assert_allclose(direct, ref, atol=1e-3)
    np.testing.assert_allclose(jax.jit(jax.vmap(lattice.skellam_logpmf))(k, mu), direct, atol=1e-5)
    nll = jax.jit(jax.vmap(lattice.lattice_gaussian_nll, in_axes=(0, None, None, None)))
    out = nll(jnp.ones((4, 3)), 0.0, 1.0, 0.1)
    assert out.shape == (4, 3)
