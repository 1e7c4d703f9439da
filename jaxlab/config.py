"""Loading ml-collections config files, command-line overrides, and one-line config errors.

``load("configs/icl_occam.py:smoke", ["--config.train.steps=10"])`` imports the file, calls
``get_config("smoke")`` and applies each override with ml-collections' type safety: an
unknown key or a value of the wrong type raises ``ConfigError`` naming the field.

Config files are found by ``locate``: a path that exists (relative to the current
directory, or absolute) is used as it is; otherwise ``configs/NAME.py``, ``NAME.py`` and
``NAME`` are looked up, in order, in the directories of ``$JAXLAB_CONFIGS`` (separated by
``os.pathsep``), in the ``configs/`` of the checkout jaxlab is imported from (a source
tree or an editable install), and in ``<prefix>/share/jaxlab/configs``, where
``pip install .`` (or a wheel) installs the configs. So ``jaxlab run configs/icl_occam.py``
and ``jaxlab run icl_occam`` work from any directory.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import site
import sys
from typing import Any, Sequence

import ml_collections


class ConfigError(ValueError):
    """A bad config: the message is one line and names the culprit field."""


def require(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"config.{field}: {message}")


OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine")
EXECUTORS = ("vmap", "chunked")


def base_config(*, training: bool = True, steps: int = 1000, chunk_steps: int = 100,
                learning_rate: float = 1e-3, n_seeds: int = 1) -> ml_collections.ConfigDict:
    """The engine's fields, which every ``configs/<paper>.py`` builds on.

    seed      root of every run's key
    executor  kind ("vmap" | "chunked"), runs_per_batch (chunked), devices (0 = all local),
              data (devices splitting each run's batch: 0 = chosen from the runs and
              devices, see jaxlab.runs.layout; 1 = none)
    and, with ``training``:
    hp        per-run values that may be swept without recompiling (learning_rate, ...)
    sweep     axes (hp field -> values) and n_seeds: runs = product of axes x seeds
    train     steps, chunk_steps (steps per checkpointed ``lax.scan``), micro_batches
              (gradient accumulation; 0 = the fewest whose activations fit a per-device
              budget, see jaxlab.train), the optimizer composed from optax: optimizer
              ("adam" | "adamw" | "sgd"), weight_decay (adamw), momentum (sgd),
              grad_clip_norm (0 = none), lr_schedule ("constant" | "cosine" with
              warmup_steps, then decay to 0)
    A paper adds its own groups (task, model, eval, ...) and fields.
    """
    c = ml_collections.ConfigDict()
    c.study = ""
    c.seed = 0
    c.executor = ml_collections.ConfigDict(dict(kind="vmap", runs_per_batch=1, devices=0,
                                                           data=0))
    if training:
        c.hp = ml_collections.ConfigDict(dict(learning_rate=learning_rate))
        c.sweep = ml_collections.ConfigDict(dict(axes=ml_collections.ConfigDict(), n_seeds=n_seeds))
        c.train = ml_collections.ConfigDict(dict(
            steps=steps, chunk_steps=chunk_steps, micro_batches=1, optimizer="adam",
            weight_decay=0.0, momentum=0.0, grad_clip_norm=0.0, lr_schedule="constant",
            warmup_steps=0))
    return c


# JAX computes with 32-bit integers (x64 off) and its keys hold 32 bits of a seed: larger
# values would overflow, or silently alias a smaller seed.
INT_LIMIT = 2 ** 31
SEED_LIMIT = 2 ** 32


def check_numbers(config: ml_collections.ConfigDict) -> None:
    """Every number anywhere in the config (tuples included) is finite and, if an integer,
    fits JAX's 32-bit integers (``seed``: [0, 2**32)): a one-line error otherwise."""
    for field, value in _flatten(config.to_dict()).items():
        for v in (value if isinstance(value, (tuple, list)) else (value,)):
            if isinstance(v, bool):
                continue
            if isinstance(v, float):
                require(math.isfinite(v), field, f"must be finite, got {v}")
            elif isinstance(v, int) and field == "seed":
                require(0 <= v < SEED_LIMIT, field, f"must be in [0, 2**32) (a JAX key holds 32 "
                        f"bits of it; larger seeds alias smaller ones), got {v}")
            elif isinstance(v, int):
                require(-INT_LIMIT < v < INT_LIMIT, field,
                        f"must fit in a 32-bit integer (|value| < 2**31), got {v}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_base(config: ml_collections.ConfigDict) -> None:
    """One-line errors for the engine's fields (those of ``base_config``) that are present,
    and for any non-finite or overflowing number anywhere in the config."""
    require(isinstance(config.get("study"), str) and config.study != "", "study",
            "must name a registered paper")
    check_numbers(config)
    ex = config.get("executor")
    if ex is not None:
        require(ex.kind in EXECUTORS, "executor.kind", f"must be one of {EXECUTORS}, got {ex.kind!r}")
        require(ex.runs_per_batch >= 1, "executor.runs_per_batch", f"must be >= 1, got {ex.runs_per_batch}")
        require(ex.devices >= 0, "executor.devices", f"must be >= 0 (0 = all), got {ex.devices}")
        require(ex.get("data", 0) >= 0, "executor.data",
                f"must be >= 0 (0 = chosen from the work), got {ex.get('data')}")
    if "train" not in config:
        return
    tr = config.train
    for name in ("steps", "chunk_steps"):
        require(tr[name] >= 1, f"train.{name}", f"must be >= 1, got {tr[name]}")
    require(tr.micro_batches >= 0, "train.micro_batches",
            f"must be >= 0 (0 = chosen from the activation size), got {tr.micro_batches}")
    require(tr.steps % tr.chunk_steps == 0, "train.chunk_steps",
            f"must divide train.steps={tr.steps}, got {tr.chunk_steps}")
    require(tr.optimizer in OPTIMIZERS, "train.optimizer", f"must be one of {OPTIMIZERS}, got {tr.optimizer!r}")
    require(tr.lr_schedule in LR_SCHEDULES, "train.lr_schedule",
            f"must be one of {LR_SCHEDULES}, got {tr.lr_schedule!r}")
    require(0 <= tr.warmup_steps < tr.steps, "train.warmup_steps",
            f"must be in [0, train.steps={tr.steps}), got {tr.warmup_steps}")
    for name in ("weight_decay", "momentum", "grad_clip_norm"):
        require(math.isfinite(tr[name]) and tr[name] >= 0, f"train.{name}",
                f"must be finite and >= 0, got {tr[name]}")
    require(config.sweep.n_seeds >= 1, "sweep.n_seeds", f"must be >= 1, got {config.sweep.n_seeds}")
    for field, values in config.sweep.axes.items():
        require(field in config.hp, f"sweep.axes.{field}",
                f"is not a field of config.hp (fields: {', '.join(config.hp)})")
        require(isinstance(values, (tuple, list)) and len(values) >= 1, f"sweep.axes.{field}",
                f"needs a tuple of at least one value, got {values!r}")
        default = config.hp[field]
        for v in values:  # the type of the hp field's own value: numbers stay numbers
            ok = _is_number(v) if _is_number(default) else isinstance(v, type(default))
            require(ok, f"sweep.axes.{field}", f"values must be {type(default).__name__}s like "
                    f"config.hp.{field}={default!r}, got {v!r}")
    lr = config.hp.learning_rate
    require(math.isfinite(lr) and lr > 0, "hp.learning_rate", f"must be finite and > 0, got {lr}")
    for v in config.sweep.axes.get("learning_rate", ()):
        require(math.isfinite(v) and v > 0, "sweep.axes.learning_rate",
                f"values must be finite and > 0, got {v}")


def variant_tokens(arg: str | None, *vocabularies: Sequence[str]) -> list[str]:
    """The comma-separated tokens of a config file's argument (``"sinusoid,paper"``), each
    checked against the given vocabularies: an unknown token is a one-line error naming it."""
    tokens = [t for t in (arg or "").split(",") if t]
    known = [t for vocabulary in vocabularies for t in vocabulary]
    for token in tokens:
        if token not in known:
            raise ConfigError(f"unknown variant {token!r}; choose from {', '.join(known)}")
    return tokens


def one_of(tokens: Sequence[str], group: Sequence[str], default: str) -> str:
    """The single token of ``group`` among ``tokens`` (``default`` if none); two tokens of
    the same group (``"smoke,paper"``) are an error naming both."""
    picked = [t for t in tokens if t in group]
    if len(picked) > 1:
        raise ConfigError(f"variants {picked[0]!r} and {picked[1]!r} exclude each other "
                          f"(at most one of {', '.join(group)})")
    return picked[0] if picked else default


def _load_module(path: str):
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist")
    spec = importlib.util.spec_from_file_location(f"_jaxlab_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ConfigError(f"config file {path!r}, line {e.lineno}: {e.msg}") from None
    except Exception as e:  # noqa: BLE001 - a config file that fails to import
        raise ConfigError(f"config file {path!r} failed to import: {_one_line(e)}") from None
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path!r} defines no get_config(arg)")
    return module


def _parse_value(text: str, current: Any, field: str) -> Any:
    """Parses an override to the type of the field it replaces."""
    if isinstance(current, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ConfigError(f"config.{field}: cannot parse {text!r} as {type(current).__name__}") from None
    if isinstance(current, bool) and not isinstance(value, bool):
        raise ConfigError(f"config.{field}: expected a bool, got {text!r}")
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    if isinstance(current, tuple) and not isinstance(value, tuple):
        value = (value,)
    return value


def override(config: ml_collections.ConfigDict, field: str, text: str) -> None:
    """Sets ``config.<field>`` from its command-line text, type-checked."""
    *parents, leaf = field.split(".")
    node = config
    for i, name in enumerate(parents):
        if not isinstance(node, ml_collections.ConfigDict) or name not in node:
            raise ConfigError(f"config.{'.'.join(parents[:i + 1])}: unknown config key")
        node = node[name]
    if not isinstance(node, ml_collections.ConfigDict):
        raise ConfigError(f"config.{field}: unknown config key")
    if leaf not in node:
        if ".".join(parents) != "sweep.axes":
            raise ConfigError(f"config.{field}: unknown config key")
        node[leaf] = _parse_value(text, (), field)  # a new swept axis: a tuple of values
        return
    current = node[leaf]
    if isinstance(current, ml_collections.ConfigDict):
        raise ConfigError(f"config.{field}: is a group of fields; set one of its fields instead")
    value = _parse_value(text, current, field)
    if isinstance(current, tuple) and isinstance(value, tuple):
        node[leaf] = value
        return
    try:
        node[leaf] = value
    except TypeError:
        raise ConfigError(f"config.{field}: expected {type(current).__name__}, got {text!r}") from None


def load(spec: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
    """``spec`` is ``path/to/config.py`` or ``path/to/config.py:arg``; overrides are
    ``--config.a.b=value`` strings (or ``a.b=value``)."""
    path, _, arg = spec.partition(":")
    module = _load_module(locate(path))
    try:
        config = module.get_config(arg or None)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a get_config that fails
        raise ConfigError(f"{path}: get_config({arg or None!r}) failed: {_one_line(e)}") from None
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"{path}: get_config({arg or None!r}) returned {type(config).__name__}, "
                          f"not an ml_collections.ConfigDict")
    for item in overrides:
        key, sep, text = item.removeprefix("--").removeprefix("config.").partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not of the form --config.a.b=value")
        override(config, key, text)
    config.lock()
    return config


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300]}" if text else type(e).__name__


def to_json(config: ml_collections.ConfigDict) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=list)


def from_json(text: str) -> ml_collections.ConfigDict:
    data = json.loads(text)

    def tuplify(node):
        if isinstance(node, dict):
            return {k: tuplify(v) for k, v in node.items()}
        if isinstance(node, list):
            return tuple(tuplify(v) for v in node)
        return node

    return ml_collections.ConfigDict(tuplify(data))


# Fields that place the work on devices without changing what is computed (keys are by
# run and step; micro-batch gradients are averaged): a workdir resumes under other values,
# and a stored config that predates one of them (executor.data) still matches.
LAYOUT_FIELDS = ("executor.kind", "executor.runs_per_batch", "executor.devices", "executor.data",
                 "train.micro_batches")


def differences(a: ml_collections.ConfigDict, b: ml_collections.ConfigDict) -> list[str]:
    """Dotted field names whose values differ between two configs."""
    fa = _flatten(json.loads(to_json(a)))
    fb = _flatten(json.loads(to_json(b)))
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


CONFIGS_ENV = "JAXLAB_CONFIGS"


def config_dirs() -> list[str]:
    """The existing directories ``locate`` searches, in order: each of ``$JAXLAB_CONFIGS``,
    the ``configs/`` beside the imported ``jaxlab`` package (a checkout), and the configs
    installed with the package (``<prefix>/share/jaxlab/configs``, also under the user base
    for ``pip install --user``)."""
    dirs = [d for d in os.environ.get(CONFIGS_ENV, "").split(os.pathsep) if d]
    spec = importlib.util.find_spec("jaxlab")
    for location in (spec.submodule_search_locations or []) if spec else []:
        dirs.append(os.path.join(os.path.dirname(os.path.abspath(location)), "configs"))
    for prefix in (sys.prefix, site.getuserbase()):
        dirs.append(os.path.join(prefix, "share", "jaxlab", "configs"))
    seen, out = set(), []
    for d in dirs:
        d = os.path.abspath(d)
        if d not in seen and os.path.isdir(d):
            seen.add(d)
            out.append(d)
    return out


def locate(path: str) -> str:
    """The config file ``path`` names (see the module docstring); a one-line ConfigError
    naming the searched directories when there is none."""
    if os.path.isfile(path):
        return path
    dirs = [] if os.path.isabs(path) else config_dirs()
    name = path.replace(os.sep, "/").removeprefix("./").removeprefix("configs/")
    names = [name] if name.endswith(".py") else [f"{name}.py", name]
    for d in dirs:
        for n in names:
            candidate = os.path.join(d, n)
            if os.path.isfile(candidate):
                return candidate
    where = f" (nor in {', '.join(dirs)})" if dirs else ""
    raise ConfigError(f"config file {path!r} does not exist{where}; `jaxlab list` names every "
                      f"paper's config, ${CONFIGS_ENV} adds directories to search")
