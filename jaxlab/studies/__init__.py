"""One module per paper, found by name: ``config.study = "<module>"``.

A study module declares ``TITLE`` (the paper) and ``validate(config)`` and either the training protocol
(``CHOICES``, ``make_train``, ``baselines``, ``context_sizes``, ``learner_of``,
``summarize``, ``report``, ``plot``), driven by ``jaxlab.experiment.run``, or
``execute(config, workdir, *, progress, should_stop)`` for studies that compute their
tables themselves (closed forms, several training phases). A module may also expose
``bench(quick: bool, peak_gflops: float) -> dict`` whose keys ``jaxlab bench`` adds to
bench.json.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from jaxlab.config import ConfigError


def names() -> tuple[str, ...]:
    """Every module of this package that declares a study (has ``TITLE``)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if hasattr(importlib.import_module(f"{__name__}.{info.name}"), "TITLE"):
            found.append(info.name)
    return tuple(sorted(found))


def get(name: str) -> ModuleType:
    known = names()
    if name not in known:
        raise ConfigError(f"config.study: unknown study {name!r}; choose one of {known}")
    return importlib.import_module(f"{__name__}.{name}")
