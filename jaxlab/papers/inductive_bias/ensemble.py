"""The neural-network hypothesis classes: MLPs (and small convnets on the 8x8 digits)
trained from independent initialisations.

One hypothesis = one MLP (``depth`` hidden ReLU layers of ``width`` units) initialised as
PyTorch's ``nn.Linear`` does (weights and biases uniform in +-1/sqrt(fan_in), the
reference's framework) and trained with Adam on the MSE to the one-hot training targets,
minibatches drawn from the fixed training set. Its hypothesis is the trained network; its
test error is the MSE (mean over test points and outputs) to the one-hot test targets.

``ConvNet`` is the convnet kind: ``depth`` 3x3 'same' convolutions of ``channels`` filters
with ReLU on the 8x8 image, then one dense read-out, initialised the same PyTorch way
(fan_in = 9 x input channels). Its convolution is written as nine shifted copies of the
padded image and one matmul, which vmaps over members as plain matmuls on a CPU.

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


def conv3x3(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """(B, H, W, C) * (3, 3, C, F) + (F,) -> (B, H, W, F): 'same' zero-padded convolution
    (cross-correlation, as every framework computes it) as nine shifted slices and a matmul."""
    h, w = x.shape[1:3]
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = jnp.stack([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=3)
    return jnp.einsum("bhwpc,pcf->bhwf", patches, kernel.reshape(9, *kernel.shape[2:])) + bias


class ConvNet(nn.Module):
    """(B, 64) -> (B, out): the row as an 8x8 image, ``depth`` >= 1 ReLU 3x3 convolutions of
    ``channels`` filters, a dense read-out of the flattened (8, 8, channels) features."""

    channels: int
    depth: int
    out: int
    side: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], self.side, self.side, 1)
        for i in range(self.depth):
            fan_in = 9 * x.shape[-1]
            kernel = self.param(f"conv_{i}_kernel", torch_uniform(fan_in), (3, 3, x.shape[-1], self.channels))
            bias = self.param(f"conv_{i}_bias", torch_uniform(fan_in), (self.channels,))
            x = nn.relu(conv3x3(x, kernel, bias))
        x = x.reshape(x.shape[0], -1)
        init = torch_uniform(x.shape[-1])
        return nn.Dense(self.out, kernel_init=init, bias_init=init, name="readout")(x)


KINDS = ("mlp", "cnn")


def network(kind: str, width: int, depth: int, out: int) -> nn.Module:
    """The ``kind`` member: an MLP (``width`` units) or a ConvNet (``width`` channels)."""
    return MLP(width, depth, out) if kind == "mlp" else ConvNet(width, depth, out)


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    return jnp.mean((pred - target) ** 2)


def make_learner(data: Dataset, width: int, depth: int, batch: int, kind: str = "mlp") -> Learner:
    """One ensemble member of ``kind`` (see ``network``) on ``data``: evaluate gives
    test_mse, train_mse, test_acc."""
    x_tr, y_tr = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_te, y_te = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    model = network(kind, width, depth, y_tr.shape[1])
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
