"""Tidy results: Parquet tables beside ``config.json`` and ``manifest.json``.

Tables (one row per observation):
  train:   run, seed, step, metric, value, <swept fields>
  eval:    run, seed, learner, n_context, metric, value, <swept fields>
  summary: learner, seed, run, n=<k>..., code_length
Studies that compute their own tables may write others (``Results.tables`` holds every
Parquet file by name). ``load(workdir)`` returns them as pandas DataFrames for notebooks. Every file is written
to a temporary name and renamed, so a reader never sees half a table; in a run shared by
several processes (jax.distributed) only process 0 writes.

``load(ROOT)`` on the root of a ``jaxlab sweep`` concatenates every job's tables, with a
``job`` column (the job's config hash) and one column per swept field (e.g.
``model.d_model``); ``Results.jobs`` holds each job's own Results.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

import ml_collections
import pandas as pd

from jaxlab import config as config_lib

TABLES = ("train", "eval", "summary")


def is_writer() -> bool:
    """False in every process but 0 of a multi-process jax run (they never write)."""
    jax = sys.modules.get("jax")
    return jax is None or jax.process_index() == 0


# Every file this process wrote through atomic_write_bytes / write_table, by directory, in
# order: what ``jaxlab run`` reports as written (``written``).
_WRITTEN: dict[str, list[str]] = {}


def _record(path: str) -> None:
    directory, name = os.path.split(os.path.abspath(path))
    names = _WRITTEN.setdefault(directory, [])
    if name not in names:
        names.append(name)


def written(workdir: str) -> list[str]:
    """The names of the files this process wrote into ``workdir`` (not its subdirectories),
    in the order first written."""
    return list(_WRITTEN.get(os.path.abspath(workdir), []))


def atomic_write_bytes(path: str, data: bytes) -> None:
    if not is_writer():
        return
    _record(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: leave no half-written temporary behind
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend, imported on first use (studies
    that draw no figure never pay for matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str, **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)`` through a temporary file and a rename (a reader never
    sees half a PNG), recorded among the files written."""
    if not is_writer():
        return
    _record(path)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp-{os.getpid()}{ext}"  # the extension tells matplotlib the format
    fig.savefig(tmp, **kwargs)
    os.replace(tmp, path)


def write_table(workdir: str, name: str, df: pd.DataFrame) -> None:
    if not is_writer():
        return
    _record(os.path.join(workdir, f"{name}.parquet"))
    tmp = os.path.join(workdir, f"{name}.parquet.tmp-{os.getpid()}")
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, os.path.join(workdir, f"{name}.parquet"))
    except BaseException:
        _remove_quietly(tmp)
        raise


def read_manifest(workdir: str) -> dict[str, Any]:
    path = os.path.join(workdir, "manifest.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def update_manifest(workdir: str, **fields: Any) -> dict[str, Any]:
    manifest = {**read_manifest(workdir), **fields}
    atomic_write_text(os.path.join(workdir, "manifest.json"), json.dumps(manifest, indent=2))
    return manifest


@dataclasses.dataclass
class Results:
    workdir: str
    config: ml_collections.ConfigDict
    manifest: dict
    train: pd.DataFrame
    eval: pd.DataFrame
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    jobs: dict[str, "Results"] = dataclasses.field(default_factory=dict)


SWEEP_FILE = "sweep.json"


def load(workdir: str, *, partial: bool = False) -> Results:
    """The finished study in ``workdir`` as DataFrames (raises if it has not finished).

    On a sweep root, every job's tables concatenated (``partial=True``: the finished jobs
    only; otherwise an unfinished job raises, naming it)."""
    if not os.path.exists(os.path.join(workdir, "manifest.json")) and \
            os.path.exists(os.path.join(workdir, SWEEP_FILE)):
        return _load_sweep(workdir, partial)
    manifest = read_manifest(workdir)
    if manifest.get("status") != "done":
        raise FileNotFoundError(
            f"{workdir!r} holds no finished study (status: {manifest.get('status', 'none')})")
    with open(os.path.join(workdir, "config.json")) as f:
        config = config_lib.from_json(f.read())
    tables = {f[: -len(".parquet")]: pd.read_parquet(os.path.join(workdir, f))
              for f in sorted(os.listdir(workdir)) if f.endswith(".parquet")}
    standard = {name: tables.get(name, pd.DataFrame()) for name in TABLES}
    return Results(workdir, config, manifest, **standard, tables=tables)


def _column_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _load_sweep(root: str, partial: bool) -> Results:
    with open(os.path.join(root, SWEEP_FILE)) as f:
        sweep = json.load(f)
    jobs, missing = {}, []
    for job in sweep["jobs"]:
        try:
            jobs[job["key"]] = (job, load(os.path.join(root, job["workdir"])))
        except FileNotFoundError:
            missing.append(job["key"])
    if missing and not partial:
        raise FileNotFoundError(f"sweep {root!r}: jobs {', '.join(missing)} have not finished "
                                f"(re-launch the sweep, or load(..., partial=True))")
    if not jobs:
        raise FileNotFoundError(f"sweep {root!r}: no job has finished")
    names = sorted({name for _, r in jobs.values() for name in r.tables})
    tables = {}
    for name in names:
        frames = []
        for key, (job, r) in jobs.items():
            if name not in r.tables:
                continue
            df = r.tables[name].copy()
            df.insert(0, "job", key)
            for i, (field, value) in enumerate(job["values"].items()):
                df.insert(1 + i, field, [_column_value(value)] * len(df))
            frames.append(df)
        tables[name] = pd.concat(frames, ignore_index=True)
    first = next(iter(jobs.values()))[1]
    manifest = {"sweep": sweep["config"], "jobs": {k: r.manifest.get("status") for k, (_, r) in jobs.items()},
                "unfinished": missing}
    standard = {name: tables.get(name, pd.DataFrame()) for name in TABLES}
    return Results(root, first.config, manifest, **standard, tables=tables,
                   jobs={k: r for k, (_, r) in jobs.items()})
