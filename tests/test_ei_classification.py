"""The explicit/implicit study's classification families (linear_cls, lowrank_cls): labels
are the argmax of the true logits (T = 1e-6) or drawn at softmax(logits / T), checked by
brute force against logits computed here independently (numpy); the far / wide query shifts
move the validation queries off the training support; the known-f predictor fed the true
latent gives the task's logits, labels and probabilities; cross-entropy, accuracy and the
best step by accuracy; the paper's far column in the printed table (the classification
fields' one-line config errors are in test_explicit_implicit.BAD)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from jaxlab import config as config_lib
from jaxlab.papers.explicit_implicit import models, study
from jaxlab.papers.explicit_implicit import tasks as tl
from jaxlab.tasks.classification import LinearClassification

SMOKE = os.path.join(ROOT, "configs", "explicit_implicit.py") + ":linear_cls,smoke"
FAMILIES = ("linear_cls", "lowrank_cls")


def smoke(*overrides):
    return config_lib.load(SMOKE, list(overrides))


def task_of(family, *overrides):
    return tl.make_task(family, smoke(*overrides).task)


def numpy_logits(family: str, task, latent: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The logits (B, N, C) computed here: [x, 1] W (linear), or the MLP theta0 + P z by hand."""
    if family == "linear_cls":
        w = latent.reshape(len(latent), task.x_dim + 1, task.y_dim)
        return np.einsum("bnd,bdc->bnc", np.concatenate([x, np.ones(x.shape[:2] + (1,))], -1), w)
    theta0, proj = task.logits.mlp.base
    out = []
    for z, xb in zip(latent, x):
        p = {k: theta0[k] + (proj[k] @ z).reshape(theta0[k].shape) for k in theta0}
        out.append(np.maximum(xb @ p["w1"] + p["b1"], 0.0) @ p["w2"] + p["b2"])
    return np.stack(out)


def margin(logits: np.ndarray) -> np.ndarray:
    """Gap between the two largest logits (..., C) -> (...)."""
    top = np.sort(logits, -1)
    return top[..., -1] - top[..., -2]


# ----------------------------------------------------------------------------- generator
@pytest.mark.parametrize("family", FAMILIES)
def test_labels_are_the_argmax_of_the_true_logits(family):
    """T = 1e-6 (the reference's scripts): every context and query label is the argmax of the
    logits computed independently, but where two logits are within 1e-4 (never, here)."""
    task = task_of(family)
    assert (task.x_dim, task.y_dim, task.temperature) == (2, 2, 1e-6)
    b = tl.sample_batch(task, jax.random.PRNGKey(0), 64, 24, 16, 20)
    for x, y in ((b.x_c, b.y_c), (b.x_q, b.y_q)):
        logits = numpy_logits(family, task, np.asarray(b.latent, np.float64), np.asarray(x, np.float64))
        np.testing.assert_allclose(task.function(b.latent, x), logits, rtol=1e-4, atol=1e-4)
        y = np.asarray(y)
        assert set(np.unique(y)) == {0.0, 1.0} and np.all(y.sum(-1) == 1)  # one-hot
        clear = margin(logits) > 1e-4
        assert clear.mean() > 0.99
        np.testing.assert_array_equal(y.argmax(-1)[clear], logits.argmax(-1)[clear])
    # both classes occur (the labels carry information about the task)
    assert 0.05 < float(b.y_q[..., 0].mean()) < 0.95


@pytest.mark.parametrize("family", FAMILIES)
def test_at_temperature_one_the_label_frequencies_are_the_softmax(family):
    """Many label draws at the same (task, x): each class's frequency is softmax(logits)."""
    task = task_of(family, "--config.task.temperature=1.0")
    latent = task.sample_latent(jax.random.PRNGKey(1), 4)
    x = jax.random.normal(jax.random.PRNGKey(2), (4, 5, 2)) * 0.3
    logits = numpy_logits(family, task, np.asarray(latent, np.float64), np.asarray(x, np.float64))
    n = 20_000
    draws = jax.vmap(lambda k: tl.observe(task, k, task.function(latent, x)))(
        jax.random.split(jax.random.PRNGKey(3), n))
    freq = np.asarray(draws.mean(0))
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    assert np.abs(freq - p).max() < 5 * np.sqrt(0.25 / n)  # 5 sigma of a Bernoulli mean


def test_the_linear_logits_are_the_shared_linear_classification_generator():
    """linear_cls's prior and logits are jaxlab.tasks.classification.LinearClassification's
    (w ~ N(0, 1)^{(x+1) x C}, logits [x, 1] w), flattened."""
    task, ref = task_of("linear_cls"), LinearClassification(2, 2, 1e-6)
    key = jax.random.PRNGKey(4)
    np.testing.assert_array_equal(task.sample_latent(key, 8), ref.sample_latent(key, 8).reshape(8, -1))
    w = ref.sample_latent(key, 8)
    x = jax.random.normal(jax.random.PRNGKey(5), (8, 6, 2))
    np.testing.assert_allclose(task.function(w.reshape(8, -1), x), jax.vmap(ref.predict)(w, x), rtol=1e-6)
    lat = task.sample_latent(jax.random.PRNGKey(6), 20000)
    assert abs(float(lat.std()) - 1) < 0.02 and abs(float(lat.mean())) < 0.02


@pytest.mark.parametrize("family", FAMILIES)
def test_the_ood_queries_leave_the_training_support(family):
    """The validation batch: the context and the iid queries are N(0, I_2) draws; far queries
    lie on the sphere of radius 3 around 0.1 x_iid; wide queries are 3 x_iid; every set's
    labels are the argmax of the true logits at its own queries."""
    config = smoke()
    task = tl.make_task(family, config.task)
    val, names = study.validation_batch(config, family)
    q = config.eval.n_context
    sets = {name: np.asarray(val.x_q[:, i * q:(i + 1) * q], np.float64) for i, name in enumerate(names)}
    iid = sets["iid"]
    np.testing.assert_allclose(np.linalg.norm(sets["far"] - 0.1 * iid, axis=-1), 3.0, rtol=1e-5)
    np.testing.assert_allclose(sets["wide"], 3.0 * iid, rtol=1e-6)
    # training inputs are N(0, I_2): |x| > 2.5 has probability exp(-2.5^2 / 2) = 4.4%
    train = np.linalg.norm(np.asarray(val.x_c, np.float64), axis=-1)
    assert (train > 2.5).mean() < 0.1
    assert (np.linalg.norm(sets["far"], axis=-1) > 2.5).mean() > 0.95
    assert (np.linalg.norm(sets["wide"], axis=-1) > 2.5).mean() > 3 * (train > 2.5).mean()
    logits = numpy_logits(family, task, np.asarray(val.latent, np.float64), np.asarray(val.x_q, np.float64))
    clear = margin(logits) > 1e-4
    np.testing.assert_array_equal(np.asarray(val.y_q).argmax(-1)[clear], logits.argmax(-1)[clear])


# ----------------------------------------------------------------------------- known f
@pytest.mark.parametrize("family", FAMILIES)
def test_known_f_fed_the_true_latent_gives_the_tasks_labels_and_probabilities(family):
    """The known-f predictor with Linear = identity and z = the true latent outputs the
    task's logits: its argmax is every label, its softmax at T = 1 the labels' probabilities."""
    task = task_of(family)
    b = tl.sample_batch(task, jax.random.PRNGKey(7), 16, 8, 32, 8)
    eye = {"params": {"to_latent": {"kernel": jnp.eye(task.n_params), "bias": jnp.zeros(task.n_params)}}}
    pred = np.asarray(models.KnownPredictor(task.n_params, task.function).apply(eye, b.latent, b.x_q), np.float64)
    logits = numpy_logits(family, task, np.asarray(b.latent, np.float64), np.asarray(b.x_q, np.float64))
    np.testing.assert_allclose(pred, logits, rtol=1e-4, atol=1e-4)
    clear = margin(logits) > 1e-4
    np.testing.assert_array_equal(pred.argmax(-1)[clear], np.asarray(b.y_q).argmax(-1)[clear])
    p = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(jax.nn.softmax(pred, -1), p / p.sum(-1, keepdims=True), atol=1e-5)


# ----------------------------------------------------------------------------- scores
def test_cross_entropy_and_accuracy_by_hand():
    """``losses`` gives ``ce`` (nats) for a classification family; ``evaluate`` reports each
    query set's cross-entropy and accuracy (acc_<set>), checked against numpy on its outputs."""
    logits = jnp.array([[[2.0, 0.0], [0.0, 1.0], [3.0, -1.0]]])
    y = jax.nn.one_hot(jnp.array([[0, 0, 0]]), 2)
    b = tl.Batch(None, None, None, None, y, jnp.zeros((1, 6)))
    want = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0)), np.log1p(np.exp(-4.0))])
    out = study.losses({"pred": logits}, b, classification=True)
    assert set(out) == {"ce"} and abs(float(out["ce"]) - want) < 1e-6
    config = smoke()
    learner = study.make_learner(config, "linear_cls", "implicit")
    params = learner.init_params(jax.random.PRNGKey(0))
    res = learner.evaluate(params, None, None)
    val, names = study.validation_batch(config, "linear_cls")
    model = study.make_model(config, "linear_cls", "implicit")
    pred = np.asarray(model.apply(params, *study.model_inputs(val))["pred"], np.float64)
    q, y = config.eval.n_context, np.asarray(val.y_q)
    for i, name in enumerate(names):
        s = slice(i * q, (i + 1) * q)
        lp = pred[:, s] - np.log(np.exp(pred[:, s]).sum(-1, keepdims=True))
        assert abs(float(res[name]) + (lp * y[:, s]).sum(-1).mean()) < 1e-4, name
        assert abs(float(res[f"acc_{name}"]) - (pred[:, s].argmax(-1) == y[:, s].argmax(-1)).mean()) < 1e-6


def test_the_best_classification_step_is_the_highest_seed_mean_accuracy():
    """acc_iid: seed 0 best at step 1, seed 1 at step 2, the mean highest at step 3 (where
    the cross-entropy is the worst, so a min-CE rule would pick another step)."""
    rows = [("linear_cls", "tsf", s, step, "acc_iid", v)
            for s, vals in enumerate(([0.99, 0.5, 0.9], [0.5, 0.99, 0.9])) for step, v in zip((1, 2, 3), vals)]
    rows += [("linear_cls", "tsf", s, step, "iid", [0.1, 0.1, 0.5][step - 1]) for s in (0, 1) for step in (1, 2, 3)]
    rows += [("linear", "tsf", s, step, "iid", [0.3, 0.2, 0.1][step - 1]) for s in (0, 1) for step in (1, 2, 3)]
    curves = pd.DataFrame(rows, columns=["family", "kind", "seed", "step", "metric", "value"])
    best = study.best_steps(curves).set_index("family").best_step
    assert best["linear_cls"] == 3 and best["linear"] == 3


def test_the_printed_tables_carry_the_papers_id_far_and_wide():
    """Regression rows show the paper's ID / far / wide MSE (far from the reference CSVs),
    classification rows its ID / far / wide accuracy."""
    rows = [(fam, kind, 0, 5, m, v) for fam in ("linear", "linear_cls") for kind in ("implicit", "known_f")
            for m, v in (("iid", 0.1), ("far", 0.2), ("wide", 0.3), ("acc_iid", 0.9), ("acc_far", 0.8),
                         ("acc_wide", 0.7))]
    summary = pd.DataFrame(rows, columns=["family", "kind", "seed", "step", "metric", "value"])
    summary = summary[~((summary.family == "linear") & summary.metric.str.startswith("acc"))]
    text = study.report(summary, pd.DataFrame(columns=["family", "seed", "metric", "value"]), smoke())
    assert "paper ID / far / wide" in text
    assert "1.9e-04 / 3.3e-03 / 0.32" in text and "1.7e-04 / 9.0e-04 / 8.4e-04" in text
    assert "0.9869 / 0.9775 / 0.9733" in text and "0.9844 / 0.9761 / 0.9716" in text
    assert "linear_cls: learned bottlenecks more accurate than implicit" in text
    for family, kinds in study.PAPER.items():  # far lies between ID and ~wide for every kind
        for kind, (iid, far, wide) in kinds.items():
            assert iid < far, (family, kind)


def test_the_posterior_predictor_is_better_with_more_context_and_beats_chance():
    """The Bayes-optimal reference (prior draws kept where they label the whole context as
    given): with 8 context points it is more accurate than with 2 (0.91 vs 0.79 on 256
    tasks), both well above chance (1/2), and keeps fewer draws (the version space shrinks)."""
    acc = {n: study.posterior_accuracy(smoke(f"--config.eval.n_context={n}", "--config.task.min_context=2",
                                             "--config.eval.n_tasks=128"),
                                       "linear_cls", jax.random.PRNGKey(0), 1024) for n in (2, 8)}
    assert 0.65 < acc[2]["iid"] < acc[8]["iid"] - 0.04 and acc[8]["iid"] <= 1.0
    assert acc[8]["accepted"] < acc[2]["accepted"] / 2 <= 512
