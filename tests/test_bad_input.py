"""Bad input: one line naming the field, exit status 2, nothing written; failed starts that
leave a workdir the corrected command accepts; tables that never print a wrong number."""
import errno
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, SMOKE
from jaxlab import checkpoint, cli, experiment, papers, results, runner, runs
from jaxlab import config as config_lib
from jaxlab.checkpoint import Checkpointer
from jaxlab.config import ConfigError
from jaxlab.papers.icl_occam import study as icl
from conftest import smoke_config

@pytest.fixture(autouse=True)
def _in_process_cli(monkeypatch):
    """``cli.main`` in this process: the session's compilation cache as it is, no signal handlers."""
    monkeypatch.setattr(cli, "enable_compilation_cache", lambda: None)
    monkeypatch.setattr(cli, "_stop_on_signals", threading.Event)


CASES = [
    (["--config.train.nonexistent=3"], "config.train.nonexistent: unknown config key"),
    (["--config.train.steps=abc"], "config.train.steps: cannot parse 'abc' as int"),
    (["--config.train.steps=2.5"], "config.train.steps: expected int"),
    (["--config.train.batch_tasks=-4"], "config.train.batch_tasks: must be >= 1, got -4"),
    (["--config.eval.n_points=500"], "config.eval.n_points: must be in (train.min_context, train.n_points=24]"),
    (["--config.train.min_context=30"], "config.train.min_context: must be in [0, train.n_points=24)"),
    (["--config.sweep.axes.objective=('bogus',)"], "config.sweep.axes.objective: values must be in"),
    (["--config.task.noise=0"], "config.task.noise: must be > 0"),
    (["--config.model.kind=lstm"], "config.model.kind: must be one of ('explicit', 'implicit', 'interleaved', 'mamba')"),
    # numbers that would overflow, alias or poison the results
    (["--config.hp.learning_rate=1e999"], "config.hp.learning_rate: must be finite, got inf"),
    (["--config.sweep.axes.learning_rate=(1e999, 3e-3)"], "config.sweep.axes.learning_rate: must be finite, got inf"),
    (["--config.task.noise=1e999"], "config.task.noise: must be finite, got inf"),
    (["--config.seed=99999999999999999999999"], "config.seed: must be in [0, 2**32)"),
    (["--config.seed=4294967296"], "config.seed: must be in [0, 2**32)"),  # would alias seed 0
    (["--config.train.steps=99999999999"], "config.train.steps: must fit in a 32-bit integer"),
    # value types of swept fields
    (["--config.sweep.axes.learning_rate=('a',)"],
     "config.sweep.axes.learning_rate: values must be floats like config.hp.learning_rate=0.003, got 'a'"),
    (["--config.sweep.axes.objective=(1,)"], "config.sweep.axes.objective: values must be strs"),
    (["--config.sweep.axes.learning_rate=()"], "config.sweep.axes.learning_rate: needs a tuple of at least one value"),
    # report and evaluation sizes, checked before training
    (["--config.eval.report_n=(1, 2.5)"], "config.eval.report_n: context sizes must be integers, got 2.5"),
    (["--config.eval.n_points=5", "--config.eval.report_n=(1, 2)"], "config.eval.n_points: must be > 5"),
    # memory: the training state's size from its shapes, before anything is allocated
    (["--config.model.d_model=1000000"], "the training state of 4 runs needs about"),
]


@pytest.mark.parametrize("overrides,message", CASES)
def test_bad_config_is_one_line_naming_the_field(overrides, message, tmp_path, capsys):
    workdir = tmp_path / "w"
    status = cli.main(["run", SMOKE, "--workdir", str(workdir), *overrides])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and message in err, err
    assert not workdir.exists()


def test_unknown_config_file_and_variant(tmp_path, capsys):
    assert cli.main(["run", "configs/nope.py", "--workdir", str(tmp_path / "a")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["run", SMOKE.replace(":smoke", ":huge"), "--workdir", str(tmp_path / "b")]) == 2
    assert "unknown variant 'huge'" in capsys.readouterr().err
    assert cli.main(["run", SMOKE.replace(":smoke", ":smoke,paper"), "--workdir", str(tmp_path / "c")]) == 2
    assert "'smoke' and 'paper' exclude each other" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.e2e
def test_workdir_with_another_config_is_refused(smoke_results):
    with pytest.raises(ConfigError, match=r"changed: config.train.steps"):
        papers.run(smoke_config("--config.train.steps=30"), smoke_results.workdir, progress=False)


@pytest.mark.e2e
def test_cli_process_exits_nonzero_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jaxlab.cli", "run", SMOKE, "--workdir",
                          str(tmp_path / "w"), "--config.model.n_heads=3"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip() == ("jaxlab: error: config.model.n_heads: must divide "
                                  "model.d_model=16, got 3")
    assert not (tmp_path / "w").exists()


@pytest.mark.e2e
def test_sigterm_stops_at_a_chunk_boundary_and_the_same_command_resumes(tmp_path):
    import signal
    import time

    workdir = tmp_path / "w"
    cmd = [sys.executable, "-m", "jaxlab.cli", "run", SMOKE, "--workdir", str(workdir),
           "--no-progress", "--config.train.steps=2000", "--config.train.chunk_steps=10"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not list((workdir / "checkpoints" / "train").glob("[0-9]*")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 143, err[-2000:]
    assert "run the same command to resume" in err and "Traceback" not in err
    status = json.loads((workdir / "manifest.json").read_text())["status"]
    assert status == "running"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from the checkpoint at step" in done.stderr
    assert json.loads((workdir / "manifest.json").read_text())["status"] == "done"


# ---------------------------------------------------------------- config files
@pytest.mark.parametrize("source,message", [
    ("def get_config(arg=None)\n    return 1\n", "line 1: expected ':'"),
    ("import nonexistent_module_xyz\n", "failed to import: ModuleNotFoundError"),
    ("def get_config(arg=None):\n    raise KeyError('boom')\n", "get_config(None) failed: KeyError: 'boom'"),
    ("def get_config(arg=None):\n    return None\n", "returned NoneType, not an ml_collections.ConfigDict"),
    ("import ml_collections\ndef get_config(arg=None):\n    return ml_collections.ConfigDict(dict(seed=0))\n",
     "config.study: missing; must name a registered paper"),
])
def test_a_broken_config_file_is_one_line(source, message, tmp_path, capsys):
    path = tmp_path / "cfg.py"
    path.write_text(source)
    status = cli.main(["run", str(path), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "w").exists()


def test_compositionality_memory_budget_must_be_positive(tmp_path, capsys):
    spec = os.path.join(ROOT, "configs", "compositionality.py") + ":smoke"
    assert cli.main(["run", spec, "--workdir", str(tmp_path / "w"), "--config.memory_mb=-1.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.memory_mb: must be > 0" in err, err
    assert not (tmp_path / "w").exists()


def test_a_missing_writer_package_is_refused_before_the_workdir(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if wandb were not installed
    assert cli.main(["run", SMOKE, "--workdir", str(tmp_path / "w"), "--wandb", "proj"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "jaxlab: error: --wandb needs wandb: pip install wandb"
    assert not (tmp_path / "w").exists()


# ---------------------------------------------------------------- workdirs
def _one_line_error(argv, capsys, status=2) -> str:
    got = cli.main(argv)
    err = capsys.readouterr().err
    assert got == status and err.count("\n") == 1 and err.startswith("jaxlab: error: "), err
    return err


def test_a_workdir_that_is_a_file_or_under_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    err = _one_line_error(["run", SMOKE, "--workdir", str(afile)], capsys)
    assert f"--workdir '{afile}' is a file, not a directory" in err
    err = _one_line_error(["run", SMOKE, "--workdir", str(afile / "sub")], capsys)
    assert f"'{afile}' is a file, not a directory" in err
    assert afile.read_text() == "x"


def test_a_read_only_parent_is_named(tmp_path, capsys, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    if os.access(parent, os.W_OK):  # root ignores permission bits: say what the kernel would
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(parent) else real(p, m))
    try:
        err = _one_line_error(["run", SMOKE, "--workdir", str(parent / "w")], capsys)
    finally:
        parent.chmod(0o755)
    assert f"'{parent}' is not writable (permission denied)" in err
    assert not (parent / "w").exists()


@pytest.mark.parametrize("name", ["config.json", "manifest.json"])
def test_a_corrupt_workdir_file_is_named_and_left_alone(name, tmp_path, capsys):
    workdir = tmp_path / "w"
    workdir.mkdir()
    (workdir / "config.json").write_text(config_lib.to_json(smoke_config()))
    (workdir / "manifest.json").write_text('{"status": "running"}')
    (workdir / name).write_text("{not json")
    err = _one_line_error(["run", SMOKE, "--workdir", str(workdir)], capsys)
    assert f"{name} is unreadable (JSONDecodeError" in err and "--overwrite" in err
    assert (workdir / name).read_text() == "{not json"


def _fake_run(workdir, config, status, checkpoint=False, pid=None):
    """A workdir as a run of ``config`` leaves it (without training)."""
    os.makedirs(workdir)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config_lib.to_json(config))
    manifest = {"status": status, "pid": pid, "host": socket.gethostname()}
    with open(os.path.join(workdir, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    if checkpoint:
        os.makedirs(os.path.join(workdir, "checkpoints", "train", "10"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("status,pid", [("failed", None), ("running", "dead"), ("created", "dead")])
def test_a_start_that_died_before_its_first_checkpoint_makes_way_for_a_corrected_config(
        status, pid, tmp_path):
    workdir = str(tmp_path / "w")
    _fake_run(workdir, smoke_config("--config.train.batch_tasks=4096"), status,
              pid=_dead_pid() if pid == "dead" else None)
    manifest = experiment.prepare_workdir(workdir, smoke_config())
    assert manifest["status"] == "created"
    with open(os.path.join(workdir, "config.json")) as f:
        assert config_lib.differences(config_lib.from_json(f.read()), smoke_config()) == []


def test_a_run_with_checkpoints_or_a_live_process_is_not_discarded_unasked(tmp_path):
    config, other = smoke_config(), smoke_config("--config.train.batch_tasks=4096")
    resumable, live = str(tmp_path / "resumable"), str(tmp_path / "live")
    _fake_run(resumable, other, "failed", checkpoint=True)
    _fake_run(live, other, "running", pid=os.getpid())
    for workdir in (resumable, live):
        with pytest.raises(ConfigError, match=r"changed: config.train.batch_tasks.*--overwrite"):
            experiment.prepare_workdir(workdir, config)
    # --overwrite discards it on purpose
    manifest = experiment.prepare_workdir(resumable, config, overwrite=True)
    assert manifest["status"] == "created"
    assert not os.path.exists(os.path.join(resumable, "checkpoints"))
    with open(os.path.join(resumable, "config.json")) as f:
        assert config_lib.differences(config_lib.from_json(f.read()), config) == []


def test_overwrite_never_deletes_a_directory_that_holds_no_jaxlab_run(tmp_path, capsys):
    workdir = tmp_path / "mine"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("keep me")
    assert cli._parser().parse_args(["run", SMOKE, "--workdir", str(workdir), "--overwrite"]).overwrite
    err = _one_line_error(["run", SMOKE, "--workdir", str(workdir), "--overwrite"], capsys)
    assert "is not empty and holds no jaxlab run" in err
    assert (workdir / "notes.txt").read_text() == "keep me"


def _crash_at(chunk):
    def should_stop(chunks_done):
        if chunks_done >= chunk:
            raise RuntimeError("simulated crash")
        return False
    return should_stop


def test_a_failure_before_the_first_checkpoint_removes_what_it_wrote(smoke_results, tmp_path):
    workdir = str(tmp_path / "w")
    with pytest.raises(RuntimeError, match="simulated crash"):
        papers.run(smoke_config(), workdir, progress=False, should_stop=_crash_at(0))
    assert not os.path.exists(workdir)


def test_a_failure_after_a_checkpoint_is_marked_and_the_same_command_resumes(smoke_results, tmp_path,
                                                                              caplog):
    caplog.set_level(logging.INFO, logger="jaxlab")
    workdir = str(tmp_path / "w")
    with pytest.raises(RuntimeError, match="simulated crash"):
        papers.run(smoke_config(), workdir, progress=False, should_stop=_crash_at(1))
    manifest = results.read_manifest(workdir)
    assert manifest["status"] == "failed" and "simulated crash" in manifest["error"]
    assert papers.run(smoke_config(), workdir, progress=False, should_stop=lambda c: True) is None
    assert "train: resumed from the checkpoint at step 10" in caplog.text
    assert results.read_manifest(workdir)["status"] == "running"


def test_memory_beyond_what_is_available_is_refused_and_near_it_warned(monkeypatch, caplog):
    executor = runs.Executor("vmap", 1, 1)
    monkeypatch.setattr(runner, "available_memory", lambda: (2 ** 30, True))  # 1 GB on the host
    with pytest.raises(ConfigError, match=r"the training program needs about 1.17 GB of memory but "
                                          r"this host has 1 GB available"):
        runner.check_memory(1200 * 2 ** 20, "the training program", executor)
    runner.check_memory(600 * 2 ** 20, "the training program", executor)
    assert "the training program needs about 0.586 GB of the 1 GB available" in caplog.text
    caplog.clear()
    runner.check_memory(200 * 2 ** 20, "the training program", executor)
    assert caplog.text == ""
    # per device on an accelerator: the device's own limit, whatever the device count
    monkeypatch.setattr(runner, "available_memory", lambda: (2 ** 30, False))
    with pytest.raises(ConfigError, match=r"needs about 1.17 GB of memory but a device has 1 GB"):
        runner.check_memory(1200 * 2 ** 20, "the training program", runs.Executor("vmap", 1, 4))


def test_a_full_disk_is_one_line_that_says_so(smoke_results, tmp_path, capsys, monkeypatch):
    def full(self, step, state, history, state_fingerprint=None):
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(self.directory, str(step)))

    monkeypatch.setattr(Checkpointer, "save", full)
    workdir = tmp_path / "w"
    err = _one_line_error(["run", SMOKE, "--workdir", str(workdir), "--no-progress"], capsys, status=1)
    assert err.startswith("jaxlab: error: disk full: ") and "No space left on device" in err
    assert str(workdir / "checkpoints" / "train" / "10") in err
    assert not workdir.exists()  # nothing resumable was written: nothing is left


def test_orbax_write_errors_become_one_os_error_with_the_cause():
    e = ValueError("RESOURCE_EXHAUSTED: Error writing \"a/0\" in OCDBT database at local file "
                   "\"/x/ocdbt\": Failed to write 2743 bytes to file 4: No space left on device "
                   "[os_error_code='28']")
    err = checkpoint._write_error(e, "/x")
    assert err.errno == errno.ENOSPC and err.filename == "/x"
    assert cli._os_error_line(err) == "disk full: '/x': cannot write checkpoint: No space left on device"
    assert checkpoint._short(ValueError("bad <tensorstore.Spec object at 0x7f3a2c>; more\nline 2")) == \
        "ValueError: bad <...>; more"


def test_closed_event_loop_tracebacks_from_writer_threads_are_dropped_and_nothing_else():
    """After a failed save, orbax's writer threads print "Event loop is closed" tracebacks
    at any moment (seen on a loaded machine before the one-line error); only those go."""
    out = io.StringIO()
    stream = checkpoint._ClosedLoopTracebacks(out)
    closed = ["Traceback (most recent call last):\n",
              '  File "base_events.py", line 806, in call_soon_threadsafe\n',
              "    self._check_closed()\n", "RuntimeError: Event loop is closed\n"]
    other = ["Traceback (most recent call last):\n", '  File "y.py", line 1, in f\n',
             "ValueError: boom\n"]
    writer = threading.Thread(target=lambda: [stream.write(t) for t in closed + other + ["x\n"]])
    writer.start()
    writer.join()
    stream.write("".join(closed))  # the main thread's own output is never touched
    assert out.getvalue() == "".join(other) + "x\n" + "".join(closed)


@pytest.mark.e2e
def test_a_real_full_disk_says_so_first_and_the_same_command_resumes(tmp_path):
    """On a 700 kB tmpfs the first checkpoints fit and a later one does not (needs root)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        cmd = [sys.executable, "-m", "jaxlab.cli", "run", SMOKE, "--workdir", str(mnt / "w"),
               "--no-progress", "--config.sgd.enabled=False", "--config.train.steps=100"]
        full = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert full.returncode == 1
        assert full.stderr.startswith("jaxlab: error: disk full: "), full.stderr[:2000]
        assert full.stderr.count("\n") == 1 and "Traceback" not in full.stderr
        # marked "failed" if the disk still had room for the manifest; resumable either way
        assert results.read_manifest(str(mnt / "w"))["status"] in ("failed", "running")
        saved = sorted(int(p.name) for p in (mnt / "w" / "checkpoints" / "train").iterdir()
                       if p.name.isdigit())
        assert saved and saved[-1] < 100, saved  # some checkpoints, not the run's last one
        subprocess.run(["mount", "-o", "remount,size=20m", str(mnt)], check=True)
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-2000:]
        assert f"resumed from the checkpoint at step {saved[-1]}" in again.stderr
    finally:
        subprocess.run(["umount", str(mnt)])


# ---------------------------------------------------------------- sweeps
@pytest.mark.parametrize("argv,message", [
    (["--parallel", "0"], "--parallel must be >= 1, got 0"),
    (["--parallel", "-3"], "--parallel must be >= 1, got -3"),
    (["--launcher", "slurm", "--cluster", "local", "--slurm-param", "account"],
     "--slurm-param 'account' is not of the form KEY=VALUE"),
    (["--launcher", "slurm"], "--launcher slurm: SLURM is not available here (no sbatch on PATH)"),
])
def test_bad_sweep_options_are_one_line_before_anything_is_written(argv, message, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)  # no SLURM on this machine
    root = tmp_path / "root"
    err = _one_line_error(["sweep", SMOKE, "--workdir", str(root), "--axis", "model.d_model=8,16", *argv],
                          capsys)
    assert message in err
    assert not root.exists()


# ---------------------------------------------------------------- wrong numbers
def test_a_diverged_run_gives_nan_code_length_flagged_and_left_out_of_the_mean(smoke_results):
    """Before: the NaN-skipping sum printed a diverged run's code length as 0.000 and it
    pulled the seed mean down."""
    config = smoke_results.config
    ev = smoke_results.eval.copy()
    bad = (ev.run == 0) & (ev.metric == "gen_error")  # run 0: prequential, seed 0
    ev.loc[bad & (ev.n_context >= 3), "value"] = np.nan  # diverged after n = 2
    summary = icl.summarize(ev, config)
    row = summary[summary.run == 0].iloc[0]
    assert not row.finite and np.isnan(row.code_length) and np.isnan(row.code_length_5)
    good = summary[(summary.learner == "prequential") & (summary.run != 0)]
    assert good.finite.all() and len(good) == 1
    table = icl.report(summary, config)
    line = next(l for l in table.splitlines() if l.startswith("prequential"))
    assert "[1 of 2 runs non-finite (diverged): left out of the mean]" in line
    assert f"{good.code_length.iloc[0]:.3f} ±0.000" in line  # the mean of the finite seed only


def test_metahmm_a_diverged_run_gives_nan_code_length_flagged_and_left_out_of_the_mean():
    from jaxlab.papers.metahmm import study as hmm

    config = config_lib.load(os.path.join(ROOT, "configs", "metahmm.py") + ":smoke")
    t = np.arange(16.0)
    frames = []
    for seed in (0, 1):
        frames += hmm.tidy_rows(-1, seed, "oracle", {"nll": 1 + 0 * t})
    frames += hmm.tidy_rows(0, 0, "gpt", {"kl": 0.1 + 0 * t, "nll": 1.5 + 0 * t})
    frames += hmm.tidy_rows(1, 1, "gpt", {"kl": np.where(t > 3, np.nan, 0.1), "nll": np.where(t > 3, np.nan, 1.5)})
    summary = hmm.summarize(pd.concat(frames, ignore_index=True), config)
    gpt = summary[summary.learner == "gpt"].set_index("run")
    assert np.isnan(gpt.loc[1, "code_length"]) and not gpt.loc[1, "finite"]  # was 6.0: the NaNs skipped
    assert gpt.loc[0, "code_length"] == pytest.approx(24.0)
    ambiguity = pd.DataFrame(columns=["learner", "bin_lo", "bin_hi", "kl", "n_tokens"])
    line = next(l for l in hmm.report(summary, ambiguity, config, None).splitlines() if l.startswith("gpt"))
    assert " 24.0000 " in line and "±" not in line and "[1 of 2 runs non-finite (diverged): left out of the mean]" in line


def test_the_printed_table_has_one_row_per_swept_value(smoke_results):
    """Before: a swept learning rate was averaged over its values under "mean ± std over seeds"."""
    config = smoke_config("--config.sweep.axes.learning_rate=(0.001, 0.003)")
    ev = smoke_results.eval.copy()
    trained = ev.run >= 0
    ev["learning_rate"] = np.where(trained, np.where(ev.seed == 0, 0.001, 0.003), np.nan)
    ev.loc[trained, "seed"] = 0  # two "points" of one seed each
    summary = icl.summarize(ev, config)
    assert "learning_rate" in summary.columns and "objective" in summary.columns
    table = icl.report(summary, config).splitlines()
    for learner in ("prequential", "train"):
        rows = [l for l in table if l.startswith(learner + " ")]
        assert [r.split()[1] for r in rows] == ["learning_rate=0.001", "learning_rate=0.003"]
        for r, lr in zip(rows, (0.001, 0.003)):
            want = summary[(summary.learner == learner) & (summary.learning_rate == lr)]
            assert len(want) == 1 and f"{want.code_length.iloc[0]:.3f} ±0.000" in r
    assert sum(l.startswith("bayes ") and "±" in l for l in table) == 1  # baselines are not swept


def test_smoke_tables_say_the_paper_rows_are_not_comparable(smoke_results):
    table = open(os.path.join(smoke_results.workdir, "table.txt")).read()
    assert "the paper rows are not comparable at this size (train.steps=20 < 1000" in table
    default = config_lib.load(SMOKE.replace(":smoke", ""))
    assert icl.too_small_for_paper(default) == []
    assert {"finite", "objective"} <= set(smoke_results.summary.columns)


@pytest.mark.e2e
def test_the_readme_sweep_with_a_diverging_learning_rate_prints_labelled_numbers(tmp_path):
    config = smoke_config("--config.sweep.axes.learning_rate=(1e30, 3e-3)", "--config.sgd.enabled=False")
    r = papers.run(config, str(tmp_path / "w"), progress=False)
    s = r.summary
    diverged = s[s.learning_rate == 1e30]
    assert len(diverged) == 4 and not diverged.finite.any() and diverged.code_length.isna().all()
    table = open(os.path.join(r.workdir, "table.txt")).read().splitlines()
    for learner in ("prequential", "train"):
        fine = s[(s.learner == learner) & (s.learning_rate == 3e-3)]
        row = next(l for l in table if l.startswith(f"{learner} learning_rate=0.003"))
        assert f"{fine.code_length.mean():.3f} ±{fine.code_length.std(ddof=0):.3f}" in row
        row = next(l for l in table if l.startswith(f"{learner} learning_rate=1e+30"))
        assert "[2 of 2 runs non-finite (diverged): left out of the mean]" in row
