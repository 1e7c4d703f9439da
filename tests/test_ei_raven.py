"""The Raven family of the explicit/implicit study: the rule-RAVEN generator checked by brute
force against an independent scalar statement of the reference's rule checks, the held-out
rule combinations, and the Raven models and smoke run."""
from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.tasks import raven as R

# ----------------------------------------------------------------------------- the rules, scalar
STEP = {1: -2, 2: -1, 3: 1, 4: 2}
VAR = {9: (1, 2), 10: (2, 1), 11: (-1, -2), 12: (-2, -1)}


def fits(r: int, a: int, b: int, c: int) -> bool:
    """Rule r's own condition on the row (a, b, c), before disambiguation."""
    if r == 0:
        return a == b == c
    if r in STEP:
        return b - a == STEP[r] and c - b == STEP[r]
    if r == 5:
        return a - b == c
    if r == 6:
        return a + b == c
    if r == 7:
        return min(a, b) == c
    if r == 8:
        return max(a, b) == c
    return (b - a, c - b) == VAR[r]


GROUPS = [(0,), (1, 2, 3, 4), (5, 6), (7, 8), (9, 10, 11, 12)]


def valid(r: int, a: int, b: int, c: int) -> bool:
    """The reference's check: a non-constant rule rejects rows that fit another family's
    rule, and min / max rejects a == b."""
    if r == 0:
        return fits(0, a, b, c)
    own = next(g for g in GROUPS if r in g)
    if any(fits(s, a, b, c) for g in GROUPS if g != own for s in g):
        return False
    if r in (7, 8) and a == b:
        return False
    return fits(r, a, b, c)


def apply(r: int, a: int, b: int) -> int:
    return [a, b - 2, b - 1, b + 1, b + 2, a - b, a + b, min(a, b), max(a, b), b + 2, b + 1, b - 2, b - 1][r]


SAMPLE = jax.jit(R.sample_tasks)  # one compiled generator (64 tasks) for every test


@functools.lru_cache(maxsize=None)
def draw(ood: bool, setting: str = "inpo", seed: int = 0):
    """64 tasks of ``setting`` (ID or OOD rule combinations), as ``RavenTask.sample`` draws them."""
    task = R.RavenTask(setting=setting)
    k_rule, k_task = jax.random.split(jax.random.PRNGKey(seed))
    rules = task.draw_rules(k_rule, 64, ood)
    return jax.tree.map(np.asarray, SAMPLE(k_task, rules))


# ----------------------------------------------------------------------------- tests
def test_the_value_table_is_the_reference_check_by_brute_force():
    n_values = 12
    table = R.next_value_table(n_values)
    vals = range(1, n_values)
    for r in range(R.N_RULES):
        for a, b in itertools.product(vals, vals):
            cs = [c for c in vals if valid(r, a, b, c)]
            assert len(cs) <= 1
            assert table[a, b, r] == (cs[0] if cs else 0), (r, a, b)
    rows, counts = R.row_table(n_values)
    for r in range(R.N_RULES):
        got = {tuple(x) for x in rows[r, :counts[r]]}
        assert got == {(a, b, c) for a, b, c in itertools.product(vals, vals, vals) if valid(r, a, b, c)}
    # each valid row has exactly one rule (constant rows excepted: they also fit min / max)
    for a, b, c in itertools.product(vals, vals, vals):
        if a != b or b != c:
            assert sum(valid(r, a, b, c) for r in range(R.N_RULES)) <= 1


@pytest.mark.parametrize("ood", [False, True])
def test_every_row_obeys_its_rule_and_one_candidate_is_the_answer(ood):
    b = draw(ood)
    assert b.context.shape == (64, 6, 4) and b.query.shape == (64, 2, 4)
    assert b.candidates.shape == (64, 8, 4) and b.label.shape == (64,) and b.rules.shape == (64, 4)
    for i in range(64):
        panels = np.concatenate([b.context[i], b.query[i]]).astype(int)
        answer = b.candidates[i, b.label[i]].astype(int)
        grid = np.concatenate([panels, answer[None]]).reshape(3, 3, 4)
        assert grid.min() >= 1 and grid.max() <= 39
        for attr in range(4):
            r = int(b.rules[i, attr])
            for row in grid[:, :, attr]:
                assert valid(r, *row), (i, attr, r, row)
        qa, qb = panels[6], panels[7]
        truth = [apply(int(b.rules[i, k]), qa[k], qb[k]) for k in range(4)]
        cands = b.candidates[i].astype(int)
        hits = [j for j in range(8) if list(cands[j]) == truth]
        assert hits == [b.label[i]]
        assert len({tuple(c) for c in cands}) == 8  # distinct
        for c in cands:  # every candidate is what some rule could give, per attribute
            for k in range(4):
                assert any(valid(r, qa[k], qb[k], c[k]) for r in range(R.N_RULES))


@pytest.mark.parametrize("setting", R.OOD_SETTINGS)
def test_ood_draws_use_only_held_out_combinations(setting):
    iid, held = R.rule_combinations(setting)
    iid_set, held_set = {tuple(x) for x in iid}, {tuple(x) for x in held}
    assert len(iid_set) == 2101 and not iid_set & held_set
    assert {tuple(x) for x in draw(True, setting).rules} <= held_set
    assert {tuple(x) for x in draw(False, setting).rules} <= iid_set
    core = set(itertools.product(R.CORE, repeat=4))
    assert iid_set <= core
    if setting == "inpo":
        assert len(held_set) == 300 and iid_set | held_set == core
    elif setting == "expo_l1":
        assert len(held_set) == 8 ** 4 - 7 ** 4 and all(10 in x for x in held_set)
    else:
        assert len(held_set) == 64 and all(x[1] in (1, 12) and x[2] in (1, 12) and x[3] in (1, 12)
                                           for x in held_set)


def test_determinism_and_label_balance():
    a, b = draw(False), draw.__wrapped__(False, seed=0)  # recomputed, not the cached draw
    c = draw(False, seed=1)
    np.testing.assert_array_equal(a.context, b.context)
    assert not np.array_equal(a.context, c.context)
    labels = np.concatenate([draw(False, seed=s).label for s in range(2, 10)])  # 512 tasks
    counts = np.bincount(labels, minlength=8)
    assert counts.min() > 512 / 8 - 4 * np.sqrt(512 / 8)  # the answer's slot is uniform


def test_a_draw_short_of_eight_candidates_is_redrawn():
    """Tasks whose first row draw admits fewer than 7 distractors (~0.5 %) keep a later draw,
    the first that admits enough."""
    n = 2048
    iid, _ = R.rule_combinations("inpo")
    rules = jnp.asarray(iid[np.random.default_rng(0).integers(len(iid), size=n)])
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    u_rows = jax.random.uniform(k1, (n, R.ATTEMPTS, 3, 4))
    u_cand = jax.random.uniform(k2, (n, 2 * R.N_CANDIDATES - 1))
    ctx, qry, cand, label = jax.tree.map(np.asarray, jax.jit(jax.vmap(R.build_task))(u_rows, u_cand, rules))
    table, counts = (jnp.asarray(x) for x in R.row_table(40))
    tries = np.asarray(jax.vmap(jax.vmap(R.sample_rows, (0, None, None, None)), (0, 0, None, None))(
        u_rows, rules, table, counts))  # (n, A, 9, 4)
    nxt = R.next_value_table(40)
    n_panels = (nxt[tries[:, :, 6], tries[:, :, 7]] > 0).sum(-1).prod(-1)  # (n, A)
    first_ok = np.argmax(n_panels >= 8, 1)
    assert (n_panels >= 8).any(1).all() and (first_ok > 0).sum() >= 3  # some redraws happen
    kept = tries[np.arange(n), first_ok]
    np.testing.assert_array_equal(qry, kept[:, 6:8])
    np.testing.assert_array_equal(ctx, kept[:, :6])
    for i in np.flatnonzero(first_ok > 0):
        assert len({tuple(c) for c in cand[i]}) == 8


def test_the_rule_formulas_are_the_reference_rules():
    q = np.array([[[7, 5, 9, 3]], [[4, 6, 8, 5]]], np.float32).transpose(1, 0, 2)  # (1, 2, 4)
    out = np.asarray(R.apply_rules(q))
    for k in range(4):
        for r in range(R.N_RULES):
            assert out[0, k, r] == apply(r, q[0, 0, k], q[0, 1, k])


# ----------------------------------------------------------------------------- models and run
import os  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import pandas as pd  # noqa: E402

from conftest import ROOT, assert_refused_before_writing  # noqa: E402
from jaxlab import config as config_lib  # noqa: E402
from jaxlab import papers  # noqa: E402
from jaxlab.papers.explicit_implicit import raven, study  # noqa: E402

SMOKE = os.path.join(ROOT, "configs", "explicit_implicit.py") + ":raven,smoke"


def smoke(*overrides):
    return config_lib.load(SMOKE, list(overrides))


def init(kind, batch):
    model = raven.make_model(smoke(), kind)
    params = model.init(jax.random.PRNGKey(1), batch.context, batch.query, batch.candidates)
    return model, params


def jbatch(ood=False):
    return jax.tree.map(jnp.asarray, draw(ood))


def test_known_f_with_the_true_rules_picks_the_answer():
    """Fed one-hot logits of the true rules (kernel 0, bias = 50 one-hot), the rule mixture is
    the answer itself, so every task is solved at distance 0; a wrong rule fails some."""
    b = jbatch()
    combo = b.rules[0]
    same = jax.tree.map(np.asarray, SAMPLE(jax.random.PRNGKey(5), jnp.broadcast_to(combo, (64, 4))))
    model, params = init("known_f", b)
    p = jax.tree.map(lambda a: a, params)
    bias = 50.0 * jax.nn.one_hot(combo, 13).reshape(-1)
    p["params"]["to_rules"] = {"kernel": jnp.zeros_like(p["params"]["to_rules"]["kernel"]), "bias": bias}
    apply = jax.jit(lambda p: model.apply(p, same.context, same.query, same.candidates))
    out = apply(p)
    assert np.all(np.argmax(out["logits"], -1) == same.label)
    np.testing.assert_allclose(np.max(out["logits"], -1), 0.0, atol=1e-3)
    wrong = 50.0 * jax.nn.one_hot((combo + 1) % 13, 13).reshape(-1)
    p["params"]["to_rules"]["bias"] = wrong
    out = apply(p)
    assert np.mean(np.argmax(out["logits"], -1) == same.label) < 0.9


def test_the_rule_probe_reaches_z_only_for_known_z():
    b = jbatch()
    for kind, reaches in (("tsf", False), ("known_z", True), ("mlp", False)):
        model, params = init(kind, b)
        rule_loss = lambda p: raven.losses(model.apply(p, b.context, b.query, b.candidates), b)["rule"]
        g = jax.jit(jax.grad(rule_loss))(params)["params"]
        enc = sum(float(jnp.abs(x).sum()) for x in jax.tree.leaves(g["context"]))
        assert (enc > 0) == reaches, kind
        assert float(jnp.abs(g["rule_head"]["kernel"]).sum()) > 0


@pytest.mark.parametrize("kind", ["implicit", "tsf"])
def test_attention_is_unmasked_so_the_answer_sees_both_query_panels(kind):
    """The prediction is read at the last query token; with the reference's unmasked
    attention it changes with the first query panel (the regression families' masks would
    hide one query from another)."""
    b = jbatch()
    model, params = init(kind, b)
    logits = jax.jit(lambda q: model.apply(params, b.context, q, b.candidates)["logits"])
    moved = b.query.at[:, 0].add(3.0)
    assert float(jnp.abs(logits(moved) - logits(b.query)).max()) > 1e-4


def test_scores_by_hand():
    logits = jnp.array([[0.0, 1.0, 0.0, 0, 0, 0, 0, 0], [2.0, 0, 0, 0, 0, 0, 0, 0]])
    rules = jnp.zeros((2, 4, 13)).at[:, :, 3].set(5.0)
    batch = R.RavenBatch(None, None, None, jnp.array([1, 3]), jnp.array([[3, 3, 3, 3], [3, 3, 3, 0]]))
    s = raven.scores({"logits": logits, "rules": rules}, batch, "iid")
    assert float(s["acc_iid"]) == 0.5 and float(s["rule_acc_iid"]) == 0.5
    lse = lambda row: np.log(np.sum(np.exp(np.asarray(row))))
    np.testing.assert_allclose(float(s["iid"]), np.mean([lse(logits[0]) - 1.0, lse(logits[1]) - 0.0]), rtol=1e-5)


def test_the_smoke_run_writes_the_raven_table(tmp_path):
    """One tiny end-to-end run (one explicit kind, 2 steps): the table, the figure and the
    rule-probe metrics; the best step is chosen by accuracy."""
    cfg = smoke("--config.model.kinds=('known_z',)", "--config.train.steps=2", "--config.train.chunk_steps=2",
                "--config.train.warmup_steps=0", "--config.eval.n_tasks=8")
    papers.run(cfg, str(tmp_path), progress=False)
    text = (tmp_path / "table.txt").read_text()
    assert "Raven" in text and "known_z" in text and "0.989" in text
    assert (tmp_path / "raven.png").exists()
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    assert {"acc_iid", "acc_ood", "rule_acc_iid", "rule_acc_ood", "iid", "ood"} <= set(summary.metric)
    assert summary.value.between(0, 100).all()


@pytest.mark.parametrize("field,override", [
    ("task.raven_values", "--config.task.raven_values=12"),
    ("task.raven_setting", "--config.task.raven_setting=extrapolate"),
    ("model.kinds", "--config.model.kinds=('true_z',)"),
    ("model.raven_input_scale", "--config.model.raven_input_scale=0.0")])
def test_an_impossible_raven_value_is_refused_before_writing(field, override, tmp_path):
    assert_refused_before_writing(SMOKE, override, field, tmp_path / "w")
