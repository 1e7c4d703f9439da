"""A non-editable install (``pip install .``, as on a cluster node) runs a smoke config
from a directory outside the checkout: the configs come with the package
(``<prefix>/share/jaxlab/configs``) and nothing is found through the checkout.

The project is installed with ``--no-deps`` into a new virtualenv that sees this
environment's packages (jax, flax, ... are reused, not downloaded); building the wheel
takes pip's usual build backend (setuptools, from the configured package index)."""
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_non_editable_install_runs_a_smoke_config_outside_the_checkout(tmp_path):
    src = tmp_path / "src"  # a copy: pip writes build/ and *.egg-info beside the sources
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("jaxlab", "configs"):
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # This environment's packages after the new one's own (its .pth files, such as an
    # editable jaxlab's finder, are not run: only the directory is added).
    with open(os.path.join(site, "outer.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JAXLAB_CONFIGS")}
    env["JAXLAB_CACHE_DIR"] = str(tmp_path / "xla")
    out = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--quiet", str(src)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    shutil.rmtree(src)  # nothing may be read from the sources any more

    away = tmp_path / "elsewhere"
    away.mkdir()
    where = subprocess.run([str(py), "-c", "import jaxlab, jaxlab.config as c; print(jaxlab.__file__); "
                                           "print(c.locate('configs/icl_occam.py'))"],
                           capture_output=True, text=True, env=env, cwd=away, timeout=120)
    assert where.returncode == 0, where.stderr
    package, config = where.stdout.split()
    assert package.startswith(site), package
    assert config == os.path.join(str(venv), "share", "jaxlab", "configs", "icl_occam.py")

    jaxlab = str(venv / "bin" / "jaxlab")
    listed = subprocess.run([jaxlab, "list"], capture_output=True, text=True, env=env, cwd=away,
                            timeout=120)
    assert listed.returncode == 0 and "example_sine" in listed.stdout, listed.stderr
    run = subprocess.run([jaxlab, "run", "configs/example_sine.py:smoke", "--workdir", "w",
                          "--no-progress"], capture_output=True, text=True, env=env, cwd=away,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "wrote eval.parquet, table.txt, train.parquet" in run.stdout, run.stdout
    assert (away / "w" / "table.txt").exists()
