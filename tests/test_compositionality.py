"""Compositionality: closed-form terms against brute force, generators, topsim, the study."""
from __future__ import annotations

import itertools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats

from jaxlab.papers.compositionality import codes, complexity, generators, topsim

P = 0.01
# One compiled sampler per padded shape instead of op-by-op dispatch.
sample_lookup = jax.jit(generators.sample_lookup, static_argnums=(5,))


def test_lattice_code_matches_scipy_and_samples_its_distribution():
    for std in (1.0, 0.01, 0.05):
        code = codes.lattice_code(std, P)
        mu = 0.5 * (std / P) ** 2
        ks = np.arange(-code.half_width, code.half_width + 1)
        np.testing.assert_allclose(code.cost_np, -scipy.stats.skellam.logpmf(ks, mu, mu), rtol=1e-10)
        draws = np.asarray(code.sample(jax.random.uniform(jax.random.PRNGKey(1), (200_000,))))
        assert abs(draws.mean()) < 4 * std / P / math.sqrt(200_000) + 1e-3
        assert draws.var() == pytest.approx((std / P) ** 2, rel=0.02)
        # The price of a draw is its exact Skellam cost.
        np.testing.assert_allclose(np.asarray(code.price(jnp.asarray(draws[:50]))),
                                   -scipy.stats.skellam.logpmf(draws[:50], mu, mu), rtol=1e-5)


def _brute_lookup(sample, k, vocab, d, delta):
    """The reference's decode, element by element."""
    table = np.asarray(sample.table)
    n_pos = k // delta
    comp = d // n_pos
    z = []
    for w in np.asarray(sample.w)[:, :k]:
        parts = []
        for chunk in np.split(w, n_pos):
            entry = sum(int(chunk[i]) * vocab ** i for i in range(delta))
            parts.append(table[entry, :comp])
        z.append(np.concatenate(parts))
    return np.stack(z)


@pytest.mark.parametrize("point", [(2, 3, 4, 1), (4, 2, 8, 2), (4, 3, 4, 4), (1, 5, 3, 1)])
def test_lookup_terms_against_brute_force(point):
    k, vocab, d, delta = point
    shape = generators.LookupShape.covering([point, (4, 5, 8, 2)], 6)  # padded beyond the point
    s = sample_lookup(jax.random.PRNGKey(3), k, vocab, d, delta, shape)
    n_entries, comp = vocab ** delta, d * delta // k
    table = np.asarray(s.table)[:n_entries, :comp]
    assert not np.asarray(s.table)[n_entries:].any() and not np.asarray(s.table)[:, comp:].any()
    w = np.asarray(s.w)[:, :k]
    assert w.min() >= 0 and w.max() < vocab
    noise = np.asarray(s.noise)[:, :d]
    z = np.asarray(s.z)
    np.testing.assert_allclose(z[:, :d], (_brute_lookup(s, k, vocab, d, delta) + noise) * P, atol=1e-5)
    assert not z[:, d:].any()
    terms = complexity.lookup_terms(s, k, vocab)
    # K(W | L): every one of the V^k sentences is equally likely -> log of their count.
    n_sentences = sum(1 for _ in itertools.product(range(vocab), repeat=k))
    assert float(terms.k_w_given_language) == pytest.approx(math.log(n_sentences), rel=1e-6)
    assert float(terms.k_language) == pytest.approx(math.log(vocab) + math.log(k), rel=1e-6)
    k_d = -scipy.stats.skellam.logpmf(table.ravel(), 5000, 5000).sum()
    assert float(terms.k_decoder) == pytest.approx(k_d, rel=1e-5)
    k_zwd = -scipy.stats.skellam.logpmf(noise, 0.5, 0.5).sum(1).mean()
    assert float(terms.k_z_given_w_decoder) == pytest.approx(k_zwd, rel=1e-5)
    t = {name: float(v) for name, v in terms.as_dict().items()}
    assert t["c"] == pytest.approx(1 + (t["k_language"] + t["k_w_given_language"])
                                   / (t["k_decoder"] + t["k_z_given_w_decoder"]), rel=1e-6)


def test_lookup_draws_do_not_depend_on_padding():
    a = sample_lookup(jax.random.PRNGKey(5), 2, 3, 4, 1, generators.LookupShape(7, 2, 4, 3, 2, 1))
    b = sample_lookup(jax.random.PRNGKey(5), 2, 3, 4, 1, generators.LookupShape(7, 8, 16, 9, 8, 2))
    np.testing.assert_array_equal(np.asarray(a.table), np.asarray(b.table)[:3, :2])
    np.testing.assert_array_equal(np.asarray(a.w), np.asarray(b.w)[:, :2])
    np.testing.assert_array_equal(np.asarray(a.z), np.asarray(b.z)[:, :4])


def _notebook_grammar(width, depth, n_pos=5):
    """The reference notebook's gen_grammar, rebuilt independently: {(x_pos, y_pos): out_pos}."""
    succ = {t: [(t + 1) % n_pos, (t + 2) % n_pos] for t in range(n_pos)}
    prev = [(f"T{a}", f"T{b}") for a in range(n_pos) for b in succ[a]]
    rules = {}
    for level in range(depth):
        for i, pair in enumerate(prev):
            rules[pair] = f"r{level}_{i % width}"
        prev = [(f"r{level}_{a}", f"r{level}_{b}") for a, b in itertools.product(range(width), repeat=2)]
    for i, pair in enumerate(prev):
        rules[pair] = f"r{depth - 1}_{i % width}"
    return rules


def _brute_decode(g, w, emb, rule_params, roles, rules):
    """Balanced-parse decoding with explicit rule and role dictionaries."""
    nodes = [(f"T{x % g.n_pos}", emb[x]) for x in w]
    while len(nodes) > 1:
        nxt = []
        for (cx, x), (cy, y) in zip(nodes[0::2], nodes[1::2]):
            out = rules[(cx, cy)]
            if g.composition == "linear":
                nxt.append((out, np.concatenate([x, y]) @ rule_params[(cx, cy)]))
            else:
                nxt.append((out, x * roles[cx] + x + y * roles[cy] + y))
        nodes = nxt
    return nodes[0][1]


@pytest.mark.parametrize("width,depth,composition", [(2, 1, "linear"), (2, 2, "linear"),
                                                     (3, 2, "tensorproduct"), (1, 3, "linear")])
def test_grammar_terms_and_decoder_against_brute_force(width, depth, composition):
    g = generators.Grammar(width, depth, composition, z_dim=3, num_words=8, vocab_size=10)
    rules = _notebook_grammar(width, depth)
    assert g.n_rules == len(rules)
    roles_used = {p for pair in rules for p in pair}
    assert g.n_roles == len(roles_used)
    big = generators.Grammar(3, 3, "linear", z_dim=3, num_words=8, vocab_size=10)
    shape = generators.GrammarShape(12, max(g.n_rules, big.n_rules), max(g.n_roles, big.n_roles))
    s = generators.sample_grammar(jax.random.PRNGKey(2), g, 12, shape=shape,
                                  point=generators.grammar_arrays(g))
    w = np.asarray(s.w)
    # Every sentence follows the POS chain: START -> {0, 1}, t -> {t+1, t+2}.
    assert set(w[:, 0] % 5) <= {0, 1}
    assert set(((w[:, 1:] - w[:, :-1]) % 5).ravel()) <= {1, 2}
    emb = np.asarray(s.embeddings) * P
    # Rule parameters are keyed by the input pair in the notebook's insertion order.
    rule_params = {pair: np.asarray(s.rules[i]) * P for i, pair in enumerate(rules)}
    cat_names = [f"T{t}" for t in range(5)] + [f"r{lv}_{a}" for lv in range(depth) for a in range(width)]
    roles = {name: np.asarray(s.roles[i]) * P for i, name in enumerate(cat_names)}
    expect = np.stack([_brute_decode(g, x, emb, rule_params, roles, rules) for x in w])
    z = np.asarray(s.z)
    np.testing.assert_allclose(z, expect + np.asarray(s.noise) * P, rtol=1e-4, atol=1e-4)

    terms = complexity.grammar_terms(s, g)
    # K(L): a POS per word and a binary (#POS+1) x #POS transition matrix, counted.
    assert float(terms.k_language) == pytest.approx(math.log(5 ** 10 * 2 ** 30), rel=1e-6)
    # The reference's K(W | L) = k log V; the sampler's true support, counted by brute force
    # on 4-word sentences, is (2 V / #POS)^k.
    g4 = generators.Grammar(1, 1, z_dim=3, num_words=4, vocab_size=10)
    legal = sum(1 for x in itertools.product(range(10), repeat=4)
                if x[0] % 5 in (0, 1) and all((b - a) % 5 in (1, 2) for a, b in zip(x, x[1:])))
    assert complexity.grammar_language_terms(g4, False)[1] == pytest.approx(math.log(legal))
    assert complexity.grammar_language_terms(g4, True)[1] == pytest.approx(4 * math.log(10))
    params = np.concatenate([np.asarray(s.embeddings).ravel(),
                             np.asarray(s.rules)[np.asarray(s.rule_mask)].ravel(),
                             np.asarray(s.roles)[np.asarray(s.role_mask)].ravel()])
    n_params = 10 * 3 + (g.n_rules * 6 * 3 if composition == "linear" else g.n_roles * 3)
    assert params.size == n_params
    k_d = -scipy.stats.skellam.logpmf(params, 5000, 5000).sum()
    assert float(terms.k_decoder) == pytest.approx(k_d, rel=1e-5)
    k_zwd = -scipy.stats.skellam.logpmf(np.asarray(s.noise), 0.5, 0.5).sum(1).mean()
    assert float(terms.k_z_given_w_decoder) == pytest.approx(k_zwd, rel=1e-5)


def test_topsim_matches_scipy():
    rng = np.random.RandomState(0)
    w = rng.randint(0, 4, size=(30, 5))
    z = rng.randn(30, 3) + w[:, :3]
    one_hot = np.eye(4)[w].reshape(30, -1)
    expect = scipy.stats.pearsonr(scipy.spatial.distance.pdist(z),
                                  scipy.spatial.distance.pdist(one_hot, "cityblock")).statistic
    got = topsim.topological_similarity(jnp.asarray(w), jnp.asarray(z, jnp.float32))
    assert float(got) == pytest.approx(expect, abs=1e-4)
    # Padded positions and dimensions are ignored.
    wp = np.concatenate([w, rng.randint(0, 4, size=(30, 2))], 1)
    zp = np.concatenate([z, np.zeros((30, 2))], 1)
    got = topsim.topological_similarity(jnp.asarray(wp), jnp.asarray(zp, jnp.float32), 5)
    assert float(got) == pytest.approx(expect, abs=1e-4)


def test_paper_point_reproduced_in_closed_form():
    """A probe of the reference code: k=16, V=10, d=64 -> C ~ 1.128 (CSV 1.1266)."""
    shape = generators.LookupShape.covering([(16, 10, 64, 1)], 1000)
    f = jax.jit(jax.vmap(lambda key: complexity.lookup_terms(
        generators.sample_lookup(key, 16, 10, 64, 1, shape), 16, 10).as_dict()))
    t = f(jax.random.split(jax.random.PRNGKey(0), 10))
    assert float(t["k_language"].mean()) == pytest.approx(5.08, abs=0.01)
    assert float(t["k_w_given_language"].mean()) == pytest.approx(36.8, abs=0.1)
    assert float(t["k_decoder"].mean()) == pytest.approx(240.9, rel=0.02)
    assert float(t["k_z_given_w_decoder"].mean()) == pytest.approx(89.8, rel=0.01)
    assert float(t["c"].mean()) == pytest.approx(1.1266, rel=0.01)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "compositionality.py")


@pytest.mark.e2e
def test_synthetic_study_smoke(tmp_path):
    from jaxlab import config as config_lib
    from jaxlab import papers
    from jaxlab.papers.compositionality import sweeps

    config = config_lib.load(f"{CONFIG}:smoke,sentence_length,composition")
    res = papers.run(config, str(tmp_path), progress=False)
    sweep, summary = res.tables["sweep"], res.tables["summary"]
    # 3 lookup points and 2 grammars, 2 seeds each.
    assert len(sweep) == (3 + 2) * 2 and set(sweep.sweep) == {"sentence_length", "composition"}
    assert np.isfinite(sweep.topsim).all()
    # Every lookup row re-priced from scratch: its draw (the documented fold_in of seed and
    # point), the uniform language and sentence codes, and scipy's Skellam prices.
    look = sweep[sweep.sweep == "sentence_length"]
    points = [(int(r.sentence_length), int(r.vocab_size), int(r.zdim), int(r.disentanglement))
              for r in look.itertuples()]
    draw = jax.jit(generators.sample_lookup, static_argnums=(5,))
    shape = generators.LookupShape.covering(points, config.n_samples)
    for r, (k, v, d, delta) in zip(look.itertuples(), points):
        s = draw(sweeps.point_key(config.seed, int(r.seed), (k, v, d, delta)), k, v, d, delta, shape)
        table = np.asarray(s.table)[:v ** delta, :d * delta // k]
        k_lang, k_sent = math.log(v) + math.log(k), k * math.log(v)
        k_dec = -scipy.stats.skellam.logpmf(table, 5000, 5000).sum()
        k_noise = -scipy.stats.skellam.logpmf(np.asarray(s.noise)[:, :d], 0.5, 0.5).sum(1).mean()
        assert r.k_language == pytest.approx(k_lang, rel=1e-5)
        assert r.k_w_given_language == pytest.approx(k_sent, rel=1e-5)
        assert r.k_z_given_w == pytest.approx(k_dec + k_noise, rel=1e-4)
        assert r.c == pytest.approx((k_lang + k_sent + k_dec + k_noise) / (k_dec + k_noise), rel=1e-4)
    # Grammar rows: K(L) = V log #POS + (#POS + 1) #POS log 2 and the reference's k log V.
    gram = sweep[sweep.sweep == "composition"]
    np.testing.assert_allclose(gram.k_language, 100 * math.log(5) + 30 * math.log(2), rtol=1e-5)
    np.testing.assert_allclose(gram.k_w_given_language, 16 * math.log(100), rtol=1e-5)
    sl = sweep[(sweep.sweep == "sentence_length") & (sweep.sentence_length == 16)]
    assert sl.c.mean() == pytest.approx(1.1266, rel=0.03)  # 48 samples, 2 seeds
    comp = summary[summary.sweep == "composition"].set_index("composition")
    assert comp.c["tensorproduct"] > comp.c["linear"] and comp.paper_c.notna().all()
    for name in ("figure.png", "table.txt"):
        assert os.path.getsize(tmp_path / name) > 0


@pytest.mark.e2e
def test_prequential_many_equals_vmapped_and_orders_languages():
    """One fit queue over all datasets gives blockwise_code's numbers; a compositional
    language costs less than a holistic one (C larger)."""
    from jaxlab.papers.compositionality import learned

    vals, reps = 5, 3
    attrs = np.array([(a, b) for a in range(vals) for b in range(vals)])
    perm = np.random.RandomState(1).permutation(len(attrs))
    order = np.random.RandomState(2).permutation(len(attrs))
    z = np.repeat(attrs[order], reps, 0)
    w = np.stack([np.repeat(attrs[order], reps, 0), np.repeat(attrs[perm][order], reps, 0)])
    z = np.stack([z, z])
    cfg = learned.PrequentialConfig(val_size=4 * reps, boundaries=tuple(range(reps, 21 * reps + 1, reps)),
                                    embed=8, hidden=32, layers=2, learning_rate=1e-2, batch_size=8,
                                    patience=5, max_epochs=40)
    coder = learned.make_coder(vals, 2, 2, cfg, n_values=vals)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    many = jax.jit(lambda w, z, k: learned.prequential_code_many(coder, cfg, w, z, k, lanes=5))(w, z, keys)
    one = jax.jit(jax.vmap(lambda w, z, k: learned.prequential_code(coder, cfg, w, z, k)))(w, z, keys)
    np.testing.assert_allclose(np.asarray(many.block_costs), np.asarray(one.block_costs), rtol=1e-3, atol=1e-2)
    naive = reps * 2 * math.log(vals)
    np.testing.assert_allclose(np.asarray(many.block_naive)[:, 0], naive, rtol=1e-6)
    assert (np.asarray(many.block_costs) <= naive + 1e-3).all()
    k_data = np.asarray(many.k_data)
    assert k_data[0] < 0.9 * k_data[1]


@pytest.mark.e2e
def test_emergent_study_smoke(tmp_path):
    from jaxlab import config as config_lib
    from jaxlab import papers

    res = papers.run(config_lib.load(f"{CONFIG}:emergent,smoke"), str(tmp_path), progress=False)
    results, curve, langs = res.tables["results"], res.tables["curve"], res.tables["languages"]
    assert set(results.kind) == {"resets", "no_resets", "compositional", "holistic"}
    assert len(langs) == 4 * 64 and langs.filter(like="token_").to_numpy().max() < 8
    # K(Z): 56 training objects x 4 repeats, 2 attributes of 8 values, uniformly coded.
    k_z = 56 * 4 * 2 * math.log(8)
    np.testing.assert_allclose(results.k_z, k_z, rtol=1e-6)
    # Prequential coding never costs more than the uniform code, so K(Z | W) <= K(Z), C >= 1;
    # the results' K(Z | W) is the curve's blocks summed (the two tables written apart).
    assert (results.k_data <= k_z + 1e-3).all() and (results.c >= 1 - 1e-6).all()
    per_run = curve.groupby(["language", "prequential_seed"]).block_cost.sum()
    runs = list(zip(results.language, results.prequential_seed))
    np.testing.assert_allclose(results.k_data, per_run.loc[runs], rtol=1e-5)
    assert np.isfinite(curve.block_cost).all() and (curve.block_cost <= 4 * 2 * math.log(8) + 1e-3).all()
    assert os.path.getsize(tmp_path / "table.txt") > 0


@pytest.mark.e2e
def test_estimator_api_closed_form_and_learned():
    from jaxlab.papers.compositionality import compositionality, learned

    shape = generators.LookupShape.covering([(2, 3, 4, 1)], 60)
    s = sample_lookup(jax.random.PRNGKey(4), 2, 3, 4, 1, shape)
    closed = compositionality(s.w, s.z, generator=complexity.KnownLookup(s, 2, 3))
    assert closed["method"] == "closed_form"
    assert float(closed["c"]) == pytest.approx(float(complexity.lookup_terms(s, 2, 3).c))
    cfg = learned.PrequentialConfig(val_size=10, first=10, n_blocks=3, embed=4, hidden=16, layers=2,
                                    patience=2, max_epochs=5)
    est = compositionality(s.w, s.z, vocab_size=3, prequential=cfg)
    assert est["method"] == "prequential" and len(est["block_costs"]) == len(est["boundaries"])
    # K(W): the uniform code of 50 training sentences of 2 words from 3 (language: V and k).
    k_w = math.log(3) + math.log(2) + 50 * 2 * math.log(3)
    assert est["k_w"] == pytest.approx(k_w, rel=1e-6)

    def naive(zb):
        """(lowest, highest) price of a block under its own marginal lattice Gaussian, by
        scipy: z sits on the lattice, so an offset from a block mean of an even number of
        rows can be a tie (k + 1/2) that float32 rounds either way; both are priced."""
        sd = np.maximum(zb.std(0), P)
        mu = 0.5 * (sd / P) ** 2
        u = (zb - zb.mean(0)) / P
        k1 = np.round(u)
        k2 = np.where(np.abs(u - np.floor(u) - 0.5) < 1e-3, 2 * np.floor(u) + 1 - k1, k1)
        c1, c2 = (-scipy.stats.skellam.logpmf(k, mu, mu) for k in (k1, k2))
        return np.minimum(c1, c2).sum(), np.maximum(c1, c2).sum()

    z = np.asarray(s.z, np.float64)
    edges = [0, *est["boundaries"]]
    lo, hi = np.array([naive(z[a:b]) for a, b in zip(edges, edges[1:])]).T
    costs, tol = np.asarray(est["block_costs"]), 1e-4
    # The first block costs its naive code; no block costs more than its naive code.
    assert lo[0] * (1 - tol) <= costs[0] <= hi[0] * (1 + tol)
    assert (costs <= hi * (1 + tol)).all()
    # So naive(block 0) <= K(Z | W) <= sum of naive codes, and C = 1 + K(W) / K(Z | W) lies
    # between the bounds those give.
    assert lo[0] * (1 - tol) <= est["k_z_given_w"] <= hi.sum() * (1 + tol)
    assert 1 + k_w / hi.sum() * (1 - tol) <= est["c"] <= 1 + k_w / lo[0] * (1 + tol)
    assert est["k_z"] == pytest.approx(k_w + est["k_z_given_w"], rel=1e-6)
