"""Optional metric streams: TensorBoard and Weights & Biases, one series per run.

The experiment hands each writer the train metrics of a chunk once, at the chunk
boundary (metrics never leave the devices per step): ``write(first_step, metrics)`` with
``metrics[name]`` of shape (R, K) for the R runs and the chunk's K steps. Each run is its
own series, labelled by run, seed and swept values (seeds are never merged). Both
backends are optional imports: ``pip install tensorboardX`` or ``pip install wandb``.

Spec strings (``jaxlab run ... --tensorboard`` / ``--wandb PROJECT``):
  ``"tensorboard"``      event files under ``<workdir>/tensorboard/<run label>/``;
  ``"wandb:PROJECT"``    one W&B run per workdir, metric keys ``<run label>/<metric>``.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Protocol, Sequence

import numpy as np

from jaxlab.config import ConfigError


class Writer(Protocol):
    def write(self, first_step: int, metrics: dict[str, np.ndarray]) -> None: ...

    def close(self) -> None: ...


def run_label(row: dict, swept: Sequence[str]) -> str:
    """A run's series name, e.g. ``run003-seed1-objective=train``."""
    parts = [f"run{row['run']:03d}", f"seed{row['seed']}"]
    parts += [f"{k}={row[k]}" for k in swept]
    return "-".join(parts)


class TensorBoardWriter:
    """One tensorboardX ``SummaryWriter`` (one event-file directory) per run."""

    def __init__(self, logdir: str, labels: Sequence[str]):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs tensorboardX: pip install tensorboardX") from None
        self.writers = [SummaryWriter(os.path.join(logdir, label)) for label in labels]

    def write(self, first_step: int, metrics: dict[str, np.ndarray]) -> None:
        for r, w in enumerate(self.writers):
            for name, values in metrics.items():
                for k, v in enumerate(np.asarray(values[r], dtype=np.float64)):
                    w.add_scalar(name, float(v), first_step + k)
            w.flush()

    def close(self) -> None:
        for w in self.writers:
            w.close()


class WandbWriter:
    """One W&B run for the workdir; each jaxlab run is its own set of keys."""

    def __init__(self, project: str, workdir: str, labels: Sequence[str]):
        try:
            import wandb
        except ImportError:
            raise ConfigError("--wandb needs wandb: pip install wandb") from None
        self.labels = list(labels)
        self.run = wandb.init(project=project, name=os.path.basename(os.path.abspath(workdir)),
                              dir=workdir, resume="allow")

    def write(self, first_step: int, metrics: dict[str, np.ndarray]) -> None:
        n_steps = next(iter(metrics.values())).shape[1]
        for k in range(n_steps):
            row = {f"{label}/{name}": float(values[r, k])
                   for name, values in metrics.items() for r, label in enumerate(self.labels)}
            self.run.log(row, step=first_step + k)

    def close(self) -> None:
        self.run.finish()


def check_writers(specs: Sequence[str]) -> None:
    """One-line errors, before a workdir is touched, for a writer that cannot start: an
    unknown spec, a missing project, or its package not installed."""
    import importlib.util

    for spec in specs:
        kind, _, arg = spec.partition(":")
        if kind not in ("tensorboard", "wandb"):
            raise ConfigError(f"unknown metric writer {spec!r} (tensorboard, wandb:PROJECT)")
        if kind == "wandb" and not arg:
            raise ConfigError("the wandb writer needs a project: wandb:PROJECT")
        package, flag = ("tensorboardX", "--tensorboard") if kind == "tensorboard" else ("wandb", "--wandb")
        if package not in sys.modules and importlib.util.find_spec(package) is None:
            raise ConfigError(f"{flag} needs {package}: pip install {package}")


def make_writers(specs: Sequence[str], workdir: str, run_rows: list[dict],
                 swept: Sequence[str]) -> list[Any]:
    labels = [run_label(row, swept) for row in run_rows]
    out = []
    for spec in specs:
        kind, _, arg = spec.partition(":")
        if kind == "tensorboard":
            out.append(TensorBoardWriter(arg or os.path.join(workdir, "tensorboard"), labels))
        elif kind == "wandb":
            if not arg:
                raise ConfigError("the wandb writer needs a project: wandb:PROJECT")
            out.append(WandbWriter(arg, workdir, labels))
        else:
            raise ConfigError(f"unknown metric writer {spec!r} (tensorboard, wandb:PROJECT)")
    return out
