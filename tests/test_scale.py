"""Several devices, several processes, another topology on resume, sweeps of shapes."""
import glob
import logging
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, SMOKE
from scale_helpers import SHORT, env_with_devices, free_port, reference, short_config
from jaxlab import cli, papers, results, sweep
from jaxlab import config as config_lib


def _same_tables(got, want, rtol=1e-5):
    for name in ("train", "eval", "summary"):
        pd.testing.assert_frame_equal(got.tables[name], want.tables[name], check_exact=False,
                                      rtol=rtol, atol=1e-7)


# Each process logs every file it renames into the workdir (how jaxlab writes results),
# outside the checkpoints (orbax coordinates those itself).
DISTRIBUTED = r"""
import os, sys
log_path, workdir = sys.argv[1], os.path.realpath(sys.argv[2])
replace = os.replace
def logged(src, dst, *a, **k):
    d = os.path.realpath(str(dst))
    if d.startswith(workdir) and "checkpoints" not in d:
        with open(log_path, "a") as f:
            f.write(os.path.relpath(d, workdir) + "\n")
    return replace(src, dst, *a, **k)
os.replace = logged
from jaxlab import cli
sys.exit(cli.main(sys.argv[3:]))
"""


@pytest.mark.e2e
def test_two_processes_joined_by_jax_distributed_equal_one_device(tmp_path):
    workdir, port = str(tmp_path / "w"), free_port()
    procs = []
    for pid in range(2):
        argv = ["run", SMOKE, "--workdir", workdir, "--no-progress", "--compile=optimized", *SHORT,
                "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(pid)]
        procs.append(subprocess.Popen(
            [sys.executable, "-c", DISTRIBUTED, str(tmp_path / f"writes-{pid}.txt"), workdir, *argv],
            cwd=ROOT, env=env_with_devices(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "results:" in outs[0][0] and "results:" not in outs[1][0]  # process 1 prints no table
    manifest = results.read_manifest(workdir)
    assert manifest["processes"] == 2 and manifest["devices"] == 4
    written = (tmp_path / "writes-0.txt").read_text().split()
    assert {"config.json", "manifest.json", "train.parquet", "eval.parquet", "table.txt"} <= set(written)
    assert not (tmp_path / "writes-1.txt").exists()  # only process 0 writes
    _same_tables(results.load(workdir), reference())


RESIZE = r"""
import logging, shutil, sys
logging.basicConfig(level=logging.INFO)
sys.path.insert(0, {tests!r})
import jax
from scale_helpers import short_config
from jaxlab import papers, results
assert jax.device_count() == {n}
workdir = {workdir!r}
if {stop}:
    assert papers.run(short_config(), workdir, progress=False, should_stop=lambda c: c >= 2) is None
    for copy in {copies!r}:
        shutil.copytree(workdir, copy)
papers.run(short_config(), workdir, progress=False)
print("DEVICES", results.read_manifest(workdir)["devices"])
"""


def _resize(n: int, workdir: str, stop: bool = False, copies: tuple = ()) -> str:
    code = RESIZE.format(tests=os.path.join(ROOT, "tests"), n=n, workdir=workdir, stop=stop,
                         copies=copies)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_with_devices(n),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout + out.stderr


@pytest.mark.e2e
def test_four_devices_equal_one_and_their_checkpoint_resumes_on_one_and_two(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="jaxlab")
    four, one, two = (str(tmp_path / name) for name in ("four", "one", "two"))
    log = _resize(4, four, stop=True, copies=(one, two))  # 2 chunks on 4 devices, then copied
    assert "DEVICES 4" in log and "resumed from the checkpoint at step 10" in log
    _same_tables(results.load(four), reference())

    resumed = papers.run(short_config(), one, progress=False)  # this process: 1 device
    assert "resumed from the checkpoint at step 10" in caplog.text
    assert resumed.manifest["devices"] == 1
    _same_tables(resumed, reference())

    log = _resize(2, two)
    assert "DEVICES 2" in log and "resumed from the checkpoint at step 10" in log
    _same_tables(results.load(two), reference())


@pytest.mark.e2e
def test_manifest_records_speed_and_memory():
    m = reference().manifest
    assert m["steps_per_s"] > 0 and m["run_steps_per_s"] == pytest.approx(m["steps_per_s"] * 4)
    assert m["chunk_program_bytes"] > 0 and m["peak_host_rss_bytes"] > 0
    assert "peak_device_memory_bytes" in m  # None on CPU: XLA:CPU keeps no allocator stats


@pytest.mark.e2e
def test_sweep_through_submitit_resumes_unfinished_jobs_and_skips_finished_ones(tmp_path, capsys):
    root = str(tmp_path / "sweep")
    argv = ["sweep", SMOKE, "--workdir", root, "--axis", "model.d_model=8,16", "--launcher", "slurm",
            "--cluster", "local", "--timeout-min", "20", *SHORT]
    jobs = sweep.expand(SMOKE, list(SHORT), ["model.d_model=8,16"], root)
    for job in jobs:  # each workdir is named by the hash of the job's resolved config
        config = config_lib.load(SMOKE, list(job.overrides))
        assert os.path.basename(job.workdir) == sweep.config_hash(config)
    partial = jobs[1]  # d_model=16 was stopped after one chunk (a preempted job)
    assert papers.run(config_lib.load(SMOKE, list(partial.overrides)), partial.workdir,
                          progress=False, should_stop=lambda c: c >= 1) is None

    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("submitted as") == 2 and out.count(": finished") == 2
    logs = "".join(open(f).read() for f in glob.glob(os.path.join(root, "submitit", "*", "*.err")))
    assert logs.count("resumed from the checkpoint at step 5") == 1

    r = results.load(root)
    assert sorted(r.jobs) == sorted(j.key for j in jobs)
    assert sorted(r.eval["model.d_model"].unique()) == [8, 16]
    for job in jobs:
        mine = r.eval[r.eval.job == job.key].drop(columns=["job", "model.d_model"])
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), r.jobs[job.key].eval)
    assert r.train.groupby("model.d_model").run.nunique().tolist() == [4, 4]

    n_submitted = len(os.listdir(os.path.join(root, "submitit")))
    assert cli.main(argv) == 0  # re-launch: nothing left to do
    assert capsys.readouterr().out.count("finished, skipped") == 2
    assert len(os.listdir(os.path.join(root, "submitit"))) == n_submitted


def test_a_bad_sweep_value_is_one_line_before_anything_runs(tmp_path, capsys):
    root = tmp_path / "sweep"
    status = cli.main(["sweep", SMOKE, "--workdir", str(root), "--axis", "model.n_heads=2,3"])
    assert status == 2
    assert capsys.readouterr().err.strip() == ("jaxlab: error: config.model.n_heads: must divide "
                                               "model.d_model=16, got 3")
    assert not root.exists()
