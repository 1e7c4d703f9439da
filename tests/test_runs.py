"""The run axis: a run's numbers do not depend on who shares its program."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, smoke_config
from scale_helpers import env_with_devices
from jaxlab import runner, runs, papers
from jaxlab import train as train_lib

STUDY = papers.get("icl_occam")


def _setup(*overrides):
    config = smoke_config(*overrides)
    grid = runner.make_grid(config, STUDY.CHOICES)
    return config, grid, STUDY.make_train(config)


def comparable(params):
    """Params without the attention key biases. Their gradient is zero in exact arithmetic
    (softmax ignores a per-query constant), so it is pure rounding noise, which Adam's
    normalisation turns into lr-sized steps of random sign: those leaves legitimately differ
    between two float orderings of the same run. Everything else must agree."""
    def drop_key_bias(path, leaf):
        names = [getattr(p, "key", "") for p in path]
        if "qkv" in names and names[-1] == "bias":
            d = leaf.shape[-1] // 3
            return np.concatenate([leaf[..., :d], leaf[..., 2 * d:]], axis=-1)
        return leaf
    return jax.tree_util.tree_map_with_path(drop_key_bias, params)


def _close(a, b, tol=2e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def test_keys_depend_only_on_point_and_seed():
    _, grid, _ = _setup()
    more = runs.RunGrid(grid.axes, grid.defaults, grid.n_seeds + 3, grid.root_seed, grid.choices)
    k_small, k_big = np.asarray(grid.keys()), np.asarray(more.keys())
    np.testing.assert_array_equal(k_small[:2], k_big[:2])  # point 0, seeds 0-1
    np.testing.assert_array_equal(k_small[2:4], k_big[5:7])  # point 1, seeds 0-1
    assert len({tuple(k) for k in k_big}) == len(k_big)


@pytest.mark.e2e
def test_vmapped_run_equals_the_run_alone_and_chunked_equals_vmapped():
    config, grid, trainer = _setup()
    hps, keys = grid.hp_arrays(), grid.keys()
    vmapped = runs.Executor("vmap")
    state = vmapped.map_runs(trainer.init)(keys, hps)
    out_all, metrics_all = vmapped.map_runs(trainer.train_chunk)(state, hps)

    r = 3  # objective=train, seed 1
    one = lambda tree: jax.tree.map(lambda a: a[r], tree)
    alone_state = jax.jit(trainer.init)(keys[r], one(hps))
    _close(alone_state.params, one(state).params, tol=0)
    out_alone, metrics_alone = jax.jit(trainer.train_chunk)(alone_state, one(hps))
    _close(comparable(out_alone.params), comparable(one(out_all).params))
    _close(metrics_alone, one(metrics_all))

    chunked = runs.Executor("chunked", runs_per_batch=3)
    n = chunked.padded(grid.n_runs)
    padded = runs.pad_runs((state, hps), n)
    out_chunked, _ = chunked.map_runs(trainer.train_chunk)(*padded)
    _close(comparable(runs.unpad_runs(out_chunked, grid.n_runs).params), comparable(out_all.params))
    assert not np.allclose(np.asarray(metrics_all["loss"][0]), np.asarray(metrics_all["loss"][2]))


SHARDED = r"""
import jax, numpy as np, sys
sys.path.insert(0, {tests!r})
from conftest import smoke_config
from test_runs import comparable
from jaxlab import runner, runs, papers
assert jax.device_count() == 4, jax.devices()
study = papers.get("icl_occam")
config = smoke_config("--config.sweep.n_seeds=3")  # 6 runs: padded to 8 on 4 devices
grid = runner.make_grid(config, study.CHOICES)
trainer = study.make_train(config)
hps, keys = grid.hp_arrays(), grid.keys()
outs = []
for ex in (runs.Executor("vmap", devices=1), runs.Executor("vmap", devices=4),
           runs.Executor("chunked", runs_per_batch=1, devices=4)):
    n = ex.padded(grid.n_runs)
    h, k = ex.place(runs.pad_runs((hps, keys), n))
    state = ex.map_runs(trainer.init)(k, h)
    state, _ = ex.map_runs(trainer.train_chunk)(state, h)
    if ex.devices == 4:
        assert len(state.params["params"]["predictor"]["in"]["kernel"].sharding.device_set) == 4
    outs.append(comparable(jax.device_get(runs.unpad_runs(state.params, grid.n_runs))))
for other in outs[1:]:
    for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(other)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)
print("SHARDED-OK")
"""


def _run_on_four_devices(template: str) -> subprocess.CompletedProcess:
    """Runs ``template`` (formatted with the tests directory) in a process of 4 CPU devices."""
    code = template.format(tests=os.path.join(ROOT, "tests"))
    return subprocess.run([sys.executable, "-c", code], env=env_with_devices(4),
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.e2e
def test_sharded_over_four_cpu_devices_equals_one_device():
    out = _run_on_four_devices(SHARDED)
    assert "SHARDED-OK" in out.stdout, out.stderr[-3000:]


def test_layout_never_pads_a_device_and_splits_batches_only_where_they_divide():
    for n_runs in range(1, 10):
        for devices in (1, 2, 3, 4, 8):
            for batch in (None, 1, 6, 64):
                r, d = runs.layout(n_runs, devices, batch=batch)
                assert r * d <= devices and r <= n_runs  # no device holds only padding
                assert d == 1 or (batch is not None and batch % d == 0)
                # brute force: no layout has less work per device
                best = min(-(-n_runs // rr) / dd for dd in range(1, devices + 1)
                           if devices % dd == 0 and (dd == 1 or (batch and batch % dd == 0))
                           for rr in range(1, min(devices // dd, n_runs) + 1))
                assert -(-n_runs // r) / d == best
    assert runs.layout(1, 2, batch=64) == (1, 2)  # one seed: data-parallel
    assert runs.layout(8, 2, batch=64) == (2, 1)  # eight seeds: the run axis
    assert runs.layout(1, 2, batch=None) == (1, 1)  # nothing to split: one device, none idle-padded
    assert runs.layout(3, 4, data=1, batch=64) == (3, 1)
    with pytest.raises(ValueError):
        runs.layout(1, 4, data=4, batch=6)


def test_micro_batches_change_the_prequential_gradient_only_by_rounding():
    """The prequential objective's gradient draws no randomness: 1, 4 and auto micro-batches
    average the same per-task losses, so one step agrees to float rounding."""
    outs = []
    for m in (1, 4, 0):
        config, grid, trainer = _setup("--config.train.chunk_steps=1", "--config.train.steps=20",
                                       f"--config.train.micro_batches={m}",
                                       "--config.sweep.axes.objective=('prequential',)")
        ex = runs.Executor("vmap")
        state = ex.map_runs(trainer.init)(grid.keys(), grid.hp_arrays())
        state, metrics = ex.map_runs(trainer.train_chunk)(state, grid.hp_arrays())
        outs.append((comparable(state.params), metrics["prequential_loss"]))
        if m == 0:  # auto: resolved when traced, within the budget, dividing the batch
            used = trainer.layout["micro_batches"]
            assert config.train.batch_tasks % used == 0
            assert trainer.layout["activation_bytes"] / used <= train_lib.ACTIVATION_BUDGET["cpu"] or (
                used == config.train.batch_tasks)
    for other in outs[1:]:
        _close(outs[0], other, tol=2e-5)


def test_auto_micro_batches_is_the_fewest_that_fit():
    assert train_lib.auto_micro_batches(100, 64, budget=100) == 1
    assert train_lib.auto_micro_batches(101, 64, budget=100) == 2
    assert train_lib.auto_micro_batches(300, 64, runs_per_device=4, budget=100) == 16  # 12 -> 16
    assert train_lib.auto_micro_batches(300, 64, data=2, budget=1000) == 2  # a multiple of data
    assert train_lib.auto_micro_batches(10**9, 6, budget=1) == 3  # none fits: the most with >= 2 examples
    assert train_lib.auto_micro_batches(10**9, 64, budget=1) == 32
    assert train_lib.auto_micro_batches(10**9, 1, budget=1) == 1  # one example: no split


LAYOUTS = r"""
import sys, tempfile, numpy as np, jax
sys.path.insert(0, {tests!r})
from conftest import smoke_config
from test_runs import comparable
from jaxlab import runner, papers
study = papers.get("icl_occam")
assert jax.device_count() == 4, jax.devices()
outs = {{}}
# micro_batches fixed at 4: each run's loss keys are then the same in every layout
for name, extra in [("1", ["--config.executor.devices=1"]), ("4x1", ["--config.executor.data=1"]),
                    ("2x2", ["--config.executor.data=2"]), ("1x4", ["--config.executor.data=4"])]:
    config = smoke_config("--config.sgd.enabled=False", "--config.train.micro_batches=4",
                          "--config.sweep.n_seeds=1", *extra)  # 2 runs (the two objectives)
    s = runner.Session(tempfile.mkdtemp(), progress=False)
    phase = runner.train_runs(config, study.make_learner(config), s, choices=study.CHOICES)
    lay = s.stats["train"]["layout"]
    outs[name] = (comparable(phase.gather(phase.state.params)), s.histories["train"].value.values)
    print(name, lay["runs"], lay["data"], lay["padded_runs"])
for name in ("4x1", "2x2", "1x4"):
    for a, b in zip(jax.tree.leaves(outs["1"]), jax.tree.leaves(outs[name])):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)
print("LAYOUTS-OK")
"""


@pytest.mark.e2e
def test_runs_by_data_layouts_on_four_devices_equal_one_device():
    out = _run_on_four_devices(LAYOUTS)
    assert "LAYOUTS-OK" in out.stdout, out.stderr[-3000:]
    # 2 runs on 4 devices: the chosen layout puts the spare devices on data, pads nothing;
    # data=1 uses 2 devices (none padded); 1x4 splits each batch four ways
    assert "\n1 1 1 0\n" in "\n" + out.stdout
    assert "4x1 2 1 0" in out.stdout and "2x2 2 2 0" in out.stdout and "1x4 1 4 0" in out.stdout


def test_one_run_is_applied_without_a_size_one_batch_axis():
    """vmap_runs equals jax.vmap (random draws included) for one run and for several, and
    for one run the traced program works on the run itself: its (3, 3) outer product
    appears unbatched, never as (1, 3, 3)."""
    def fn(key, x):
        noise = jax.random.normal(key, x.shape)
        return {"outer": jnp.outer(x, x + noise), "sum": jnp.sum(x * noise)}

    for n in (1, 3):
        keys = jax.random.split(jax.random.PRNGKey(0), n)
        xs = jax.random.normal(jax.random.PRNGKey(1), (n, 3))
        _close(runs.vmap_runs(fn)(keys, xs), jax.vmap(fn)(keys, xs), tol=1e-6)
    shapes = lambda f: {tuple(v.aval.shape) for e in jax.make_jaxpr(f)(keys[:1], xs[:1]).eqns
                        for v in e.outvars}
    assert (3, 3) in shapes(runs.vmap_runs(fn))
    assert (3, 3) not in shapes(jax.vmap(fn))  # what the plain vmap would trace
