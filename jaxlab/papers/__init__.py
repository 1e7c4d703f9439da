"""The papers jaxlab reproduces, by name: ``config.study`` selects one.

Each entry maps a study name to the module that implements it. A paper module exposes
``TITLE``, ``validate(config)`` (one-line ``ConfigError``s) and ``run(config, session)``
(trains through ``jaxlab.runner.train_runs``, writes its tables with
``jaxlab.results.write_table``); optionally ``bench(quick, peak_gflops) -> dict``, whose keys
``jaxlab bench`` adds to bench.json. Modules are imported only when looked up.

Only the command line (cli, bench, sweep) and the papers themselves import this registry;
the engine and the shared libraries never do.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Sequence

import ml_collections

from jaxlab.config import ConfigError

REGISTRY: dict[str, str] = {
    "icl_occam": "jaxlab.papers.icl_occam",
    "icl_figures": "jaxlab.papers.icl_occam.figures",
    "compositionality": "jaxlab.papers.compositionality",
    "metahmm": "jaxlab.papers.metahmm",
    "example_sine": "jaxlab.papers.example_sine",
}


def names() -> tuple[str, ...]:
    return tuple(sorted(REGISTRY))


def get(name: str) -> ModuleType:
    """The paper module registered as ``name`` (a one-line error for an unknown name)."""
    if not name:
        raise ConfigError(f"config.study: missing; must name a registered paper, one of {names()}")
    if name not in REGISTRY:
        raise ConfigError(f"config.study: unknown study {name!r}; choose one of {names()}")
    return importlib.import_module(REGISTRY[name])


def run(config: ml_collections.ConfigDict, workdir: str, *, progress: bool = True,
        should_stop: Callable[[int], bool] | None = None, writers: Sequence[str] = (),
        overwrite: bool = False):
    """``jaxlab.experiment.run`` with the paper named by ``config.study``."""
    from jaxlab import experiment

    return experiment.run(get(config.get("study")), config, workdir, progress=progress,
                          should_stop=should_stop, writers=writers, overwrite=overwrite)
