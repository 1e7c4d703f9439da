"""No leakage: changing point n never changes the prediction for point n or earlier."""
import jax
import jax.numpy as jnp
import numpy as np

from conftest import smoke_config
from jaxlab import studies
from jaxlab.objectives import context_queries, explicit_losses


def _untrained_model(n_tasks: int, n_points: int):
    """The smoke study's explicit model, freshly initialised, and episodes of its task."""
    study = studies.get("icl_occam")
    config = smoke_config()
    model, task = study.make_model(config), study.make_task(config)
    ep = task.sample(jax.random.PRNGKey(0), n_tasks, n_points)
    return model, ep, model.init(jax.random.PRNGKey(1), ep.x, ep.y, method=model.init_all)


def test_prediction_for_point_n_ignores_points_n_and_later():
    model, ep, params = _untrained_model(4, 24)

    def next_token_predictions(x, y):
        z = model.apply(params, x, y)
        return model.apply(params, x, z[:, :-1], method=model.predict)  # point k from z[k]

    base = next_token_predictions(ep.x, ep.y)
    for n in (0, 5, 23):
        y2 = ep.y.at[:, n:].add(-5.0)
        # Prediction for point k uses x_k itself (the query) and z[k]: only y_n moves for k = n.
        moved_y = next_token_predictions(ep.x, y2)
        np.testing.assert_allclose(moved_y[:, : n + 1], base[:, : n + 1], rtol=1e-5, atol=1e-6)
        # Moving x at points >= n+1 must not change predictions 0..n.
        x3 = ep.x.at[:, n + 1:].add(3.0)
        np.testing.assert_allclose(next_token_predictions(x3, ep.y)[:, : n + 1], base[:, : n + 1],
                                   rtol=1e-5, atol=1e-6)
        if n + 1 < 24:  # and the change is visible later (the test can fail)
            assert not np.allclose(moved_y[:, n + 1:], base[:, n + 1:])


def test_training_loss_never_sees_the_target():
    """The prequential loss at k changes with y_k only through the target, not the input."""
    model, ep, params = _untrained_model(2, 10)
    predict = lambda xq, zq: model.apply(params, xq, zq, method=model.predict)

    def preq_predictions(y):
        z = model.apply(params, ep.x, y)
        q = context_queries(ep.x, y, jax.random.PRNGKey(2), 1)
        return predict(q.next_x, z[:, 1:10])

    base = preq_predictions(ep.y)
    bumped = preq_predictions(ep.y.at[:, 6].add(10.0))
    # column j predicts point k = j + 1: points 1..6 (columns 0..5) must not move.
    np.testing.assert_allclose(bumped[:, :6], base[:, :6], rtol=1e-5, atol=1e-6)
    assert not np.allclose(bumped[:, 6:], base[:, 6:])
    preq, train = explicit_losses(predict, model.apply(params, ep.x, ep.y),
                                  context_queries(ep.x, ep.y, jax.random.PRNGKey(2), 1), 1)
    assert preq.shape == train.shape == (2, 9)
    assert bool(jnp.all(jnp.isfinite(train)))
