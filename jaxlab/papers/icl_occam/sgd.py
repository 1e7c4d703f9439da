"""The SGD learner of "In-context learning and Occam's razor" §3.2 (docs/icl_occam.md).

For every dataset size n of ``config.sgd.sizes`` and each of ``tasks_per_size`` fresh
tasks, a fresh MLP (the same initial weights for every fit of a seed) is trained on the
first n points with an 80/20 train/validation split, Adam + global-norm clipping,
minibatches and early stopping, then scored on held-out test points of the same task. All
fits of all seeds run in one program (``jaxlab.coding.fits.fit_many`` vmapped over seeds).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxlab.coding import fits
from jaxlab.config import require
from jaxlab.models.mlp import INITS, MLP
from jaxlab.papers.icl_occam.task import episodes, make_task, pointwise_loss


def validate(config: ml_collections.ConfigDict) -> None:
    s = config.sgd
    require(len(s.sizes) >= 1 and min(s.sizes) >= 2, "sgd.sizes",
            f"needs sizes >= 2 (one train and one validation point), got {tuple(s.sizes)}")
    for name in ("tasks_per_size", "test_points", "batch_size", "hidden", "max_epochs",
                 "patience", "chunk_steps", "lanes"):
        require(s[name] >= 1, f"sgd.{name}", f"must be >= 1, got {s[name]}")
    require(s.n_layers >= 2, "sgd.n_layers", f"must be >= 2, got {s.n_layers}")
    require(s.learning_rate > 0, "sgd.learning_rate", f"must be > 0, got {s.learning_rate}")
    require(0 < s.train_fraction < 1, "sgd.train_fraction",
            f"must be in (0, 1), got {s.train_fraction}")
    require(s.stop_rule in fits.STOP_RULES, "sgd.stop_rule",
            f"must be one of {fits.STOP_RULES}, got {s.stop_rule!r}")
    require(s.init in INITS, "sgd.init", f"must be one of {INITS}, got {s.init!r}")
    require(all(e >= 1 for e in s.bucket_edges), "sgd.bucket_edges",
            f"n_train edges must be >= 1, got {tuple(s.bucket_edges)}")


def split_sizes(sizes: np.ndarray, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(n_train, n_val) per dataset size: n_train = max(1, int(0.8 n)), n_val = n - n_train."""
    n_train = np.maximum(1, (train_fraction * sizes).astype(int))
    return n_train, sizes - n_train


def make_spec(config: ml_collections.ConfigDict, out_dim: int) -> tuple[fits.FitSpec, MLP]:
    """The fit recipe; ``out_dim`` is the encoded target width (18 logits for Mastermind)."""

    s = config.sgd
    model = MLP(s.hidden, s.n_layers, out_dim, init_scheme=s.init)
    opt = optax.adam(s.learning_rate)
    if s.grad_clip_norm:
        opt = optax.chain(optax.clip_by_global_norm(s.grad_clip_norm), opt)
    spec = fits.FitSpec(model.apply, pointwise_loss(config), opt, s.batch_size, s.patience,
                        s.min_delta, s.max_epochs, s.restore_best, s.chunk_steps,
                        stop_rule=s.stop_rule)
    return spec, model


def _encoded_y_dim(config: ml_collections.ConfigDict) -> int:

    shape = jax.eval_shape(lambda k: episodes(make_task(config), k, 1, 1), jax.random.PRNGKey(0))
    return shape[1].shape[-1]


def fit_data(config: ml_collections.ConfigDict, key: jax.Array) -> tuple[fits.FitData, tuple]:
    """The fits of one seed: (FitData with leading axis F, (sizes (F,), x_test, y_test))."""

    s = config.sgd
    sizes = np.repeat(np.asarray(s.sizes), s.tasks_per_size)
    n_max = int(max(s.sizes))
    n_train, n_val = split_sizes(sizes, s.train_fraction)
    n_train_slots = int(split_sizes(np.array([n_max]), s.train_fraction)[0][0])
    k_task, k_split, k_fit = jax.random.split(key, 3)
    x, y = episodes(make_task(config), k_task, len(sizes), n_max + s.test_points)
    # One permutation of the first n_max points shared by every fit (as the reference):
    # its first slots hold training points, the rest validation points.
    perm = jax.random.permutation(k_split, n_max)
    train_idx, val_idx = perm[:n_train_slots], perm[n_train_slots:]
    n_val_slots = max(1, n_max - n_train_slots)
    if len(val_idx) == 0:
        val_idx = train_idx[:1]
    data = fits.FitData(
        x_train=x[:, train_idx], y_train=y[:, train_idx], n_train=jnp.asarray(n_train),
        x_val=x[:, val_idx][:, :n_val_slots], y_val=y[:, val_idx][:, :n_val_slots],
        n_val=jnp.asarray(n_val), key=jax.random.split(k_fit, len(sizes)))
    return data, (sizes, x[:, n_max:], y[:, n_max:])


def evaluate(config: ml_collections.ConfigDict, seed_keys: jax.Array) -> dict:
    """Test loss (MSE, or NLL in nats for Mastermind) of every fit, for every seed:
    {'gen_error': (S, n_sizes), ..., 'steps': (S, n_sizes, tasks_per_size) per fit}.

    The fits of all seeds share one fit axis (S x F fits, each seed's fits starting from
    that seed's initial weights), sharded over the local devices, ``config.sgd.lanes`` in
    flight per device. Averages the ``tasks_per_size`` fits of each size.
    """
    from jaxlab import runs


    s = config.sgd
    spec, model = make_spec(config, _encoded_y_dim(config))
    n_seeds, n_sizes = seed_keys.shape[0], len(s.sizes)

    def seed_data(key):
        data, (_, x_test, y_test) = fit_data(config, key)
        init = model.init(jax.random.fold_in(key, 7), x_test[0, :1])
        inits = jax.tree.map(lambda a: jnp.broadcast_to(a, (data.n_train.shape[0], *a.shape)), init)
        return inits, data, x_test, y_test

    flat = lambda a: a.reshape(-1, *a.shape[2:])
    inits, data, x_test, y_test = jax.tree.map(flat, jax.jit(jax.vmap(seed_data))(seed_keys))
    n_fits = data.n_train.shape[0]
    executor = runs.Executor("vmap", devices=jax.local_device_count())
    if s.bucket_edges:  # fits cut to their size bucket's rows (static sizes: the config's)
        n_train, n_val = split_sizes(np.repeat(np.asarray(s.sizes), s.tasks_per_size),
                                     s.train_fraction)
        result = jax.jit(fits.fit_many_bucketed_on(
            executor, spec, None, np.tile(n_train, n_seeds), np.tile(n_val, n_seeds),
            tuple(s.bucket_edges), s.lanes, params_per_fit=True))(inits, data)
    else:
        padded = executor.place(runs.pad_runs((inits, data), executor.padded(n_fits)))
        result = jax.jit(fits.fit_many_on(executor, spec, None, s.lanes, params_per_fit=True))(*padded)
        result = runs.unpad_runs(result, n_fits)

    @jax.jit
    def scores(params, x_test, y_test, epochs, best, steps):
        pred = jax.vmap(model.apply)(params, x_test)
        test = pointwise_loss(config)(pred, y_test).mean(-1)  # (S*F,)
        per_size = lambda a: a.reshape(n_seeds, n_sizes, s.tasks_per_size).astype(jnp.float32).mean(-1)
        return {"gen_error": per_size(test), "epochs": per_size(epochs), "val_loss": per_size(best),
                "steps": steps.reshape(n_seeds, n_sizes, s.tasks_per_size)}

    return scores(result.params, x_test, y_test, result.epochs, result.best_loss, result.steps)
