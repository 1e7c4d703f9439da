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


def assert_refused_before_writing(spec: str, override: str, field: str, workdir) -> None:
    """Loading ``spec`` with ``override`` and running it raises a one-line ConfigError that
    names ``config.<field>``, and ``workdir`` is never created."""
    from jaxlab import config as config_lib
    from jaxlab import papers
    from jaxlab.config import ConfigError

    with pytest.raises(ConfigError) as err:
        papers.run(config_lib.load(spec, [override]), str(workdir), progress=False)
    assert f"config.{field}" in str(err.value) and "\n" not in str(err.value)
    assert not os.path.exists(workdir)


_SMOKE_RUNS: dict = {}

# Tests that share in-process state run on one pytest-xdist worker (``--dist loadgroup``):
# a module-scoped fixture's run, or one paper's session smoke run and its compiled programs.
MODULE_GROUPS = {"test_faults", "test_icl_figures", "test_metahmm"}


def _group(item, paper_names: set[str]) -> str | None:
    module = item.module.__name__.rsplit(".", 1)[-1]
    if module in MODULE_GROUPS:
        return module
    params = getattr(getattr(item, "callspec", None), "params", {})
    named = [v for v in params.values() if isinstance(v, str) and v in paper_names]
    if named and "smoke_runs" in item.fixturenames:
        return named[0]
    if "smoke_results" in item.fixturenames or "smoke_runs" in item.fixturenames:
        return "icl_occam"
    return None


def pytest_collection_modifyitems(config, items):
    from jaxlab import papers

    names = set(papers.names())
    for item in items:
        group = _group(item, names)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """``smoke_runs(name, variant="smoke", *overrides)``: the finished run of
    ``configs/<name>.py:<variant>``, run once per session and shared by every test that
    asks for it (the paper contract's reference runs, the notebooks, the smoke results)."""
    from jaxlab import config as config_lib
    from jaxlab import papers

    def get(name: str, variant: str = "smoke", *overrides: str):
        key = (name, variant, overrides)
        if key not in _SMOKE_RUNS:
            spec = os.path.join(ROOT, "configs", f"{name}.py") + f":{variant}"
            workdir = str(tmp_path_factory.mktemp(f"smoke-{name}-{variant.replace(',', '-')}"))
            _SMOKE_RUNS[key] = papers.run(config_lib.load(spec, list(overrides)), workdir,
                                          progress=False)
        return _SMOKE_RUNS[key]

    return get


@pytest.fixture(scope="session")
def smoke_results(smoke_runs):
    """The ICL smoke study, trained and evaluated once for the whole session."""
    return smoke_runs("icl_occam")
