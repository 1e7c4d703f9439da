"""Meta-objectives of in-context learners over every context size in one causal pass.

The paper's §3.1 objectives as the reference's ``tasks/meta_optimizer.py`` computes them
(docs/icl_occam.md). A learner answers a query x with a context size k (explicit: from
z[:, k], the summary of the first k points; implicit: by attending to those k points).
With ``m = min_context``:
  * prequential (next-token): predict point k from z[k], for k = m..N-1;
  * train risk: predict a random point already in context, r_k ~ U{0..k-1}, from z[k].
Losses are per (task, k); the training loss weighs every k equally.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp


class ContextQueries(NamedTuple):
    """Query points for context sizes k = m..N-1, each (B, N - m, dim); column j is k = m + j.

    ``next_*`` is point k itself (unseen: the prequential target); ``seen_*`` is a point
    r_k ~ U{0..k-1} already in context (the train-risk target).
    """

    next_x: jax.Array
    next_y: jax.Array
    seen_x: jax.Array
    seen_y: jax.Array


def squared_error(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Mean over the output dims: (..., y_dim) -> (...)."""
    return jnp.mean(jnp.square(pred - target), axis=-1)


def grouped_cross_entropy(logits: jax.Array, onehot: jax.Array, n_groups: int) -> jax.Array:
    """Cross-entropy (nats) of one-hot targets split into ``n_groups`` categorical outputs,
    averaged over the groups (the reference's ``CrossEntropyLossFlat``).

    logits, onehot: (..., n_groups * V) -> (...).
    """
    lead = logits.shape[:-1]
    logp = jax.nn.log_softmax(logits.reshape(*lead, n_groups, -1), axis=-1)
    return -jnp.sum(logp * onehot.reshape(*lead, n_groups, -1), axis=-1).mean(-1)


def context_queries(x: jax.Array, y: jax.Array, key: jax.Array, min_context: int) -> ContextQueries:
    """Next-token and in-context query points for every context size k = m..N-1.

    x: (B, N, x_dim), y: (B, N, y_dim). The in-context point is drawn per task (the
    reference draws one index per batch; per task has the same expectation and less
    variance, a deliberate fix documented in docs/icl_occam.md).
    """
    chex.assert_rank([x, y], 3)
    b, n, _ = x.shape
    m = min_context
    ks = jnp.arange(m, n)
    r = jnp.floor(jax.random.uniform(key, (b, n - m)) * ks).astype(jnp.int32)
    take = lambda a: jnp.take_along_axis(a, r[..., None], axis=1)
    return ContextQueries(x[:, m:], y[:, m:], take(x), take(y))


def query_losses(
    answer: Callable[[jax.Array], jax.Array],
    queries: ContextQueries,
    loss: Callable[[jax.Array, jax.Array], jax.Array] = squared_error,
) -> tuple[jax.Array, jax.Array]:
    """(prequential, train-risk) losses, each (B, N - m).

    ``answer(x_query)`` maps queries (B, N - m, x_dim) to predictions, column j
    conditioned on the first m + j context points (``model.answer`` with ``first_k = m``).
    """
    preq = loss(answer(queries.next_x), queries.next_y)
    train = loss(answer(queries.seen_x), queries.seen_y)
    return preq, train
