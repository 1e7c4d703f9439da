"""Shared by the scale and fault tests: one short uninterrupted reference run (4 chunks)."""
from __future__ import annotations

import os
import socket
import tempfile

from conftest import ROOT, smoke_config

# The smoke study without the SGD learner, 20 steps in 4 chunks of 5.
SHORT = ("--config.sgd.enabled=False", "--config.train.steps=20", "--config.train.chunk_steps=5")
_CACHE: dict = {}


def short_config(*overrides: str):
    return smoke_config(*SHORT, *overrides)


def reference():
    """The short study run once per session, uninterrupted, in this process (1 device)."""
    if "ref" not in _CACHE:
        from jaxlab import papers

        workdir = os.path.join(tempfile.mkdtemp(prefix="jaxlab-ref-"), "w")
        _CACHE["ref"] = papers.run(short_config(), workdir, progress=False)
    return _CACHE["ref"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_with_devices(n: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n}"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env
