"""The explicit/implicit supervised ablation: its generator (the held-out quadrant is never
drawn, the range shift moves the support, the reference's set-to--1 quirk and its fix), the
model's routes (the predictor sees the true w, the encoder learns only from MSE(z, w)),
one-line config errors and the ablation's run."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, assert_refused_before_writing
from jaxlab import config as config_lib
from jaxlab import papers, results
from jaxlab.config import ConfigError
from jaxlab.papers.explicit_implicit import ablation, models, study
from jaxlab.papers.explicit_implicit import tasks as tl

ABLATION = os.path.join(ROOT, "configs", "explicit_implicit.py") + ":ablation,smoke"
N = 200_000  # brute-force sample size: a 1/3 fraction is then within 0.005 at > 4 sigma


def ablation_smoke(*overrides):
    return config_lib.load(ABLATION, list(overrides))


def points(shift, style, n=N, seed=0):
    return np.asarray(tl.ablation_points(jax.random.PRNGKey(seed), (n,), shift, style))


# ----------------------------------------------------------------------------- generator
@pytest.mark.parametrize("style", tl.QUADRANT_STYLES)
def test_training_points_never_fall_in_the_held_out_quadrant(style):
    a = points("none", style)
    assert not np.any((a[:, 0] < 0) & (a[:, 1] < 0))
    assert a.min() >= -1.0 and a.max() < 1.0
    # the three quadrants are each drawn a third of the time
    for region in ((a[:, 0] >= 0) & (a[:, 1] >= 0), a[:, 0] < 0, a[:, 1] < 0):
        assert abs(region.mean() - 1 / 3) < 0.005
    q = points("quadrant", style)
    assert np.all((q > -1.0) & (q <= 0.0))  # -U[0, 1)^2: the held-out quadrant only
    for cx in (False, True):  # ... and all of it: each quarter of the quadrant gets 1/4
        for cy in (False, True):
            quarter = ((q[:, 0] < -0.5) == cx) & ((q[:, 1] < -0.5) == cy)
            assert abs(quarter.mean() - 1 / 4) < 0.005


@pytest.mark.parametrize("style", tl.QUADRANT_STYLES)
def test_the_range_shift_moves_the_support_off_the_training_support(style):
    iid, shifted = points("none", style), points("range", style)
    np.testing.assert_array_equal(shifted, iid + 1.0)  # same key, same draws, +1
    assert iid.max(1).max() < 1.0 <= shifted.max(1).min()  # disjoint: max coordinate < 1 vs >= 1
    assert shifted.min() >= 0.0 and shifted.max() < 2.0


def test_the_reference_sampler_sets_a_coordinate_to_minus_one():
    """The quirk as documented: "set" puts a moved coordinate exactly at -1 (never inside
    (-1, 0)); "negate" spreads it uniformly over (-1, 0]."""
    a = points("none", "set")
    at_minus_one = a == -1.0
    assert abs(at_minus_one[:, 0].mean() - 1 / 3) < 0.005 and abs(at_minus_one[:, 1].mean() - 1 / 3) < 0.005
    assert not np.any((a > -1.0) & (a < 0.0))
    b = points("none", "negate")
    moved = b[b < 0]
    assert not np.any(b == -1.0)
    assert abs(moved.mean() + 0.5) < 0.01 and moved.min() > -1.0  # U(-1, 0]: mean -1/2
    # the two samplers agree wherever nothing was moved (same key, same uniforms)
    kept = ~(a < 0).any(1)
    np.testing.assert_array_equal(a[kept], b[kept])


def test_an_ablation_batch_is_y_equals_x_dot_w_and_shifts_only_what_it_names():
    task = tl.QuadrantLinearTask("negate")
    key = jax.random.PRNGKey(3)
    base = tl.sample_ablation_batch(task, key, 64, 6, 5, 4)
    np.testing.assert_allclose(base.y_c[..., 0], np.einsum("bnd,bd->bn", base.x_c, base.latent), atol=1e-6)
    np.testing.assert_allclose(base.y_q[..., 0], np.einsum("bqd,bd->bq", base.x_q, base.latent), atol=1e-6)
    assert base.valid.sum(1).tolist() == [4] * 64
    w_range = tl.sample_ablation_batch(task, key, 64, 6, 5, 4, w_shift="range")
    np.testing.assert_array_equal(w_range.latent, base.latent + 1.0)
    np.testing.assert_array_equal(w_range.x_c, base.x_c)  # the context inputs stay in distribution
    np.testing.assert_array_equal(w_range.x_q, base.x_q)
    x_quad = tl.sample_ablation_batch(task, key, 64, 6, 5, 4, x_shift="quadrant")
    np.testing.assert_array_equal(x_quad.latent, base.latent)
    np.testing.assert_array_equal(x_quad.y_c, base.y_c)
    assert np.all(np.asarray(x_quad.x_q) <= 0.0)


def test_the_validation_sets_are_the_iid_draws_moved():
    val, names = ablation.validation_batch(ablation_smoke())
    t = ablation_smoke().eval.n_tasks
    part = lambda a, name: np.asarray(a)[names.index(name) * t:(names.index(name) + 1) * t]
    np.testing.assert_array_equal(part(val.latent, "range_w"), part(val.latent, "iid") + 1.0)
    np.testing.assert_array_equal(part(val.x_q, "range_x"), part(val.x_q, "iid") + 1.0)
    np.testing.assert_array_equal(part(val.x_c, "quad_x"), part(val.x_c, "iid"))
    assert np.all(part(val.latent, "quad_w") <= 0.0) and np.all(part(val.x_q, "quad_x") <= 0.0)


# ----------------------------------------------------------------------------- model
def supervised_model():
    task = tl.QuadrantLinearTask()
    return models.Model("supervised", 16, 2, 32, 1, 1, 1, 2, 16, 1, 1, task.n_params, task.function), task


def test_the_predictor_sees_the_true_w_and_only_mse_z_w_trains_the_encoder():
    model, task = supervised_model()
    b = tl.sample_ablation_batch(task, jax.random.PRNGKey(0), 4, 6, 3, 6)
    inputs = (b.x_c, b.y_c, b.valid, b.x_q, b.latent)
    params = model.init(jax.random.PRNGKey(1), *inputs)
    out = model.apply(params, *inputs)
    other = model.apply(params, b.x_c, b.y_c + 1.0, b.valid, b.x_q, b.latent)
    np.testing.assert_allclose(other["pred"], out["pred"], atol=1e-6)  # the context never reaches pred
    assert not np.allclose(other["z"], out["z"], atol=1e-4)  # ... but reaches z
    assert out["aux"] is out["z"] and out["z"].shape == (4, 2)
    moved_w = model.apply(params, *inputs[:4], b.latent + 1.0)
    assert not np.allclose(moved_w["pred"], out["pred"], atol=1e-4)  # the true w does reach pred

    def part_loss(p, part):
        return study.losses(model.apply(p, *inputs), b)[part]

    g_pred = jax.grad(part_loss)(params, "mse")["params"]
    g_z = jax.grad(part_loss)(params, "aux")["params"]
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g_pred["context"]))
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g_z["predictor"]))
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g_z["context"])) > 0.0


def test_the_scores_are_mses_computed_independently():
    """Fake outputs with known errors: pred off by 0.1, z off by (0.2, 0)."""
    val, names = ablation.validation_batch(ablation_smoke())
    out = {"pred": val.y_q + 0.1, "z": val.latent + jnp.array([0.2, 0.0])}
    s = ablation.scores(out, val, names)
    t = ablation_smoke().eval.n_tasks
    for i, name in enumerate(names):
        x0 = np.asarray(val.x_q[i * t:(i + 1) * t, :, 0], np.float64)
        np.testing.assert_allclose(s[name], 0.01, rtol=1e-4)
        np.testing.assert_allclose(s[f"latent_{name}"], 0.02, rtol=1e-4)
        np.testing.assert_allclose(s[f"z_{name}"], np.mean(np.square(0.2 * x0)), rtol=1e-4)


# ----------------------------------------------------------------------------- config
BAD = [
    ("task.quadrant_sampling", "--config.task.quadrant_sampling=flip"),
    ("model.z_dim", "--config.model.z_dim=16"),
    ("task.x_dim", "--config.task.x_dim=1"),
    ("task.families", "--config.task.families=('ablation','linear')"),
    ("model.kinds", "--config.model.kinds=('tsf',)"),
    ("task.context_style", "--config.task.context_style=near"),
]


@pytest.mark.parametrize("field,override", BAD, ids=[b[0] for b in BAD])
def test_an_impossible_ablation_value_is_one_line_and_writes_nothing(field, override, tmp_path):
    assert_refused_before_writing(ABLATION, override, field, tmp_path / "w")


def test_the_supervised_kind_needs_the_ablation_family(tmp_path):
    config = config_lib.load(os.path.join(ROOT, "configs", "explicit_implicit.py") + ":smoke",
                             ["--config.model.kinds=('tsf','supervised')"])
    with pytest.raises(ConfigError) as err:
        papers.run(config, str(tmp_path / "w"), progress=False)
    assert "config.model.kinds" in str(err.value) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------- run
def test_the_ablation_run_writes_its_table(tmp_path):
    workdir = str(tmp_path / "w")
    papers.run(ablation_smoke(), workdir, progress=False)
    res = results.load(workdir)
    summary = res.tables["summary"]
    want = {p + name for name, _, _ in ablation.SETS for p in ("", "z_", "latent_")}
    assert set(summary.metric) == want and set(summary.kind) == {"supervised"}
    assert np.isfinite(summary.value).all() and summary.seed.nunique() == 2
    table = open(os.path.join(workdir, "table.txt")).read()
    assert "supervised ablation" in table and "range_x" in table
    assert os.path.exists(os.path.join(workdir, "ablation.png"))
    assert isinstance(res.tables["baselines"], pd.DataFrame) and res.tables["baselines"].empty
