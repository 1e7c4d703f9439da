"""One module per paper. Each exposes ``validate``, ``make_train``, ``baselines``,
``context_sizes``, ``learner_of``, ``summarize``, ``report``, ``plot`` and ``CHOICES``."""
from __future__ import annotations

import importlib
from types import ModuleType

from jaxlab.config import ConfigError

STUDIES = ("icl_occam",)


def get(name: str) -> ModuleType:
    if name not in STUDIES:
        raise ConfigError(f"config.study: unknown study {name!r}; choose one of {STUDIES}")
    return importlib.import_module(f"jaxlab.studies.{name}")
