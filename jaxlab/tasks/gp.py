"""Gaussian-process regression (the explicit/implicit ICL reference's ``GPRegressionDataset``).

Each task draws a length scale l ~ U(0.1, 0.6) and an output scale s ~ U(0.1, 1.0); the
N points of an episode have x ~ N(0, I) and y ~ N(0, s^2 k(x, x') + 0.02^2 I) jointly, with
k the RBF kernel exp(-|d|^2 / 2) or the Matern-5/2 kernel (1 + sqrt5 |d| + 5|d|^2/3)
exp(-sqrt5 |d|) of d = (x - x') / l. The 0.02^2 jitter is the only noise (the reference
adds none on top). The latent is (l, s) (B, 2); the function itself is not a finite latent,
so a finite task pool is not defined for this family.

Exact one-step predictives: for y ~ N(0, K) with K = L L^T, the whitened e = L^-1 y gives
y_k | y_<k ~ N(y_k - L_kk e_k, L_kk^2), so one Cholesky per episode yields the posterior
predictive at every context size (``predictive_given``). The Bayes predictor does not know
(l, s): it mixes these predictives over the hyperparameter prior, which we integrate by a
G x G midpoint rule on the uniform prior rectangle (weights = prior x marginal likelihood of
the context, also from the Cholesky). The reported ``quad_delta`` is the mean squared
difference between the G and G/2 grids' predictions: the quadrature's error indicator.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.tasks import inference
from jaxlab.tasks.linear import Episodes, LatentTaskFamily

LENGTH_RANGE = (0.1, 0.6)
SCALE_RANGE = (0.1, 1.0)
JITTER = 0.02


def kernel_matrix(x: jax.Array, length: jax.Array, scale: jax.Array, kind: str) -> jax.Array:
    """x (N, x_dim), scalars -> (N, N) covariance including the jitter."""
    d2 = jnp.sum(jnp.square((x[:, None] - x[None]) / length), -1)
    if kind == "rbf":
        k = jnp.exp(-0.5 * d2)
    elif kind == "matern52":
        d = jnp.sqrt(d2 + 1e-30) * (d2 > 0)
        k = (1 + jnp.sqrt(5.0) * d + 5.0 * d2 / 3.0) * jnp.exp(-jnp.sqrt(5.0) * d)
    else:
        raise ValueError(f"unknown kernel {kind!r}")
    return scale**2 * k + JITTER**2 * jnp.eye(x.shape[0])


def predictive_given(x: jax.Array, y: jax.Array, length, scale, kind: str):
    """Exact one-step predictives of one episode given the hyperparameters.

    x (N, x_dim), y (N,) -> mean (N,), var (N,), loglik (N,) = log N(y_k; mean_k, var_k).
    """
    chol = jnp.linalg.cholesky(kernel_matrix(x, length, scale, kind))
    e = jax.scipy.linalg.solve_triangular(chol, y, lower=True)
    diag = jnp.diagonal(chol)
    mean = y - diag * e
    var = diag**2
    loglik = -0.5 * e**2 - jnp.log(diag) - 0.5 * jnp.log(2 * jnp.pi)
    return mean, var, loglik


def _grid(g: int) -> tuple[np.ndarray, np.ndarray]:
    mid = (np.arange(g) + 0.5) / g
    ls = LENGTH_RANGE[0] + (LENGTH_RANGE[1] - LENGTH_RANGE[0]) * mid
    ss = SCALE_RANGE[0] + (SCALE_RANGE[1] - SCALE_RANGE[0]) * mid
    lg, sg = np.meshgrid(ls, ss, indexing="ij")
    return lg.ravel().astype(np.float32), sg.ravel().astype(np.float32)


@dataclasses.dataclass(frozen=True)
class GPRegression(LatentTaskFamily):
    kernel: str = "rbf"
    x_dim: int = 1
    y_dim: int = 1
    kind = "regression"

    @property
    def oracle_method(self) -> str:
        return ("exact GP predictive per hyperparameter, integrated over the (length, scale) "
                "prior by a midpoint grid (quadrature)")

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        """(n, 2): length scale and output scale."""
        u = jax.random.uniform(key, (n, 2))
        lo = jnp.asarray([LENGTH_RANGE[0], SCALE_RANGE[0]])
        hi = jnp.asarray([LENGTH_RANGE[1], SCALE_RANGE[1]])
        return lo + (hi - lo) * u

    def sample_given(self, key: jax.Array, hyper: jax.Array, n_points: int) -> Episodes:
        k_x, k_y = jax.random.split(key)
        x = jax.random.normal(k_x, (hyper.shape[0], n_points, self.x_dim))
        cov = jax.vmap(lambda xe, h: kernel_matrix(xe, h[0], h[1], self.kernel))(x, hyper)
        eps = jax.random.normal(k_y, (hyper.shape[0], n_points))
        y = jnp.einsum("bij,bj->bi", jnp.linalg.cholesky(cov), eps)[..., None]
        return Episodes(x, y, hyper)

    def known_hyper_predictive(self, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """The GP predictive given each task's true (l, s): mean (B, N), var (B, N)."""
        mean, var, _ = jax.vmap(lambda x, y, h: predictive_given(x, y, h[0], h[1], self.kernel))(
            ep.x, ep.y[..., 0], ep.w)
        return mean, var

    def mixture_predictive(self, x: jax.Array, y: jax.Array, grid: int) -> jax.Array:
        """One episode's hyperparameter-marginal predictive mean (N,) on a grid x grid rule."""
        lg, sg = _grid(grid)
        mean, _, ll = jax.vmap(lambda l, s: predictive_given(x, y, l, s, self.kernel))(lg, sg)
        w = jax.nn.softmax(jnp.cumsum(ll, axis=1) - ll, axis=0)  # (G^2, N), uniform prior
        return jnp.sum(w * mean, axis=0)

    def oracle(self, ep: Episodes, key: jax.Array | None = None, grid: int = 8,
               block: int = 8) -> dict:
        """Per-point (B, N) squared error of the quadrature Bayes predictor, its quadrature
        error indicator ``quad_delta``, and ``known_hyper_error``: the squared error of the
        predictor that knows each task's (l, s) (a lower bound, not a learner)."""

        def one(x, y, h):
            fine = self.mixture_predictive(x, y[:, 0], grid)
            coarse = self.mixture_predictive(x, y[:, 0], max(grid // 2, 1))
            known, _, _ = predictive_given(x, y[:, 0], h[0], h[1], self.kernel)
            return {"loss": jnp.square(fine - y[:, 0]), "quad_delta": jnp.square(fine - coarse),
                    "known_hyper_error": jnp.square(known - y[:, 0])}

        return inference.map_blocks(lambda a: jax.vmap(one)(*a), (ep.x, ep.y, ep.w), block)
