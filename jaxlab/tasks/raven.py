"""Rule-based Raven progressive matrices (the "rule-RAVEN" generator of the explicit/implicit
study, docs/explicit_implicit.md), as a pure jittable function of a key.

A task is a 3 x 3 grid of panels; every panel has 4 integer attributes (number, type, size,
colour) with values in 1..n_values-1 (39 by default). Each attribute follows one of 13
rules along every row (a, b, c):

   0 constant          c = a = b
   1..4 progression    c = b + v, b - a = v, for v = -2, -1, +1, +2
   5 arithmetic minus  c = a - b
   6 arithmetic plus   c = a + b
   7 comparison min    c = min(a, b), a != b
   8 comparison max    c = max(a, b), a != b
   9..12 varprogression (b - a, c - b) = (+1, +2), (+2, +1), (-1, -2), (-2, -1)

A row is valid for a rule only if it fits no rule of another family (constant is the one
exception: a constant row also fits min and max, and is kept), so every valid row has exactly
one rule. The three rows of an attribute are drawn independently and uniformly from the
valid rows of its rule. Panels 0..5 (rows 1 and 2) are the context, panels 6 and 7 the
query, panel 8 the answer. The 8 candidates are the answer and 7 distractors drawn without
replacement from every other panel that some rule could give after the query: per attribute
the values c that the 13 rules give for the query's (a, b), all combinations across the 4
attributes; a draw with fewer than 7 such distractors is redrawn (the reference keeps only
8-candidate problems; here the first of 8 draws with enough distractors is kept, all 8
failing with probability about 4e-19). The candidates are shuffled; ``label`` is the answer's slot.

Rule combinations (the latent, 4 rule indices): training uses 7 "core" rules per attribute
(constant, progression +2, minus, plus, min, max, varprogression (-1, -2)), 7^4 = 2401
combinations. Held out for OOD, as the reference's settings:
  inpo     300 of the 2401 combinations (a fixed draw; the reference's draw was unseeded)
  expo_l1  combinations of 8 rules (the core + varprogression (+2, +1)) that use the new
           rule at least once (8^4 - 7^4 = 1695)
  expo_l2  number: the 8 rules above; type, size and colour: progression -2 or
           varprogression (-2, -1), rules never trained (64 combinations)
In every setting the training (and ID) combinations are the 2101 that inpo keeps.

Shapes: B tasks; context (B, 6, 4), query (B, 2, 4), candidates (B, 8, 4) float32 values,
label (B,) int32, rules (B, 4) int32.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

N_ATTRS = 4
N_RULES = 13
N_CANDIDATES = 8
RULE_NAMES = ("constant", "progression-2", "progression-1", "progression+1", "progression+2",
              "minus", "plus", "min", "max", "var+1+2", "var+2+1", "var-1-2", "var-2-1")
FAMILY = (0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4)  # constant, progression, arithmetic, comparison, var
CORE = (0, 4, 5, 6, 7, 8, 11)  # the training rules of every attribute
OOD_SETTINGS = ("inpo", "expo_l1", "expo_l2")
INPO_HELD_OUT = 300
HELD_OUT_SEED = 0  # numpy seed of the fixed inpo draw


class RavenBatch(NamedTuple):
    """context (B, 6, 4), query (B, 2, 4), candidates (B, 8, 4), label (B,), rules (B, 4)."""

    context: jax.Array
    query: jax.Array
    candidates: jax.Array
    label: jax.Array
    rules: jax.Array


def rule_value(r: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c, applies): the third value rule ``r`` gives after (a, b), and where it applies."""
    steps = {1: -2, 2: -1, 3: 1, 4: 2}
    var = {9: (1, 2), 10: (2, 1), 11: (-1, -2), 12: (-2, -1)}
    if r == 0:
        return a, a == b
    if r in steps:
        return b + steps[r], b - a == steps[r]
    if r == 5:
        return a - b, np.ones_like(a, bool)
    if r == 6:
        return a + b, np.ones_like(a, bool)
    if r in (7, 8):
        return (np.minimum if r == 7 else np.maximum)(a, b), a != b
    first, second = var[r]
    return b + second, b - a == first


@functools.lru_cache(maxsize=None)
def next_value_table(n_values: int) -> np.ndarray:
    """(n_values, n_values, 13) int32: c for (a, b, rule) when the row (a, b, c) is valid for
    the rule (c in 1..n_values-1, fits no rule of another family), else 0."""
    v = np.arange(n_values)
    a, b = np.meshgrid(v, v, indexing="ij")
    cs, ok = zip(*(rule_value(r, a, b) for r in range(N_RULES)))
    cs, ok = np.stack(cs, -1), np.stack(ok, -1)
    inside = (a >= 1)[..., None] & (b >= 1)[..., None] & (cs >= 1) & (cs < n_values)
    # raw[..., r, s]: the row (a, b, c_r) also fits rule s (its precondition and its value)
    raw = ok[..., None, :] & (cs[..., :, None] == cs[..., None, :])
    family = np.asarray(FAMILY)
    other = family[:, None] != family[None, :]
    clash = (raw & other).any(-1)
    clash[..., 0] = False  # the reference's constant rule excludes nothing
    valid = ok & inside & ~clash
    return np.where(valid, cs, 0).astype(np.int32)


@functools.lru_cache(maxsize=None)
def row_table(n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """(13, K, 3) int32 valid rows per rule (padded with zeros), and (13,) their counts."""
    nxt = next_value_table(n_values)
    rows = [np.argwhere(nxt[..., r] > 0) for r in range(N_RULES)]
    rows = [np.concatenate([ab, nxt[ab[:, 0], ab[:, 1], r][:, None]], 1) for r, ab in enumerate(rows)]
    k = max(len(x) for x in rows)
    table = np.zeros((N_RULES, k, 3), np.int32)
    for r, x in enumerate(rows):
        table[r, :len(x)] = x
    return table, np.array([len(x) for x in rows], np.int32)


@functools.lru_cache(maxsize=None)
def rule_combinations(setting: str = "inpo") -> tuple[np.ndarray, np.ndarray]:
    """(ID combinations (2101, 4), OOD combinations (M, 4)) of rule indices for ``setting``."""
    if setting not in OOD_SETTINGS:
        raise ValueError(f"unknown Raven OOD setting {setting!r}, expected one of {OOD_SETTINGS}")
    core = np.array(list(itertools.product(CORE, repeat=N_ATTRS)), np.int32)
    held = np.random.default_rng(HELD_OUT_SEED).choice(len(core), INPO_HELD_OUT, replace=False)
    keep = np.setdiff1d(np.arange(len(core)), held)
    iid = core[keep]
    if setting == "inpo":
        return iid, core[np.sort(held)]
    full = CORE + (10,)
    if setting == "expo_l1":
        combos = np.array(list(itertools.product(full, repeat=N_ATTRS)), np.int32)
        return iid, combos[(combos == 10).any(1)]
    return iid, np.array(list(itertools.product(full, (1, 12), (1, 12), (1, 12))), np.int32)


def valid_options(nxt: jax.Array, a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per attribute, the values some rule gives after (a, b) (4,): (values (4, 13), 0 where
    the rule cannot follow (a, b), and their running count (4, 13): the slot of each)."""
    opts = nxt[a, b]  # (4, 13)
    return opts, jnp.cumsum(opts > 0, -1)


def nth_option(opts: jax.Array, running: jax.Array, slot: jax.Array) -> jax.Array:
    """opts, running (4, 13), slot (..., 4) -> (..., 4): the slot-th (from 0) valid value."""
    hit = running[None] == slot.reshape(-1, N_ATTRS)[..., None] + 1  # (M, 4, 13)
    idx = jnp.argmax(hit & (opts[None] > 0), -1)
    return jnp.take_along_axis(opts[None], idx[..., None], -1)[..., 0].reshape(slot.shape)


def below(u: jax.Array, n: jax.Array) -> jax.Array:
    """floor(u n): uniform integers in [0, n) from uniforms u in [0, 1) (one threefry call
    for many draws keeps the generator quick to compile)."""
    return jnp.minimum(jnp.floor(u * n).astype(jnp.int32), n - 1)


def distinct_below(u: jax.Array, n: jax.Array) -> jax.Array:
    """(k,) distinct integers drawn uniformly without replacement from [0, n), n >= k traced,
    from k uniforms ``u`` (Floyd's algorithm)."""
    k = u.shape[0]
    picked = jnp.full((k,), -1, jnp.int32)
    for j in range(k):
        top = n - k + j
        t = below(u[j], top + 1)
        picked = picked.at[j].set(jnp.where(jnp.any(picked == t), top, t))
    return picked


def sample_rows(u: jax.Array, rules: jax.Array, rows: jax.Array, counts: jax.Array) -> jax.Array:
    """(9, 4) panels from uniforms u (3, 4): per attribute three rows drawn uniformly from its
    rule's valid rows."""
    idx = below(u, counts[rules][None, :])  # (row, attr)
    triples = rows[rules[None, :], idx]  # (3, 4, 3): row, attr, column
    return jnp.transpose(triples, (0, 2, 1)).reshape(9, N_ATTRS)


ATTEMPTS = 8  # row draws per task; one with >= 7 distractors is kept (each fails w.p. ~0.005)


def build_task(u_rows: jax.Array, u_cand: jax.Array, rules: jax.Array, n_values: int = 40):
    """One task with rule indices ``rules`` (4,) from uniforms u_rows (ATTEMPTS, 3, 4) and
    u_cand (15,): (context (6, 4), query (2, 4), candidates (8, 4), label ()), integers.
    The first of the ATTEMPTS row draws whose query admits >= 7 distractors is kept (the
    reference's rejection; all 8 fail with probability ~0.005^8 = 4e-19)."""
    table, counts = (jnp.asarray(x) for x in row_table(n_values))
    nxt = jnp.asarray(next_value_table(n_values))
    tries = jax.vmap(lambda u: sample_rows(u, rules, table, counts))(u_rows)  # (A, 9, 4)
    n_opts = jax.vmap(lambda p: valid_options(nxt, p[6], p[7])[1][:, -1])(tries)  # (A, 4)
    panels = tries[jnp.argmax(jnp.prod(n_opts, -1) >= N_CANDIDATES)]
    opts, running = valid_options(nxt, panels[6], panels[7])
    n = running[:, -1]
    pos = jnp.take_along_axis(running, rules[:, None], -1)[:, 0] - 1  # the answer's slot
    strides = jnp.concatenate([jnp.cumprod(n[::-1])[::-1][1:], jnp.ones((1,), n.dtype)])
    answer_code = jnp.sum(pos * strides)
    codes = distinct_below(u_cand[:N_CANDIDATES - 1], jnp.prod(n) - 1)
    codes = codes + (codes >= answer_code)  # skip the answer
    distractors = nth_option(opts, running, (codes[:, None] // strides) % n)  # (7, 4)
    perm = jnp.argsort(u_cand[N_CANDIDATES - 1:])  # a uniform random order of the 8
    candidates = jnp.concatenate([distractors, panels[8][None]], 0)[perm]
    label = jnp.argmax(perm == N_CANDIDATES - 1).astype(jnp.int32)
    return panels[:6], panels[6:8], candidates, label


@dataclasses.dataclass(frozen=True)
class RavenTask:
    """The rule-RAVEN family: ``n_values`` - 1 values per attribute, OOD ``setting``."""

    n_values: int = 40
    setting: str = "inpo"
    n_attrs: int = N_ATTRS
    n_rules: int = N_RULES

    @property
    def n_params(self) -> int:
        """The latent's size: one rule index per attribute."""
        return self.n_attrs

    def combinations(self, ood: bool) -> jax.Array:
        iid, held = rule_combinations(self.setting)
        return jnp.asarray(held if ood else iid)

    def draw_rules(self, key: jax.Array, n_tasks: int, ood: bool = False) -> jax.Array:
        """(n_tasks, 4) rule combinations, uniform over the ID (or OOD) set."""
        combos = self.combinations(ood)
        return combos[jax.random.randint(key, (n_tasks,), 0, combos.shape[0])]

    def sample(self, key: jax.Array, n_tasks: int, ood: bool = False) -> RavenBatch:
        """``n_tasks`` fresh tasks, rule combinations uniform over the ID (or OOD) set."""
        k_rule, k_task = jax.random.split(key)
        return sample_tasks(k_task, self.draw_rules(k_rule, n_tasks, ood), self.n_values)


def sample_tasks(key: jax.Array, rules: jax.Array, n_values: int = 40) -> RavenBatch:
    """One task per row of ``rules`` (B, 4), float32 values."""
    n_tasks = rules.shape[0]
    k_rows, k_cand = jax.random.split(key)
    u_rows = jax.random.uniform(k_rows, (n_tasks, ATTEMPTS, 3, N_ATTRS))
    u_cand = jax.random.uniform(k_cand, (n_tasks, 2 * N_CANDIDATES - 1))
    one = functools.partial(build_task, n_values=n_values)
    ctx, qry, cand, label = jax.vmap(one)(u_rows, u_cand, rules)
    f = lambda x: x.astype(jnp.float32)
    batch = RavenBatch(f(ctx), f(qry), f(cand), label, rules)
    chex.assert_shape([batch.context, batch.query, batch.candidates],
                      [(n_tasks, 6, N_ATTRS), (n_tasks, 2, N_ATTRS), (n_tasks, N_CANDIDATES, N_ATTRS)])
    return batch


def apply_rules(query: jax.Array) -> jax.Array:
    """query (..., 2, 4) -> (..., 4, 13): what each rule gives after the query's (a, b) per
    attribute (its formula, whether or not the rule's precondition holds). The known
    prediction function of the known-f model mixes these."""
    a, b = query[..., 0, :], query[..., 1, :]
    outs = [a, b - 2, b - 1, b + 1, b + 2, a - b, a + b, jnp.minimum(a, b), jnp.maximum(a, b),
            b + 2, b + 1, b - 2, b - 1]
    return jnp.stack(outs, -1)
