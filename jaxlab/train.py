"""``build_trainer(config, learner) -> Trainer``: pure per-run init / train_chunk / evaluate.

A paper provides a ``Learner`` (how to initialise parameters, sample a batch, compute the
loss and evaluate); this module wraps it with an optax optimizer whose learning rate lives
in the optimizer state (``optax.inject_hyperparams``), gradient accumulation over
micro-batches, and divergence isolation. Everything here is a function of one run: the
run axis is added by ``jaxlab.runs.Executor``.

Micro-batches: ``train.micro_batches`` equal slices of each step's batch whose gradients
are averaged (exact for a mean loss); 0 = chosen here, the fewest slices whose forward
activations fit ``ACTIVATION_BUDGET`` per device (``auto_micro_batches``). With a data
axis (``data`` > 1) each data device takes a contiguous 1/data of the batch (so of the
micro-batches) and the gradients are averaged over the axis with ``lax.pmean``: micro-batch
i gets the loss key ``fold_in(key, i)`` wherever it is computed, so a run's numbers depend
on the micro-batch count, not on the layout.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.extend.core as jax_core
import jax.numpy as jnp
import ml_collections
import numpy as np
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
    """Per-run programs; ``micro_batches`` (as configured, total over the data axis, 0 =
    auto) and ``data`` (data devices its ``train_chunk`` expects, 1 = no data axis) describe
    its layout; ``layout["micro_batches"]`` is the count in use (auto: set when
    ``train_chunk`` is first traced) and ``layout["activation_bytes"]`` the estimate behind it."""

    init: Callable[[jax.Array, Hp], TrainState]
    train_chunk: Callable[[TrainState, Hp], tuple[TrainState, dict]]
    evaluate: Callable[[TrainState, Hp, jax.Array], dict]
    chunk_steps: int
    total_steps: int
    micro_batches: int = 1
    data: int = 1
    layout: dict = dataclasses.field(default_factory=dict, compare=False)


# Forward activations one device may hold at once when micro_batches = 0 (auto). On a CPU
# the budget is about the cache, not the memory: on the ICL reference config (ours, 2-core
# Xeon, quiet), 8 seeds ran 32.2 / 29.6 / 25.4 / 22.1 / 32.4 ms per seed-step at 4 / 8 /
# 16 / 32 / 64 micro-batches; 32 MiB picks the 32 there (256 MiB had picked 4).
ACTIVATION_BUDGET = {"cpu": 32 * 2**20, "gpu": 4 * 2**30, "tpu": 4 * 2**30}
# Auto never cuts a run's micro-batch below this many examples: one-example micro-batches
# cost more in loop overhead than they save in cache (the ICL study's default config, 6
# runs: 450 ms per step at 32 micro-batches of 2 tasks, 582 at 64 of 1, which the budget
# alone would pick).
MIN_MICRO_BATCH = 2


def _jaxpr_bytes(jaxpr: jax_core.Jaxpr) -> int:
    """Bytes of every intermediate value a jaxpr computes (loop bodies times their trip
    count): an upper bound on the activations its gradient keeps."""
    total = 0
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            aval = getattr(v, "aval", None)
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += int(np.prod(aval.shape, dtype=np.int64)) * aval.dtype.itemsize
        times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
        for sub in jax_core.jaxprs_in_params(eqn.params):
            total += times * _jaxpr_bytes(sub)
    return total


def auto_micro_batches(act_bytes: int, batch: int, *, data: int = 1, runs_per_device: int = 1,
                       budget: int | None = None) -> int:
    """The fewest micro-batches (a multiple of ``data`` dividing ``batch``, each of at least
    ``MIN_MICRO_BATCH`` examples where possible) whose activations, ``runs_per_device`` runs
    at once on each device, fit ``budget`` (default: the backend's ``ACTIVATION_BUDGET``);
    the most there are if none fits."""
    budget = budget or ACTIVATION_BUDGET.get(jax.default_backend(), ACTIVATION_BUDGET["gpu"])
    counts = [m for m in range(data, batch + 1, data) if batch % m == 0]
    counts = [m for m in counts if batch // m >= MIN_MICRO_BATCH] or counts[:1]
    for m in counts:
        if runs_per_device * act_bytes / m <= budget:
            return m
    return counts[-1]


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


def build_trainer(config: ml_collections.ConfigDict, learner: Learner, *,
                  micro_batches: int | None = None, data: int = 1,
                  data_axis: str = "data", runs_per_device: int = 1) -> Trainer:
    """Wraps a study's learner into the pure per-run Trainer.

    micro_batches: overrides ``config.train.micro_batches`` (0 = auto: see the module
      docstring; ``runs_per_device`` runs share a device's budget).
    data: > 1 builds a ``train_chunk`` for a ``data_axis`` of that many devices inside
      ``shard_map`` (each computes its share of the micro-batches, gradients pmean'd).
    """
    opt = make_optimizer(config)
    requested = config.train.micro_batches if micro_batches is None else micro_batches
    layout = {"micro_batches": requested or None, "activation_bytes": None}
    chunk_steps = config.train.chunk_steps

    def resolve(params, batch, hp, key) -> int:
        """The micro-batch count, fixed when first traced (auto: from the traced loss)."""
        if layout["micro_batches"] is None:
            shape = lambda t: jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), t)
            jaxpr = jax.make_jaxpr(learner.loss)(*map(shape, (params, batch, hp, key))).jaxpr
            layout["activation_bytes"] = act = _jaxpr_bytes(jaxpr)
            n = jax.tree.leaves(batch)[0].shape[0]
            layout["micro_batches"] = auto_micro_batches(act, n, data=data,
                                                         runs_per_device=runs_per_device)
        n_micro = layout["micro_batches"]
        if n_micro % data or jax.tree.leaves(batch)[0].shape[0] % n_micro:
            raise ValueError(f"{n_micro} micro-batches must be a multiple of the {data} data "
                             f"devices and divide the batch")
        return n_micro

    def init(key: jax.Array, hp: Hp) -> TrainState:
        params = learner.init_params(jax.random.fold_in(key, 0))
        opt_state = opt.init(params)
        return TrainState(jnp.zeros((), jnp.int32), params, opt_state, key, jnp.array(True))

    def grads(params, batch, hp, key):
        """Mean loss and gradient over micro-batches (exact: equal-sized means); with a data
        axis, over this device's share of them, then averaged over the axis."""
        grad_fn = jax.value_and_grad(learner.loss, has_aux=True)
        n_micro = resolve(params, batch, hp, key)
        if data == 1 and n_micro == 1:  # the plain step: keeps the loss key unfolded
            return grad_fn(params, batch, hp, key)
        per = n_micro // data  # micro-batches on this device
        first = 0
        if data > 1:  # this device's contiguous 1/data of the batch
            index = jax.lax.axis_index(data_axis)
            first = index * per
            size = jax.tree.leaves(batch)[0].shape[0] // data
            batch = jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, index * size, size),
                                 batch)
        micro = _split_micro(batch, per)

        def body(acc, inputs):
            i, mb = inputs
            (l, metrics), g = grad_fn(params, mb, hp, jax.random.fold_in(key, i))
            return jax.tree.map(jnp.add, acc, ((l, metrics), g)), None

        zero_out = jax.eval_shape(lambda: grad_fn(params, jax.tree.map(lambda a: a[0], micro),
                                                  hp, key))
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zero_out)
        total, _ = jax.lax.scan(body, zeros, (first + jnp.arange(per), micro))
        mean = jax.tree.map(lambda a: a / per, total)
        return jax.lax.pmean(mean, data_axis) if data > 1 else mean

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

    return Trainer(init, train_chunk, evaluate, chunk_steps, config.train.steps, requested, data,
                   layout)
