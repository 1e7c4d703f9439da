"""No leakage: a query answered with context size k never sees point k or later, for every
learner kind (explicit transformer, Mamba aggregator, implicit cross-attention, interleaved)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import smoke_config
from jaxlab.papers.icl_occam import study
from jaxlab.objectives import context_queries, query_losses

KINDS = ("explicit", "mamba", "implicit", "interleaved")


def _untrained_model(kind: str, n_tasks: int, n_points: int):
    """The smoke study's model of ``kind``, freshly initialised, and episodes of its task."""
    config = smoke_config(f"--config.model.kind={kind}")
    model, task = study.make_model(config), study.make_task(config)
    ep = task.sample(jax.random.PRNGKey(0), n_tasks, n_points)
    return model, ep, model.init(jax.random.PRNGKey(1), ep.x, ep.y, method=model.init_all)


@pytest.mark.parametrize("kind", KINDS)
def test_prediction_for_point_n_ignores_points_n_and_later(kind):
    model, ep, params = _untrained_model(kind, 4, 24)

    def next_token_predictions(x, y):  # point k answered from the first k points, k = 0..N-1
        return model.apply(params, x, model.apply(params, x, y), 0, method=model.answer)

    base = next_token_predictions(ep.x, ep.y)
    for n in (0, 5, 23):
        y2 = ep.y.at[:, n:].add(-5.0)
        # Prediction for point k uses x_k itself (the query) and points < k: y_n moves none of 0..n.
        moved_y = next_token_predictions(ep.x, y2)
        np.testing.assert_allclose(moved_y[:, : n + 1], base[:, : n + 1], rtol=1e-5, atol=1e-6)
        # Moving x at points >= n+1 must not change predictions 0..n.
        x3 = ep.x.at[:, n + 1:].add(3.0)
        np.testing.assert_allclose(next_token_predictions(x3, ep.y)[:, : n + 1], base[:, : n + 1],
                                   rtol=1e-5, atol=1e-6)
        if n + 1 < 24:  # and the change is visible later (the test can fail)
            assert not np.allclose(moved_y[:, n + 1:], base[:, n + 1:])


@pytest.mark.parametrize("kind", KINDS)
def test_training_loss_never_sees_the_target(kind):
    """The prequential loss at k changes with y_k only through the target, not the input."""
    model, ep, params = _untrained_model(kind, 2, 10)

    def answer(y):
        context = model.apply(params, ep.x, y)
        return lambda xq: model.apply(params, xq, context, 1, method=model.answer)

    queries = context_queries(ep.x, ep.y, jax.random.PRNGKey(2), 1)
    base = answer(ep.y)(queries.next_x)
    bumped = answer(ep.y.at[:, 6].add(10.0))(queries.next_x)
    # column j predicts point k = j + 1: points 1..6 (columns 0..5) must not move.
    np.testing.assert_allclose(bumped[:, :6], base[:, :6], rtol=1e-5, atol=1e-6)
    assert not np.allclose(bumped[:, 6:], base[:, 6:])
    preq, train = query_losses(answer(ep.y), queries)
    assert preq.shape == train.shape == (2, 9)
    assert bool(jnp.all(jnp.isfinite(train)))


def test_interleaved_probes_compute_what_the_x_tokens_of_the_stream_compute():
    """answer() reads DT1 through probe tokens; with x_q = x_k at context size k a probe must
    equal the x token at position 2k of the plain causal pass over [x1, y1, x2, y2, ...]."""
    model, ep, params = _untrained_model("interleaved", 3, 12)
    probes = model.apply(params, ep.x, model.apply(params, ep.x, ep.y), 0, method=model.answer)
    stream = model.apply(params, ep.x, ep.y, method=model.next_token_predictions)
    np.testing.assert_allclose(probes, stream, rtol=2e-5, atol=2e-6)
    assert float(jnp.std(stream[:, 1:] - stream[:, :-1])) > 1e-4  # predictions do vary with k
