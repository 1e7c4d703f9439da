"""Prequential code length of an in-context learner.

An in-context learner predicts point k from points 0..k-1 in one causal pass, so its
prequential code length is the sum over positions of its next-token loss: in nats when the
loss is a negative log-likelihood (categorical or lattice codes, see ``lattice``), in
squared-error units for the regression curves the ICL paper plots.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def prequential_code_length(next_token_loss: jax.Array, start: int = 0) -> jax.Array:
    """Sum of per-position losses from position ``start`` on.

    next_token_loss: (..., N) with position k the loss of point k given points 0..k-1
    -> (...).
    """
    chex.assert_rank(next_token_loss, {1, 2, 3})
    return jnp.sum(next_token_loss[..., start:], axis=-1)
