"""Sample-based oracles shared by the task families.

A family that supports them exposes
  * ``sample_latent(key, n) -> latent`` (a pytree with leading axis n) and
    ``sample_given(key, latent, n_points) -> Episodes`` (``sample`` is their composition);
  * ``predict(latent_one, x (N, x_dim)) -> (N, O)``: the noise-free mean (regression,
    O = y_dim) or the class logits (classification, O = n_classes);
  * ``loglik(out (N, O), y (N, y_dim)) -> (N,)``: the log-likelihood of each point;
  * ``kind``: "regression" or "classification" (then ``probs(out) -> (N, O)``);
  * optionally ``x_loglik(latent_one, x) -> (N,)`` when the inputs themselves depend on the
    task (the dynamical system's x is a trajectory); the pool posterior then uses it.

``importance_oracle``: self-normalised importance sampling from the prior (S fresh prior
samples per episode), a Monte-Carlo estimate whose error bar is reported (mc_se, mc_bias,
ess; see ``inference.aggregate``). ``pool_oracle``: the exact posterior over the M tasks of
a finite pool (uniform prior), i.e. the discrete MMSE / Bayes predictive.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.tasks import inference


def gaussian_loglik(mean: jax.Array, y: jax.Array, noise: float, floor: float = 1e-3) -> jax.Array:
    """(N, Y) means and targets -> (N,) log N(y; mean, s^2 I), s = max(noise, floor).

    The floor keeps noise-free families usable by the finite-pool posterior, where it acts
    as an exact-match test up to float error."""
    s2 = max(float(noise), floor) ** 2
    r2 = jnp.sum(jnp.square(mean - y), -1)
    return -0.5 * r2 / s2 - 0.5 * y.shape[-1] * jnp.log(2 * jnp.pi * s2)


def _terms(task, outputs: jax.Array, ll: jax.Array, y: jax.Array, pseudo_count: bool,
           xll: jax.Array | None = None) -> dict:
    if task.kind == "classification":
        outputs = jax.vmap(task.probs)(outputs)
    pred = inference.weighted_predictive(outputs, ll, query_loglik=xll)
    if task.kind == "classification":
        label = y[:, 0]
        pick = lambda a: jnp.take_along_axis(a, label[:, None], axis=-1)[:, 0]
        p, se = pick(pred.value), pick(pred.se)
        if pseudo_count:  # 1/S per class: finite cross-entropy when no sample explains y
            a = 1.0 / outputs.shape[0]
            p, se = (p + a) / (1 + outputs.shape[-1] * a), se / (1 + outputs.shape[-1] * a)
        return inference.classification_terms(p, se, pred.ess)
    return inference.regression_terms(pred.value, pred.se, pred.ess, y)


SPLIT_GROUPS = 4


def split_bias(terms_fn, outputs: jax.Array, weights: jax.Array, full_loss: jax.Array) -> jax.Array:
    """Jackknife-style estimate of the finite-sample bias of a self-normalised estimate.

    The S samples are split into ``SPLIT_GROUPS`` groups; if the bias scales as 1/S, the mean
    loss of the groups' estimates exceeds the full one by (G - 1) times the full estimate's
    bias. Unlike the delta method this sees rare large terms (an unexplained label), so it
    is the diagnostic to trust when the ESS is small. outputs (S, ...), weights (S, N).
    """
    g = SPLIT_GROUPS
    split = lambda a: a.reshape(g, a.shape[0] // g, *a.shape[1:])
    losses = jax.vmap(terms_fn)(split(outputs), split(weights))
    return (losses.mean(0) - full_loss) / (g - 1)


def importance_oracle(task, ep, key: jax.Array, n_samples: int, block: int = 8) -> dict:
    """Per-point (B, N) loss and Monte-Carlo diagnostics of the prior-IS predictive
    (``mc_split_bias``: see ``split_bias``; n_samples must be a multiple of 4)."""
    keys = jax.random.split(key, ep.x.shape[0])

    def one(x, y, k):
        latents = task.sample_latent(k, n_samples)
        outputs = jax.vmap(lambda lat: task.predict(lat, x))(latents)  # (S, N, O)
        ll = jax.vmap(lambda o: task.loglik(o, y))(outputs)  # (S, N)
        terms = _terms(task, outputs, ll, y, pseudo_count=True)
        loss = lambda o, l: _terms(task, o, l, y, pseudo_count=True)["loss"]
        terms["mc_split_bias"] = split_bias(loss, outputs, ll, terms["loss"])
        return terms

    return inference.map_blocks(lambda a: jax.vmap(one)(*a), (ep.x, ep.y, keys), block)


def pool_oracle(task, ep, latents, block: int = 8) -> dict:
    """Per-point (B, N) loss of the exact posterior over a finite pool's M tasks; the
    Monte-Carlo diagnostics are zero up to the pool's own ESS (reported)."""

    def one(x, y):
        outputs = jax.vmap(lambda lat: task.predict(lat, x))(latents)  # (M, N, O)
        ll = jax.vmap(lambda o: task.loglik(o, y))(outputs)
        xll = (jax.vmap(lambda lat: task.x_loglik(lat, x))(latents)
               if hasattr(task, "x_loglik") else None)
        terms = _terms(task, outputs, ll, y, pseudo_count=False, xll=xll)
        return {"loss": terms["loss"], "ess": terms["ess"]}

    return inference.map_blocks(lambda a: jax.vmap(one)(*a), (ep.x, ep.y), block)
