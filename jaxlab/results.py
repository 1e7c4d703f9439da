"""Tidy results: Parquet tables beside ``config.json`` and ``manifest.json``.

Tables (one row per observation):
  train:   run, seed, step, metric, value, <swept fields>
  eval:    run, seed, learner, n_context, metric, value, <swept fields>
  summary: learner, seed, run, n=<k>..., code_length
Studies that compute their own tables may write others (``Results.tables`` holds every
Parquet file by name). ``load(workdir)`` returns them as pandas DataFrames for notebooks. Every file is written
to a temporary name and renamed, so a reader never sees half a table.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import ml_collections
import pandas as pd

from jaxlab import config as config_lib

TABLES = ("train", "eval", "summary")


def atomic_write_bytes(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_table(workdir: str, name: str, df: pd.DataFrame) -> None:
    tmp = os.path.join(workdir, f"{name}.parquet.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, os.path.join(workdir, f"{name}.parquet"))


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


def load(workdir: str) -> Results:
    """The finished study in ``workdir`` as DataFrames (raises if it has not finished)."""
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
