"""Shared fixtures: one smoke study run per session, so its compiled programs are reused."""
from __future__ import annotations

import os

import pytest

# One CPU device in the test process, whatever `jaxlab` would pick (tests of several
# devices start their own process with their own XLA_FLAGS).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

# The persistent compilation cache the command line uses: a re-run of the suite loads its
# programs instead of compiling them (JAXLAB_CACHE_DIR chooses where).
from jaxlab.cli import enable_compilation_cache  # noqa: E402

enable_compilation_cache()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(ROOT, "configs", "icl_occam.py") + ":smoke"


def smoke_config(*overrides: str):
    from jaxlab import config as config_lib

    return config_lib.load(SMOKE, list(overrides))


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """The smoke study, trained and evaluated once for the whole session."""
    from jaxlab import papers

    workdir = str(tmp_path_factory.mktemp("smoke"))
    return papers.run(smoke_config(), workdir, progress=False)
