"""Many independent early-stopped SGD fits trained at once.

Each fit has its own (padded) train and validation set, its own minibatch shuffle and its
own early-stopping state; all fits advance in lockstep inside one ``lax.while_loop`` that
runs until every fit has stopped or hit its epoch budget. A stopped fit is frozen (its
state no longer changes), so a fit's result does not depend on which other fits share the
program (tested against the same fit run alone).

Semantics of one fit (the reference's Lightning loop, spec icl_occam.md §4):
  * an epoch is one pass over the train points in a fresh random order, in minibatches of
    ``batch_size`` (the last one smaller), ``ceil(n_train / batch_size)`` optimizer steps;
  * after each epoch the mean validation loss is computed; it is an improvement when it is
    below ``best - min_delta`` (Lightning's EarlyStopping in mode "min"); after
    ``patience`` epochs without improvement, or ``max_epochs`` epochs, the fit stops;
  * with ``restore_best`` the returned parameters are those of the best epoch, otherwise
    the last ones (the reference's SGD baseline does not restore);
  * the validation set must hold at least one point (``n_val >= 1``); a caller with no
    validation points passes its train points as the validation set.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

Params = Any


@dataclasses.dataclass(frozen=True)
class FitSpec:
    """Static description of a family of fits (shapes and the training rule).

    apply(params, x_rows) -> predictions; loss(pred, y_rows) -> per-row loss (rows,).
    """

    apply: Callable[[Params, jax.Array], jax.Array]
    loss: Callable[[jax.Array, jax.Array], jax.Array]
    optimizer: optax.GradientTransformation
    batch_size: int = 64
    patience: int = 10
    min_delta: float = 1e-3
    max_epochs: int = 2000
    restore_best: bool = True
    chunk_steps: int = 32  # optimizer steps per while-loop iteration


class FitData(NamedTuple):
    """One fit's data (stack along a leading axis for many fits).

    x_train (Nt, ...), y_train (Nt, ...), n_train () int: the first n_train rows are real;
    x_val (Nv, ...), y_val (Nv, ...), n_val () int; key: shuffling key.
    """

    x_train: jax.Array
    y_train: jax.Array
    n_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    n_val: jax.Array
    key: jax.Array


class FitState(NamedTuple):
    params: Params
    opt_state: Any
    best_params: Params
    best_loss: jax.Array
    bad_epochs: jax.Array
    epoch: jax.Array
    step_in_epoch: jax.Array
    order: jax.Array  # (Nt + batch_size,) this epoch's shuffled row indices, padded
    done: jax.Array
    steps: jax.Array


class FitResult(NamedTuple):
    """params: best (or last) parameters; best_loss: best validation loss; epochs, steps:
    how long the fit trained; stopped_early: patience ran out before max_epochs."""

    params: Params
    best_loss: jax.Array
    epochs: jax.Array
    steps: jax.Array
    stopped_early: jax.Array


def _masked_mean_loss(spec: FitSpec, params, x, y, mask) -> jax.Array:
    per_row = spec.loss(spec.apply(params, x), y)
    return jnp.sum(per_row * mask) / jnp.maximum(jnp.sum(mask), 1)


def _epoch_order(key: jax.Array, n_train: jax.Array, n_rows: int, batch: int) -> jax.Array:
    """A random order of rows 0..n_train-1 first, padding rows after: (n_rows + batch,)."""
    scores = jax.random.uniform(key, (n_rows,))
    scores = jnp.where(jnp.arange(n_rows) < n_train, scores, 2.0 + jnp.arange(n_rows))
    return jnp.concatenate([jnp.argsort(scores), jnp.zeros((batch,), jnp.int32)])


def init_fit(spec: FitSpec, params: Params, data: FitData) -> FitState:
    n_rows = data.x_train.shape[0]
    order = _epoch_order(jax.random.fold_in(data.key, 0), data.n_train, n_rows, spec.batch_size)
    zero = jnp.zeros((), jnp.int32)
    return FitState(params, spec.optimizer.init(params), params, jnp.array(jnp.inf, jnp.float32),
                    zero, zero, zero, order, jnp.array(False), zero)


def fit_step(spec: FitSpec, state: FitState, data: FitData) -> FitState:
    """One optimizer step of one fit, plus the epoch-end validation and stopping check."""
    b = spec.batch_size
    n_rows = data.x_train.shape[0]
    start = state.step_in_epoch * b
    rows = jax.lax.dynamic_slice(state.order, (start,), (b,))
    mask = ((start + jnp.arange(b)) < data.n_train).astype(jnp.float32)
    xb, yb = data.x_train[rows], data.y_train[rows]
    grads = jax.grad(lambda p: _masked_mean_loss(spec, p, xb, yb, mask))(state.params)
    updates, opt_state = spec.optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)

    steps_per_epoch = jnp.maximum(1, -(-data.n_train // b))
    epoch_end = state.step_in_epoch + 1 >= steps_per_epoch
    val_mask = (jnp.arange(data.x_val.shape[0]) < data.n_val).astype(jnp.float32)
    monitored = _masked_mean_loss(spec, params, data.x_val, data.y_val, val_mask)
    improved = epoch_end & (monitored < state.best_loss - spec.min_delta)
    bad = jnp.where(epoch_end, jnp.where(improved, 0, state.bad_epochs + 1), state.bad_epochs)
    epoch = state.epoch + epoch_end.astype(jnp.int32)
    done = (bad >= spec.patience) | (epoch >= spec.max_epochs)
    pick = lambda new, old: jax.tree.map(lambda a, c: jnp.where(improved, a, c), new, old)
    order = jnp.where(
        epoch_end,
        _epoch_order(jax.random.fold_in(data.key, epoch), data.n_train, n_rows, b),
        state.order)
    new = FitState(params, opt_state, pick(params, state.best_params),
                   jnp.where(improved, monitored, state.best_loss), bad, epoch,
                   jnp.where(epoch_end, 0, state.step_in_epoch + 1), order, done, state.steps + 1)
    # A stopped fit stays exactly as it was.
    return jax.tree.map(lambda a, c: jnp.where(state.done, c, a), new, state)


def _result(spec: FitSpec, state: FitState) -> FitResult:
    params = state.best_params if spec.restore_best else state.params
    return FitResult(params, state.best_loss, state.epoch, state.steps,
                     state.done & (state.epoch < spec.max_epochs))


def fit(spec: FitSpec, params: Params, data: FitData) -> FitResult:
    """One fit to completion (a while_loop over steps): the reference for ``fit_many``."""
    state = jax.lax.while_loop(lambda s: ~s.done, lambda s: fit_step(spec, s, data),
                               init_fit(spec, params, data))
    return _result(spec, state)


def fit_many(spec: FitSpec, params: Params, data: FitData) -> FitResult:
    """Every fit of ``data`` (leading axis F) from the same initial ``params``.

    Runs ``spec.chunk_steps`` lockstep steps per while-loop iteration until all fits are
    done. Returns a FitResult whose leaves have the leading fit axis F.
    """
    chex.assert_equal_shape_prefix([data.x_train, data.y_train, data.x_val, data.y_val], 1)
    state = jax.vmap(lambda d: init_fit(spec, params, d))(data)
    step_all = jax.vmap(lambda s, d: fit_step(spec, s, d))

    def chunk(s):
        return jax.lax.fori_loop(0, spec.chunk_steps, lambda _, t: step_all(t, data), s)

    state = jax.lax.while_loop(lambda s: ~jnp.all(s.done), chunk, state)
    return jax.vmap(lambda s: _result(spec, s))(state)
