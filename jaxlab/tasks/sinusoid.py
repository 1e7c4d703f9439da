"""Sinusoid regression task family (the Occam reference's ``SinusoidRegression``).

``y = sum_d sum_{j < n_freq} a_dj sin(f_dj x_d) + noise * eps`` with amplitudes
``a ~ U(0, 1)`` per task and inputs ``x ~ N(0, I)``. With ``fixed_freq`` the frequencies
are the same for every task and seed: the reference draws ``5 * U(0, 1)`` once under
``torch.manual_seed(1)``, whose first three uniforms are 0.7576, 0.2793, 0.4031 (x_dim = 1);
we use those values (for x_dim > 1 a fixed JAX draw). Otherwise each task draws its own.

Oracle (fixed frequencies): y is linear in the amplitudes a with a uniform prior on the
cube [0, 1]^P (P = x_dim * n_freq), so the posterior is a Gaussian likelihood (a linear
constraint when noise = 0) truncated to the cube. We importance-sample it: the proposal is
the exact linear-Gaussian posterior under the moment-matched prior N(1/2, I/12) (from
``gaussian_linear_posterior``, valid for noise = 0 too, where it lives on the affine subspace
of amplitudes consistent with the context), and the weight is
``1[a in cube] / N(a; 1/2, I/12)``, bounded by exp(6 P / 4) on the cube, so the weights
never degenerate. Its Monte-Carlo error bar is reported (mc_se, mc_bias, ess). With
per-task frequencies and noise > 0 the oracle is importance sampling from the prior over
(amplitudes, frequencies); with per-task frequencies and noise 0 there is none.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxlab.tasks import inference, oracles
from jaxlab.tasks.linear import Episodes

REFERENCE_FREQS_XDIM1 = (5 * 0.7576, 5 * 0.2793, 5 * 0.4031)


@dataclasses.dataclass(frozen=True)
class SinusoidRegression:
    x_dim: int = 1
    n_freq: int = 3
    noise: float = 0.0
    fixed_freq: bool = True
    y_dim: int = 1
    kind = "regression"

    def fixed_frequencies(self) -> jax.Array:
        """(x_dim, n_freq) frequencies shared by every task."""
        if self.x_dim == 1 and self.n_freq == 3:
            return jnp.asarray([REFERENCE_FREQS_XDIM1], jnp.float32)
        return 5 * jax.random.uniform(jax.random.PRNGKey(1), (self.x_dim, self.n_freq))

    def encode(self, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """Model inputs (x, y): the raw features, already real-valued."""
        return ep.x, ep.y

    def sample(self, key: jax.Array, n_tasks: int, n_points: int) -> Episodes:
        """x (B, N, x_dim), y (B, N, 1); the latent ``w`` is (B, x_dim, n_freq, 2) holding
        amplitudes and frequencies."""
        k_a, k_f, k_x, k_eps = jax.random.split(key, 4)
        amps = jax.random.uniform(k_a, (n_tasks, self.x_dim, self.n_freq))
        if self.fixed_freq:
            freqs = jnp.broadcast_to(self.fixed_frequencies(), amps.shape)
        else:
            freqs = 5 * jax.random.uniform(k_f, amps.shape)
        x = jax.random.normal(k_x, (n_tasks, n_points, self.x_dim))
        y = jnp.einsum("bdj,bndj->bn", amps, jnp.sin(x[..., None] * freqs[:, None]))[..., None]
        y = y + self.noise * jax.random.normal(k_eps, y.shape)
        return Episodes(x, y, jnp.stack([amps, freqs], axis=-1))

    # --- latent / point split (finite pools, importance sampling) -------------------------
    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        """(n, x_dim, n_freq, 2): amplitudes U(0, 1) and frequencies."""
        k_a, k_f = jax.random.split(key)
        amps = jax.random.uniform(k_a, (n, self.x_dim, self.n_freq))
        if self.fixed_freq:
            freqs = jnp.broadcast_to(self.fixed_frequencies(), amps.shape)
        else:
            freqs = 5 * jax.random.uniform(k_f, amps.shape)
        return jnp.stack([amps, freqs], axis=-1)

    def predict(self, w: jax.Array, x: jax.Array) -> jax.Array:
        """One task: w (x_dim, n_freq, 2), x (N, x_dim) -> (N, 1)."""
        return jnp.einsum("dj,ndj->n", w[..., 0], jnp.sin(x[..., None] * w[..., 1]))[:, None]

    def loglik(self, mean: jax.Array, y: jax.Array) -> jax.Array:
        return oracles.gaussian_loglik(mean, y, self.noise)

    def sample_given(self, key: jax.Array, w: jax.Array, n_points: int) -> Episodes:
        k_x, k_eps = jax.random.split(key)
        x = jax.random.normal(k_x, (w.shape[0], n_points, self.x_dim))
        y = jax.vmap(self.predict)(w, x)
        return Episodes(x, y + self.noise * jax.random.normal(k_eps, y.shape), w)

    # --- oracle ----------------------------------------------------------------------------
    @property
    def oracle_method(self) -> str | None:
        if self.fixed_freq:
            return ("Monte Carlo: importance sampling of the cube-truncated linear-Gaussian "
                    "amplitude posterior")
        if self.noise > 0:
            return "Monte Carlo: importance sampling from the prior over amplitudes and frequencies"
        return None

    def features(self, x: jax.Array) -> jax.Array:
        """(..., x_dim) -> (..., x_dim * n_freq): sin(f_dj x_d) for the fixed frequencies."""
        return jnp.sin(x[..., None] * self.fixed_frequencies()).reshape(*x.shape[:-1], -1)

    def oracle(self, ep: Episodes, key: jax.Array, n_samples: int = 1024, block: int = 8) -> dict:
        """Per-point (B, N) squared error of the Monte-Carlo posterior-predictive mean and its
        diagnostics (see ``inference.regression_terms``)."""
        if not self.fixed_freq:
            return oracles.importance_oracle(self, ep, key, n_samples, block)
        p = self.x_dim * self.n_freq
        tau2 = 1.0 / 12.0
        phi = self.features(ep.x)
        post = inference.gaussian_linear_posterior(phi, ep.y, jnp.full((p, 1), 0.5), tau2, self.noise)
        keys = jax.random.split(key, ep.x.shape[0])

        def one(phi_e, y_e, mean_e, cov_e, k):
            # mean_e (N, P, 1), cov_e (N, P, P): the proposal before each point k
            evals, evecs = jnp.linalg.eigh(cov_e)
            root = evecs * jnp.sqrt(jnp.maximum(evals, 0.0))[:, None, :]
            eps = jax.random.normal(k, (n_samples,) + mean_e.shape[:2])  # (S, N, P)
            a = mean_e[None, :, :, 0] + jnp.einsum("npq,snq->snp", root, eps)
            tol = 1e-4
            inside = jnp.all((a >= -tol) & (a <= 1 + tol), axis=-1)  # (S, N)
            logw = jnp.where(inside, jnp.sum(jnp.square(a - 0.5), -1) / (2 * tau2), -jnp.inf)
            # no sample inside the cube (only possible through float error): fall back to
            # the proposal mean with weight 1
            empty = ~jnp.any(inside, axis=0)
            logw = jnp.where(empty[None], 0.0, logw)
            out = jnp.einsum("np,snp->sn", phi_e, a)[..., None]  # (S, N, 1)
            def terms(o, lw):
                pred = inference.weighted_mean(o, lw)
                return inference.regression_terms(pred.value, pred.se, pred.ess, y_e)

            result = terms(out, logw)
            result["mc_split_bias"] = oracles.split_bias(
                lambda o, lw: terms(o, lw)["loss"], out, logw, result["loss"])
            return result

        return inference.map_blocks(lambda a: jax.vmap(one)(*a),
                                    (phi, ep.y, post.mean, post.cov, keys), block)
