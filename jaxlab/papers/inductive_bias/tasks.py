"""The study's tasks, all available offline; each is a fixed train / test split.

* ``teacher``: x ~ N(0, I_d / d) (so |x| is about 1 at every input dimension d), labels
  the argmax of a random one-hidden-layer tanh teacher; d is the knob of the
  "higher-dimensional tasks need more inductive bias" curve.
* ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), a seeded split.
* ``pendulum``: an inverted pendulum simulated in JAX; the regression target is the state
  one control interval ahead (see ``pendulum``).
Inputs are scaled to unit norm for the classification tasks (the RBF kernel of
bandwidth 1 then sees informative distances); targets are one-hot rows (regression: the
state). Every array is float32 numpy, shapes (n, d) and (n, k).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

DIGITS_SIZE = 1797  # images in scikit-learn's bundled digits


class Dataset(NamedTuple):
    x_train: np.ndarray  # (n_train, d)
    y_train: np.ndarray  # (n_train, k) one-hot (or regression targets)
    x_test: np.ndarray  # (n_test, d)
    y_test: np.ndarray  # (n_test, k)


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[labels]


def teacher(dim: int, n_train: int, n_test: int, classes: int, hidden: int, seed: int) -> Dataset:
    """Random-teacher classification in ``dim`` input dimensions."""
    kx, k1, k2 = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), dim), 3)
    x = jax.random.normal(kx, (n_train + n_test, dim)) / jnp.sqrt(dim)
    w1 = jax.random.normal(k1, (dim, hidden)) * jnp.sqrt(dim)  # pre-activations of order 1
    w2 = jax.random.normal(k2, (hidden, classes))
    labels = np.asarray(jnp.argmax(jnp.tanh(x @ w1) @ w2, axis=1))
    x, y = unit_rows(np.asarray(x)), one_hot(labels, classes)
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def digits(n_train: int, n_test: int, seed: int) -> Dataset:
    """A seeded split of the bundled digits (n_train + n_test <= 1797), unit-norm pixels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x, y = unit_rows(data.data[order].astype(np.float64)), one_hot(data.target[order], 10)
    return Dataset(x[:n_train], y[:n_train], x[n_train:n_train + n_test], y[n_train:n_train + n_test])


def pendulum_step(state: jax.Array, force: jax.Array, dt: float = 0.02) -> jax.Array:
    """Cart-pole (Florian 2007 equations, the classic constants) by one Euler step:
    state (4,) = (x, x_dot, theta, theta_dot), force a scalar in newtons."""
    g, m_cart, m_pole, half_len = 9.8, 1.0, 0.1, 0.5
    x, x_dot, th, th_dot = state
    total = m_cart + m_pole
    tmp = (force + m_pole * half_len * th_dot ** 2 * jnp.sin(th)) / total
    th_acc = (g * jnp.sin(th) - jnp.cos(th) * tmp) / (
        half_len * (4.0 / 3.0 - m_pole * jnp.cos(th) ** 2 / total))
    x_acc = tmp - m_pole * half_len * th_acc * jnp.cos(th) / total
    return jnp.stack([x + dt * x_dot, x_dot + dt * x_acc, th + dt * th_dot, th_dot + dt * th_acc])


def pendulum(n_train: int, n_test: int, seed: int, horizon: int = 5) -> Dataset:
    """Regression: (state, force) -> state ``horizon`` steps later under a constant force;
    states uniform in the usual balancing box, force uniform in [-10, 10] N. Inputs (5,),
    targets (4,) (the change of state, standardised on the training set)."""
    ks, kf = jax.random.split(jax.random.PRNGKey(seed))
    n = n_train + n_test
    box = jnp.array([2.4, 1.0, 0.2, 1.0])
    states = jax.random.uniform(ks, (n, 4), minval=-1, maxval=1) * box
    force = jax.random.uniform(kf, (n,), minval=-10, maxval=10)

    def roll(s, f):
        return jax.lax.fori_loop(0, horizon, lambda _, s: pendulum_step(s, f), s)

    delta = np.asarray(jax.vmap(roll)(states, force) - states, np.float64)
    x = np.asarray(jnp.concatenate([states / box, force[:, None] / 10], axis=1), np.float32)
    mu, sd = delta[:n_train].mean(0), delta[:n_train].std(0) + 1e-12
    y = ((delta - mu) / sd).astype(np.float32)
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def baseline_error(data: Dataset) -> float:
    """Test MSE (mean over points and outputs) of predicting the training targets' mean:
    the scale that target errors eps are quoted against."""
    return float(np.mean((data.y_test - data.y_train.mean(0)) ** 2))
