"""The ICL study's task: the family of ``config.task`` (``jaxlab.tasks.families``), built
with the config's seed, and its episodes as float model inputs.

Shared by the in-context learners (``study``) and the SGD learner (``sgd``).
"""
from __future__ import annotations

from typing import Callable

import jax
import ml_collections

from jaxlab.tasks import families


def make_task(config: ml_collections.ConfigDict):
    """The task family of ``config.task`` (docs/task_families.md), wrapped in a finite pool
    of ``task.pool_size`` tasks when that is > 0."""
    return families.build(config.task, config.seed)


def episodes(task, key: jax.Array, n_tasks: int, n_points: int) -> tuple[jax.Array, jax.Array]:
    """Float model inputs (x, y), (B, N, x_dim) and (B, N, y_dim); one-hot for Mastermind."""
    return task.encode(task.sample(key, n_tasks, n_points))


def pointwise_loss(config: ml_collections.ConfigDict) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Squared error (regression), or the cross-entropy in nats of the categorical outputs."""
    return families.pointwise_loss(config.task)
