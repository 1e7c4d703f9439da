"""What a new user meets first: the help texts, `jaxlab list`, overrides with a space, the
config search path, library log lines under their own names, and the list of files a run
wrote. None of these trains anything."""
import logging
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, SMOKE
from jaxlab import cli, papers, results
from jaxlab import config as config_lib
from jaxlab.config import ConfigError


def test_help_teaches_the_commands_configs_and_overrides(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for text in ("jaxlab list", "jaxlab run CONFIG[:VARIANT]", "--config.a.b=value",
                 "--config.train.steps=50", "configs/icl_occam.py", "JAXLAB_CONFIGS", "smoke"):
        assert text in out, text
    assert "``" not in out  # no raw reStructuredText
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    for text in ("CONFIG[:VARIANT]", "--config.a.b=value, or --config.a.b value", "jaxlab list",
                 "--config.sweep.n_seeds 2", "JAXLAB_CACHE_DIR", "results.load"):
        assert text in out, text


def test_list_names_every_paper_and_its_variants_without_importing_jax():
    code = ("import sys; from jaxlab import cli; status = cli.main(['list']); "
            "assert 'jax' not in sys.modules, 'jax imported'; sys.exit(status)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in papers.names():
        assert f"jaxlab run configs/{name}.py[:VARIANT]" in out.stdout
    assert ":smoke " in out.stdout and ":emergent,smoke" in out.stdout
    assert subprocess.run([sys.executable, "-m", "jaxlab.cli", "papers"], capture_output=True,
                          cwd=ROOT, timeout=120).returncode == 0


@pytest.mark.parametrize("name", papers.names())
def test_every_declared_variant_is_a_config_that_loads(name):
    path = config_lib.locate(f"configs/{name}.py")
    info = papers.config_info(path)
    assert info["title"] and info["variants"], f"{path} declares no VARIANTS"
    assert any("smoke" in token.split(",") for token in info["variants"])
    for token, what in info["variants"].items():
        assert what and "\n" not in what
        config = config_lib.load(f"{path}:{token}" if token else path)
        assert config.study == name


def test_an_override_takes_its_value_after_a_space():
    known, overrides = cli.split_overrides(
        ["run", "c.py", "--config.train.steps", "5", "--workdir", "d", "--config.seed", "-1",
         "--config.hp.learning_rate=1e-3", "--config.eval.n_tasks", "--no-progress"])
    assert known == ["run", "c.py", "--workdir", "d", "--no-progress"]
    assert overrides == ["--config.train.steps=5", "--config.seed=-1",
                         "--config.hp.learning_rate=1e-3", "--config.eval.n_tasks"]
    config = config_lib.load(SMOKE, overrides[:3])
    assert config.train.steps == 5 and config.seed == -1


def test_a_bad_value_after_a_space_is_the_usual_one_line_error(tmp_path, capsys):
    status = cli.main(["run", SMOKE, "--workdir", str(tmp_path / "w"), "--config.train.steps", "abc"])
    assert status == 2
    assert capsys.readouterr().err == "jaxlab: error: config.train.steps: cannot parse 'abc' as int\n"
    assert not (tmp_path / "w").exists()


def test_configs_are_found_by_name_from_any_directory(tmp_path, monkeypatch):
    here = os.path.join(ROOT, "configs", "icl_occam.py")
    monkeypatch.chdir(tmp_path)
    for spec in ("configs/icl_occam.py", "icl_occam", "icl_occam.py"):
        assert os.path.samefile(config_lib.locate(spec), here), spec
    assert config_lib.load("icl_occam:smoke").train.steps == config_lib.load(SMOKE).train.steps
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sine2.py").write_text(open(os.path.join(ROOT, "configs", "example_sine.py")).read())
    monkeypatch.setenv("JAXLAB_CONFIGS", str(mine))
    assert config_lib.locate("sine2") == str(mine / "sine2.py")
    assert config_lib.config_dirs()[0] == str(mine)
    with pytest.raises(ConfigError, match="config file 'configs/nope.py' does not exist .*JAXLAB_CONFIGS"):
        config_lib.locate("configs/nope.py")


def test_library_log_lines_keep_their_own_names():
    fmt = cli._NamedFormatter()
    rec = lambda name, level: logging.LogRecord(name, level, __file__, 1, "hello %s", ("x",), None)
    assert fmt.format(rec("jaxlab", logging.INFO)) == "jaxlab: hello x"
    assert fmt.format(rec("orbax.checkpoint._src.checkpointer", logging.WARNING)) == \
        "orbax.checkpoint._src.checkpointer: WARNING: hello x"


def test_the_results_line_names_exactly_the_files_written(tmp_path):
    workdir = str(tmp_path / "w")
    os.makedirs(workdir)
    open(os.path.join(workdir, "stale.parquet"), "w").close()  # there, but not written now
    results.atomic_write_text(os.path.join(workdir, "config.json"), "{}")
    results.write_table(workdir, "sweep", pd.DataFrame({"a": [1]}))
    results.atomic_write_text(os.path.join(workdir, "table.txt"), "t\n")
    results.write_table(workdir, "sweep", pd.DataFrame({"a": [2]}))  # twice: named once
    assert cli.files_line(workdir) == (f"results: {workdir}: wrote sweep.parquet, table.txt "
                                       f"(and config.json)")
    other = str(tmp_path / "done")
    os.makedirs(other)
    for f in ("manifest.json", "eval.parquet", "table.txt"):
        open(os.path.join(other, f), "w").close()
    assert cli.files_line(other) == (f"results: {other} (finished earlier, nothing new "
                                     f"written): eval.parquet, table.txt")


def test_a_figure_is_written_whole_and_recorded(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    results.save_figure(fig, str(tmp_path / "figure.png"), dpi=50)
    plt.close(fig)
    assert os.listdir(tmp_path) == ["figure.png"]
    assert open(tmp_path / "figure.png", "rb").read(4) == b"\x89PNG"
    assert results.written(str(tmp_path)) == ["figure.png"]


def test_smoke_variants_compile_quick_unless_told_otherwise(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert not cli.quick_compile("auto", "configs/icl_occam.py:sinusoid")
    assert "optimization_level" not in os.environ["XLA_FLAGS"]
    assert not cli.quick_compile("optimized", "configs/icl_occam.py:smoke")
    assert cli.quick_compile("auto", "configs/icl_occam.py:sinusoid,smoke")
    assert os.environ["XLA_FLAGS"] == ("--xla_force_host_platform_device_count=2 "
                                       "--xla_backend_optimization_level=0")
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=2")  # the user's own
    assert cli.quick_compile("quick", "icl_occam")
    assert os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=2"


# One host device's thread is `stall` seconds late for a psum across two host devices.
LATE_DEVICE = r"""
import sys, time
from jaxlab import cli
cli.use_cpu_cores_as_devices()
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, PartitionSpec as P

def late(x):
    if int(x[0]) == 0:
        time.sleep(float(sys.argv[1]))
    return x

mesh = Mesh(np.array(jax.devices()[:2]), ("d",))
body = lambda x: jax.lax.psum(jax.pure_callback(late, jax.ShapeDtypeStruct(x.shape, x.dtype), x), "d")
print(jax.jit(jax.shard_map(body, mesh=mesh, in_specs=P("d"), out_specs=P()))(jnp.arange(2.0)))
"""


@pytest.mark.parametrize("timeout_s, survives", [("1", False), (None, True)])
def test_host_devices_wait_for_a_late_device_as_long_as_configured(timeout_s, survives):
    """The collective timeout jaxlab sets reaches XLA: 1 s kills a process whose device is
    3 s late (XLA's abort), the default waits for it. XLA's limit counts from its
    stuck-rendezvous warning (20 s by default, 1 s here)."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAXLAB_CPU_DEVICES="2", JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_cpu_collective_call_warn_stuck_timeout_seconds=1")
    if timeout_s:
        env["JAXLAB_COLLECTIVE_TIMEOUT_S"] = timeout_s
    done = subprocess.run([sys.executable, "-c", LATE_DEVICE, "3"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode == 0) == survives, done.stderr[-2000:]
    if survives:
        assert "[1.]" in done.stdout
