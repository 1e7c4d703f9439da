"""Vectorized early-stopped fits and block-wise prequential coding."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab.coding import blockwise, fits
from jaxlab.coding.lattice import naive_lattice_code, lattice_gaussian_nll
from jaxlab.models.mlp import MLP
from jaxlab.objectives import squared_error

MODEL = MLP(hidden=16, n_layers=3, out=1)
SPEC = fits.FitSpec(MODEL.apply, squared_error,
                    optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
                    batch_size=8, patience=3, min_delta=1e-3, max_epochs=60, chunk_steps=4)


def _linear_fits(n_fits=6, n_rows=24, n_val=6):
    k = jax.random.PRNGKey(0)
    x = jax.random.normal(k, (n_fits, n_rows, 2))
    w = jax.random.normal(jax.random.fold_in(k, 1), (n_fits, 2, 1))
    y = x @ w + 0.1 * jax.random.normal(jax.random.fold_in(k, 2), (n_fits, n_rows, 1))
    n_train = jnp.asarray([1, 3, 8, 9, 17, 18])[:n_fits]
    return fits.FitData(x[:, :18], y[:, :18], n_train, x[:, 18:], y[:, 18:],
                        jnp.full((n_fits,), n_val), jax.random.split(k, n_fits))


@pytest.mark.e2e
def test_a_fit_inside_the_vectorized_program_equals_the_fit_alone():
    data = _linear_fits()
    init = MODEL.init(jax.random.PRNGKey(3), data.x_train[0])
    alone_fn = jax.jit(lambda d: fits.fit(SPEC, init, d))
    alone = [alone_fn(jax.tree.map(lambda a: a[i], data)) for i in range(data.n_train.shape[0])]
    # all fits in lockstep, and 2 lanes refilled from the queue as fits stop
    for lanes in (None, 2):
        many = jax.jit(lambda d: fits.fit_many(SPEC, init, d, lanes))(data)
        assert len(set(np.asarray(many.steps).tolist())) > 2  # the fits stop at different steps
        for i, one in enumerate(alone):
            assert int(one.steps) == int(many.steps[i]) and int(one.epochs) == int(many.epochs[i])
            np.testing.assert_allclose(one.best_loss, many.best_loss[i], rtol=1e-5)
            for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(many.params)):
                np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-6)
        # lane_steps: the program's lane-steps, against a list schedule of the fits alone
        # (queue largest n_train first; a stopped lane takes the next fit at a chunk end)
        n_lanes = len(alone) if lanes is None else lanes
        free_at = [0] * n_lanes
        for i in np.argsort(-np.asarray(data.n_train), kind="stable"):
            lane = int(np.argmin(free_at))
            free_at[lane] += -(-int(alone[i].steps) // SPEC.chunk_steps)
        executed = max(free_at) * SPEC.chunk_steps * n_lanes
        np.testing.assert_allclose(float(np.sum(many.lane_steps)), executed, rtol=1e-5)
        assert executed >= sum(int(one.steps) for one in alone)


def test_torch_init_scheme_draws_pytorch_linear_defaults():
    # nn.Linear: weight and bias U(+-1/sqrt(fan_in)) (weight variance 1 / (3 fan_in)); Flax: zero biases
    x = jnp.zeros((1, 3))
    torch_like = MLP(hidden=256, n_layers=3, out=1, init_scheme="torch").init(jax.random.PRNGKey(0), x)
    flax_like = MLP(hidden=256, n_layers=3, out=1).init(jax.random.PRNGKey(0), x)
    for name, fan_in in (("dense_0", 3), ("dense_1", 256), ("dense_2", 256)):
        layer, bound = torch_like["params"][name], 1.0 / np.sqrt(fan_in)
        kernel, bias = np.asarray(layer["kernel"]), np.asarray(layer["bias"])
        assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
        assert np.abs(kernel).max() > 0.95 * bound  # uniform up to the bound, not a narrower law
        if kernel.size >= 256:  # 768+ draws: the variance within 15 % of 1 / (3 fan_in)
            np.testing.assert_allclose(kernel.var(), 1.0 / (3 * fan_in), rtol=0.15)
        if bias.size > 1:
            assert np.abs(bias).min() < 0.2 * bound and np.abs(bias).max() > 0.8 * bound
        assert not np.any(np.asarray(flax_like["params"][name]["bias"]))
    with pytest.raises(ValueError):
        MLP(hidden=4, n_layers=2, out=1, init_scheme="kaiming").init(jax.random.PRNGKey(0), x)


def _scripted_spec(val_losses, restore_best):
    """A 'model' whose validation loss follows ``val_losses`` epoch by epoch: the optimizer
    sets the one parameter v to sqrt(loss_t) at step t, the prediction is v, targets 0."""
    targets = jnp.sqrt(jnp.asarray(val_losses, jnp.float32))

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(grads, count, params):
        new_v = targets[jnp.minimum(count, len(val_losses) - 1)]
        return {"v": new_v - params["v"]}, count + 1

    spec = fits.FitSpec(lambda p, x: jnp.broadcast_to(p["v"], x.shape[:1] + (1,)), squared_error,
                        optax.GradientTransformation(init, update), batch_size=4, patience=3,
                        min_delta=1e-3, max_epochs=50, restore_best=restore_best, chunk_steps=2)
    z = jnp.zeros((4, 1))
    data = fits.FitData(z, z, jnp.asarray(2), z, z, jnp.asarray(3), jax.random.PRNGKey(0))
    return spec, data


def test_early_stopping_and_best_params_restore_on_a_scripted_loss_sequence():
    # epochs 1..: 1.0 (best), .5 (best), .4995 (not by min_delta), .3 (best), .31, .32, .33
    losses = [1.0, 0.5, 0.4995, 0.3, 0.31, 0.32, 0.33, 0.01, 0.01]
    for restore in (True, False):
        spec, data = _scripted_spec(losses, restore)
        out = jax.jit(lambda d: fits.fit(spec, {"v": jnp.array(5.0)}, d))(data)
        assert int(out.epochs) == 7 and bool(out.stopped_early)  # 3 bad epochs after .3
        np.testing.assert_allclose(out.best_loss, 0.3, rtol=1e-6)
        expected_v = np.sqrt(0.3) if restore else np.sqrt(0.33)
        np.testing.assert_allclose(out.params["v"], expected_v, rtol=1e-6)


def test_tolerant_rule_accepts_a_val_loss_up_to_min_delta_above_the_best():
    # 1.0 (best), 1.0005, 1.0009, 1.0018: each within 1e-3 ABOVE the previous accepted value,
    # so "tolerant" accepts each as the new best (the best drifts up); then 3 bad epochs.
    # "lightning" needs val < best - 1e-3: the same sequence stops after epoch 4.
    losses = [1.0, 1.0005, 1.0009, 1.0018, 1.5, 1.6, 1.7, 0.01, 0.01]
    spec, data = _scripted_spec(losses, restore_best=True)
    tol = jax.jit(lambda d: fits.fit(dataclasses.replace(spec, stop_rule="tolerant"),
                                     {"v": jnp.array(5.0)}, d))(data)
    assert int(tol.epochs) == 7 and bool(tol.stopped_early)
    np.testing.assert_allclose(tol.best_loss, 1.0018, rtol=1e-6)
    np.testing.assert_allclose(tol.params["v"], np.sqrt(1.0018), rtol=1e-6)
    light = jax.jit(lambda d: fits.fit(spec, {"v": jnp.array(5.0)}, d))(data)
    assert int(light.epochs) == 4 and float(light.best_loss) == 1.0


def _reference_tolerant_stop(losses, patience, min_delta, max_epochs):
    """The reference's CustomEarlyStopping.on_validation_end, transcribed: the epoch a fit of
    one check per epoch stops at."""
    best, wait = np.inf, 0
    for epoch, current in enumerate(losses[:max_epochs], start=1):
        if current - min_delta < best:
            best, wait = current, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return max_epochs


def test_tolerant_rule_matches_a_transcription_of_the_reference_on_random_walks():
    rng = np.random.default_rng(0)
    for trial in range(6):
        # random walks of val losses with steps of a few min_deltas, drifting up or down, on
        # a grid of 2**-12 so no comparison with min_delta = 1e-3 is within rounding of a tie
        steps = rng.normal(0.001 * (trial - 2), 0.002, size=50)
        losses = list(np.round((2.0 + np.cumsum(steps)) * 4096) / 4096)
        spec, data = _scripted_spec(losses, restore_best=False)
        spec = dataclasses.replace(spec, stop_rule="tolerant")
        out = jax.jit(lambda d: fits.fit(spec, {"v": jnp.array(5.0)}, d))(data)
        assert int(out.epochs) == _reference_tolerant_stop(losses, 3, 1e-3, 50), trial


def test_max_epochs_stops_a_fit_that_keeps_improving():
    spec, data = _scripted_spec([1.0 - 0.01 * t for t in range(60)], True)
    out = jax.jit(lambda d: fits.fit(spec, {"v": jnp.array(1.0)}, d))(data)
    assert int(out.epochs) == 50 and not bool(out.stopped_early)


def test_checks_every_clipped_period_and_max_steps_caps_a_fit():
    # one step per epoch (2 rows, batch 4); check_steps=(3, 10) checks after steps 3, 6, 9,
    # ... which see losses[2], losses[5], ...: 1.0, 0.5 (best), then 0.6, 0.7, 0.8 (3 bad
    # checks = patience) -> stop after step 15. The 0.0s between checks are never looked at.
    seen = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    losses = [v for s in seen for v in (0.0, 0.0, s)]
    spec, data = _scripted_spec(losses, restore_best=True)
    checked = dataclasses.replace(spec, check_steps=(3, 10))
    out = jax.jit(lambda d: fits.fit(checked, {"v": jnp.array(5.0)}, d))(data)
    assert int(out.steps) == 15 and bool(out.stopped_early)
    np.testing.assert_allclose(out.best_loss, 0.5, rtol=1e-6)
    capped = jax.jit(lambda d: fits.fit(dataclasses.replace(checked, max_steps=7),
                                        {"v": jnp.array(5.0)}, d))(data)
    assert int(capped.steps) == 7 and not bool(capped.stopped_early)


def test_a_fits_own_check_max_replaces_the_specs_upper_bound():
    # 4 rows in minibatches of 1: 4 steps per epoch. check_steps=(1, 10) checks every 4
    # steps, after steps 4, 8, 12, 16: .5 (best), .7, .9, 1.1 -> stop after 16. The fit's
    # own check_max=2 checks every 2 steps: 1.0, .5 (best), .6, .7, .8 -> stop after 10.
    seen = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
    losses = [v for s in seen for v in (0.0, s)]
    spec, data = _scripted_spec(losses, restore_best=True)
    spec = dataclasses.replace(spec, batch_size=1, check_steps=(1, 10))
    data = data._replace(n_train=jnp.asarray(4))
    run = jax.jit(lambda d: fits.fit(spec, {"v": jnp.array(5.0)}, d))
    assert int(run(data).steps) == 16
    own = run(data._replace(check_max=jnp.asarray(2)))
    assert int(own.steps) == 10 and bool(own.stopped_early)
    np.testing.assert_allclose(own.best_loss, 0.5, rtol=1e-6)


def _scipy_naive(y: np.ndarray, precision: float) -> float:
    """Naive code of a block (rows, D): every column on the lattice under its own mean and
    std (floored at the precision), priced by scipy's Skellam."""
    from scipy import stats

    mean, sd = y.mean(0), np.maximum(y.std(0), precision)
    mu = 0.5 * (sd / precision) ** 2
    return float(-stats.skellam.logpmf(np.round((y - mean) / precision), mu, mu).sum())


@pytest.mark.e2e
def test_block_code_is_never_above_the_naive_code_and_beats_it_when_learnable():
    k = jax.random.PRNGKey(5)
    x = jax.random.normal(k, (140, 2))
    y = 2 * x[:, :1] - x[:, 1:] + 0.05 * jax.random.normal(jax.random.fold_in(k, 1), (140, 1))
    precision, std = 0.01, 0.1
    nll = lambda pred, yy: lattice_gaussian_nll(yy, pred, std, precision).sum(-1)

    def naive(yy, mask):
        m = mask[:, None].astype(jnp.float32)
        count = jnp.maximum(m.sum(), 1.0)
        mean = (yy * m).sum(0) / count
        sd = jnp.sqrt(((yy - mean) ** 2 * m).sum(0) / count)
        return (lattice_gaussian_nll(yy, mean, jnp.maximum(sd, precision), precision) * m).sum()

    bounds = blockwise.block_boundaries(8, 120, 5, "log")
    init = MODEL.init(jax.random.PRNGKey(0), x[:1])
    spec = dataclasses.replace(SPEC, patience=10, max_epochs=300)
    code = jax.jit(lambda x, y: blockwise.blockwise_code(
        spec, init, x, y, bounds, 20, jax.random.PRNGKey(1), nll, naive))(x, y)
    assert code.block_costs.shape == (len(bounds),)
    assert bool(jnp.all(code.block_costs[1:] <= code.block_naive[1:] + 1e-4))
    assert bool(jnp.any(code.block_nll < code.block_naive[1:]))  # learning pays somewhere
    # The naive codes of the blocks, sliced (not masked) and priced with scipy in float64;
    # K(data) is the first block's naive code plus the cheaper code of every later block.
    yn = np.asarray(y, np.float64)
    edges = [0, *bounds]
    naive_ref = np.array([_scipy_naive(yn[a:b], precision) for a, b in zip(edges, edges[1:])])
    np.testing.assert_allclose(code.block_naive, naive_ref, rtol=1e-4)
    expect = naive_ref[0] + np.minimum(np.asarray(code.block_nll), naive_ref[1:]).sum()
    np.testing.assert_allclose(code.k_data, expect, rtol=1e-4)
    # K(data | f): the model fitted alone on all 120 train items (fit k of blockwise_code
    # draws key split(key, K + 1)[k]), its lattice NLL summed over those items.
    final = fits.FitData(x[:120], y[:120], jnp.asarray(120), x[120:], y[120:], jnp.asarray(20),
                         jax.random.split(jax.random.PRNGKey(1), len(bounds))[-1])
    params = jax.jit(lambda d: fits.fit(spec, init, d).params)(final)
    k_given_f = float(nll(MODEL.apply(params, x[:120]), y[:120]).sum())
    np.testing.assert_allclose(code.k_data_given_f, k_given_f, rtol=1e-3)
    np.testing.assert_allclose(code.k_f, float(code.k_data) - k_given_f, rtol=1e-3, atol=1e-2)
    naive_total = naive_lattice_code(y[:120], precision)
    assert float(code.k_data) < float(naive_total)


def test_block_boundaries():
    b = blockwise.block_boundaries(10, 1000, 4, "log")
    assert b[0] == 10 and b[-1] == 1000 and np.all(np.diff(b) > 0) and len(b) == 5
    np.testing.assert_array_equal(blockwise.block_boundaries(10, 50, 4, "linear"), [10, 20, 30, 40, 50])


def test_rank_counting_argsort_is_the_stable_argsort_ties_included():
    scores = jax.random.uniform(jax.random.PRNGKey(3), (4, 80))
    scores = scores.at[:, 10].set(scores[:, 40]).at[:, 3].set(scores[:, 70])  # ties
    ours = jax.jit(jax.vmap(fits.stable_argsort))(scores)
    np.testing.assert_array_equal(ours, jnp.argsort(scores, axis=-1, stable=True))
    big = jax.random.uniform(jax.random.PRNGKey(4), (fits.RANK_SORT_MAX_ROWS + 1,))
    np.testing.assert_array_equal(fits.stable_argsort(big), jnp.argsort(big, stable=True))


def test_balanced_layout_deals_every_fit_once_and_evens_the_devices():
    n_train = jnp.arange(1, 17)  # sorted by size, as a study lays its fits out
    layout = np.asarray(fits.balanced_layout(n_train, 4))
    assert sorted(layout.tolist()) == list(range(16))
    per_device = np.asarray(n_train)[layout].reshape(4, 4).sum(axis=1)
    assert per_device.max() - per_device.min() <= 4, per_device  # contiguous shards: 10 vs 58


_TWO_DEVICES = """
import jax, numpy as np, sys
sys.path.insert(0, {tests!r})
from test_coding_fits import MODEL, SPEC, _linear_fits, fits
from jaxlab import runs
assert jax.device_count() == 2
data = _linear_fits(n_fits=5)  # an odd count: padded to 6 inside, unpadded after
init = MODEL.init(jax.random.PRNGKey(3), data.x_train[0])
ex = runs.Executor("vmap", devices=2)
sharded = jax.jit(fits.fit_many_on(ex, SPEC, init, lanes=2))(data)
assert sharded.steps.shape == (5,)
alone = jax.jit(lambda d: fits.fit_many(SPEC, init, d, lanes=2))(data)
np.testing.assert_array_equal(sharded.steps, alone.steps)
np.testing.assert_allclose(sharded.best_loss, alone.best_loss, rtol=1e-5)
print("SAME", np.asarray(sharded.steps).tolist())
"""


@pytest.mark.e2e
def test_fits_dealt_over_two_devices_come_back_in_order_and_equal_one_device():
    import os
    import subprocess
    import sys

    from scale_helpers import env_with_devices

    tests = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", _TWO_DEVICES.format(tests=tests)],
                         env=env_with_devices(2), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "SAME" in out.stdout, out.stderr[-3000:]


def test_size_buckets_cut_rows_but_keep_each_fits_minibatches_and_stop():
    # Each bucket is cut to its largest fit's rows (the batch-1 fits to 3 train rows, under
    # the batch of 8), yet the shuffle is drawn for the full 18 rows: a fit trains on the same
    # minibatches and stops at the same step as alone on uncut data, losses equal to rounding.
    data = _linear_fits()
    init = MODEL.init(jax.random.PRNGKey(3), data.x_train[0])
    n_train, n_val = np.asarray(data.n_train), np.asarray(data.n_val)
    groups = fits.size_buckets(n_train, (4, 9))
    assert [g.tolist() for g in groups] == [[0, 1], [2, 3], [4, 5]]
    from jaxlab import runs
    ex = runs.Executor("vmap", devices=1)
    bucketed = jax.jit(fits.fit_many_bucketed_on(ex, SPEC, init, n_train, n_val, (4, 9), lanes=2))(data)
    alone_fn = jax.jit(lambda d: fits.fit(SPEC, init, d))
    for i in range(n_train.shape[0]):
        one = alone_fn(jax.tree.map(lambda a: a[i], data))
        assert int(one.steps) == int(bucketed.steps[i]) and int(one.epochs) == int(bucketed.epochs[i])
        np.testing.assert_allclose(one.best_loss, bucketed.best_loss[i], rtol=1e-5)
        for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(bucketed.params)):
            np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-6)
    # a cut shuffle is the uncut one's prefix order: the same rows in the same order
    key = jax.random.PRNGKey(5)
    full = fits._epoch_order(key, jnp.asarray(3), 18, 8)
    cut = fits._epoch_order(key, jnp.asarray(3), 3, 8, draw_rows=18)
    assert full[:3].tolist() == cut[:3].tolist() and sorted(cut[:3].tolist()) == [0, 1, 2]


@pytest.mark.e2e
@pytest.mark.parametrize("spec", [SPEC, dataclasses.replace(SPEC, check_steps=(3, 5), max_steps=45)])
def test_lanes_that_skip_the_epoch_end_work_when_no_lane_needs_it_equal_the_fit_alone(
        monkeypatch, spec):
    # 18 train rows > 1 minibatch of 8: the lanes' step branches on "some lane checks"
    # (checks at epoch ends, or every clip(epoch, 3, 5) steps as the simplicity-bias fits)
    monkeypatch.setattr(fits, "GATE_MIN_BATCHES", 1)
    data = _linear_fits()
    init = MODEL.init(jax.random.PRNGKey(3), data.x_train[0])
    alone_fn = jax.jit(lambda d: fits.fit(spec, init, d))
    many = jax.jit(lambda d: fits.fit_many(spec, init, d, 2))(data)
    for i in range(data.n_train.shape[0]):
        one = alone_fn(jax.tree.map(lambda a: a[i], data))
        assert int(one.steps) == int(many.steps[i]) and int(one.epochs) == int(many.epochs[i])
        np.testing.assert_allclose(one.best_loss, many.best_loss[i], rtol=1e-5)
        for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(many.params)):
            np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-6)
