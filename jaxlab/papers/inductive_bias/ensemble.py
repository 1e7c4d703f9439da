"""The neural-network hypothesis class: MLPs trained from independent initialisations.

One hypothesis = one MLP (``depth`` hidden ReLU layers of ``width`` units) initialised as
PyTorch's ``nn.Linear`` does (weights and biases uniform in +-1/sqrt(fan_in), the
reference's framework) and trained with Adam on the MSE to the one-hot training targets,
minibatches drawn from the fixed training set. Its hypothesis is the trained network; its
test error is the MSE (mean over test points and outputs) to the one-hot test targets.

Each member of an ensemble is one *seed* of the engine's run grid: ``Learner`` below is a
single member, and ``jaxlab.runner.train_runs`` trains all members in one program
(vmapped, or ``lax.map``-chunked over ``executor.runs_per_batch`` members to bound memory,
sharded over devices), checkpointed between chunks.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.papers.inductive_bias.tasks import Dataset
from jaxlab.train import Learner


def torch_uniform(fan_in: int):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for Linear weights and biases."""
    bound = 1.0 / math.sqrt(fan_in)
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


class MLP(nn.Module):
    """(B, d) -> (B, out): ``depth`` >= 1 hidden ReLU layers of ``width`` units."""

    width: int
    depth: int
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        for i in range(self.depth + 1):
            size = self.out if i == self.depth else self.width
            init = torch_uniform(fan_in)
            x = nn.Dense(size, kernel_init=init, bias_init=init, name=f"dense_{i}")(x)
            x = x if i == self.depth else nn.relu(x)
            fan_in = size
        return x


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    return jnp.mean((pred - target) ** 2)


def make_learner(data: Dataset, width: int, depth: int, batch: int) -> Learner:
    """One ensemble member on ``data``: evaluate gives test_mse, train_mse, test_acc."""
    x_tr, y_tr = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_te, y_te = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    model = MLP(width, depth, y_tr.shape[1])
    n = x_tr.shape[0]

    def sample_batch(key):
        idx = jax.random.choice(key, n, (batch,), replace=False) if batch < n else jnp.arange(n)
        return x_tr[idx], y_tr[idx]

    def loss(params, batch_, hp, key):
        x, y = batch_
        value = mse(model.apply(params, x), y)
        return value, {"mse": value}

    def evaluate(params, hp, key):
        pred = model.apply(params, x_te)
        return {"test_mse": mse(pred, y_te), "train_mse": mse(model.apply(params, x_tr), y_tr),
                "test_acc": jnp.mean(jnp.argmax(pred, 1) == jnp.argmax(y_te, 1))}

    return Learner(init_params=lambda key: model.init(key, x_tr[:1]), sample_batch=sample_batch,
                   loss=loss, evaluate=evaluate)
