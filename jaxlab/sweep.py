"""Sweeps over fields that change shapes: one job (one workdir, one program) per point.

``jaxlab sweep CONFIG --workdir ROOT --axis model.d_model=16,32 --axis model.n_layers=1,2``
expands the product of the axes into jobs. Each job is an ordinary ``jaxlab run`` of the
config with its ``--config.<field>=<value>`` overrides, in ``ROOT/<hash>``, where the hash
is of the job's fully resolved config: the same job always lands in the same workdir, so a
re-launch skips finished jobs and resumes unfinished ones from their checkpoints.
``ROOT/sweep.json`` lists the jobs; ``jaxlab.results.load(ROOT)`` concatenates their tables
with one column per swept field.

Launchers: ``local`` (subprocesses on this machine, ``--parallel`` at a time; SIGTERM or
Ctrl-C is passed on to them, so each checkpoints and stops at its chunk end) and ``slurm``
(a SLURM job array through submitit; ``--cluster local`` runs the same submission with
submitit's local executor, which is how it is tested). This module imports neither jax
nor submitit at import time: submitit unpickles ``RunJob`` in a fresh process, and jax
must see its device flags before it is first imported.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Sequence

from jaxlab import config as config_lib
from jaxlab.config import ConfigError

log = logging.getLogger("jaxlab")
SWEEP_FILE = "sweep.json"


@dataclasses.dataclass(frozen=True)
class Job:
    """One point of the sweep. ``key``: hash of the resolved config; ``values``: each
    swept field's value; ``overrides``: every ``--config.*`` argument that builds it."""

    key: str
    values: dict
    overrides: tuple[str, ...]
    workdir: str


def config_hash(config) -> str:
    """12 hex digits of the SHA-256 of the resolved config's canonical JSON."""
    return hashlib.sha256(config_lib.to_json(config).encode()).hexdigest()[:12]


def parse_axis(text: str) -> tuple[str, list[str]]:
    """``field=v1,v2,...`` or ``field=[literal, literal, ...]`` (for tuple values) into the
    field and each value's override text."""
    field, sep, values = text.partition("=")
    field = field.strip().removeprefix("--").removeprefix("config.")
    if not sep or not field or not values.strip():
        raise ConfigError(f"--axis {text!r} is not of the form field=value1,value2,...")
    values = values.strip()
    if values.startswith("["):
        try:
            items = [repr(v) for v in ast.literal_eval(values)]
        except (ValueError, SyntaxError):
            raise ConfigError(f"--axis {field}: cannot parse {values!r} as a list") from None
    else:
        items = [v.strip() for v in values.split(",") if v.strip()]
    if not items:
        raise ConfigError(f"--axis {field}: needs at least one value")
    return field, items


def _get(config, field: str) -> Any:
    node = config
    for name in field.split("."):
        node = node[name]
    return node


def expand(spec: str, overrides: Sequence[str], axes: Sequence[str], root: str) -> list[Job]:
    """Every job of the sweep, each config loaded and validated (a bad value raises the
    one-line ConfigError before anything is launched)."""
    from jaxlab import papers

    parsed = [parse_axis(a) for a in axes]
    fields = [f for f, _ in parsed]
    if len(set(fields)) != len(fields):
        raise ConfigError("--axis: each field may be swept once")
    jobs, seen = [], set()
    for combo in itertools.product(*(vals for _, vals in parsed)):
        extra = [f"--config.{f}={v}" for f, v in zip(fields, combo)]
        config = config_lib.load(spec, [*overrides, *extra])
        config_lib.validate_base(config)
        papers.get(config.get("study")).validate(config)
        key = config_hash(config)
        if key in seen:
            continue
        seen.add(key)
        jobs.append(Job(key, {f: _get(config, f) for f in fields}, (*overrides, *extra),
                        os.path.join(root, key)))
    return jobs


def status(job: Job) -> str:
    """``done``, ``running`` (started, unfinished: it resumes), or ``new``."""
    path = os.path.join(job.workdir, "manifest.json")
    if not os.path.exists(path):
        return "new"
    with open(path) as f:
        return "done" if json.load(f).get("status") == "done" else "running"


def record(root: str, spec: str, jobs: Sequence[Job]) -> None:
    """Adds the jobs to ``ROOT/sweep.json`` (a re-launch with more values extends it)."""
    from jaxlab import results

    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, SWEEP_FILE)
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            known = {j["key"]: j for j in json.load(f)["jobs"]}
    for job in jobs:
        known[job.key] = {"key": job.key, "workdir": job.key, "values": job.values,
                          "overrides": list(job.overrides)}
    results.atomic_write_text(path, json.dumps({"config": spec, "jobs": list(known.values())},
                                               indent=2, default=list))


def run_command(spec: str, job: Job, extra: Sequence[str] = ()) -> list[str]:
    return ["run", spec, "--workdir", job.workdir, "--no-progress", *extra, *job.overrides]


def launch_local(spec: str, jobs: Sequence[Job], root: str, parallel: int = 1,
                 extra: Sequence[str] = ()) -> dict[str, int]:
    """Runs the jobs as ``jaxlab run`` subprocesses, ``parallel`` at a time; returns each
    job's exit status (143: stopped by a signal, resumable). Logs go to ROOT/logs/."""
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    pending, running, codes = list(jobs), {}, {}
    stopping = []

    def forward(signum, frame):
        stopping.append(signum)
        for proc, _ in running.values():
            proc.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while pending or running:
            while pending and len(running) < parallel and not stopping:
                job = pending.pop(0)
                out = open(os.path.join(root, "logs", f"{job.key}.log"), "ab")
                cmd = [sys.executable, "-m", "jaxlab.cli", *run_command(spec, job, extra)]
                running[job.key] = (subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT), out)
                log.info("job %s started (%s)", job.key, describe(job))
            if stopping:
                pending.clear()
            for key, (proc, out) in list(running.items()):
                if proc.poll() is not None:
                    out.close()
                    codes[key] = proc.returncode
                    del running[key]
                    log.info("job %s exited with status %d", key, proc.returncode)
            time.sleep(0.1)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return codes


def launch_submitit(spec: str, jobs: Sequence[Job], root: str, job_fn: Callable[[list[str]], int],
                    *, cluster: str | None = None, parameters: dict | None = None,
                    extra: Sequence[str] = ()) -> list[Any]:
    """Submits the jobs as one job array of ``job_fn(argv)`` calls, argv being each job's
    ``jaxlab run`` arguments (``cluster``: None picks SLURM when available, "local" runs them
    with submitit's local executor). Returns the submitit jobs."""
    # submitit configures logging when first imported, and that closes every handler the
    # host program installed (pytest's, a notebook's): skip it here, keep it in the jobs.
    previous = os.environ.get("SUBMITIT_LOG_LEVEL")
    os.environ["SUBMITIT_LOG_LEVEL"] = "NOCONFIG"
    try:
        import submitit
    except ImportError:
        raise ConfigError("--launcher slurm needs submitit: pip install 'jaxlab[slurm]'") from None
    finally:
        if previous is None:
            del os.environ["SUBMITIT_LOG_LEVEL"]
        else:
            os.environ["SUBMITIT_LOG_LEVEL"] = previous
    executor = submitit.AutoExecutor(folder=os.path.join(root, "submitit", "%j"), cluster=cluster)
    executor.update_parameters(name="jaxlab", **(parameters or {}))
    return executor.map_array(job_fn, [run_command(spec, job, extra) for job in jobs])


def describe(job: Job) -> str:
    return ", ".join(f"{k}={v}" for k, v in job.values.items()) or "base config"
