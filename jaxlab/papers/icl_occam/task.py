"""The ICL study's task: the family of ``config.task`` built, validated and encoded.

Shared by the in-context learners (``study``) and the SGD learner (``sgd``).
"""
from __future__ import annotations

import jax
import ml_collections

from jaxlab import objectives
from jaxlab.config import require
from jaxlab.tasks.chebyshev import ChebyshevRegression
from jaxlab.tasks.classification import LinearClassification
from jaxlab.tasks.dynamics import TransitionMatrix
from jaxlab.tasks.gp import GPRegression
from jaxlab.tasks.linear import LinearRegression
from jaxlab.tasks.mastermind import Mastermind
from jaxlab.tasks.mlp_tasks import LowRankMLPRegression, MLPRegression
from jaxlab.tasks.pool import FinitePool
from jaxlab.tasks.sinusoid import SinusoidRegression

def validate_family(config: ml_collections.ConfigDict) -> None:
    """One-line errors for the families added after linear/sinusoid/Mastermind."""
    t = config.task
    g = lambda name, default: t.get(name, default)
    for name in ("oracle_samples", "oracle_tasks", "gp_grid"):
        require(g(name, 1) >= 1, f"task.{name}", f"must be >= 1, got {g(name, 1)}")
    require(g("ridge_lambda", 1.0) > 0, "task.ridge_lambda", f"must be > 0, got {g('ridge_lambda', 1.0)}")
    if t.family == "chebyshev":
        require(g("degree", 3) >= 0, "task.degree", f"must be >= 0, got {g('degree', 3)}")
        require(t.noise >= 0, "task.noise", f"must be >= 0, got {t.noise}")
    elif t.family in ("mlp", "lowrank_mlp"):
        require(t.noise > 0, "task.noise", "must be > 0: the importance-sampling oracle weighs "
                f"prior draws by a Gaussian likelihood, got {t.noise}")
        require(g("hidden", 64) >= 1, "task.hidden", f"must be >= 1, got {g('hidden', 64)}")
        require(g("z_dim", 10) >= 1, "task.z_dim", f"must be >= 1, got {g('z_dim', 10)}")
        require(g("mlp_init", "xavier") in ("xavier", "normal"), "task.mlp_init",
                f"must be 'xavier' or 'normal', got {g('mlp_init', 'xavier')!r}")
    elif t.family == "classification":
        require(g("n_classes", 2) >= 2, "task.n_classes", f"must be >= 2, got {g('n_classes', 2)}")
        require(g("temperature", 1e-6) > 0, "task.temperature",
                f"must be > 0, got {g('temperature', 1e-6)}")
    elif t.family in ("gp_rbf", "gp_matern"):
        require(t.y_dim == 1, "task.y_dim", f"must be 1 for GP tasks, got {t.y_dim}")
    elif t.family == "dynamics":
        for name in ("dim", "x_len", "y_len"):
            require(g(name, 1) >= 1, f"task.{name}", f"must be >= 1, got {g(name, 1)}")
        require(g("dt", 0.01) > 0, "task.dt", f"must be > 0, got {g('dt', 0.01)}")
        require(t.noise >= 0, "task.noise", f"must be >= 0, got {t.noise}")
        require(t.x_dim == t.dim * t.x_len, "task.x_dim",
                f"must equal task.dim * task.x_len = {t.dim * t.x_len}, got {t.x_dim}")
        require(t.y_dim == t.dim * t.y_len, "task.y_dim",
                f"must equal task.dim * task.y_len = {t.dim * t.y_len}, got {t.y_dim}")

def make_task(config: ml_collections.ConfigDict):
    """The task family of ``config.task`` (see jaxlab/tasks/ and docs/task_families.md),
    wrapped in a finite pool of ``task.pool_size`` tasks when that is > 0."""
    t = config.task
    g = lambda name, default: t.get(name, default)
    if t.family == "mastermind":
        return Mastermind(t.code_length, t.n_colours, t.code_colours)
    if t.family == "sinusoid":
        base = SinusoidRegression(t.x_dim, 3, t.noise, t.fixed_freq)
    elif t.family == "chebyshev":
        base = ChebyshevRegression(t.x_dim, t.y_dim, g("degree", 3), t.noise)
    elif t.family == "mlp":
        base = MLPRegression(t.x_dim, t.y_dim, g("hidden", 64), t.noise, g("mlp_init", "xavier"))
    elif t.family == "lowrank_mlp":
        base = LowRankMLPRegression(t.x_dim, t.y_dim, g("hidden", 64), g("z_dim", 10), t.noise)
    elif t.family == "classification":
        base = LinearClassification(t.x_dim, g("n_classes", 2), g("temperature", 1e-6))
    elif t.family in ("gp_rbf", "gp_matern"):
        return GPRegression("rbf" if t.family == "gp_rbf" else "matern52", t.x_dim)
    elif t.family == "dynamics":
        base = TransitionMatrix(t.dim, t.x_len, t.y_len, g("dt", 0.01), t.noise)
    else:
        base = LinearRegression(t.x_dim, t.y_dim, t.noise)
    if g("pool_size", 0) > 0:
        return FinitePool(base, t.pool_size, config.seed)
    return base

def episodes(task, key: jax.Array, n_tasks: int, n_points: int) -> tuple[jax.Array, jax.Array]:
    """Float model inputs (x, y), (B, N, x_dim) and (B, N, y_dim); one-hot for Mastermind."""
    return task.encode(task.sample(key, n_tasks, n_points))

def pointwise_loss(config: ml_collections.ConfigDict):
    """Squared error (regression), or the cross-entropy in nats of the categorical outputs
    (two for Mastermind, one for classification)."""
    if config.task.family == "mastermind":
        return lambda pred, y: objectives.grouped_cross_entropy(pred, y, 2)
    if config.task.family == "classification":
        return lambda pred, y: objectives.grouped_cross_entropy(pred, y, 1)
    return objectives.squared_error
