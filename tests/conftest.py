"""Shared fixtures: one smoke study run per session, so its compiled programs are reused."""
from __future__ import annotations

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(ROOT, "configs", "icl_occam.py") + ":smoke"


def smoke_config(*overrides: str):
    from jaxlab import config as config_lib

    return config_lib.load(SMOKE, list(overrides))


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """The smoke study, trained and evaluated once for the whole session."""
    from jaxlab import experiment

    workdir = str(tmp_path_factory.mktemp("smoke"))
    return experiment.run(smoke_config(), workdir, progress=False)
