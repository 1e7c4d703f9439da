"""Simplicity bias as two-part compression: the benchmark's statistics, K(p), the envelope's
switch, the permutation tests' ingredients, the vectorised fits, and bad config values."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from jaxlab import config as config_lib
from jaxlab import papers
from jaxlab.coding import fits
from jaxlab.config import ConfigError
from jaxlab.papers.simplicity_bias import curves, data, mdl, study

SPEC = os.path.join(ROOT, "configs", "simplicity_bias.py")
STATIC = data.Static(image_size=12, digit_size=10, watermark=True, watermark_bits=12, max_bank=8)
DIGITS = data.load_digits(10, 5, 0)
BANKS = data.watermark_banks(jax.random.PRNGKey(3), STATIC.max_bank, STATIC.watermark_bits)
N = 10_000


def params(spur=0.1, flip=0.0, noisy=0.0, bank=5):
    return data.Params(jnp.float32(spur), jnp.float32(flip), jnp.float32(noisy), jnp.int32(bank), BANKS)


_SAMPLE = jax.jit(lambda k, p, n, split, mode: data.sample(k, n, p, STATIC, DIGITS, split, mode),
                  static_argnums=(2, 3, 4))


def draw(p, mode="mixed", split=0, seed=0, n=N):
    return _SAMPLE(jax.random.PRNGKey(seed), p, n, split, mode)


def within(rate: float, p: float, n: int = N) -> bool:
    """|rate - p| within 4.5 binomial standard errors."""
    return abs(rate - p) <= 4.5 * np.sqrt(max(p * (1 - p), 1e-4) / n)


def test_colour_agrees_with_the_label_at_one_minus_spur_prob_and_flips_happen_at_flip_prob():
    for spur, flip in ((0.1, 0.0), (0.3, 0.2), (0.5, 0.15)):
        b = draw(params(spur, flip))
        assert within(float(np.mean(b.colour == 1 - b.y)), 1 - spur)
        assert within(float(np.mean(b.y != (b.digit >= 5))), flip)
        # colour = 1 - y exactly in environment 0, y in environment 1
        assert np.all(np.where(b.env == 0, b.colour == 1 - b.y, b.colour == b.y))
        assert within(float(np.mean(b.env)), spur)


def test_held_out_test_digits_are_unseen_and_shared_ones_are_the_training_images():
    held = data.load_digits(10, 5, 0, "held_out")
    shared = data.load_digits(10, 5, 0, "shared")
    pool = lambda d, split: set(np.asarray(d.pools[split][:int(d.pool_sizes[split])]).tolist())
    assert not pool(held, 0) & pool(held, 1)  # no source image in both splits
    assert len(pool(held, 0)) + len(pool(held, 1)) == 1797
    assert pool(shared, 1) == pool(shared, 0) == pool(held, 0)
    # draws from the shared test pool show only training images, with every digit
    b = data.sample(jax.random.PRNGKey(0), 2000, params(), STATIC, shared, 1, "mixed")
    assert set(np.asarray(b.rows[:, 0]).astype(int).tolist()) <= pool(held, 0)
    assert set(np.asarray(b.digit).tolist()) == set(range(10))


def _bank_ids(bits: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """Index of each row of ``bits`` in ``bank`` (-1 if absent)."""
    eq = np.all(bits[:, None, :] == bank[None, :, :], -1)
    return np.where(eq.any(1), eq.argmax(1), -1)


def test_the_watermark_banks_are_distinct_and_decode_the_environment():
    banks = np.asarray(data.watermark_banks(jax.random.PRNGKey(0), 316, 16)).reshape(-1, 16)
    assert len(np.unique(banks, axis=0)) == 632  # two disjoint banks of distinct patterns
    b = draw(params(0.5, 0.15, 0.0, bank=5))
    bits = np.asarray(b.rows[:, data.META:])
    in0 = _bank_ids(bits, np.asarray(BANKS[0, :5]))
    in1 = _bank_ids(bits, np.asarray(BANKS[1, :5]))
    decoded = np.where(in0 >= 0, 0, np.where(in1 >= 0, 1, -1))
    assert np.array_equal(decoded, np.asarray(b.env))  # every pattern names its environment
    used = np.concatenate([in0[in0 >= 0], in1[in1 >= 0]])
    assert set(used.tolist()) == set(range(5))  # only (and all of) the first bank_size patterns
    # a fraction env_noisiness carries random bits: (almost) never a bank pattern
    noisy = draw(params(0.5, 0.15, 0.3, bank=5))
    nbits = np.asarray(noisy.rows[:, data.META:])
    own = np.where(np.asarray(noisy.env) == 0, _bank_ids(nbits, np.asarray(BANKS[0, :5])),
                   _bank_ids(nbits, np.asarray(BANKS[1, :5])))
    hit = 5 / 2 ** 12  # a random pattern that happens to be in the own bank
    assert within(float(np.mean(own < 0)), 0.3 * (1 - hit))


def test_feature_isolated_modes_keep_one_feature_and_randomise_the_others():
    p = params(0.1, 0.0, 0.0, bank=5)
    colour = draw(p, "colour")
    assert within(float(np.mean(colour.colour == 1 - colour.y)), 0.9)
    assert within(float(np.mean((colour.digit >= 5) == colour.y)), 0.5)  # digit says nothing
    digit = draw(p, "digit")
    assert within(float(np.mean(digit.colour == 1 - digit.y)), 0.5)
    assert np.all((digit.digit >= 5) == digit.y)
    wm = draw(p, "watermark")
    assert within(float(np.mean(wm.colour == 1 - wm.y)), 0.5)
    bits = np.asarray(wm.rows[:, data.META:])
    assert np.array_equal(_bank_ids(bits, np.asarray(BANKS[1, :5])) >= 0, np.asarray(wm.env) == 1)
    mixed_bits = np.asarray(colour.rows[:, data.META:])  # colour mode: random bits
    assert within(float(np.mean(_bank_ids(mixed_bits, np.asarray(BANKS[0, :5])) >= 0)), 5 / 2 ** 12)


def test_render_draws_the_digit_in_its_colour_channel_and_the_bits_in_the_last_column():
    b = draw(params(0.3), "mixed", n=64)
    gray = draw(params(0.3), "grayscale", n=64)
    img = np.asarray(data.render(b.rows, STATIC, DIGITS)).reshape(64, 12, 12, 3)
    body = img[:, :, :-1]  # without the watermark column
    red = np.asarray(b.colour) == data.RED
    assert np.all(body[red][..., 1] == 0) and np.all(body[~red][..., 0] == 0)
    assert np.all(body[..., 2] == 0) and body.max() > 0.5
    bits = np.asarray(b.rows[:, data.META:])
    for c in range(3):
        np.testing.assert_array_equal(img[:, :, -1, c], bits)
    g = np.asarray(data.render(gray.rows, STATIC, DIGITS)).reshape(64, 12, 12, 3)
    np.testing.assert_array_equal(g[..., 0], g[..., 1])
    np.testing.assert_array_equal(g[:, :, :-1, 0], g[:, :, :-1, 2])


def test_shuffling_an_attribute_permutes_only_its_columns():
    b = draw(params(0.3), n=200)
    for attr, cols in (("colour", [4]), ("digit", [0, 1, 2, 3]), ("watermark", list(range(5, 17)))):
        out = np.asarray(data.shuffle(b.rows, jax.random.PRNGKey(1), attr))
        rows = np.asarray(b.rows)
        rest = [c for c in range(rows.shape[1]) if c not in cols]
        np.testing.assert_array_equal(out[:, rest], rows[:, rest])
        assert sorted(map(tuple, out[:, cols])) == sorted(map(tuple, rows[:, cols]))
        assert not np.array_equal(out[:, cols], rows[:, cols])


def test_k_of_a_curve_with_a_known_area_and_the_truncation_rule():
    # loss = c + A exp(-n / tau): the area above the asymptote from n0 is A tau exp(-n0 / tau)
    c, a, tau = 0.2, 0.7, 40.0
    n = np.linspace(1, 1500, 3000)
    k = mdl.k_of_curve(n, c + a * np.exp(-n / tau))
    # truncated at the first point where the change from the previous one is below 5e-5
    drop = a * (np.exp(-n[:-1] / tau) - np.exp(-n[1:] / tau))
    assert k.cut == 1 + np.flatnonzero(drop < 5e-5)[0] < len(n) - 1
    # the area between the curve and its value at the cut, from 1 to the cut, in closed form
    nc, tail = n[k.cut], a * np.exp(-n[k.cut] / tau)
    np.testing.assert_allclose(k.k, a * tau * (np.exp(-1 / tau) - np.exp(-nc / tau)) - tail * (nc - 1),
                               rtol=1e-4)
    # noise after the cut changes nothing; a curve that never settles is integrated whole
    noisy = c + a * np.exp(-n / tau)
    noisy[k.cut + 1:] += 0.01 * np.random.default_rng(0).standard_normal(len(n) - k.cut - 1)
    assert mdl.k_of_curve(n, noisy).k == k.k
    steep = mdl.k_of_curve(np.arange(1.0, 7.0), np.array([1.0, 0.6, 0.3, 0.2, 0.15, 0.1]))
    # trapezoids: .8 + .45 + .25 + .175 + .125 = 1.8, minus the asymptote 0.1 x width 5
    assert steep.cut == 5 and steep.k == pytest.approx(1.8 - 0.1 * 5)
    # at least min_points points even when the first differences are already tiny
    assert mdl.k_of_curve(np.arange(1.0, 9.0), np.full(8, 0.3)).cut == 4


def test_partial_costs_grow_from_zero_to_the_untruncated_k():
    n = np.array([1.0, 10, 100, 1000])
    loss = np.array([0.7, 0.5, 0.2, 0.1])
    k = mdl.partial_costs(n, loss, np.array([1.0, 55.0, 1000.0]))
    assert k[0] == 0 and 0 < k[1] < k[2]
    np.testing.assert_allclose(k[2], mdl.k_of_curve(n, loss, min_points=10).k)
    # at 55 (midway 10..100) by hand: area 1..10 = 5.4, 10..55 with loss(55) = 0.35: 19.125
    np.testing.assert_allclose(k[1], 5.4 + 19.125 - 0.35 * 54)


def test_partial_costs_clipped_at_chance_by_hand():
    # an overconfident start (2.0 nats at n = 1, above chance ln 2) clipped to ln 2
    n = np.array([1.0, 3.0, 5.0])
    loss = np.array([2.0, 0.5, 0.3])
    c = np.log(2)
    k = mdl.partial_costs(n, loss, np.array([3.0, 5.0]), cap=c)
    # at 3: trapezoid (ln 2 + .5)/2 x 2 minus .5 x 2; at 5: plus (.5 + .3)/2 x 2, minus .3 x 4
    np.testing.assert_allclose(k, [(c + 0.5) - 1.0, (c + 0.5) + 0.8 - 1.2])
    raw = mdl.partial_costs(n, loss, np.array([3.0, 5.0]))
    np.testing.assert_allclose(raw - k, 2.0 - c)  # the clipped part of the first trapezoid
    # a curve below chance everywhere is untouched
    low = np.array([0.6, 0.5, 0.3])
    np.testing.assert_allclose(mdl.partial_costs(n, low, n, cap=c), mdl.partial_costs(n, low, n))


def test_envelope_switches_where_the_winning_lines_cross():
    lines = mdl.Lines(np.array([10.0, 100.0, 80.0]), np.array([1.0, 0.1, 0.9]),
                      np.array(["colour", "digit", "colour"], dtype=object))
    (n, a, b), = mdl.switch_points(lines, 1, 1e4)
    # colour's best line (10 + N) meets digit's (100 + 0.1 N) at N = 100
    assert (a, b) == ("colour", "digit") and n == pytest.approx(100.0)
    env, best = mdl.envelope(lines, np.array([1.0, 50.0, 1000.0]))
    np.testing.assert_allclose(env, [11.0, 60.0, 200.0])
    assert mdl.switch_points(lines, 1, 50) == []  # no switch before N = 100
    three = mdl.join(lines, mdl.Lines(np.array([400.0]), np.array([0.0]), np.array(["cue"], dtype=object)))
    assert [s[1:] for s in mdl.switch_points(three, 1, 1e5)] == [("colour", "digit"), ("digit", "cue")]
    assert mdl.switch_points(three, 1, 1e5)[1][0] == pytest.approx(3000.0)


def test_crossing_interpolates_in_log_n():
    n = np.array([10.0, 100.0, 1000.0])
    assert mdl.crossing(n, [0.5, 0.3, 0.0], [0.0, 0.1, 0.4]) == pytest.approx(100 * 10 ** (0.2 / 0.6))
    assert np.isnan(mdl.crossing(n, [0.5, 0.4, 0.3], [0.0, 0.1, 0.2]))


def test_pearson_r_is_over_log_switch_n_of_the_points_with_both():
    # log-space values x = (0, 1, 2, 3), y = (0, 2, 1, 3): r = 0.8 by hand
    # (centred x = (-1.5, -.5, .5, 1.5), y = (-1.5, .5, -.5, 1.5): sum xy = 4, sum x^2 = sum y^2 = 5)
    pred, emp = np.exp([0.0, 1.0, 2.0, 3.0]), np.exp([0.0, 2.0, 1.0, 3.0])
    s = pd.DataFrame(dict(predicted_switch=np.r_[pred, np.nan, 7.0],
                          empirical_switch=np.r_[emp, 5.0, np.nan]))
    assert study.correlation(s) == pytest.approx(0.8)
    assert study.correlation(s) == pytest.approx(np.corrcoef(np.log(pred), np.log(emp))[0, 1])
    assert study.correlation(s) != pytest.approx(np.corrcoef(pred, emp)[0, 1])  # not on N itself
    assert np.isnan(study.correlation(s.iloc[[0, 1, 4, 5]]))  # fewer than 3 points with both
    # min_n drops the point at N = 1 (log 0): r of (1, 2, 3) vs (2, 1, 3) is 0.5
    assert study.correlation(s, min_n=2.0) == pytest.approx(0.5)


def test_all_crossings_and_the_closest_pair_in_log_n():
    n = np.array([10.0, 100.0, 1000.0, 10000.0])
    got = mdl.crossings(n, [0.5, 0.3, 0.0, 0.5], [0.0, 0.1, 0.4, 0.0])
    np.testing.assert_allclose(got, [100 * 10 ** (0.2 / 0.6), 1000 * 10 ** (0.4 / 0.9)])
    assert mdl.crossings(n, [0.5, 0.4, 0.3, 0.2], [0.0, 0.1, 0.2, 0.1]) == []
    assert mdl.closest_pair([30.0, 5000.0], [400.0, 9000.0]) == (5000.0, 9000.0)  # ratio 1.8
    assert all(np.isnan(mdl.closest_pair([], [400.0])))


def test_the_empirical_switch_ignores_crossings_below_min_switch_n():
    sizes = np.array([4, 16, 64, 256])
    rows = []
    for task in ("colour", "digit", "mixed"):
        for i, n in enumerate(sizes):
            rows.append(dict(scenario="A", task=task, seed=0, n=n, test_loss=1.0 / (i + 1),
                             mixed_loss=0.5 if task == "colour" else 1.0 / (i + 1),
                             drop_colour=[0.0, 0.3, 0.3, 0.0][i], drop_digit=[0.1, 0.0, 0.1, 0.3][i]))
    df = pd.DataFrame(rows)
    config = config_lib.load(SPEC + ":smoke")
    config.reliance.min_switch_n = 1
    # from N = 4 the first sign change of drop_colour - drop_digit is between 4 and 16
    every_n = study.analyse(df, config)
    assert every_n["empirical_switch"] == pytest.approx(4 * 4 ** (0.1 / 0.4))
    # the digit's mixed loss 1, 1/2, 1/3, 1/4 meets colour's 0.5 exactly at N = 16
    assert every_n["loss_cross"] == pytest.approx(16.0)
    config.reliance.min_switch_n = 10  # from N = 16 on: colour leads until 64, digit at 256
    out = study.analyse(df, config)
    assert out["empirical_switch"] == pytest.approx(64 * 4 ** (0.2 / 0.5))
    # one envelope switch (colour -> digit) and one crossing from N = 16: the matched pair is them
    assert out["predicted_from"] == "colour" and np.isfinite(out["predicted_switch"])
    assert (out["matched_predicted"], out["matched_empirical"]) == pytest.approx(
        (out["predicted_switch"], out["empirical_switch"]))


def _tiny_config():
    return config_lib.load(SPEC + ":smoke", ["--config.task.watermark_bits=8"])


@pytest.mark.e2e
def test_a_fit_inside_the_vectorised_program_equals_the_fit_alone():
    config = _tiny_config()
    setup = curves.make_setup(config, "B")
    setup = setup._replace(sizes=np.array([4, 16, 40]))
    p = curves.params_of(config, dict(config.scenario_b), setup.static)
    fd, keys = curves.fit_data(setup, p, 1, 16, jax.random.PRNGKey(0))
    inits = curves.init_params(setup, keys)
    many = jax.jit(lambda i, d: fits.fit_many(setup.spec, i, d, lanes=3, params_per_fit=True))(inits, fd)
    alone = jax.jit(lambda i, d: fits.fit(setup.spec, i, d))
    assert len(set(np.asarray(many.steps).tolist())) > 1
    for f in range(fd.n_train.shape[0]):
        one = alone(*jax.tree.map(lambda a: a[f], (inits, fd)))
        assert int(one.steps) == int(many.steps[f])
        for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(many.params)):
            np.testing.assert_allclose(a, b[f], rtol=1e-4, atol=1e-5)


BAD = [
    ("--config.scenario_a.spur_prob=1.5", "config.scenario_a.spur_prob: must be a probability"),
    ("--config.scenario_b.flip_prob=-0.1", "config.scenario_b.flip_prob: must be a probability"),
    ("--config.grid.spur_prob=(0.1, 2.0)", "config.grid.spur_prob: must be a probability"),
    ("--config.scenario_b.env_noisiness=1.01", "config.scenario_b.env_noisiness: must be a probability"),
    ("--config.curve.sizes=(4, 2)", "config.curve.sizes: must be strictly increasing"),
    ("--config.curve.sizes=(0, 4)", "config.curve.sizes: must be an integer >= 1"),
    ("--config.curve.sizes=(4,)", "config.curve.sizes: needs at least 2 sizes"),
    ("--config.curve.n_seeds=0", "config.curve.n_seeds: must be an integer >= 1"),
    ("--config.task.digit_size=20", "config.task.digit_size: must be <= task.image_size"),
    ("--config.task.digits_per_class=6", "config.task.digits_per_class: must be an integer in 1..5"),
    ("--config.task.prototypes=500", "config.task.prototypes: at most 140"),
    ("--config.task.test_images=unseen", "config.task.test_images: must be one of"),
    ("--config.reliance.perm_samples=100", "config.reliance.perm_samples: must be <= curve.n_test"),
    ("--config.curve.check_min=50", "config.curve.check_min: must be <= curve.check_max"),
    ("--config.curve.learning_rate=0", "config.curve.learning_rate: must be > 0"),
    ("--config.sweeps=('C',)", "config.sweeps: unknown sweep 'C'"),
    ("--config.model.n_layers=1", "config.model.n_layers: must be an integer >= 2"),
    ("--config.reliance.min_switch_n=20", "config.reliance.min_switch_n: must leave at least 2"),
]


@pytest.mark.parametrize("override,message", BAD)
def test_an_impossible_value_is_one_line_naming_the_field_and_writes_nothing(override, message, tmp_path):
    workdir = tmp_path / "w"
    with pytest.raises(ConfigError) as err:
        papers.run(config_lib.load(SPEC + ":smoke", [override]), str(workdir), progress=False)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not workdir.exists()


def test_a_watermark_taller_than_the_image_or_a_bank_without_enough_patterns_is_refused():
    for overrides, message in (
            (["--config.sweeps=('B',)", "--config.task.watermark_bits=20"], "config.task.watermark_bits"),
            (["--config.task.watermark_bits=4", "--config.grid.bank_size=(1, 9)"], "config.grid.bank_size"),
    ):
        with pytest.raises(ConfigError, match=message):
            papers.get("simplicity_bias").validate(config_lib.load(SPEC + ":smoke", overrides))
