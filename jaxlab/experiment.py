"""Runs one paper end to end in a workdir: check the config, prepare or resume the workdir,
call the paper, write the training history and the manifest.

``run(paper, config, workdir)`` is what ``jaxlab run`` calls (with the paper looked up by the
command line). The same call on a workdir that holds an unfinished run of the same config
resumes it (each training phase from its newest checkpoint, on whatever devices are there
today); on a finished one it just loads the results. Nothing is written before the config
has been validated.

A run that fails (an exception, e.g. out of memory or a full disk) before anything
resumable exists (a checkpoint) removes what it wrote, so the same or a corrected command
starts afresh; after that it marks the manifest "failed" and the same command resumes.
``overwrite=True`` (``jaxlab run --overwrite``) discards a workdir's run and starts over.

Across several processes joined by ``jax.distributed`` every process runs this same
function; only process 0 writes config, manifest and tables.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
from types import ModuleType
from typing import Callable, Sequence

import jax
import ml_collections

from jaxlab import config as config_lib
from jaxlab import observe
from jaxlab import results as results_lib
from jaxlab.config import ConfigError
from jaxlab.processes import barrier, is_primary
from jaxlab.runner import Session, Stopped, memory_stats

log = logging.getLogger("jaxlab")


def checkpoint_steps(workdir: str) -> list[str]:
    """Every saved checkpoint step in the workdir (``.../checkpoints/<phase>/<step>``, also
    in member workdirs inside it): the work a resume would use."""
    found = []
    for parent, dirs, _ in os.walk(workdir):
        if os.path.basename(os.path.dirname(parent)) == "checkpoints":
            found += [os.path.join(parent, d) for d in dirs if d.isdigit()]
    return found


def _read_json(workdir: str, name: str) -> str:
    path = os.path.join(workdir, name)
    try:
        with open(path) as f:
            text = f.read()
        if not isinstance(json.loads(text), dict):
            raise ValueError("not a JSON object")
        return text
    except (OSError, ValueError) as e:
        raise ConfigError(f"workdir {workdir!r}: {name} is unreadable ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:120] if str(e) else ''}); run with --overwrite to "
                          f"discard this run and start over") from None


def _abandoned_start(manifest: dict, workdir: str) -> bool:
    """A start that can never resume: it failed, or its process (on this host) is gone,
    before any checkpoint was written."""
    if checkpoint_steps(workdir):
        return False
    if manifest.get("status") == "failed":
        return True
    pid, host = manifest.get("pid"), manifest.get("host")
    if manifest.get("status") in ("created", "running") and pid and host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
    return False


def clear_workdir(workdir: str) -> None:
    """Removes everything in a jaxlab workdir (keeps the directory itself)."""
    for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _check_writable(workdir: str) -> None:
    """One-line errors, before anything is written, for a workdir that cannot be one."""
    probe = os.path.abspath(workdir)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ConfigError(f"--workdir {workdir!r}: {probe!r} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
        raise ConfigError(f"--workdir {workdir!r}: {probe!r} is not writable "
                          f"({'a read-only file system' if read_only else 'permission denied'})")


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict, *,
                    overwrite: bool = False) -> dict:
    """Creates the workdir or checks that it holds this same config; returns its manifest.

    A workdir holding another config is refused (naming the changed fields; the layout
    fields of ``config_lib.LAYOUT_FIELDS`` may differ) unless it is an abandoned start (failed, or its process gone, before any checkpoint) or ``overwrite``.
    Every process checks (they see the same filesystem, so they agree); then process 0
    alone creates what is missing while the others wait.
    """
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ConfigError(f"--workdir {workdir!r} is a file, not a directory")
    config_path = os.path.join(workdir, "config.json")
    jaxlab_run = os.path.exists(config_path) or os.path.exists(os.path.join(workdir, "manifest.json"))
    if os.path.isdir(workdir) and not jaxlab_run and [f for f in os.listdir(workdir) if ".tmp-" not in f]:
        raise ConfigError(f"workdir {workdir!r} exists, is not empty and holds no jaxlab run")
    start_over, manifest = overwrite and jaxlab_run, {}
    if jaxlab_run and not overwrite:
        previous = config_lib.from_json(_read_json(workdir, "config.json"))
        manifest = json.loads(_read_json(workdir, "manifest.json")) if os.path.exists(
            os.path.join(workdir, "manifest.json")) else {}
        changed = [c for c in config_lib.differences(previous, config)
                   if c not in config_lib.LAYOUT_FIELDS]
        if changed and _abandoned_start(manifest, workdir):
            log.info("%s holds a start that failed before its first checkpoint; starting over",
                     workdir)
            start_over = True
        elif changed:
            raise ConfigError(
                f"workdir {workdir!r} holds a run of a different config (changed: "
                f"{', '.join('config.' + c for c in changed[:5])}); use a new --workdir, or "
                f"--overwrite to discard that run")
    if start_over or manifest.get("status") != "done":  # a finished run is only read
        _check_writable(workdir)
    fresh = start_over or not os.path.exists(config_path)
    barrier("workdir-checked")
    if fresh and is_primary():
        existed = os.path.isdir(workdir)
        try:
            if start_over:
                clear_workdir(workdir)
            os.makedirs(workdir, exist_ok=True)
            results_lib.atomic_write_text(config_path, config_lib.to_json(config))
            results_lib.update_manifest(workdir, status="created", created=time.time())
        except BaseException:
            _remove_start(workdir, existed)
            raise
    barrier("workdir-ready")
    return results_lib.read_manifest(workdir)


def _remove_start(workdir: str, keep_dir: bool) -> None:
    """Removes a start's files (and its directory unless it existed before); best effort."""
    try:
        if keep_dir:
            clear_workdir(workdir)
        else:
            shutil.rmtree(workdir)
    except OSError:
        pass


def _after_failure(workdir: str, error: BaseException) -> None:
    """A failed run: nothing resumable -> remove what it wrote; else mark it "failed"
    (the same command resumes from its checkpoints)."""
    if not checkpoint_steps(workdir):
        _remove_start(workdir, keep_dir=False)
        return
    try:
        results_lib.update_manifest(workdir, status="failed",
                                    error=f"{type(error).__name__}: {str(error).strip()[:300]}")
    except OSError:  # a full disk or a read-only workdir: the manifest stays as it was
        pass


def run(paper: ModuleType, config: ml_collections.ConfigDict, workdir: str, *,
        progress: bool = True, should_stop: Callable[[int], bool] | None = None,
        writers: Sequence[str] = (), overwrite: bool = False) -> results_lib.Results | None:
    """Runs ``paper`` (a module with ``validate`` and ``run(config, session)``) in ``workdir``.

    ``should_stop(chunks_done)`` is asked before each training chunk (the CLI answers True
    after a SIGTERM or SIGINT, tests to simulate a killed job); on True the run returns None
    with its last checkpoint complete on disk, and the same call resumes it. ``writers``
    names optional metric streams (``"tensorboard"``, ``"wandb:PROJECT"``). ``overwrite``
    discards whatever run the workdir holds and starts over.
    """
    t_start = time.perf_counter()
    config_lib.validate_base(config)
    paper.validate(config)
    observe.check_writers(writers)
    manifest = prepare_workdir(workdir, config, overwrite=overwrite)
    if manifest.get("status") == "done":
        log.info("%s already holds the finished study; loading it", workdir)
        return results_lib.load(workdir)
    try:
        if is_primary():
            results_lib.update_manifest(workdir, status="running", jax_version=jax.__version__,
                                        backend=jax.default_backend(), processes=jax.process_count(),
                                        pid=os.getpid(), host=socket.gethostname())
        session = Session(workdir, progress, should_stop, tuple(writers), t_start)
        paper.run(config, session)
        if is_primary():
            if session.histories:
                results_lib.write_table(workdir, "train", session.train_table())
            results_lib.update_manifest(workdir, status="done", wall_s=time.perf_counter() - t_start,
                                        **session.manifest_fields(), **memory_stats())
    except Stopped:
        return None
    except (Exception, KeyboardInterrupt) as e:
        if is_primary():
            _after_failure(workdir, e)
        raise
    barrier("results-written")
    return results_lib.load(workdir)
