"""Runs one paper end to end in a workdir: check the config, prepare or resume the workdir,
call the paper, write the training history and the manifest.

``run(paper, config, workdir)`` is what ``jaxlab run`` calls (with the paper looked up by the
command line). The same call on a workdir that holds an unfinished run of the same config
resumes it (each training phase from its newest checkpoint, on whatever devices are there
today); on a finished one it just loads the results. Nothing is written before the config
has been validated.

Across several processes joined by ``jax.distributed`` every process runs this same
function; only process 0 writes config, manifest and tables.
"""
from __future__ import annotations

import logging
import os
import time
from types import ModuleType
from typing import Callable, Sequence

import jax
import ml_collections

from jaxlab import config as config_lib
from jaxlab import results as results_lib
from jaxlab.config import ConfigError
from jaxlab.processes import barrier, is_primary
from jaxlab.runner import Session, Stopped, memory_stats

log = logging.getLogger("jaxlab")


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict) -> dict:
    """Creates the workdir or checks that it holds this same config; returns its manifest.

    Every process checks (they see the same filesystem, so they agree); then process 0
    alone creates what is missing while the others wait.
    """
    config_path = os.path.join(workdir, "config.json")
    fresh = not os.path.exists(config_path)
    if not fresh:
        with open(config_path) as f:
            previous = config_lib.from_json(f.read())
        changed = config_lib.differences(previous, config)
        if changed:
            raise ConfigError(
                f"workdir {workdir!r} holds a run of a different config (changed: "
                f"{', '.join('config.' + c for c in changed[:5])}); use a new --workdir")
    elif os.path.isdir(workdir) and [f for f in os.listdir(workdir) if ".tmp-" not in f]:
        raise ConfigError(f"workdir {workdir!r} exists, is not empty and holds no jaxlab run")
    barrier("workdir-checked")
    if fresh and is_primary():
        os.makedirs(workdir, exist_ok=True)
        results_lib.atomic_write_text(config_path, config_lib.to_json(config))
        results_lib.update_manifest(workdir, status="created", created=time.time())
    barrier("workdir-ready")
    return results_lib.read_manifest(workdir)


def run(paper: ModuleType, config: ml_collections.ConfigDict, workdir: str, *,
        progress: bool = True, should_stop: Callable[[int], bool] | None = None,
        writers: Sequence[str] = ()) -> results_lib.Results | None:
    """Runs ``paper`` (a module with ``validate`` and ``run(config, session)``) in ``workdir``.

    ``should_stop(chunks_done)`` is asked before each training chunk (the CLI answers True
    after a SIGTERM or SIGINT, tests to simulate a killed job); on True the run returns None
    with its last checkpoint complete on disk, and the same call resumes it. ``writers``
    names optional metric streams (``"tensorboard"``, ``"wandb:PROJECT"``).
    """
    t_start = time.perf_counter()
    config_lib.validate_base(config)
    paper.validate(config)
    manifest = prepare_workdir(workdir, config)
    if manifest.get("status") == "done":
        log.info("%s already holds the finished study; loading it", workdir)
        return results_lib.load(workdir)
    if is_primary():
        results_lib.update_manifest(workdir, status="running", jax_version=jax.__version__,
                                    backend=jax.default_backend(), processes=jax.process_count())
    session = Session(workdir, progress, should_stop, tuple(writers), t_start)
    try:
        paper.run(config, session)
    except Stopped:
        return None
    if is_primary():
        if session.histories:
            results_lib.write_table(workdir, "train", session.train_table())
        results_lib.update_manifest(workdir, status="done", wall_s=time.perf_counter() - t_start,
                                    **session.manifest_fields(), **memory_stats())
    barrier("results-written")
    return results_lib.load(workdir)
