"""Cheap baselines evaluated on the same episodes as the learners (per point, (B, N)).

* ``ridge``: ridge regression of y on [x, 1] refit at every context size (penalty ``lam``
  on all weights, bias included): the posterior mean of Bayesian linear regression with
  prior N(0, I / lam) and unit noise, computed by ``gaussian_linear_filter``. On the
  linear family with lam = noise^2 / prior_var it is the Bayes predictor.
* ``marginal_frequency``: the add-one smoothed running histogram of the labels seen so far,
  p_k(c) = (count_{<k}(c) + 1) / (k + V), per categorical output (the paper's marginal
  baseline for Mastermind, ``symbolic/src/utils.py``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.tasks import inference
from jaxlab.tasks.linear import with_bias


def ridge(x: jax.Array, y: jax.Array, lam: float) -> dict:
    """x (B, N, x_dim), y (B, N, y_dim) -> {"loss": (B, N) squared error of the ridge fit
    on points < k, predicting point k}."""
    phi = with_bias(x)
    p = phi.shape[-1]
    out = inference.gaussian_linear_filter(phi, y, jnp.zeros((p, y.shape[-1])),
                                           jnp.eye(p) / lam, 1.0)
    return {"loss": jnp.mean(jnp.square(out.pred - y), -1)}


def marginal_frequency(onehot: jax.Array, n_groups: int = 1) -> dict:
    """onehot (B, N, G * V) encoded categorical targets (G groups of V values) ->
    {"loss": (B, N) cross-entropy in nats averaged over the groups}."""
    b, n, _ = onehot.shape
    oh = onehot.reshape(b, n, n_groups, -1)
    counts = jnp.cumsum(oh, axis=1) - oh  # labels of points < k
    v = oh.shape[-1]
    k = jnp.arange(n, dtype=oh.dtype)[None, :, None, None]
    p = (counts + 1.0) / (k + v)
    return {"loss": -jnp.sum(oh * jnp.log(p), -1).mean(-1)}
