"""The explicit/implicit study's own science: masks, known-f exactness, the probe's stopped
gradient and its 10x learning rate, the query shifts, padding, seeds and bad input."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from conftest import ROOT, assert_refused_before_writing
from jaxlab import config as config_lib
from jaxlab import runner
from jaxlab.papers.explicit_implicit import models, study
from jaxlab.papers.explicit_implicit import tasks as tl

SMOKE = os.path.join(ROOT, "configs", "explicit_implicit.py") + ":smoke"
D, H, FF = 16, 2, 32


def rand(key, *shape):
    return jax.random.normal(jax.random.PRNGKey(key), shape)


def smoke(*overrides):
    return config_lib.load(SMOKE, list(overrides))


# ----------------------------------------------------------------------------- masks
def test_masks_are_the_reference_masks():
    """The reference's PyTorch masks (True = blocked), built by hand, negated."""
    n, q = 3, 2
    valid = jnp.array([[True, True, False]])
    blocked = np.zeros((n + q, n + q), bool)
    blocked[:, -q:] = True  # implicit: src_mask[:, -q_len:] = True
    blocked[:, 2] = True  # the padded context slot
    np.testing.assert_array_equal(models.implicit_mask(valid, q)[0, 0], ~blocked)
    blocked = np.zeros((n + 1, n + 1), bool)
    blocked[:, 0] = True  # context: mask[:, 0] = True
    blocked[:, 3] = True
    np.testing.assert_array_equal(models.context_mask(valid)[0, 0], ~blocked)
    blocked = (1 - np.eye(q + 1)).astype(bool)  # predictor: 1 - eye, then column 0 open
    blocked[:, 0] = False
    np.testing.assert_array_equal(models.predictor_mask(q), ~blocked)


def encoder_outputs(mask, h):
    enc = models.Encoder(2, H, FF)
    params = enc.init(jax.random.PRNGKey(0), h, mask)
    return lambda x: enc.apply(params, x, mask)


def test_nobody_attends_to_the_cls_or_a_padded_slot():
    valid = jnp.array([[True, True, True, False]])
    h = rand(1, 1, 5, D)
    f = encoder_outputs(models.context_mask(valid), h)
    base = f(h)
    for token in (0, 4):  # the CLS; the padded slot
        changed = f(h.at[:, token].add(3.0))
        others = [i for i in range(5) if i != token]
        np.testing.assert_allclose(changed[:, others], base[:, others], atol=1e-5)
    # a valid context token does reach the others (the test could fail)
    assert not np.allclose(f(h.at[:, 1].add(3.0))[:, 0], base[:, 0], atol=1e-3)


def test_a_query_sees_only_itself_and_z():
    q = 3
    h = rand(2, 1, q + 1, D)
    f = encoder_outputs(models.predictor_mask(q), h)
    base = f(h)
    changed = f(h.at[:, 2].add(3.0))  # query 2 (token 2)
    np.testing.assert_allclose(changed[:, [0, 1, 3]], base[:, [0, 1, 3]], atol=1e-5)
    assert not np.allclose(f(h.at[:, 0].add(3.0))[:, 1], base[:, 1], atol=1e-3)  # z reaches queries


def make(kind, family="linear"):
    task = tl.make_task(family, smoke().task)
    return models.Model(kind, D, H, FF, 2, 1, 1, D, D, 2, 1, task.n_params, task.function), task


def batch(task, n=5, slots=8, q=4, key=0):
    return tl.sample_batch(task, jax.random.PRNGKey(key), 3, slots, q, n)


def apply_fn(kind, family="linear"):
    model, task = make(kind, family)
    b = batch(task)
    params = model.init(jax.random.PRNGKey(1), *study.model_inputs(b))
    return (lambda b: model.apply(params, *study.model_inputs(b))), task, b


@pytest.mark.parametrize("kind", ["implicit", "tsf", "mlp"])
def test_queries_are_independent_and_padding_is_invisible(kind):
    """Changing one query changes no other prediction; a padded context slot changes nothing;
    n valid of 8 slots predicts as n of n slots (one program serves every context size)."""
    f, task, b = apply_fn(kind)
    base = f(b)["pred"]
    moved = f(b._replace(x_q=b.x_q.at[:, 1].add(2.0)))["pred"]
    np.testing.assert_allclose(moved[:, [0, 2, 3]], base[:, [0, 2, 3]], atol=1e-5)
    assert not np.allclose(moved[:, 1], base[:, 1], atol=1e-4)
    padded = f(b._replace(x_c=b.x_c.at[:, 6].add(5.0), y_c=b.y_c.at[:, 6].add(5.0)))["pred"]
    np.testing.assert_allclose(padded, base, atol=1e-5)
    short = b._replace(x_c=b.x_c[:, :5], y_c=b.y_c[:, :5], valid=b.valid[:, :5])
    np.testing.assert_allclose(f(short)["pred"], base, atol=1e-5)
    assert not np.allclose(f(b._replace(y_c=b.y_c.at[:, 0].add(1.0)))["pred"], base, atol=1e-4)


# ----------------------------------------------------------------------------- known f
def test_known_f_with_the_true_latent_reproduces_the_task_exactly():
    """Known-f predictors with Linear = identity and z = the true latent give the task's
    function, computed here independently (numpy, the reference frequencies)."""
    freqs = 5 * np.array([0.7576, 0.2793, 0.4031])
    for family, truth in (
            ("linear", lambda lat, x: x * lat[:, None, :1] + lat[:, None, 1:]),
            ("sinusoid", lambda lat, x: (lat[:, None, :] * np.sin(x * freqs)).sum(-1, keepdims=True))):
        task = tl.make_task(family, smoke().task)
        b = batch(task, key=3)
        pred = models.KnownPredictor(task.n_params, task.function).apply(
            {"params": {"to_latent": {"kernel": jnp.eye(task.n_params), "bias": jnp.zeros(task.n_params)}}},
            b.latent, b.x_q)
        want = truth(np.asarray(b.latent), np.asarray(b.x_q))
        np.testing.assert_allclose(pred, want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b.y_q, want, rtol=1e-4, atol=1e-5)  # noise 0: the data too


def test_task_priors():
    """linear w ~ N(0, 1); sinusoid amplitudes ~ U(-1, 1) (the reference's priors)."""
    lat = tl.LinearTask().sample_latent(jax.random.PRNGKey(0), 20000)
    assert abs(float(lat.std()) - 1) < 0.02 and abs(float(lat.mean())) < 0.02
    amp = tl.SinusoidTask().sample_latent(jax.random.PRNGKey(0), 20000)
    assert float(amp.min()) >= -1 and float(amp.max()) <= 1 and abs(float(amp.var()) - 1 / 3) < 0.01


# ----------------------------------------------------------------------------- probe
def test_the_probe_gradient_does_not_reach_z_but_the_known_z_head_does():
    for kind, reaches in (("tsf", False), ("known_z", True)):
        model, task = make(kind)
        b = batch(task)
        params = model.init(jax.random.PRNGKey(1), *study.model_inputs(b))
        heads = lambda p: sum(v for k, v in study.losses(model.apply(p, *study.model_inputs(b)), b).items()
                              if k != "mse")
        g = jax.grad(heads)(params)["params"]
        context = max(float(jnp.abs(a).max()) for a in jax.tree.leaves(g["context"]))
        assert (context > 0) == reaches, (kind, context)
        assert float(jnp.abs(g["probe"]["kernel"]).max()) > 0


def test_the_scaled_probe_is_adam_at_ten_times_the_learning_rate():
    x, y = rand(4, 32, 5), rand(5, 32, 3)
    probe = models.ScaledLinear(3, 10.0)
    p = probe.init(jax.random.PRNGKey(0), x)
    plain = {"params": {k: 10.0 * v for k, v in p["params"].items()}}  # the same function
    f_scaled = lambda q: jnp.mean((probe.apply(q, x) - y) ** 2)
    f_plain = lambda q: jnp.mean((x @ q["params"]["kernel"] + q["params"]["bias"] - y) ** 2)
    for f, params, lr in ((f_scaled, p, 1e-3), (f_plain, plain, 1e-2)):
        opt = optax.adam(lr)
        state = opt.init(params)
        for _ in range(3):
            updates, state = opt.update(jax.grad(f)(params), state)
            params = optax.apply_updates(params, updates)
        if lr == 1e-3:
            after = probe.apply(params, x)
        else:
            np.testing.assert_allclose(after, x @ params["params"]["kernel"] + params["params"]["bias"],
                                       rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- queries
def test_query_shifts():
    x = rand(6, 4, 50, 3)
    key = jax.random.PRNGKey(7)
    np.testing.assert_array_equal(tl.shift_queries(x, "iid", 3.0, key), x)
    np.testing.assert_allclose(tl.shift_queries(x, "wide", 2.5, key), 2.5 * x, rtol=1e-6)
    far = tl.shift_queries(x, "far", 3.0, key)
    np.testing.assert_allclose(jnp.linalg.norm(far - 0.1 * x, axis=-1), 3.0, rtol=1e-5)
    directions = (far - 0.1 * x) / 3.0  # uniform on the sphere: mean near 0
    assert float(jnp.abs(directions.reshape(-1, 3).mean(0)).max()) < 0.1


def test_near_queries_sit_beside_valid_context_points():
    b = tl.sample_batch(tl.LinearTask(), jax.random.PRNGKey(0), 2, 10, 7, 3, "near")
    gaps = b.x_q - b.x_c[:, np.arange(7) % 3]
    assert float(jnp.abs(gaps).max()) < 0.6 and 0.05 < float(gaps.std()) < 0.2


# ----------------------------------------------------------------------------- engine
def test_a_vmapped_seed_equals_the_seed_alone():
    # SGD: its update is linear in the gradient, so float rounding between the batched and
    # the single program stays at rounding size (Adam's normalisation can magnify it on
    # near-zero gradients)
    config = smoke("--config.train.chunk_steps=2", "--config.train.steps=2", "--config.train.optimizer=sgd",
                    "--config.train.warmup_steps=0")
    trainer = study.make_trainer(config, "linear", "tsf")
    grid = runner.make_grid(config)
    hps, keys = grid.hp_arrays(), grid.keys()
    state, many = jax.jit(jax.vmap(trainer.train_chunk))(jax.vmap(trainer.init)(keys, hps), hps)
    one = lambda t: jax.tree.map(lambda a: a[1], t)
    alone, metrics = jax.jit(trainer.train_chunk)(trainer.init(keys[1], one(hps)), one(hps))
    for a, b in zip(jax.tree.leaves(one(state.params)), jax.tree.leaves(alone.params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(many["loss"][1], metrics["loss"], rtol=1e-5)
    assert np.isnan(metrics["val_iid"][0]) and np.isfinite(metrics["val_iid"][-1])


def test_the_best_step_is_chosen_by_the_seed_mean():
    """Seed 0 is best at step 1, seed 1 at step 2, but the mean is lowest at step 3."""
    rows = [("linear", "tsf", s, step, "iid", v) for s, vals in enumerate(([1.0, 9.0, 3.0], [9.0, 1.0, 3.0]))
            for step, v in zip((1, 2, 3), vals)]
    rows += [("linear", "tsf", s, step, "wide", 10.0 * step) for s in (0, 1) for step in (1, 2, 3)]
    curves = pd.DataFrame(rows, columns=["family", "kind", "seed", "step", "metric", "value"])
    summary = study.summarize(curves)
    assert set(summary.step) == {3} and len(summary) == 4
    assert summary[summary.metric == "wide"].value.tolist() == [30.0, 30.0]


BAD = [
    ("task.families", "--config.task.families=('linear','cubic')"),
    ("model.kinds", "--config.model.kinds=('implicit','implicit')"),
    ("task.min_context", "--config.task.min_context=9"),
    ("task.noise", "--config.task.noise=-0.1"),
    ("task.n_queries", "--config.task.n_queries=0"),
    ("task.context_style", "--config.task.context_style=far"),
    ("model.n_heads", "--config.model.n_heads=3"),
    ("eval.n_context", "--config.eval.n_context=9"),
    ("eval.ood_intensity", "--config.eval.ood_intensity=0.0"),
    ("eval.intensities", "--config.eval.intensities=(1.0,-2.0)"),
    ("train.micro_batches", "--config.train.micro_batches=3"),
    ("model.probe_scale", "--config.model.probe_scale=0.0"),
    ("task.n_classes", "--config.task.n_classes=1"),
    ("task.temperature", "--config.task.temperature=0.0"),
    ("task.cls_x_dim", "--config.task.cls_x_dim=0"),
    ("task.lowrank_x_dim", "--config.task.lowrank_x_dim=0"),
]


@pytest.mark.parametrize("field,override", BAD, ids=[b[0] for b in BAD])
def test_an_impossible_value_is_one_line_and_writes_nothing(field, override, tmp_path):
    assert_refused_before_writing(SMOKE, override, field, tmp_path / "w")


def test_the_gp_features_have_the_rbf_covariance():
    """Over many draws with l and s fixed, Cov(f(x), f(x')) = s^2 exp(-(x - x')^2 / 2 l^2)."""
    task = tl.GPTask(n_features=256)
    lat = task.sample_latent(jax.random.PRNGKey(0), 4000)
    lat = lat.at[:, 0].set(0.3).at[:, 1].set(0.8)
    x = jnp.broadcast_to(jnp.array([[0.0], [0.2], [0.5]]), (4000, 3, 1))
    f = task.function(lat, x)[..., 0]
    cov = np.cov(np.asarray(f).T)
    d = np.array([0.0, 0.2, 0.5])
    want = 0.64 * np.exp(-np.square(d[:, None] - d[None]) / (2 * 0.09))
    np.testing.assert_allclose(cov, want, atol=0.05)


def test_the_figures_of_a_family_without_a_latent(tmp_path):
    """GP regression has no probe and no raw-context probe: every figure is still written
    (the probe panel once failed on a log axis with nothing to plot)."""
    from jaxlab.papers.explicit_implicit import figures

    config = smoke("--config.task.families=('gp',)")
    metrics = ["iid", "far", "wide"] + [f"wide@{s:g}" for s in config.eval.intensities]
    rows = [dict(family="gp", kind=kind, run=seed, seed=seed, step=step, metric=m, value=0.1 + 0.01 * seed)
            for kind in ("implicit", "tsf") for seed in range(2) for step in (10, 20) for m in metrics]
    curves = pd.DataFrame(rows)
    summary = curves[curves.step == 20]
    baselines = pd.DataFrame(columns=["family", "seed", "metric", "value"])
    figures.draw_all(summary, curves, baselines, config, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "errors.png", "intensity.png", "probe.png"]
