"""The kernel hypothesis class: exact posterior samples of a noise-free RBF Gaussian process.

A hypothesis is a function f ~ GP(0, k) conditioned to interpolate the training targets
(each of the k outputs independently), with k(x, x') = exp(-|x - x'|^2 / (2 sigma^2)).
On the test inputs X* it is Gaussian with

    mean = K*x K^-1 Y,   cov = K** - K*x K^-1 Kx*     (K = K_xx + jitter I),

computed in float64 by Cholesky (the reference fits K^-1 Y and K^-1 Kx* by Adam instead).
Samples f = mean + C z with C C^T = cov + jitter I are drawn in JAX, ``chunk`` samples per
step of a ``lax.map``; each sample's test error is its MSE to the test targets.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg


def rbf(a: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
    """(n, d), (m, d) -> (n, m) RBF Gram matrix in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None] - 2 * a @ b.T
    return np.exp(-np.maximum(d2, 0) / (2 * sigma ** 2))


def posterior(k_train: np.ndarray, k_cross: np.ndarray, k_test: np.ndarray, y_train: np.ndarray,
              jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free GP posterior on the test inputs from the Gram matrices K_xx (n, n),
    K_*x (m, n), K_** (m, m) and targets (n, k): mean (m, k), covariance (m, m), float64."""
    chol = linalg.cho_factor(np.asarray(k_train, np.float64) + jitter * np.eye(len(k_train)),
                             lower=True)
    k_cross = np.asarray(k_cross, np.float64)
    mean = k_cross @ linalg.cho_solve(chol, np.asarray(y_train, np.float64))
    cov = np.asarray(k_test, np.float64) - k_cross @ linalg.cho_solve(chol, k_cross.T)
    return mean, (cov + cov.T) / 2


def rbf_posterior(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, sigma: float,
                  jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """``posterior`` of the RBF kernel of bandwidth ``sigma``."""
    return posterior(rbf(x_train, x_train, sigma), rbf(x_test, x_train, sigma),
                     rbf(x_test, x_test, sigma), y_train, jitter)


def sample_root(cov: np.ndarray, jitter: float) -> np.ndarray:
    """C (m, m) lower-triangular with C C^T = cov + jitter I."""
    return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))


def sample_functions(key: jax.Array, mean: np.ndarray, root: np.ndarray, n: int) -> jax.Array:
    """(n, m, k) posterior function values on the test inputs."""
    z = jax.random.normal(key, (n, *mean.shape))
    return jnp.asarray(mean, jnp.float32) + jnp.einsum("ij,sjk->sik", jnp.asarray(root, jnp.float32), z)


def sample_errors(key: jax.Array, mean: np.ndarray, root: np.ndarray, y_test: np.ndarray,
                  n_samples: int, chunk: int) -> np.ndarray:
    """Test MSE (mean over test points and outputs) of ``n_samples`` posterior samples,
    (n_samples,) float64; ``chunk`` samples at a time (n_samples a multiple of it)."""
    y = jnp.asarray(y_test, jnp.float32)

    @jax.jit
    def errors(keys):
        return jax.lax.map(lambda k: jnp.mean(
            (sample_functions(k, mean, root, chunk) - y) ** 2, axis=(1, 2)), keys)

    keys = jax.random.split(key, n_samples // chunk)
    return np.asarray(errors(keys), np.float64).reshape(-1)
