"""Topological similarity: how well distances between sentences predict distances between
their representations (the companion metric of the compositionality paper).

Pearson correlation, over all pairs i < j, of the Hamming distance between sentences (the
cityblock distance between one-hot sentences is twice that; a Pearson correlation does not
see the factor) and the Euclidean distance between representations.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def topological_similarity(w: jax.Array, z: jax.Array, n_words=None) -> jax.Array:
    """w (n, k) int sentences, z (n, d) representations -> scalar Pearson r over pairs.

    ``n_words`` (may be traced) counts the real word positions of padded sentences (the
    loop stops there); padded z columns must be zero."""
    chex.assert_rank([w, z], 2)
    n = w.shape[0]
    n_words = w.shape[1] if n_words is None else n_words
    wt = w.T

    def add_position(j, acc):
        wj = wt[j]
        return acc + (wj[:, None] != wj[None, :]).astype(jnp.float32)

    ham = jax.lax.fori_loop(0, n_words, add_position, jnp.zeros((n, n), jnp.float32))
    zc = z - jnp.mean(z, axis=0)
    sq = jnp.sum(zc * zc, axis=1)
    dist = jnp.sqrt(jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * zc @ zc.T, 0.0))
    pairs = jnp.triu(jnp.ones((n, n), bool), k=1)
    count = n * (n - 1) / 2
    mx = jnp.sum(jnp.where(pairs, ham, 0.0)) / count
    my = jnp.sum(jnp.where(pairs, dist, 0.0)) / count
    dx, dy = jnp.where(pairs, ham - mx, 0.0), jnp.where(pairs, dist - my, 0.0)
    return jnp.sum(dx * dy) / jnp.sqrt(jnp.sum(dx * dx) * jnp.sum(dy * dy))
