"""Lattice and categorical codes, in nats.

A continuous value ``x`` coded to a lattice of width ``precision`` under a Gaussian
N(mean, std^2) costs ``-log P(k)`` nats with ``k = round((x - mean) / precision)`` and
``P`` the symmetric Skellam distribution Skellam(mu, mu), ``mu = (std / precision)^2 / 2``:
an integer-valued distribution with mean 0 and variance ``2 mu = (std / precision)^2``
(the "Skellam = discretised Gaussian" code of ``utils/skellam.py`` in
EricElmoznino/complexity_compositionality, which rounds mean and variance separately and
calls scipy; here the offset is rounded once and everything is pure JAX).

Exactness of :func:`skellam_logpmf`. With ``v = |k|`` and ``x = 2 mu``,
``P(k) = exp(-2 mu) I_v(2 mu) = sum_j Pois(j + v; mu) Pois(j; mu)``. The summands are
concentrated within about ``±8 sqrt(x / 2 + 1) = ±8 sqrt(mu + 1)`` of the largest one
(their standard deviation is at most ``sqrt(mu / 2)``), so a window of ``terms`` consecutive
j values centred on it is exact to float32 precision while
``8 sqrt(mu + 1) <= terms / 2``, i.e. ``mu <= (terms / 16)^2 - 1``:
**mu <= 4095 for the default terms = 1024** (see :func:`skellam_exact_mu_max`). Above that
bound the discretised Gaussian ``log N(k; 0, 2 mu)`` is used; its error there is O(1/mu)
(below ~1e-3 nats within 4 standard deviations at mu = 4096).

Float32 care. Each summand is ``log Pois(n; mu)`` computed in Loader's saddle-point form
``-0.5 log(2 pi n) - stirlerr(n) - bd0(n, mu)`` (``stirlerr`` the Stirling remainder,
``bd0 = n log(n / mu) + mu - n`` evaluated by a series near n = mu), so no two large
numbers (``gammaln(n + 1)`` and ``n log mu`` are ~1e4 at mu = 4095) are ever subtracted:
summands are accurate to a few float32 ulps of their own (small) magnitude.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_LOG_2PI = math.log(2.0 * math.pi)
_STIRLERR_TABLE_SIZE = 16
# stirlerr(n) = lgamma(n + 1) - (n + 1/2) log n + n - log(2 pi) / 2 for n = 0..15, in float64
# (n = 0 is a placeholder: log Pois(0; mu) = -mu is handled separately).
_STIRLERR_TABLE = np.array(
    [0.0]
    + [
        math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - 0.5 * _LOG_2PI
        for n in range(1, _STIRLERR_TABLE_SIZE)
    ],
    dtype=np.float64,
)
# Enough terms of the bd0 series for |v| < 0.1: the omitted v^(2 * 9 + 1) is < 1e-19.
_BD0_SERIES_TERMS = 8
_BD0_SERIES_CUTOFF = 0.1


def skellam_exact_mu_max(terms: int = 1024) -> float:
    """Largest mu for which a window of ``terms`` summands is exact: ``(terms / 16)^2 - 1``."""
    return (terms / 16.0) ** 2 - 1.0


def _stirlerr(n: jax.Array) -> jax.Array:
    """Stirling remainder ``lgamma(n + 1) - (n + 1/2) log n + n - log(2 pi) / 2``, n >= 1 integer."""
    table = jnp.asarray(_STIRLERR_TABLE, n.dtype)
    small = jnp.take(table, jnp.clip(n, 0, _STIRLERR_TABLE_SIZE - 1).astype(jnp.int32))
    m = jnp.maximum(n, float(_STIRLERR_TABLE_SIZE))
    inv2 = 1.0 / (m * m)
    # Asymptotic series; for n >= 16 the next term (1/1680 n^-7) is below 1e-12.
    large = (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0)) / m
    return jnp.where(n < _STIRLERR_TABLE_SIZE, small, large)


def _bd0(n: jax.Array, mu: jax.Array) -> jax.Array:
    """Deviance term ``n log(n / mu) + mu - n >= 0`` without cancellation; n >= 0, mu > 0."""
    diff = n - mu
    v = diff / (n + mu)
    # n log(n / mu) = 2 n atanh(v), so bd0 = v (n - mu) + 2 n sum_{j >= 1} v^(2j+1) / (2j+1).
    v2 = v * v
    series = jnp.zeros_like(v)
    for j in range(_BD0_SERIES_TERMS, 0, -1):
        series = v2 * (1.0 / (2 * j + 1) + series)
    near = v * diff + 2.0 * n * v * series
    n_safe = jnp.where(n > 0, n, 1.0)
    far = jnp.where(n > 0, n * jnp.log(n_safe / mu), 0.0) + mu - n
    return jnp.where(jnp.abs(v) < _BD0_SERIES_CUTOFF, near, far)


def _poisson_logpmf(n: jax.Array, mu: jax.Array) -> jax.Array:
    """log Pois(n; mu) for integer-valued n >= 0, mu > 0 (Loader's saddle-point form)."""
    n_safe = jnp.maximum(n, 1.0)
    positive = -0.5 * (_LOG_2PI + jnp.log(n_safe)) - _stirlerr(n_safe) - _bd0(n, mu)
    return jnp.where(n > 0, positive, -mu)


def skellam_logpmf(k: jax.Array, mu: jax.Array, terms: int = 1024) -> jax.Array:
    """log P(K = k) for K ~ Skellam(mu, mu), the difference of two independent Poisson(mu).

    k: integer-valued (any int or float dtype, rounded), mu > 0, broadcastable; returns their
    broadcast shape, float32 (float64 if mu is float64). ``-2 mu + log I_|k|(2 mu)`` summed
    over a window of ``terms`` (a Python int; static under jit) consecutive series indices
    centred on the largest term; exact to float32 precision for
    ``mu <= skellam_exact_mu_max(terms)`` (4095 for the default), above which the discretised Gaussian ``log N(k; 0, 2 mu)`` is returned.
    """
    dtype = jnp.result_type(jnp.float32, k, mu)
    k = jnp.round(jnp.asarray(k, dtype))
    mu = jnp.asarray(mu, dtype)
    k, mu = jnp.broadcast_arrays(k, mu)
    v = jnp.abs(k)
    mu_max = skellam_exact_mu_max(terms)

    # Exact series (mu clipped so the unused branch stays finite, also under jax.grad).
    mu_e = jnp.minimum(mu, mu_max)
    x = 2.0 * mu_e
    # Index of the largest term, (sqrt(v^2 + x^2) - v) / 2, written without cancellation.
    j_star = x * x / (2.0 * (jnp.hypot(v, x) + v))
    j0 = jnp.maximum(jnp.floor(j_star) - terms // 2, 0.0)
    j = j0[..., None] + jnp.arange(terms, dtype=dtype)
    log_terms = _poisson_logpmf(j + v[..., None], mu_e[..., None]) + _poisson_logpmf(j, mu_e[..., None])
    exact = jax.nn.logsumexp(log_terms, axis=-1)

    # Discretised Gaussian with variance 2 mu.
    mu_g = jnp.maximum(mu, mu_max)
    z = k / jnp.sqrt(2.0 * mu_g)
    gauss = -0.5 * z * z - 0.5 * (_LOG_2PI + jnp.log(2.0 * mu_g))

    return jnp.where(mu <= mu_max, exact, gauss)


def lattice_gaussian_nll(
    x: jax.Array, mean: jax.Array, std: jax.Array, precision: float | jax.Array
) -> jax.Array:
    """Nats to code continuous x on a lattice of width ``precision`` under N(mean, std^2).

    Elementwise with broadcasting: ``-skellam_logpmf(round((x - mean) / precision),
    (std / precision)^2 / 2)``, i.e. a Skellam with variance ``(std / precision)^2`` (so
    std = precision gives mu = 0.5, not a Gaussian). std > 0.
    """
    k = jnp.round((x - mean) / precision)
    mu = 0.5 * jnp.square(std / precision)
    return -skellam_logpmf(k, mu)


def categorical_nll(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Nats to code integer labels under softmax(logits): (..., C), (...) -> (...)."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    labels = jnp.asarray(labels, jnp.int32)
    return -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]


def naive_lattice_code(x: jax.Array, precision: float | jax.Array) -> jax.Array:
    """Total nats of a block x: (N, D) under its own per-feature mean and std -> scalar.

    Each feature is coded with :func:`lattice_gaussian_nll` at the block's marginal mean
    and std (std floored at ``precision``).
    """
    mean = jnp.mean(x, axis=0)
    std = jnp.maximum(jnp.std(x, axis=0), precision)
    return jnp.sum(lattice_gaussian_nll(x, mean, std, precision))


def naive_categorical_code(n_items: int, n_classes: int) -> float:
    """Nats to code ``n_items`` labels uniformly over ``n_classes``: n_items * log(n_classes)."""
    return n_items * math.log(n_classes)
