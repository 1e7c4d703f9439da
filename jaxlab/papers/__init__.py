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

import ast
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
    "inductive_bias": "jaxlab.papers.inductive_bias",
    "coala_ipd": "jaxlab.papers.coala_ipd",
    "explicit_implicit": "jaxlab.papers.explicit_implicit",
    "simplicity_bias": "jaxlab.papers.simplicity_bias",
}


def names() -> tuple[str, ...]:
    return tuple(sorted(REGISTRY))


def config_info(path: str) -> dict:
    """What ``jaxlab list`` shows of a config file, read from its source without running
    it (nothing is imported): ``title``, the first line of its docstring, and ``variants``,
    its ``VARIANTS`` dict ({variant tokens: one line with what it runs and its expected
    time}; "" is the config without a variant)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    title = (ast.get_docstring(tree) or "").strip().split("\n")[0]
    variants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "VARIANTS" for t in targets):
                variants = ast.literal_eval(node.value)
    return {"title": title, "variants": variants}


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
