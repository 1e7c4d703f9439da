"""The task-family registry (jaxlab/tasks/families.py) behind ``config.task``: defaults equal
to the table of docs/task_families.md, the config file's groups, the built tasks' shapes and
dtypes, pools, losses, baselines, oracle options, and one-line errors naming the field."""
import ast
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT
from jaxlab import config as config_lib
from jaxlab.config import ConfigError
from jaxlab.tasks import families
from jaxlab.tasks.pool import FinitePool

KEY = jax.random.PRNGKey(0)
CONFIG = os.path.join(ROOT, "configs", "icl_occam.py")


def _documented() -> dict:
    """{family: {field: default}} from the "fields and defaults" table of the docs."""
    text = open(os.path.join(ROOT, "docs", "task_families.md")).read()
    rows = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| `([^`]*)` \|", text, re.M)
    out = {}
    for names, fields in rows:
        values = {k: ast.literal_eval(v) for k, v in
                  (item.split("=") for item in fields.split(", "))}
        for name in re.findall(r"`([a-z_]+)`", names):
            out[name] = values
    return out


def _load(arg: str, *overrides: str):
    return config_lib.load(f"{CONFIG}:{arg}", list(overrides))


def test_every_family_is_documented_with_its_defaults():
    documented = _documented()
    assert sorted(documented) == sorted(families.NAMES)
    for name in families.NAMES:
        group = families.task_config(name).to_dict()
        assert group.pop("family") == name
        assert group == documented[name], name
        for field, value in documented[name].items():  # same types: overrides parse alike
            assert type(group[field]) is type(value), (name, field)


@pytest.mark.parametrize("size", ["default", "smoke", "paper"])
@pytest.mark.parametrize("name", families.NAMES)
def test_the_config_file_holds_the_family_group(name, size):
    config = _load(f"{name},{size}")
    group = config.task.to_dict()
    expected = families.task_config(name).to_dict()
    assert set(group) == set(expected)
    if size == "smoke":  # oracle sizes and Mastermind shrink; nothing else changes
        expected.update({k: v for k, v in dict(oracle_samples=128, oracle_tasks=8, gp_grid=4).items()
                         if k in expected})
        if name == "mastermind":
            expected.update(code_length=4, n_colours=4, code_colours=3)
    assert group == expected
    families.validate(config.task)


@pytest.mark.parametrize("name", families.NAMES)
def test_built_tasks_have_the_documented_shapes_and_dtypes(name):
    config = _load(f"{name},smoke")
    task = families.build(config.task, config.seed)
    ep = jax.eval_shape(lambda k: task.sample(k, 3, 5), KEY)
    x, y = jax.eval_shape(task.encode, ep)
    assert x.shape == (3, 5, task.x_dim) and y.shape == (3, 5, task.y_dim)
    assert x.dtype == y.dtype == jnp.float32
    raw_y = {"mastermind": (jnp.int32, 2), "classification": (jnp.int32, 1),
             "dynamics": (jnp.float32, 60)}.get(name, (jnp.float32, 1))  # before encode
    assert (ep.y.dtype, ep.y.shape[-1]) == raw_y
    widths = {"linear": (3, 1), "sinusoid": (1, 1), "mastermind": (16, 10), "chebyshev": (1, 1),
              "mlp": (1, 1), "lowrank_mlp": (1, 1), "classification": (2, 2), "gp_rbf": (1, 1),
              "gp_matern": (1, 1), "dynamics": (60, 60)}
    assert (task.x_dim, task.y_dim) == widths[name]  # smoke Mastermind: 4 positions, 4 colours
    # the loss and baseline work on those encodings, per point
    loss = jax.eval_shape(families.pointwise_loss(config.task), y, y)
    assert loss.shape == (3, 5)
    assert jax.eval_shape(lambda a, b: families.baseline(config.task, a, b), x, y)["loss"].shape == (3, 5)


def test_losses_baselines_and_oracle_options_follow_the_family():
    expect = {  # name: (baseline, categorical, oracle options at default size)
        "linear": ("ridge", False, {}), "sinusoid": ("ridge", False, {"n_samples": 1024}),
        "mastermind": ("marginal", True, {}), "chebyshev": ("ridge", False, {}),
        "mlp": ("ridge", False, {"n_samples": 1024}), "lowrank_mlp": ("ridge", False, {"n_samples": 1024}),
        "classification": ("marginal", True, {"n_samples": 4096}),
        "gp_rbf": ("ridge", False, {"grid": 8}), "gp_matern": ("ridge", False, {"grid": 8}),
        "dynamics": ("ridge", False, {})}
    for name, (base, categorical, options) in expect.items():
        cfg = families.task_config(name)
        assert families.baseline_name(cfg) == base and families.is_categorical(name) is categorical
        assert families.oracle_options(cfg) == options
    # cross-entropy over 2 groups (Mastermind) and squared error (regression), by hand
    logits = jnp.zeros((1, 4))
    onehot = jnp.asarray([[1.0, 0.0, 0.0, 1.0]])
    assert float(families.pointwise_loss(families.task_config("mastermind"))(logits, onehot)[0]) == \
        pytest.approx(np.log(2))
    sq = families.pointwise_loss(families.task_config("linear"))(jnp.ones((2, 3)), jnp.zeros((2, 3)))
    np.testing.assert_allclose(sq, [1.0, 1.0])


def test_oracle_tasks_caps_only_costly_unpooled_oracles():
    cap = lambda arg: families.oracle_tasks(_load(arg).task, 1024, 48)
    assert cap("linear") == cap("chebyshev") == cap("dynamics") == 1024  # closed forms
    assert cap("sinusoid") == cap("gp_rbf") == cap("classification") == 256
    assert cap("mastermind") == 48  # the enumeration: eval.bayes_tasks
    assert cap("sinusoid,pool") == 1024  # a pool's oracle is exact
    assert families.oracle_options(_load("mlp,pool").task) == {}


def test_pools_wrap_the_family_and_are_fixed_by_the_seed():
    config = _load("chebyshev,smoke,pool")
    assert config.task.pool_size == 8
    task = families.build(config.task, seed=3)
    assert isinstance(task, FinitePool) and task.size == 8 and task.seed == 3
    assert task.base == families.build(_load("chebyshev,smoke").task, seed=3)
    ep = task.sample(KEY, 16, 4)  # 16 episodes from 8 tasks: latents repeat
    assert len(np.unique(np.asarray(ep.w).reshape(16, -1), axis=0)) <= 8
    assert families.build(_load("chebyshev,pool").task, seed=3).size == 64
    assert not isinstance(families.build(_load("chebyshev").task, 0), FinitePool)


@pytest.mark.parametrize("arg,override,field", [
    ("chebyshev", "--config.task.degree=-1", "task.degree"),
    ("linear", "--config.task.noise=0.0", "task.noise"),
    ("mlp", "--config.task.mlp_init=uniform", "task.mlp_init"),
    ("mastermind", "--config.task.code_colours=7", "task.code_colours"),
    ("classification", "--config.task.oracle_samples=1026", "task.oracle_samples"),
    ("dynamics", "--config.task.dt=0.0", "task.dt"),
    ("gp_rbf", "--config.task.pool_size=4", "task.pool_size"),
    ("sinusoid", "--config.task.ridge_lambda=0.0", "task.ridge_lambda"),
])
def test_impossible_values_are_one_line_errors_naming_the_field(arg, override, field):
    config = _load(arg, override)
    with pytest.raises(ConfigError, match="^" + re.escape(f"config.{field}: ")) as err:
        families.validate(config.task)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=field):
        families.build(config.task, 0)


def test_unknown_fields_are_one_line_errors_naming_the_field():
    # on the command line: the group has no such key
    with pytest.raises(ConfigError, match=r"^config\.task\.degree: unknown config key"):
        _load("linear", "--config.task.degree=5")
    # in a config group built by hand (e.g. the old mixed dict): validate names the field
    group = families.task_config("linear")
    group.degree = 5
    with pytest.raises(ConfigError, match=r"^config\.task\.degree: not a field of the linear") as err:
        families.validate(group)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"^config\.task\.family: must be one of"):
        families.task_config("quadratic")
