"""Worked example paper (docs/new_paper.md): a small MLP learns y = sin(x) + noise.

Every (learning rate, seed) run trains in one program through ``jaxlab.runner.train_runs``;
each is then scored on held-out points against the Bayes-optimal predictor, sin(x) itself,
whose expected error is the noise variance. Tables: ``eval`` (run, seed, learning_rate,
metric, value) and the engine's ``train``.
"""
from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import pandas as pd

from jaxlab import results, runner
from jaxlab.config import require
from jaxlab.train import Learner

TITLE = "Worked example: an MLP fitting a noisy sine (docs/new_paper.md)"


def validate(config: ml_collections.ConfigDict) -> None:
    """One-line errors for this paper's own fields (the engine checks train/hp/sweep)."""
    require(config.task.noise > 0, "task.noise", f"must be > 0, got {config.task.noise}")
    for name in ("batch", "test_points"):
        require(config.task[name] >= 1, f"task.{name}", f"must be >= 1, got {config.task[name]}")
    require(config.model.width >= 1, "model.width", f"must be >= 1, got {config.model.width}")


class SineMLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # (B, 1) -> (B, 1)
        return nn.Dense(1)(nn.tanh(nn.Dense(self.width)(x)))


def sample(key: jax.Array, n: int, noise: float) -> tuple[jax.Array, jax.Array]:
    """x ~ U(-pi, pi), y = sin(x) + noise * N(0, 1); both (n, 1)."""
    kx, ky = jax.random.split(key)
    x = jax.random.uniform(kx, (n, 1), minval=-jnp.pi, maxval=jnp.pi)
    return x, jnp.sin(x) + noise * jax.random.normal(ky, (n, 1))


def make_learner(config: ml_collections.ConfigDict) -> Learner:
    model, t = SineMLP(config.model.width), config.task

    def loss(params, batch, hp, key):
        x, y = batch
        mse = jnp.mean((model.apply(params, x) - y) ** 2)
        return mse, {"mse": mse}

    def evaluate(params, hp, key):
        x, y = sample(key, t.test_points, t.noise)
        return {"test_mse": jnp.mean((model.apply(params, x) - y) ** 2),
                "bayes_mse": jnp.mean((jnp.sin(x) - y) ** 2)}

    return Learner(init_params=lambda key: model.init(key, jnp.zeros((1, 1))),
                   sample_batch=lambda key: sample(key, t.batch, t.noise),
                   loss=loss, evaluate=evaluate)


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    learner = make_learner(config)
    phase = runner.train_runs(config, learner, session)
    evaluate = runner.program(config, phase.executor, "evaluate", lambda: phase.trainer.evaluate)
    test_keys = phase.place(jnp.stack([jax.random.PRNGKey(10_000 + r["seed"]) for r in phase.run_rows]))
    scores = phase.gather(evaluate(phase.state, phase.hps, test_keys))
    rows = [{"run": r["run"], "seed": r["seed"], "learning_rate": r["hp"]["learning_rate"],
             "metric": metric, "value": float(values[r["run"]])}
            for r in phase.run_rows for metric, values in scores.items()]
    table = pd.DataFrame(rows)
    results.write_table(session.workdir, "eval", table)
    mean = table.groupby(["learning_rate", "metric"]).value.mean().unstack()
    lines = ["held-out MSE, mean over seeds (bayes_mse: sin(x) itself, expected noise^2 = "
             f"{config.task.noise ** 2:.4f})", mean.to_string(float_format=lambda v: f"{v:.4f}")]
    results.atomic_write_text(os.path.join(session.workdir, "table.txt"), "\n".join(lines) + "\n")
