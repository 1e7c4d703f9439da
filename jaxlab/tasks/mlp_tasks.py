"""Random-MLP regression tasks: a fresh MLP per task, or a shared MLP moved along a
low-dimensional random subspace of its parameters (the Occam and the explicit/implicit ICL
references; docs/task_families.md).

``MLPRegression``: f(x) = W2 relu(W1 x + b1) + b2, x -> hidden -> y, one draw per task.
``init="xavier"`` follows the Occam reference (``MLPRegression``: xavier-uniform weights,
N(0, 1) biases); ``init="normal"`` the explicit/implicit reference (every parameter
N(0, 1); 193 parameters at x = y = 1, hidden 64).

``LowRankMLPRegression``: theta = theta0 + P z per parameter tensor with z ~ N(0, I_z),
theta0 one fixed draw of PyTorch's default Linear init (U(+-1/sqrt(fan_in)) for weights
and biases) shared by every task, and P_i (dim_i x z) the dense matrix of the reference's
per-tensor Fastfood map H G Pi H B (z zero-padded to L = 2^ceil(log2 dim_i), the first
dim_i outputs kept, divided by sqrt(L sum G^2) sqrt(dim_i / L)). The Occam reference's
version is broken (a ragged shape list and wrong output indexing); this is the working
explicit/implicit construction, with the Fastfood transform applied once to the basis of
z (which gives the dense P_i). As in that construction, a tensor with fewer entries than z
(L < z_dim, e.g. the scalar output bias) sees only the first L coordinates of z (the
Fastfood pad is a truncation there).

Both: noise is added to y; the oracle is importance sampling from the prior (needs
noise > 0), a Monte-Carlo estimate reported with its error bar.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from jaxlab.tasks import oracles
from jaxlab.tasks.linear import Episodes, LatentTaskFamily


def mlp_apply(params: dict, x: jax.Array) -> jax.Array:
    """One MLP: params {w1 (X, H), b1 (H,), w2 (H, Y), b2 (Y,)}, x (N, X) -> (N, Y)."""
    return jax.nn.relu(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def _shapes(x_dim: int, hidden: int, y_dim: int) -> dict:
    return {"w1": (x_dim, hidden), "b1": (hidden,), "w2": (hidden, y_dim), "b2": (y_dim,)}


class _MLPFamily(LatentTaskFamily):
    kind = "regression"
    oracle_method = "Monte Carlo: self-normalised importance sampling from the prior"

    def predict(self, params: dict, x: jax.Array) -> jax.Array:
        return mlp_apply(params, x)

    def loglik(self, mean: jax.Array, y: jax.Array) -> jax.Array:
        return oracles.gaussian_loglik(mean, y, self.noise)

    def sample_given(self, key: jax.Array, latent, n_points: int) -> Episodes:
        k_x, k_eps = jax.random.split(key)
        n = jax.tree.leaves(latent)[0].shape[0]
        x = jax.random.normal(k_x, (n, n_points, self.x_dim))
        y = jax.vmap(self.predict)(latent, x)
        return Episodes(x, y + self.noise * jax.random.normal(k_eps, y.shape), latent)

    def oracle(self, ep: Episodes, key: jax.Array, n_samples: int = 1024, block: int = 8) -> dict:
        return oracles.importance_oracle(self, ep, key, n_samples, block)


@dataclasses.dataclass(frozen=True)
class MLPRegression(_MLPFamily):
    x_dim: int = 1
    y_dim: int = 1
    hidden: int = 64
    noise: float = 0.1
    init: str = "xavier"

    def sample_latent(self, key: jax.Array, n: int) -> dict:
        """{w1 (n, X, H), b1 (n, H), w2 (n, H, Y), b2 (n, Y)}."""
        shapes = _shapes(self.x_dim, self.hidden, self.y_dim)
        keys = dict(zip(shapes, jax.random.split(key, 4)))
        out = {}
        for name, shape in shapes.items():
            if self.init == "xavier" and name.startswith("w"):
                bound = np.sqrt(6.0 / (shape[0] + shape[1]))
                out[name] = jax.random.uniform(keys[name], (n, *shape), minval=-bound, maxval=bound)
            else:
                out[name] = jax.random.normal(keys[name], (n, *shape))
        return out

    def prior_var(self) -> float:
        """Var(f(x)) under the prior, x ~ N(0, I) (each output; exact)."""
        if self.init == "xavier":
            v1, v2 = 2.0 / (self.x_dim + self.hidden), 2.0 / (self.hidden + self.y_dim)
        else:
            v1 = v2 = 1.0
        pre = self.x_dim * v1 + 1.0  # Var(w1 . x + b1) with b1 ~ N(0, 1)
        return self.hidden * v2 * pre / 2 + 1.0  # E relu(h)^2 = Var(h) / 2


@dataclasses.dataclass(frozen=True)
class LowRankMLPRegression(_MLPFamily):
    x_dim: int = 1
    y_dim: int = 1
    hidden: int = 64
    z_dim: int = 10
    noise: float = 0.1
    base_seed: int = 0  # fixes theta0 and the projections (one draw per dataset in the reference)

    @functools.cached_property
    def base(self) -> tuple[dict, dict]:
        """(theta0, projections): {name: (*shape)}, {name: (dim, z_dim)} as numpy arrays."""
        rng = np.random.default_rng(self.base_seed)
        theta0, proj = {}, {}
        for name, shape in _shapes(self.x_dim, self.hidden, self.y_dim).items():
            fan_in = shape[0] if name.startswith("w") else (
                self.x_dim if name == "b1" else self.hidden)
            bound = 1.0 / np.sqrt(fan_in)
            theta0[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
            proj[name] = fastfood_matrix(int(np.prod(shape)), self.z_dim, rng).astype(np.float32)
        return theta0, proj

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        """(n, z_dim) low-dimensional codes z ~ N(0, I)."""
        return jax.random.normal(key, (n, self.z_dim))

    def params(self, z: jax.Array) -> dict:
        """One task's MLP parameters theta0 + P z; z (z_dim,)."""
        theta0, proj = self.base
        return {k: jnp.asarray(theta0[k]) + (jnp.asarray(proj[k]) @ z).reshape(theta0[k].shape)
                for k in theta0}

    def predict(self, z: jax.Array, x: jax.Array) -> jax.Array:
        return mlp_apply(self.params(z), x)


def fastfood_vars(dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference's random Fastfood variables for a tensor of ``dim`` entries: signs B,
    permutation Pi and Gaussian scales G, each of length L = 2^ceil(log2 dim)."""
    ll = 2 ** int(np.ceil(np.log2(dim))) if dim > 1 else 1
    return rng.integers(0, 2, ll) * 2.0 - 1.0, rng.permutation(ll), rng.standard_normal(ll)


def fastfood_matrix(dim: int, z_dim: int, rng: np.random.Generator) -> np.ndarray:
    """(dim, z_dim) dense matrix of one Fastfood map z -> delta (the reference's
    ``fastfood_torched`` for one parameter tensor): H G Pi H B applied to each basis vector
    of z (zero-padded, or truncated when L < z_dim), first ``dim`` rows, rescaled."""
    b, perm, g = fastfood_vars(dim, rng)
    ll = b.shape[0]
    h = scipy.linalg.hadamard(ll)
    k = min(ll, z_dim)
    padded = np.zeros((k, ll))
    padded[:, :k] = np.eye(k)
    out = (h @ (g * (h @ (b * padded).T)[perm].T).T).T  # (k, ll): H G Pi H B e_j
    mat = np.zeros((dim, z_dim))
    mat[:, :k] = out[:, :dim].T / (np.sqrt(ll * np.sum(g**2)) * np.sqrt(dim / ll))
    return mat
