"""Mastermind: feedback rule, sampler quirk, exact oracle against brute force."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.tasks.mastermind import Mastermind, feedback


def _feedback_py(code, guess):
    exact = sum(a == b for a, b in zip(code, guess))
    common = sum(min(list(code).count(c), list(guess).count(c)) for c in set(guess))
    return exact, common


def test_feedback_matches_the_rule_and_counts_exact_matches_in_the_second_output():
    rng = np.random.default_rng(0)
    codes, guesses = rng.integers(0, 6, (200, 8)), rng.integers(0, 6, (200, 8))
    got = np.asarray(feedback(jnp.asarray(codes), jnp.asarray(guesses), 6))
    want = np.array([_feedback_py(c, g) for c, g in zip(codes, guesses)])
    np.testing.assert_array_equal(got, want)
    assert np.all(got[:, 1] >= got[:, 0])


def test_reference_codes_never_use_the_last_colour():
    ep = Mastermind().sample(jax.random.PRNGKey(0), 500, 4)
    assert int(ep.code.max()) == 4 and int(ep.x.max()) == 5
    assert ep.y.shape == (500, 4, 2)


def test_oracle_matches_brute_force_enumeration_on_a_tiny_game():
    game = Mastermind(code_length=3, n_colours=4, code_colours=3)
    ep = game.sample(jax.random.PRNGKey(1), 1, 6)
    x, y = np.asarray(ep.x[0]), np.asarray(ep.y[0])
    logp = np.asarray(game.bayes_next_token(ep.x[0], ep.y[0], code_block=7))
    codes = list(itertools.product(range(3), repeat=3))
    for k in range(6):
        alive = [c for c in codes if all(_feedback_py(c, x[i]) == tuple(y[i]) for i in range(k))]
        for j in range(2):
            hist = np.bincount([_feedback_py(c, x[k])[j] for c in alive], minlength=4) / len(alive)
            np.testing.assert_allclose(np.exp(logp[k, j]), hist, atol=1e-6)
    nll = np.asarray(game.bayes_nll(ep.x[0], ep.y[0]))
    assert np.all(np.isfinite(nll)) and nll[0] > nll[-1] - 1e-6
