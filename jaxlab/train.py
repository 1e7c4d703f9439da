"""``build_trainer(config, learner) -> Trainer``: pure per-run init / train_chunk / evaluate.

A paper provides a ``Learner`` (how to initialise parameters, sample a batch, compute the
loss and evaluate); this module wraps it with an optax optimizer whose learning rate lives
in the optimizer state (``optax.inject_hyperparams``), gradient accumulation over
micro-batches, and divergence isolation. Everything here is a function of one run: the
run axis is added by ``jaxlab.runs.Executor``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

Hp = dict  # hp pytree of one run: field -> scalar array


@dataclasses.dataclass(frozen=True)
class Learner:
    """What a study plugs into the engine, all pure and per run.

    init_params(key) -> params
    sample_batch(key) -> batch pytree whose leaves have the task axis first
    loss(params, batch, hp, key) -> (scalar loss, dict of scalar metrics)
    evaluate(params, hp, key) -> dict metric -> array
    """

    init_params: Callable[[jax.Array], Any]
    sample_batch: Callable[[jax.Array], Any]
    loss: Callable[[Any, Any, Hp, jax.Array], tuple[jax.Array, dict]]
    evaluate: Callable[[Any, Hp, jax.Array], dict]


class TrainState(NamedTuple):
    """State of one run. ``healthy`` turns False (and stays) at the first non-finite loss
    or gradient; from then on the parameters are frozen at their last finite values."""

    step: jax.Array
    params: Any
    opt_state: Any
    key: jax.Array
    healthy: jax.Array


@dataclasses.dataclass(frozen=True)
class Trainer:
    init: Callable[[jax.Array, Hp], TrainState]
    train_chunk: Callable[[TrainState, Hp], tuple[TrainState, dict]]
    evaluate: Callable[[TrainState, Hp, jax.Array], dict]
    chunk_steps: int
    total_steps: int


def lr_shape(train: ml_collections.ConfigDict) -> Callable[[jax.Array], jax.Array]:
    """Multiplier of the per-run learning rate at each step: 1 ("constant", the reference)
    or linear warm-up then cosine decay to 0 ("cosine")."""
    if train.lr_schedule == "constant":
        return lambda count: jnp.ones((), jnp.float32)
    if train.lr_schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, 1.0, train.warmup_steps, train.steps)
    raise ValueError(f"config.train.lr_schedule: must be 'constant' or 'cosine', got {train.lr_schedule!r}")


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """The optimizer of ``config.train`` composed from optax transformations (optional
    global-norm clipping, then adam / adamw / sgd with the scheduled learning rate), with
    the per-run learning rate injected into its state (``optax.inject_hyperparams``)."""
    tr = config.train
    clip = tr.get("grad_clip_norm", 0.0)
    shape = lr_shape(tr)
    kind = tr.get("optimizer", "adam")

    def build(learning_rate):
        lr = lambda count: learning_rate * shape(count)
        if kind == "adam":
            opt = optax.adam(lr)
        elif kind == "adamw":
            opt = optax.adamw(lr, weight_decay=tr.weight_decay)
        elif kind == "sgd":
            opt = optax.sgd(lr, momentum=tr.momentum or None)
        else:
            raise ValueError(f"config.train.optimizer: must be adam, adamw or sgd, got {kind!r}")
        return optax.chain(optax.clip_by_global_norm(clip), opt) if clip else opt

    return optax.inject_hyperparams(build)(learning_rate=config.hp.learning_rate)


def _split_micro(batch: Any, n_micro: int) -> Any:
    return jax.tree.map(lambda a: a.reshape(n_micro, a.shape[0] // n_micro, *a.shape[1:]), batch)


def build_trainer(config: ml_collections.ConfigDict, learner: Learner) -> Trainer:
    """Wraps a study's learner into the pure per-run Trainer."""
    opt = make_optimizer(config)
    n_micro = config.train.micro_batches
    chunk_steps = config.train.chunk_steps

    def init(key: jax.Array, hp: Hp) -> TrainState:
        params = learner.init_params(jax.random.fold_in(key, 0))
        opt_state = opt.init(params)
        return TrainState(jnp.zeros((), jnp.int32), params, opt_state, key, jnp.array(True))

    def grads(params, batch, hp, key):
        """Mean loss and gradient over micro-batches (exact: equal-sized means)."""
        grad_fn = jax.value_and_grad(learner.loss, has_aux=True)
        if n_micro == 1:
            return grad_fn(params, batch, hp, key)
        micro = _split_micro(batch, n_micro)

        def body(acc, inputs):
            i, mb = inputs
            (l, metrics), g = grad_fn(params, mb, hp, jax.random.fold_in(key, i))
            return jax.tree.map(jnp.add, acc, ((l, metrics), g)), None

        zero_out = jax.eval_shape(lambda: grad_fn(params, jax.tree.map(lambda a: a[0], micro),
                                                  hp, key))
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zero_out)
        total, _ = jax.lax.scan(body, zeros, (jnp.arange(n_micro), micro))
        return jax.tree.map(lambda a: a / n_micro, total)

    def step(state: TrainState, hp: Hp) -> tuple[TrainState, dict]:
        step_key = jax.random.fold_in(state.key, state.step + 1)
        batch = learner.sample_batch(jax.random.fold_in(step_key, 0))
        (loss, metrics), g = grads(state.params, batch, hp, jax.random.fold_in(step_key, 1))
        lr = jnp.asarray(hp["learning_rate"], jnp.float32)
        opt_state = state.opt_state._replace(
            hyperparams={**state.opt_state.hyperparams, "learning_rate": lr})
        updates, new_opt = opt.update(g, opt_state, state.params)
        new_params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(loss) & jnp.all(jnp.stack(
            [jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(new_params)]))
        healthy = state.healthy & finite
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(healthy, a, b), new, old)
        new_state = TrainState(state.step + 1, keep(new_params, state.params),
                               keep(new_opt, state.opt_state), state.key, healthy)
        return new_state, {"loss": loss, **metrics}

    def train_chunk(state: TrainState, hp: Hp) -> tuple[TrainState, dict]:
        """``chunk_steps`` optimizer steps as one ``lax.scan``; metrics are (K,) per name."""
        return jax.lax.scan(lambda s, _: step(s, hp), state, None, length=chunk_steps)

    def evaluate(state: TrainState, hp: Hp, key: jax.Array) -> dict:
        return learner.evaluate(state.params, hp, key)

    return Trainer(init, train_chunk, evaluate, chunk_steps, config.train.steps)
