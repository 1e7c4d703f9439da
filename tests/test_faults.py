"""Fault injection: kills at random moments, damaged checkpoints, a NaN in one run.

The kill harness is scripts/fault_inject.py; the CI variant injects 3 kills, the slow one
(``-m slow``) 20 kills and 2 damaged checkpoints (its counts are in the README).
"""
import glob
import importlib.util
import json
import logging
import os
import shutil
import struct
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from scale_helpers import SHORT, reference, short_config
from jaxlab import papers, runner, runs
from jaxlab.checkpoint import Checkpointer, fingerprint

_spec = importlib.util.spec_from_file_location("fault_inject", os.path.join(ROOT, "scripts", "fault_inject.py"))
fault_inject = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fault_inject)


@pytest.mark.e2e
def test_three_kills_at_random_moments_resume_to_identical_tables(tmp_path):
    summary = fault_inject.main(["--kills", "3", "--corrupt", "0", "--seed", "3",
                                 "--workroot", str(tmp_path), "--out", str(tmp_path / "faults.json"),
                                 *SHORT])
    records = json.loads((tmp_path / "faults.json").read_text())["kills"]
    assert [r["signal"] for r in records if r["delivered"]] == ["SIGKILL", "SIGTERM", "SIGKILL"]
    assert all(r["resume_exit"] == 0 and not r["unreadable"] for r in records), records
    assert summary["kills_delivered"] == 3 and summary["data_lost"] == 0, records
    assert summary["resumed_identical"] == summary["runs_compared"] == len(records), records


@pytest.mark.e2e
@pytest.mark.slow
def test_twenty_kills_and_two_damaged_checkpoints(tmp_path):
    summary = fault_inject.main(["--kills", "20", "--corrupt", "2", "--seed", "0",
                                 "--workroot", str(tmp_path)])
    assert summary["kills_delivered"] == 20 and summary["data_lost"] == 0
    assert summary["resumed_identical"] == summary["runs_compared"]
    assert summary["corruption_detected"] == 2


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """The short study stopped after 2 of its 4 chunks (checkpoints at steps 5 and 10)."""
    workdir = str(tmp_path_factory.mktemp("stopped") / "w")
    assert papers.run(short_config(), workdir, progress=False,
                          should_stop=lambda c: c >= 2) is None
    return workdir


@pytest.mark.e2e
def test_flipped_bytes_in_the_newest_checkpoint_fall_back_to_the_previous(stopped, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="jaxlab")
    workdir = str(tmp_path / "w")
    shutil.copytree(stopped, workdir)
    fault_inject.damage(os.path.join(workdir, "checkpoints", "train", "10"), "flip")
    resumed = papers.run(short_config(), workdir, progress=False)
    assert "checkpoint at step 10 is unreadable or corrupt" in caplog.text
    assert "resumed from the checkpoint at step 5" in caplog.text
    for name in ("train", "eval", "summary"):
        pd.testing.assert_frame_equal(resumed.tables[name], reference().tables[name], check_exact=True)


def test_a_checkpoint_whose_bits_miss_their_fingerprint_is_rejected(tmp_path, caplog):
    tree = {"w": jnp.arange(12.0).reshape(3, 4), "n": jnp.arange(3, dtype=jnp.int32)}
    ckpt = Checkpointer(str(tmp_path))
    ckpt.save(1, tree, {"loss": [[0.5]]})
    ckpt.save(2, jax.tree.map(lambda a: a + 1, tree), {"loss": [[0.5], [0.25]]})
    ckpt.wait()
    ckpt.close()
    meta = tmp_path / "2" / "meta" / "metadata"
    saved = json.loads(meta.read_text())
    saved["fingerprint"][0] ^= 1  # as if one stored bit of "n" had changed
    meta.write_text(json.dumps(saved))
    step, state, history = Checkpointer(str(tmp_path)).restore_latest(tree)
    assert step == 1 and history == {"loss": [[0.5]]}
    np.testing.assert_array_equal(state["w"], tree["w"])
    assert "step 2 is unreadable or corrupt" in caplog.text and "fingerprint" in caplog.text
    # one flipped bit anywhere changes a leaf's fingerprint
    flipped = np.asarray(tree["w"]).copy().view(np.uint32)
    flipped[2, 1] ^= 1 << 7
    assert fingerprint({"w": flipped.view(np.float32)})[0] != fingerprint({"w": tree["w"]})[0]


def test_a_packed_checkpoint_restores_every_dtype_and_placement_and_an_unpacked_one_still_reads(tmp_path):
    """Saves pack the state into one array per dtype; restores put every leaf back with its
    shape, dtype and sharding. A checkpoint written before packing (one array per leaf,
    no "packed" mark) restores too."""
    import orbax.checkpoint as ocp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    replicated = NamedSharding(Mesh(np.array(jax.devices()), ("runs",)), PartitionSpec())
    tree = jax.device_put({"w": jnp.arange(12.0).reshape(3, 4), "n": jnp.arange(3, dtype=jnp.int32),
                           "ok": jnp.array([True, False]), "key": jnp.arange(4, dtype=jnp.uint32),
                           "v": -jnp.ones((2, 2))}, replicated)
    target = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated), tree)
    ckpt = Checkpointer(str(tmp_path / "packed"))
    ckpt.save(1, tree, {"loss": [[0.5]]})
    ckpt.wait()
    ckpt.close()
    old = ocp.CheckpointManager(str(tmp_path / "old"), options=ocp.CheckpointManagerOptions(create=True))
    old.save(3, args=ocp.args.Composite(
        state=ocp.args.StandardSave(tree), history=ocp.args.JsonSave({"loss": [[1.0]]}),
        meta=ocp.args.JsonSave({"step": 3, "fingerprint": fingerprint(tree)})))
    old.wait_until_finished()
    old.close()
    for name, want_step in (("packed", 1), ("old", 3)):
        step, state, _ = Checkpointer(str(tmp_path / name)).restore_latest(target)
        assert step == want_step
        for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(tree)):
            assert got.dtype == want.dtype and got.sharding == replicated
            np.testing.assert_array_equal(got, want)


def test_a_changed_digit_in_the_checkpointed_history_is_caught(stopped, tmp_path, caplog):
    """Before: the history was outside the fingerprint; one changed digit resumed silently and
    train.parquet then held 9.85 where the run had 0.85."""
    caplog.set_level(logging.INFO, logger="jaxlab")
    workdir = str(tmp_path / "w")
    shutil.copytree(stopped, workdir)
    meta = os.path.join(workdir, "checkpoints", "train", "10", "history", "metadata")
    text = open(meta).read()
    assert "0." in text
    with open(meta, "w") as f:
        f.write(text.replace("0.", "9.", 1))
    resumed = papers.run(short_config(), workdir, progress=False)
    assert "checkpoint at step 10 is unreadable or corrupt" in caplog.text
    assert "metric history does not match" in caplog.text
    assert "resumed from the checkpoint at step 5" in caplog.text
    pd.testing.assert_frame_equal(resumed.train, reference().train, check_exact=True)


def test_an_unreadable_checkpoint_is_moved_aside_and_its_step_saved_again(stopped, tmp_path, caplog):
    """Before: orbax skips saving a step at or below the newest one on disk, so the corrupt
    step 10 stayed, the resumed run had no valid checkpoint there, and every resume warned again."""
    caplog.set_level(logging.INFO, logger="jaxlab")
    workdir = str(tmp_path / "w")
    shutil.copytree(stopped, workdir)
    fault_inject.damage(os.path.join(workdir, "checkpoints", "train", "10"), "truncate")
    assert papers.run(short_config(), workdir, progress=False, should_stop=lambda c: c >= 1) is None
    aside = os.path.join(workdir, "checkpoints", "train-unreadable", "step10")
    assert f"moved the unreadable checkpoint at step 10 to {aside}" in caplog.text
    assert os.path.isdir(aside)
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints", "train"))) == ["10", "5"]
    caplog.clear()
    resumed = papers.run(short_config(), workdir, progress=False)
    assert "unreadable" not in caplog.text  # the new step 10 replaced the corrupt one
    assert "resumed from the checkpoint at step 10" in caplog.text
    for name in ("train", "eval", "summary"):
        pd.testing.assert_frame_equal(resumed.tables[name], reference().tables[name], check_exact=True)


def test_a_checkpoint_whose_history_misses_its_fingerprint_is_rejected(tmp_path, caplog):
    tree = {"w": jnp.arange(6.0)}
    ckpt = Checkpointer(str(tmp_path / "c"))
    ckpt.save(1, tree, {"loss": [[0.5]]})
    ckpt.save(2, tree, {"loss": [[0.5], [0.25]]})
    ckpt.wait()
    ckpt.close()
    path = tmp_path / "c" / "2" / "history" / "metadata"
    path.write_text(path.read_text().replace("0.25", "0.35"))
    step, _, history = Checkpointer(str(tmp_path / "c")).restore_latest(tree)
    assert step == 1 and history == {"loss": [[0.5]]}
    assert "step 2 is unreadable or corrupt (ValueError: its metric history does not match" in caplog.text
    assert (tmp_path / "c-unreadable" / "step2").is_dir() and not (tmp_path / "c" / "2").exists()


def test_no_readable_checkpoint_announces_a_restart_from_step_zero(tmp_path, caplog):
    tree = {"w": jnp.arange(6.0)}
    ckpt = Checkpointer(str(tmp_path / "c"))
    ckpt.save(3, tree, {"loss": [[0.5]]})
    ckpt.wait()
    ckpt.close()
    fault_inject.damage(str(tmp_path / "c" / "3"), "truncate")
    assert Checkpointer(str(tmp_path / "c")).restore_latest(tree) is None
    assert f"no readable checkpoint in {tmp_path / 'c'}: starting from step 0" in caplog.text
    assert "object at 0x" not in caplog.text  # no pybind reprs in the warnings
    assert (tmp_path / "c-unreadable" / "step3").is_dir()


def _tfevents(path: str) -> list[tuple[int, str, float]]:
    """(step, tag, value) of every scalar in a TensorBoard event file (TFRecord framing)."""
    from tensorboardX.proto import event_pb2

    out, data = [], open(path, "rb").read()
    pos = 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
        pos += 12 + length + 4
        for v in event.summary.value:
            out.append((event.step, v.tag, v.simple_value))
    return out


class FakeWandb:
    """Stands in for the wandb module: records what the writer logs."""

    def __init__(self):
        self.logged = []

    def init(self, **kwargs):
        self.kwargs = kwargs
        return self

    def log(self, row, step):
        self.logged.append((step, row))

    def finish(self):
        self.finished = True


@pytest.mark.e2e
def test_a_nan_in_one_run_leaves_the_others_identical_and_each_run_is_its_own_series(
        stopped, tmp_path, monkeypatch):
    workdir = str(tmp_path / "w")
    shutil.copytree(stopped, workdir)
    config = short_config()
    study = papers.get(config.study)
    grid = runner.make_grid(config, study.CHOICES)
    trainer = study.make_train(config)
    target = runs.Executor("vmap").map_runs(trainer.init)(grid.keys(), grid.hp_arrays())
    ckpt = Checkpointer(os.path.join(workdir, "checkpoints", "train"))
    step, state, history = ckpt.restore_latest(target)
    bad = 2
    poisoned = state._replace(params=jax.tree.map(lambda a: a.at[bad].set(jnp.nan), state.params))
    ckpt.manager.delete(step)
    ckpt.save(step, poisoned, history)
    ckpt.wait()
    ckpt.close()

    wandb = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    r = papers.run(config, workdir, progress=False, writers=("tensorboard", "wandb:jaxlab-test"))
    ref = reference()
    assert r.manifest["diverged"] == [bad]
    assert r.eval[r.eval.run == bad].value.isna().all()
    for name in ("train", "eval"):
        mine, want = r.tables[name], ref.tables[name]
        pd.testing.assert_frame_equal(mine[mine.run != bad], want[want.run != bad], check_exact=True)

    # TensorBoard: one event directory per run, holding that run's loss after the resume
    dirs = sorted(glob.glob(os.path.join(workdir, "tensorboard", "*")))
    assert [os.path.basename(d) for d in dirs] == [
        "run000-seed0-objective=prequential", "run001-seed1-objective=prequential",
        "run002-seed0-objective=train", "run003-seed1-objective=train"]
    train = r.train[r.train.metric == "loss"]
    for run, d in enumerate(dirs):
        (events,) = glob.glob(os.path.join(d, "events.*"))
        got = [(s, v) for s, tag, v in _tfevents(events) if tag == "loss"]
        want = train[(train.run == run) & (train.step > step)][["step", "value"]]
        assert [s for s, _ in got] == want.step.tolist()
        np.testing.assert_allclose([v for _, v in got], want.value, rtol=1e-6, equal_nan=True)
    # W&B: one series per run and metric, never averaged over seeds
    assert [s for s, _ in wandb.logged] == list(range(step + 1, config.train.steps + 1))
    assert set(wandb.logged[0][1]) >= {f"{os.path.basename(d)}/loss" for d in dirs}
    assert wandb.finished and wandb.kwargs["project"] == "jaxlab-test"
