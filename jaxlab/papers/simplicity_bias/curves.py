"""Every fit of one benchmark point in one program: the feature-isolated learning curves
and the network trained on the mixed data, each at every size N and seed.

Fit f = (task, seed, size): a fresh MLP trained on the first N rows of the (task, seed)
training pool by ``jaxlab.coding.fits`` (AdamW, minibatches of 64, early stopping on a
validation set of the task's own distribution, checked every clip(ceil(N / 64), 20, 100)
steps (the mixed network: max(20, ceil(N / 64))) with patience 5 and min delta 5e-4, the
last parameters kept: the reference's protocol). Tasks and their targets:
  colour     colour-isolated images -> the colour (red 0 / green 1)
  watermark  watermark-isolated images -> the environment (Scenario B)
  digit      digit-isolated images -> the label y
  mixed      the benchmark -> y (the network whose reliance is measured)
Rows are latent (``data.render`` draws the images inside the model).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxlab import runs
from jaxlab.coding import fits
from jaxlab.models.mlp import MLP
from jaxlab.papers.simplicity_bias import data

TASKS = {"A": ("colour", "digit", "mixed"), "B": ("colour", "watermark", "digit", "mixed")}
TARGETS = ("y", "colour", "env")
TASK_TARGET = {"colour": 1, "watermark": 2, "digit": 0, "mixed": 0}
# test sets every fit is scored on (all with target y; the task's own target on its own mode)
TEST_MODES = data.MODES
PERMUTED = {"A": ("colour", "digit"), "B": ("colour", "digit", "watermark")}


class Setup(NamedTuple):
    static: data.Static
    digits: data.Digits
    model: MLP
    spec: fits.FitSpec
    tasks: tuple[str, ...]
    sizes: np.ndarray  # (Z,) int
    check_max: np.ndarray  # (T,) int: per task, the upper bound of its check period


def make_setup(config: ml_collections.ConfigDict, scenario: str) -> Setup:
    t, c = config.task, config.curve
    static = data.Static(t.image_size, t.digit_size, scenario == "B", t.watermark_bits,
                         max(int(config.scenario_b.bank_size), *config.grid.bank_size))
    digits = data.load_digits(t.digit_size, t.digits_per_class, t.prototypes, t.test_images)
    model = MLP(config.model.hidden, config.model.n_layers, 2)

    def apply(params, rows):
        return model.apply(params, data.render(rows, static, digits))

    loss = lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y)
    opt = optax.adamw(c.learning_rate, weight_decay=c.weight_decay)
    spec = fits.FitSpec(apply, loss, opt, c.batch_size, c.patience, c.min_delta,
                        max_epochs=c.max_steps, restore_best=False, chunk_steps=c.chunk_steps,
                        check_steps=(c.check_min, c.check_max), max_steps=c.max_steps)
    # the reference checks its feature curves' fits every clip(ceil(N / 64), 20, 100) steps
    # and the mixed network every max(20, ceil(N / 64)) (check_max_mixed = 0: no bound)
    unbounded = np.iinfo(np.int32).max
    check_max = np.asarray([(c.check_max_mixed or unbounded) if t == "mixed" else c.check_max
                            for t in TASKS[scenario]], np.int32)
    return Setup(static, digits, model, spec, TASKS[scenario], np.asarray(c.sizes, np.int32),
                 check_max)


def params_of(config: ml_collections.ConfigDict, point: dict, static: data.Static) -> data.Params:
    """The numeric knobs of one benchmark point (spur_prob, flip_prob, env_noisiness,
    bank_size) with the watermark banks (fixed by ``config.seed``, as the reference's)."""
    t = point
    banks = data.watermark_banks(jax.random.PRNGKey(config.seed + 667), static.max_bank,
                                 static.watermark_bits)
    return data.Params(jnp.float32(t["spur_prob"]), jnp.float32(t["flip_prob"]),
                       jnp.float32(t["env_noisiness"]), jnp.int32(t["bank_size"]), banks)


def _target(b: data.Batch, which: jax.Array) -> jax.Array:
    return jnp.stack([b.y, b.colour, b.env])[which]


def fit_data(setup: Setup, params: data.Params, n_seeds: int, n_val: int,
             key: jax.Array) -> tuple[fits.FitData, jax.Array]:
    """FitData with the fit axis ordered (task, seed, size), and the per-fit init keys."""
    n_max, n_sizes = int(setup.sizes.max()), len(setup.sizes)
    modes = jnp.asarray([data.MODES.index(t) for t in setup.tasks])
    which = jnp.asarray([TASK_TARGET[t] for t in setup.tasks])

    def pool(mode, tgt, k):
        kt, kv = jax.random.split(k)
        tr = data.sample(kt, n_max, params, setup.static, setup.digits, 0, mode)
        va = data.sample(kv, n_val, params, setup.static, setup.digits, 0, mode)
        return tr.rows, _target(tr, tgt), va.rows, _target(va, tgt)

    keys = jax.vmap(lambda t: jax.vmap(lambda s: jax.random.fold_in(jax.random.fold_in(key, t), s))(
        jnp.arange(n_seeds)))(jnp.arange(len(setup.tasks)))
    per_ts = jax.vmap(lambda m, w, ks: jax.vmap(lambda k: pool(m, w, k))(ks))(modes, which, keys)
    spread = lambda a: jnp.broadcast_to(a[:, :, None], (*a.shape[:2], n_sizes, *a.shape[2:])
                                        ).reshape(-1, *a.shape[2:])
    xt, yt, xv, yv = (spread(a) for a in per_ts)
    n_fits = xt.shape[0]
    n_train = jnp.tile(jnp.asarray(setup.sizes), n_fits // n_sizes)
    fit_keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(key, 10_007), i))(
        jnp.arange(n_fits))
    shuffle_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(fit_keys)
    check_max = jnp.repeat(jnp.asarray(setup.check_max), n_fits // len(setup.tasks))
    return (fits.FitData(xt, yt, n_train, xv, yv, jnp.full((n_fits,), n_val), shuffle_keys,
                         check_max), fit_keys)


def init_params(setup: Setup, fit_keys: jax.Array):
    rows = jnp.zeros((1, data.META + (setup.static.watermark_bits if setup.static.watermark else 0)))
    x = data.render(rows, setup.static, setup.digits)
    return jax.vmap(lambda k: setup.model.init(k, x))(fit_keys)


def train_all(setup: Setup, params: data.Params, n_seeds: int, n_val: int, key: jax.Array,
              lanes: int, devices: int = 0) -> fits.FitResult:
    """Every fit of the point in one program (the fit axis sharded over ``devices`` local
    devices; 0: all)."""
    fd, fit_keys = jax.jit(lambda k: fit_data(setup, params, n_seeds, n_val, k))(key)
    inits = jax.jit(lambda k: init_params(setup, k))(fit_keys)
    n_fits = fd.n_train.shape[0]
    executor = runs.Executor("vmap", devices=devices or jax.local_device_count())
    padded = executor.place(runs.pad_runs((inits, fd), executor.padded(n_fits)))
    run = jax.jit(fits.fit_many_on(executor, setup.spec, None, lanes, params_per_fit=True))
    return runs.unpad_runs(run(*padded), n_fits)


class Scores(NamedTuple):
    """Per fit (F = tasks x seeds x sizes): own-test log-loss and accuracy (own target),
    log p(. | x) on the mixed test set (F, n_test, 2) and accuracy for y on every test
    mode (F, len(TEST_MODES)); the mixed test set's targets (S, 3, n_test); counts of
    (colour, env, y) in mixed training draws (S, 2, 2, 2); and for the mixed fits (the
    last S x Z) the permutation tests: accuracy on the permutation samples (Fm,), mean
    accuracy after shuffling each attribute of ``permuted`` and the fraction of shuffles
    at least as accurate (Fm, P)."""

    own_loss: jax.Array
    own_acc: jax.Array
    mixed_logp: jax.Array
    mode_acc: jax.Array
    mixed_targets: jax.Array
    counts: jax.Array
    perm_orig: jax.Array
    perm_acc: jax.Array
    perm_p: jax.Array


def score_all(setup: Setup, params: data.Params, fitted, n_seeds: int, n_test: int,
              n_perm: int, perm_samples: int, key: jax.Array, permuted: tuple[str, ...]) -> Scores:
    """Scores every fit on fresh test draws of each mode (the test digit pool); fits are
    mapped one at a time (memory: a fit's test rows are rendered images), its rows and
    permutations vectorised."""
    n_sizes, n_tasks = len(setup.sizes), len(setup.tasks)
    apply = setup.spec.apply

    def tests(k):  # (modes, n_test) batches for one seed
        return jax.vmap(lambda m, km: data.sample(km, n_test, params, setup.static, setup.digits, 1, m))(
            jnp.arange(len(TEST_MODES)), jax.random.split(k, len(TEST_MODES)))

    seed_keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(n_seeds))
    sets = jax.vmap(tests)(seed_keys)  # leaves (S, M, n_test, ...)
    task_of = jnp.repeat(jnp.arange(n_tasks), n_seeds * n_sizes)
    seed_of = jnp.tile(jnp.repeat(jnp.arange(n_seeds), n_sizes), n_tasks)
    own_mode = jnp.asarray([data.MODES.index(t) for t in setup.tasks])
    own_target = jnp.asarray([TASK_TARGET[t] for t in setup.tasks])
    mixed = TEST_MODES.index("mixed")

    def one(args):
        p, t, s = args
        b = jax.tree.map(lambda a: a[s], sets)
        logp = jax.vmap(lambda rows: jax.nn.log_softmax(apply(p, rows)))(b.rows)  # (M, n, 2)
        own = own_mode[t]
        tgt = _target(jax.tree.map(lambda a: a[own], b), own_target[t])
        own_lp = logp[own]
        own_loss = -jnp.mean(jnp.take_along_axis(own_lp, tgt[:, None], 1))
        own_acc = jnp.mean(jnp.argmax(own_lp, -1) == tgt)
        mode_acc = jnp.mean(jnp.argmax(logp, -1) == b.y, axis=-1)
        return own_loss, own_acc, logp[mixed], mode_acc

    def permutation_tests(args):
        p, s = args
        rows, y = sets.rows[s, mixed, :perm_samples], sets.y[s, mixed, :perm_samples]
        acc = lambda r: jnp.mean(jnp.argmax(apply(p, r), -1) == y)
        orig = acc(rows)

        def shuffled(i):
            ks = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, 99 + i), s), n_perm)
            accs = jax.vmap(lambda k: acc(data.shuffle(rows, k, permuted[i])))(ks)
            return jnp.mean(accs), jnp.mean(accs >= orig)

        pa, pp = zip(*[shuffled(i) for i in range(len(permuted))])
        return orig, jnp.stack(pa), jnp.stack(pp)

    own_loss, own_acc, mixed_logp, mode_acc = jax.lax.map(one, (fitted, task_of, seed_of))
    m0 = (n_tasks - 1) * n_seeds * n_sizes  # the mixed fits come last
    mixed_fits = jax.tree.map(lambda a: a[m0:], fitted)
    orig, perm_acc, perm_p = jax.lax.map(permutation_tests, (mixed_fits, seed_of[m0:]))

    def counts(k):  # (colour, env, y) in mixed training draws
        b = data.sample(k, 4096, params, setup.static, setup.digits, 0, "mixed")
        return jnp.zeros((2, 2, 2)).at[b.colour, b.env, b.y].add(1.0)

    table = jax.vmap(counts)(jax.vmap(lambda k: jax.random.fold_in(k, 5))(seed_keys))
    mixed_targets = jnp.stack([sets.y[:, mixed], sets.colour[:, mixed], sets.env[:, mixed]], 1)
    return Scores(own_loss, own_acc, mixed_logp, mode_acc, mixed_targets, table, orig, perm_acc, perm_p)
