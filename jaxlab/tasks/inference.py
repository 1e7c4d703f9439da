"""Shared inference machinery for the task families' oracles and baselines.

* ``gaussian_linear_filter``: exact one-step-ahead posterior predictive of a linear-Gaussian
  model ``y = phi(x) w + noise * eps`` with a Gaussian prior on ``w``, for every context
  size in one ``lax.scan`` over points (a Kalman filter with a static state). It accepts
  ``noise = 0``: a point whose prediction is already determined (predictive variance below
  a relative tolerance) leaves the posterior unchanged instead of dividing by zero.
* ``weighted_predictive``: the posterior predictive of a model given S latent samples with
  per-point log-likelihoods (self-normalised importance sampling from the prior, or the
  exact discrete posterior of a finite task pool), with its Monte-Carlo diagnostics.
* ``aggregate``: per-point oracle outputs (B, N) -> per-context-size metrics (N,).

Shapes: B episodes, N points, P features, Y outputs, S samples.
"""
from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp


class FilterOut(NamedTuple):
    """One-step-ahead predictive of point k given points 0..k-1, for k = 0..N-1.

    pred (B, N, Y) mean; var (B, N) variance (noise included); and, if requested, the
    posterior before point k: mean (B, N, P, Y), cov (B, N, P, P).
    """

    pred: jax.Array
    var: jax.Array
    mean: jax.Array | None = None
    cov: jax.Array | None = None


def gaussian_linear_filter(phi: jax.Array, y: jax.Array, prior_mean: jax.Array,
                           prior_cov: jax.Array, noise: float, return_state: bool = False,
                           rel_tol: float = 1e-5) -> FilterOut:
    """Exact Bayesian linear regression, sequentially over points.

    phi: (B, N, P), y: (B, N, Y); prior w ~ N(prior_mean (P, Y), prior_cov (P, P)) for each
    output column independently (shared covariance). ``noise`` >= 0 is the noise std.
    """
    chex.assert_rank([phi, y], 3)
    b, _, p = phi.shape
    s2 = jnp.asarray(noise, jnp.float32) ** 2
    mu0 = jnp.broadcast_to(prior_mean, (b, p, y.shape[-1])).astype(jnp.float32)
    cov0 = jnp.broadcast_to(prior_cov, (b, p, p)).astype(jnp.float32)

    def step(carry, inp):
        mu, cov = carry
        f, t = inp  # (B, P), (B, Y)
        cf = jnp.einsum("bij,bj->bi", cov, f)
        s = jnp.einsum("bi,bi->b", f, cf)
        prior_s = jnp.einsum("bi,ij,bj->b", f, prior_cov, f)
        pred = jnp.einsum("bi,biy->by", f, mu)
        total = jnp.maximum(s, 0.0) + s2
        informative = total > rel_tol * prior_s + 1e-30
        gain = jnp.where(informative, 1.0 / jnp.where(informative, total, 1.0), 0.0)
        new_mu = mu + gain[:, None, None] * cf[:, :, None] * (t - pred)[:, None, :]
        new_cov = cov - gain[:, None, None] * cf[:, :, None] * cf[:, None, :]
        new_cov = 0.5 * (new_cov + jnp.swapaxes(new_cov, -1, -2))
        out = (pred, total) + ((mu, cov) if return_state else ())
        return (new_mu, new_cov), out

    _, outs = jax.lax.scan(step, (mu0, cov0),
                           (jnp.swapaxes(phi, 0, 1), jnp.swapaxes(y, 0, 1)))
    outs = [jnp.swapaxes(o, 0, 1) for o in outs]
    return FilterOut(*outs)


def gaussian_linear_posterior(phi: jax.Array, y: jax.Array, prior_mean: jax.Array,
                              prior_var: float, noise: float, rel_tol: float = 1e-6) -> FilterOut:
    """Exact Bayesian linear regression for every context size, through an SVD of each
    prefix's design (backward-stable in float32, unlike the filter, for noise = 0 and
    badly scaled features; use it when P is small).

    phi: (B, N, P), y: (B, N, Y), prior w ~ N(prior_mean (P, Y), prior_var * I). Returns
    the one-step predictive (pred, var) and the posterior before each point (mean, cov).
    With noise 0, singular values below ``rel_tol`` times the largest count as zero.
    """
    chex.assert_rank([phi, y], 3)
    b, n, p = phi.shape
    v, s2 = float(prior_var), float(noise) ** 2
    mask = (jnp.arange(n)[None, :] < jnp.arange(n)[:, None]).astype(phi.dtype)  # (K, N): j < k

    def one(phi_e, y_e):
        design = mask[:, :, None] * phi_e[None]  # (K, N, P) rows j < k
        resid = mask[:, :, None] * (y_e - phi_e @ prior_mean)[None]  # (K, N, Y)
        u, sv, vt = jnp.linalg.svd(design, full_matrices=False)  # (K,N,P), (K,P), (K,P,P)
        if s2 > 0:
            denom = v * sv**2 + s2
            gain, keep = v * sv / denom, v * s2 / denom
        else:
            ok = sv > rel_tol * jnp.max(sv, axis=-1, keepdims=True) + 1e-30
            gain = jnp.where(ok, 1.0 / jnp.where(ok, sv, 1.0), 0.0)
            keep = jnp.where(ok, 0.0, v)
        mean = prior_mean + jnp.einsum("kqp,kq,knq,kny->kpy", vt, gain, u, resid)
        cov = jnp.einsum("kqp,kq,kqr->kpr", vt, keep, vt)
        pred = jnp.einsum("kp,kpy->ky", phi_e, mean)
        var = jnp.einsum("kp,kpr,kr->k", phi_e, cov, phi_e) + s2
        return pred, jnp.maximum(var, 0.0), mean, cov

    return FilterOut(*map_blocks(lambda a: jax.vmap(one)(*a), (phi, y), 8))


class Predictive(NamedTuple):
    """Sample-based predictive for each point k given points 0..k-1 (one episode).

    value (N, O): the weighted mean of per-sample outputs; se (N, O): its delta-method
    Monte-Carlo standard error; ess (N,): the effective sample size 1 / sum(w^2).
    """

    value: jax.Array
    se: jax.Array
    ess: jax.Array


def weighted_predictive(outputs: jax.Array, loglik: jax.Array,
                        log_prior: jax.Array | None = None,
                        query_loglik: jax.Array | None = None) -> Predictive:
    """outputs (S, N, O) per-sample predictions at each point; loglik (S, N) per-sample
    log-likelihood of each point; log_prior (S,) optional log weights of the samples.

    The weights for point k use the likelihood of points 0..k-1 only (exclusive cumsum),
    plus, for families whose inputs depend on the task, ``query_loglik`` (S, N): the
    log-likelihood of each point's x, counted from point k itself on (inclusive cumsum).
    Self-normalised: for prior samples this is importance sampling; for the full list of a
    finite pool's tasks with their prior it is the exact discrete posterior.
    """
    chex.assert_rank([outputs, loglik], [3, 2])
    cum = jnp.cumsum(loglik, axis=1) - loglik
    if log_prior is not None:
        cum = cum + log_prior[:, None]
    if query_loglik is not None:
        cum = cum + jnp.cumsum(query_loglik, axis=1)
    return weighted_mean(outputs, cum)


def weighted_mean(outputs: jax.Array, logw: jax.Array) -> Predictive:
    """outputs (S, N, O) with unnormalised log-weights logw (S, N) per point -> the
    self-normalised weighted mean, its delta-method standard error and the ESS."""
    w = jax.nn.softmax(logw, axis=0)  # (S, N)
    value = jnp.einsum("sn,sno->no", w, outputs)
    se = jnp.sqrt(jnp.einsum("sn,sno->no", w**2, jnp.square(outputs - value)))
    ess = 1.0 / jnp.sum(w**2, axis=0)
    return Predictive(value, se, ess)


def regression_terms(pred: jax.Array, se: jax.Array, ess: jax.Array, y: jax.Array) -> dict:
    """Per-point squared error and its Monte-Carlo diagnostics, (..., N) each.

    loss = mean_o (pred - y)^2; mc_bias ~ mean_o se^2 (the expected excess squared error
    that Monte-Carlo noise in ``pred`` adds); mc_var = the delta-method variance of the
    loss estimate, mean_o (2 (pred - y) se)^2 / Y.
    """
    r = pred - y
    return {"loss": jnp.mean(r**2, -1), "mc_bias": jnp.mean(se**2, -1),
            "mc_var": jnp.mean(jnp.square(2 * r * se), -1) / r.shape[-1], "ess": ess,
            "_pred": pred, "_se": se}


def classification_terms(prob_y: jax.Array, se_y: jax.Array, ess: jax.Array) -> dict:
    """Per-point cross-entropy -log p(y) and its Monte-Carlo diagnostics, (..., N) each.

    mc_bias ~ se^2 / (2 p^2) (second-order bias of -log of a noisy p); mc_var = (se / p)^2.
    """
    p = jnp.maximum(prob_y, 1e-30)
    return {"loss": -jnp.log(p), "mc_bias": 0.5 * jnp.square(se_y / p),
            "mc_var": jnp.square(se_y / p), "ess": ess}


def aggregate(per_point: dict) -> dict:
    """(B, N) per-point oracle outputs -> (N,) metrics over the B episodes.

    gen_error = mean loss; mc_bias = mean expected excess (how much Monte-Carlo noise
    inflates gen_error); mc_se = the Monte-Carlo standard error of gen_error (independent
    samples per episode); ess = mean effective sample size. Any other key: its mean, except
    keys starting with "_" (per-point extras such as the predictions), which are dropped.
    """
    out = {}
    b = per_point["loss"].shape[0]
    for name, v in per_point.items():
        if name.startswith("_"):
            continue
        if name == "loss":
            out["gen_error"] = v.mean(0)
        elif name == "mc_var":
            out["mc_se"] = jnp.sqrt(v.sum(0)) / b
        else:
            out[name] = v.mean(0)
    return out


def map_blocks(fn, args: tuple, block: int):
    """Apply ``fn`` to blocks of ``block`` episodes (leading axis) with ``lax.map`` to bound
    memory; the leading size must be a multiple of ``block`` (else one block)."""
    n = jax.tree.leaves(args)[0].shape[0]
    block = block if n % block == 0 else n
    split = lambda a: a.reshape(n // block, block, *a.shape[1:])
    out = jax.lax.map(fn, jax.tree.map(split, args))
    return jax.tree.map(lambda a: a.reshape(n, *a.shape[2:]), out)
