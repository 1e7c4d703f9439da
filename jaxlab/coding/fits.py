"""Many independent early-stopped SGD fits trained at once.

Each fit has its own (padded) train and validation set, its own minibatch shuffle and its
own early-stopping state; all fits advance in lockstep inside one ``lax.while_loop`` that
runs until every fit has stopped or hit its epoch budget. A stopped fit is frozen (its
state no longer changes), so a fit's result does not depend on which other fits share the
program (tested against the same fit run alone).

Semantics of one fit (the Occam reference's Lightning SGD loop; docs/icl_occam.md):
  * an epoch is one pass over the train points in a fresh random order, in minibatches of
    ``batch_size`` (the last one smaller), ``ceil(n_train / batch_size)`` optimizer steps;
  * after each epoch the mean validation loss is computed and compared with the best one
    by ``stop_rule``: "lightning" (Lightning's EarlyStopping in mode "min"): an improvement
    when it is below ``best - min_delta``, which then becomes the best; "tolerant" (the
    Occam reference's ``CustomEarlyStopping``, a plain Callback since its 2024-09-16
    rewrite, which does not negate min_delta): an improvement when ``val - min_delta <
    best``, i.e. a val loss up to ``min_delta`` ABOVE the best still counts, and it becomes
    the new best (the best can drift upwards). After ``patience`` checks in a row without
    an improvement, or ``max_epochs`` epochs, the fit stops;
  * with ``check_steps=(lo, hi)`` the validation check (and the patience count) happens
    instead every ``clip(steps_per_epoch, lo, hi)`` optimizer steps, epochs still being
    the reshuffling unit (the simplicity-bias reference checks every
    ``max(20, min(100, ceil(n / batch)))`` steps); ``FitData.check_max`` replaces ``hi``
    fit by fit; ``max_steps > 0`` also caps the steps;
  * with ``restore_best`` the returned parameters are those of the best epoch, otherwise
    the last ones (the reference's SGD baseline does not restore);
  * the validation set must hold at least one point (``n_val >= 1``); a caller with no
    validation points passes its train points as the validation set.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab import runs

Params = Any
STOP_RULES = ("lightning", "tolerant")


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
    check_steps: tuple[int, int] | None = None  # (lo, hi): check every clip(epoch, lo, hi) steps
    max_steps: int = 0  # 0: no cap besides max_epochs
    stop_rule: str = "lightning"  # "lightning": val < best - min_delta; "tolerant": val - min_delta < best
    # Rows the shuffle's random scores are drawn for (0: the data's train rows). Fits cut to
    # fewer padded rows than they were built with (``fit_many_bucketed_on``) set it to the
    # built row count, so their minibatch order is the one the full-size data gets.
    shuffle_rows: int = 0

    def __post_init__(self) -> None:
        if self.stop_rule not in STOP_RULES:
            raise ValueError(f"stop_rule must be one of {STOP_RULES}, got {self.stop_rule!r}")


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
    # () int, optional: this fit's own upper bound on the check period, replacing
    # ``FitSpec.check_steps[1]`` (fits of one program that check on different schedules)
    check_max: jax.Array | None = None


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
    how long the fit trained; stopped_early: patience ran out before max_epochs (and
    max_steps); lane_steps: the fit's share of the lane-steps its program executed (in
    ``fit_many``: chunks run x chunk_steps x lanes, divided evenly over the program's
    fits; in ``fit``: its own steps), so sum(steps) / sum(lane_steps) over a program's fits
    is the fraction of lane-steps that trained a running fit (lane occupancy)."""

    params: Params
    best_loss: jax.Array
    epochs: jax.Array
    steps: jax.Array
    stopped_early: jax.Array
    lane_steps: jax.Array


def _masked_mean_loss(spec: FitSpec, params, x, y, mask) -> jax.Array:
    per_row = spec.loss(spec.apply(params, x), y)
    return jnp.sum(per_row * mask) / jnp.maximum(jnp.sum(mask), 1)


# Up to this many rows an argsort is done by counting ranks (an n x n comparison, which
# vectorizes) instead of XLA's sort (a comparator call per comparison on CPU): the same
# permutation, about 3x cheaper at n = 80 (scripts/profile_fits.py).
RANK_SORT_MAX_ROWS = 256


def stable_argsort(scores: jax.Array) -> jax.Array:
    """``jnp.argsort(scores, stable=True)`` of a 1-D array, by rank counting when short."""
    n = scores.shape[0]
    if n > RANK_SORT_MAX_ROWS:
        return jnp.argsort(scores, stable=True)
    idx = jnp.arange(n)
    before = (scores[None, :] < scores[:, None]) | (
        (scores[None, :] == scores[:, None]) & (idx[None, :] < idx[:, None]))
    return jnp.zeros(n, jnp.int32).at[jnp.sum(before, axis=1)].set(idx)


def _epoch_order(key: jax.Array, n_train: jax.Array, n_rows: int, batch: int,
                 draw_rows: int = 0) -> jax.Array:
    """A random order of rows 0..n_train-1 first, padding rows after: (n_rows + batch,).
    The scores are the first n_rows of ``draw_rows`` (>= n_rows; 0: n_rows) uniform draws."""
    scores = jax.random.uniform(key, (max(draw_rows, n_rows),))[:n_rows]
    scores = jnp.where(jnp.arange(n_rows) < n_train, scores, 2.0 + jnp.arange(n_rows))
    return jnp.concatenate([stable_argsort(scores), jnp.zeros((batch,), jnp.int32)])


def init_fit(spec: FitSpec, params: Params, data: FitData) -> FitState:
    n_rows = data.x_train.shape[0]
    order = _epoch_order(jax.random.fold_in(data.key, 0), data.n_train, n_rows, spec.batch_size,
                         spec.shuffle_rows)
    zero = jnp.zeros((), jnp.int32)
    return FitState(params, spec.optimizer.init(params), params, jnp.array(jnp.inf, jnp.float32),
                    zero, zero, zero, order, jnp.array(False), zero)


def _train(spec: FitSpec, state: FitState, data: FitData):
    """The optimizer step of one fit: (params, opt_state, check, epoch_end)."""
    b = spec.batch_size
    # With fewer padded rows than a minibatch, an epoch is one step over those rows: the
    # minibatch is cut to them (the rows beyond are padding, masked out either way).
    width = min(b, data.x_train.shape[0])
    start = state.step_in_epoch * b
    rows = jax.lax.dynamic_slice(state.order, (start,), (width,))
    mask = ((start + jnp.arange(width)) < data.n_train).astype(jnp.float32)
    xb, yb = data.x_train[rows], data.y_train[rows]
    grads = jax.grad(lambda p: _masked_mean_loss(spec, p, xb, yb, mask))(state.params)
    updates, opt_state = spec.optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)

    steps_per_epoch = jnp.maximum(1, -(-data.n_train // b))
    epoch_end = state.step_in_epoch + 1 >= steps_per_epoch
    if spec.check_steps is None:
        check = epoch_end
    else:
        lo, hi = spec.check_steps
        period = jnp.clip(steps_per_epoch, lo, hi if data.check_max is None else data.check_max)
        check = (state.steps + 1) % period == 0
    return params, opt_state, check, epoch_end


def _finish(spec: FitSpec, state: FitState, data: FitData, trained, epoch_work: bool = True
            ) -> FitState:
    """The validation check, stopping rule and reshuffle after the step ``trained`` (from
    ``_train``). With ``epoch_work=False`` the validation loss and the next epoch's order
    are not computed: only valid when this step is neither a check nor an epoch end (or
    the fit is done), which is all the vectorized program needs on most steps of fits
    with several steps per epoch."""
    params, opt_state, check, epoch_end = trained
    b = spec.batch_size
    n_rows = data.x_train.shape[0]
    if epoch_work:
        val_mask = (jnp.arange(data.x_val.shape[0]) < data.n_val).astype(jnp.float32)
        monitored = _masked_mean_loss(spec, params, data.x_val, data.y_val, val_mask)
    else:
        monitored = state.best_loss
    if spec.stop_rule == "lightning":
        improved = check & (monitored < state.best_loss - spec.min_delta)
    else:  # "tolerant": anything not worse than best + min_delta is accepted as the new best
        improved = check & (monitored - spec.min_delta < state.best_loss)
    bad = jnp.where(check, jnp.where(improved, 0, state.bad_epochs + 1), state.bad_epochs)
    epoch = state.epoch + epoch_end.astype(jnp.int32)
    done = (bad >= spec.patience) | (epoch >= spec.max_epochs)
    if spec.max_steps > 0:
        done = done | (state.steps + 1 >= spec.max_steps)
    # Only the fields a result is read from need to stop changing once a fit is done
    # (``done`` itself is sticky); the best parameters are tracked only when restored.
    best_params = (jax.tree.map(lambda a, c: jnp.where(improved, a, c), params, state.best_params)
                   if spec.restore_best else state.best_params)
    if epoch_work:
        order = jnp.where(
            epoch_end,
            _epoch_order(jax.random.fold_in(data.key, epoch), data.n_train, n_rows, b,
                         spec.shuffle_rows),
            state.order)
    else:
        order = state.order
    frozen = lambda new, old: jax.tree.map(lambda a, c: jnp.where(state.done, c, a), new, old)
    return FitState(frozen(params, state.params), opt_state, frozen(best_params, state.best_params),
                    frozen(jnp.where(improved, monitored, state.best_loss), state.best_loss),
                    bad, frozen(epoch, state.epoch), jnp.where(epoch_end, 0, state.step_in_epoch + 1),
                    order, done | state.done, frozen(state.steps + 1, state.steps))


def fit_step(spec: FitSpec, state: FitState, data: FitData) -> FitState:
    """One optimizer step of one fit, plus the epoch-end validation and stopping check."""
    return _finish(spec, state, data, _train(spec, state, data))


# Lanes whose padded train rows exceed this many minibatches skip the epoch-end work on
# steps where no lane needs it. With fewer rows nearly every step has some lane at an epoch
# end, and the branch (which keeps XLA from fusing the step's two halves) costs ~14 % on
# the ICL study's fits (n_train <= 80, batch 64; scripts/bench_sgd_speed.py).
GATE_MIN_BATCHES = 4


def lanes_step(spec: FitSpec, state: FitState, data: FitData) -> FitState:
    """``fit_step`` of every lane (leading axis L of ``state`` and ``data``), lane by lane
    the same results. With more than ``GATE_MIN_BATCHES`` minibatches of padded train rows
    the validation loss and the reshuffle, which every lane would otherwise compute on
    every step (a vmapped branch computes both sides), run only on steps where some
    running lane checks or ends an epoch."""
    if data.x_train.shape[1] <= GATE_MIN_BATCHES * spec.batch_size:
        return jax.vmap(lambda s, d: fit_step(spec, s, d))(state, data)
    trained = jax.vmap(lambda s, d: _train(spec, s, d))(state, data)
    _, _, check, epoch_end = trained
    need = jnp.any((check | epoch_end) & ~state.done)
    finish = lambda work: lambda: jax.vmap(
        lambda s, d, t: _finish(spec, s, d, t, work))(state, data, trained)
    return jax.lax.cond(need, finish(True), finish(False))


def _result(spec: FitSpec, state: FitState) -> FitResult:
    params = state.best_params if spec.restore_best else state.params
    early = state.done & (state.epoch < spec.max_epochs)
    if spec.max_steps > 0:
        early = early & (state.steps < spec.max_steps)
    return FitResult(params, state.best_loss, state.epoch, state.steps, early,
                     state.steps.astype(jnp.float32))


def fit(spec: FitSpec, params: Params, data: FitData) -> FitResult:
    """One fit to completion (a while_loop over steps): the reference for ``fit_many``."""
    state = jax.lax.while_loop(lambda s: ~s.done, lambda s: fit_step(spec, s, data),
                               init_fit(spec, params, data))
    return _result(spec, state)


def fit_many(spec: FitSpec, params: Params, data: FitData, lanes: int | None = None,
             params_per_fit: bool = False) -> FitResult:
    """Every fit of ``data`` (leading axis F) from the initial ``params`` (one pytree for
    all fits, or with ``params_per_fit`` a pytree with leading axis F).

    The program keeps ``lanes`` fits in flight (default: all F). Fits stop after very
    different numbers of steps, so with fewer lanes than fits a lane whose fit has stopped
    takes the next waiting fit (checked every ``spec.chunk_steps`` steps) instead of idling
    in lockstep until the slowest fit ends: the work done tracks the steps the fits need.
    Fits are queued largest training set first (they tend to run longest), so the last
    lanes to finish are not held up by a long fit started late. Returns a FitResult whose
    leaves have the leading fit axis F (in the order of ``data``).
    """
    chex.assert_equal_shape_prefix([data.x_train, data.y_train, data.x_val, data.y_val], 1)
    n_fits = data.n_train.shape[0]
    n_lanes = n_fits if lanes is None else min(lanes, n_fits)
    queue = jnp.argsort(-data.n_train, stable=True)  # queue position -> fit index
    inits = params if params_per_fit else jax.tree.map(
        lambda a: jnp.broadcast_to(a, (n_fits, *a.shape)), params)
    take = lambda pos: jax.tree.map(lambda a: a[queue[pos]], data)
    start = lambda pos: jax.vmap(lambda p, d: init_fit(spec, p, d))(
        jax.tree.map(lambda a: a[queue[pos]], inits), take(pos))
    result_of = jax.vmap(lambda s: _result(spec, s))

    lane_pos = jnp.arange(n_lanes)
    lane_data = take(lane_pos)
    lane_state = start(lane_pos)
    empty = jax.tree.map(lambda a: jnp.zeros((n_fits, *a.shape[1:]), a.dtype), result_of(lane_state))

    def refill(carry):
        """Store the results of the lanes whose fit has stopped; start the next fits there."""
        lane_pos, lane_state, lane_data, next_fit, out, finished = carry
        target = jnp.where(finished, queue[jnp.maximum(lane_pos, 0)], n_fits)  # n_fits: dropped
        out = jax.tree.map(lambda o, r: o.at[target].set(r, mode="drop"), out, result_of(lane_state))
        new_ids = next_fit + jnp.cumsum(finished) - 1
        refilled = finished & (new_ids < n_fits)
        lane_pos = jnp.where(finished, jnp.where(refilled, new_ids, -1), lane_pos)
        new_pos = jnp.clip(new_ids, 0, n_fits - 1)
        pick = lambda new, old: jax.tree.map(
            lambda f, s: jnp.where(refilled.reshape((-1,) + (1,) * (s.ndim - 1)), f, s), new, old)
        return (lane_pos, pick(start(new_pos), lane_state), pick(take(new_pos), lane_data),
                next_fit + jnp.sum(finished), out, finished)

    def chunk(carry):
        lane_pos, lane_state, lane_data, next_fit, out, n_chunks = carry
        lane_state = jax.lax.fori_loop(0, spec.chunk_steps,
                                       lambda _, t: lanes_step(spec, t, lane_data), lane_state)
        finished = lane_state.done & (lane_pos >= 0)
        # Refilling touches every lane's state and the output buffer: only when needed.
        carry = jax.lax.cond(jnp.any(finished), refill, lambda c: c,
                             (lane_pos, lane_state, lane_data, next_fit, out, finished))
        return (*carry[:5], n_chunks + 1)

    carry = (lane_pos, lane_state, lane_data, jnp.asarray(n_lanes), empty, jnp.zeros((), jnp.int32))
    carry = jax.lax.while_loop(lambda c: jnp.any(c[0] >= 0), chunk, carry)
    lane_steps = carry[5].astype(jnp.float32) * (spec.chunk_steps * n_lanes / n_fits)
    return carry[4]._replace(lane_steps=jnp.full((n_fits,), lane_steps))


def balanced_layout(n_train: jax.Array, n_devices: int) -> jax.Array:
    """A permutation of the fit axis (F,) that deals the fits, largest training set first,
    over ``n_devices`` contiguous shards in a snake order (0, 1, ..., D-1, D-1, ..., 0, ...),
    so every device gets a like share of the work. F must be a multiple of D."""
    order = jnp.argsort(-n_train, stable=True).reshape(-1, n_devices)
    order = jnp.where((jnp.arange(order.shape[0]) % 2 == 1)[:, None], order[:, ::-1], order)
    return order.T.reshape(-1)


def fit_many_on(executor, spec: FitSpec, params: Params, lanes: int | None = None,
                params_per_fit: bool = False) -> Callable[..., FitResult]:
    """``fit_many`` with the fit axis sharded over the executor's devices (each device runs
    its own while_loop over its fits, ``lanes`` in flight). A fit count that does not
    divide evenly is padded by repeating the last fit (placing inputs already padded with
    ``executor.padded(F)`` / ``jaxlab.runs.pad_runs`` avoids a re-layout). With
    ``params_per_fit`` the returned function takes (params, data), both with the fit axis;
    otherwise (data,).

    Fits of a study usually come sorted by size, and a fit's cost grows with its size, so
    the fits are dealt over the devices by ``balanced_layout`` (and put back in order
    after): cut in contiguous shards, one device would get all the long fits."""
    n_devices = executor.devices if executor.mesh() is not None else 1
    if params_per_fit:
        sharded = executor.shard(lambda p, d: fit_many(spec, p, d, lanes, params_per_fit=True))
    else:
        sharded = executor.shard(lambda d: fit_many(spec, params, d, lanes))

    def run(*args: Any) -> FitResult:
        data = args[-1]
        if n_devices == 1:
            return sharded(*args)
        n_fits = data.n_train.shape[0]
        args = runs.pad_runs(args, executor.padded(n_fits))
        layout = balanced_layout(args[-1].n_train, n_devices)
        result = sharded(*jax.tree.map(lambda a: a[layout], args))
        return runs.unpad_runs(jax.tree.map(lambda a: a[jnp.argsort(layout)], result), n_fits)
    return run


def size_buckets(n_train: np.ndarray, edges: Sequence[int]) -> list[np.ndarray]:
    """Fit indices grouped by training-set size: n_train <= edges[0], (edges[0], edges[1]],
    ..., > edges[-1]; empty groups are dropped."""
    n_train = np.asarray(n_train)
    group = np.searchsorted(np.asarray(sorted(edges)), n_train, side="left")
    return [np.flatnonzero(group == g) for g in np.unique(group)]


def fit_many_bucketed_on(executor, spec: FitSpec, params: Params, n_train: np.ndarray,
                         n_val: np.ndarray, edges: Sequence[int], lanes: int | None = None,
                         params_per_fit: bool = False) -> Callable[..., FitResult]:
    """``fit_many_on`` run once per size bucket (``size_buckets(n_train, edges)``), each
    bucket's fits cut to the rows its largest fit needs, so a small fit does not pay the
    largest fit's padded rows (validation loss, shuffle, minibatch width). ``n_train`` and
    ``n_val`` (F,) are the fits' sizes as static numpy arrays (they fix the shapes). The
    shuffle is drawn as for the uncut data (``FitSpec.shuffle_rows``), so a fit follows the
    same minibatches as without buckets; its losses differ at most by float rounding
    (sums over fewer zero-padded rows). Same arguments and result as ``fit_many_on``."""
    n_train, n_val = np.asarray(n_train), np.asarray(n_val)
    groups = size_buckets(n_train, edges)

    def run(*args: Any) -> FitResult:
        data = args[-1]
        draw = spec.shuffle_rows or data.x_train.shape[1]
        bucket_spec = dataclasses.replace(spec, shuffle_rows=draw)
        out = None
        for idx in groups:
            rows_t, rows_v = max(1, int(n_train[idx].max())), max(1, int(n_val[idx].max()))
            sub = jax.tree.map(lambda a: a[idx], args)
            d = sub[-1]
            d = d._replace(x_train=d.x_train[:, :rows_t], y_train=d.y_train[:, :rows_t],
                           x_val=d.x_val[:, :rows_v], y_val=d.y_val[:, :rows_v])
            res = fit_many_on(executor, bucket_spec, params, lanes, params_per_fit)(*sub[:-1], d)
            if out is None:
                out = jax.tree.map(lambda r: jnp.zeros((n_train.shape[0], *r.shape[1:]), r.dtype), res)
            out = jax.tree.map(lambda o, r: o.at[idx].set(r), out, res)
        return out
    return run
