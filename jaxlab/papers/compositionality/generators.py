"""Seeded synthetic representations whose complexity terms are known (docs/compositionality.md).

Both generators return integer lattice offsets (multiply by ``precision`` for values) so
that every parameter and noise value can be priced exactly by ``codes.LatticeCode``.

Lookup table (``sample_lookup``): a sentence of k words over a vocabulary of V is cut into
k/δ chunks of δ words; chunk j indexes entry Σ_i w_{jδ+i} V^i of one table of V^δ entries
of dimension d·δ/k (shared by all positions, as the reference's generator); Z is the
concatenation of the chunks' entries plus lattice noise. The sweep parameters (k, V, d, δ)
are traced values, not shapes: arrays are padded to a static ``LookupShape`` and masked,
so one compiled program serves a whole sweep. Every random array is read at its *real*
flat index (``codes.uniforms_at``), so a point's numbers do not depend on the padding.

Grammar (``sample_grammar``): the reference notebook's 5-POS grammar (word i has terminal
POS i mod 5; POS t may be followed by t+1 or t+2 mod 5; START by POS 0 or 1). Level 0 maps
the 10 legal terminal pairs to ``width`` categories r0_*, each further level maps all
width² pairs of the previous level's categories, and the top level is recursive, so there
are 10 + depth·width² rules. Semantics: linear, z = [z_x; z_y] W_rule (2d×d per rule), or
tensor product, (z_x ⊙ r_x + z_x) + (z_y ⊙ r_y + z_y) with one role vector per input POS.
Parse: sentences of 2^m words parse pairwise bottom-up; above the fixed levels the
recursive rule makes the parse ambiguous and we take the balanced tree (the reference's
Lark Earley parser resolves the ambiguity sentence by sentence). C does not depend on the
parse; topological similarity does, a little.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxlab.papers.compositionality import codes


class LookupShape(NamedTuple):
    """Static padded sizes of one lookup-table program: n sentences, at most k_max words,
    d_max dims, entries_max table rows of comp_max dims, chunks of at most delta_max words."""

    n: int
    k_max: int
    d_max: int
    entries_max: int
    comp_max: int
    delta_max: int

    @staticmethod
    def covering(points: list[tuple[int, int, int, int]], n: int) -> "LookupShape":
        """The smallest shape holding every (k, V, d, δ) point."""
        return LookupShape(
            n=n, k_max=max(p[0] for p in points), d_max=max(p[2] for p in points),
            entries_max=max(p[1] ** p[3] for p in points),
            comp_max=max(p[2] * p[3] // p[0] for p in points),
            delta_max=max(p[3] for p in points))


class LookupSample(NamedTuple):
    """w (n, k_max) int32 words (0 past k); z (n, d_max) float32 (0 past d);
    table (entries_max, comp_max) int32 lattice offsets (0 outside the real table) and its
    mask; noise (n, d_max) int32 lattice offsets; word_mask (k_max,), dim_mask (d_max,)."""

    w: jax.Array
    z: jax.Array
    table: jax.Array
    table_mask: jax.Array
    noise: jax.Array
    word_mask: jax.Array
    dim_mask: jax.Array


def check_lookup_point(k: int, vocab: int, d: int, delta: int) -> None:
    """Raises ValueError unless δ divides k and k/δ divides d."""
    if min(k, vocab, d, delta) < 1 or vocab < 2:
        raise ValueError(f"need k, d, δ >= 1 and V >= 2, got k={k}, V={vocab}, d={d}, δ={delta}")
    if k % delta or d % (k // delta):
        raise ValueError(f"δ={delta} must divide k={k} and k/δ must divide d={d}")


def sample_lookup(key: jax.Array, k, vocab, d, delta, shape: LookupShape,
                  noise_std: float = 0.01, precision: float = 0.01) -> LookupSample:
    """One lookup-table representation of ``shape.n`` uniform sentences (k, V, d, δ traced)."""
    k, vocab, d, delta = (jnp.asarray(a, jnp.int32) for a in (k, vocab, d, delta))
    prior, noise_code = codes.lattice_code(1.0, precision), codes.lattice_code(noise_std, precision)
    k_table, k_words, k_noise = (jax.random.fold_in(key, i) for i in range(3))
    n_pos = k // delta
    comp = d // n_pos
    n_entries = vocab ** delta

    e = jnp.arange(shape.entries_max)[:, None]
    c = jnp.arange(shape.comp_max)[None, :]
    table_mask = (e < n_entries) & (c < comp)
    u = codes.uniforms_at(k_table, shape.entries_max * shape.comp_max, e * comp + c)
    table = jnp.where(table_mask, prior.sample(u), 0)

    i = jnp.arange(shape.n)[:, None]
    j = jnp.arange(shape.k_max)[None, :]
    word_mask = jnp.arange(shape.k_max) < k
    u = codes.uniforms_at(k_words, shape.n * shape.k_max, i * k + j)
    w = jnp.where(word_mask[None], jnp.minimum(jnp.floor(u * vocab), vocab - 1), 0).astype(jnp.int32)

    dims = jnp.arange(shape.d_max)
    dim_mask = dims < d
    chunk, col = dims // comp, dims % comp
    t = jnp.arange(shape.delta_max)
    word_cols = jnp.clip(chunk[:, None] * delta + t[None, :], 0, shape.k_max - 1)  # (d_max, δmax)
    place = jnp.where(t < delta, vocab ** t, 0)                                     # (δmax,)
    entry = jnp.sum(w[:, word_cols] * place, axis=-1)                               # (n, d_max)
    mean = table[jnp.clip(entry, 0, shape.entries_max - 1), jnp.clip(col, 0, shape.comp_max - 1)]

    u = codes.uniforms_at(k_noise, shape.n * shape.d_max, i * d + dims[None, :])
    noise = jnp.where(dim_mask[None], noise_code.sample(u), 0)
    z = jnp.where(dim_mask[None], (mean + noise).astype(jnp.float32) * precision, 0.0)
    return LookupSample(w, z, table, table_mask, noise, word_mask, dim_mask)


@dataclasses.dataclass(frozen=True)
class Grammar:
    """The notebook's grammar generator (static structure); defaults are the paper's."""

    width: int = 3
    depth: int = 2
    composition: str = "linear"  # or "tensorproduct"
    z_dim: int = 10
    num_words: int = 16
    vocab_size: int = 100
    n_pos: int = 5

    def __post_init__(self):
        if self.composition not in ("linear", "tensorproduct"):
            raise ValueError(f"composition must be 'linear' or 'tensorproduct', got {self.composition!r}")
        if self.num_words & (self.num_words - 1) or 2 ** self.depth > self.num_words:
            raise ValueError(f"num_words must be a power of 2 >= 2^depth, got {self.num_words}")
        if self.vocab_size % self.n_pos or self.n_pos < 3:
            raise ValueError("vocab_size must be a multiple of n_pos >= 3")
        if self.width < 1 or self.depth < 1:
            raise ValueError("width and depth must be >= 1")

    @property
    def n_terminal_rules(self) -> int:
        return 2 * self.n_pos  # each POS has 2 successors

    @property
    def n_rules(self) -> int:
        return self.n_terminal_rules + self.depth * self.width ** 2

    @property
    def n_roles(self) -> int:
        """Input POS of some rule: the terminals and every level's categories."""
        return self.n_pos + self.depth * self.width

    def category_base(self, level: int) -> int:
        """Category id of r{level}_1 (terminal POS are 0..n_pos-1)."""
        return self.n_pos + min(level, self.depth - 1) * self.width


class GrammarShape(NamedTuple):
    """Static padded sizes of one grammar program: rules and roles of the largest point."""

    n: int
    n_rules_max: int
    n_roles_max: int

    @staticmethod
    def covering(grammars: list["Grammar"], n: int) -> "GrammarShape":
        g0 = grammars[0]
        for g in grammars:
            if (g.z_dim, g.num_words, g.vocab_size, g.n_pos) != (g0.z_dim, g0.num_words, g0.vocab_size, g0.n_pos):
                raise ValueError("grammars sharing a program must share z_dim, num_words, vocab_size, n_pos")
        return GrammarShape(n, max(g.n_rules for g in grammars), max(g.n_roles for g in grammars))


class GrammarSample(NamedTuple):
    """w (n, k) int32; z (n, d) float32; embeddings (V, d), rules (R_max, 2d, d) and roles
    (roles_max, d) int32 lattice offsets with masks rule_mask (R_max,), role_mask
    (roles_max,) (only the composition in use is real); noise (n, d) int32."""

    w: jax.Array
    z: jax.Array
    embeddings: jax.Array
    rules: jax.Array
    rule_mask: jax.Array
    roles: jax.Array
    role_mask: jax.Array
    noise: jax.Array


def sample_sentences(key: jax.Array, g: Grammar, n: int) -> jax.Array:
    """(n, k) sentences from the grammar's POS Markov chain (uniform words within a POS)."""
    u = jax.random.uniform(key, (2, n, g.num_words))
    steps = jnp.floor(u[0] * 2).astype(jnp.int32)
    # START -> POS 0 or 1; POS t -> t + 1 or t + 2 (mod n_pos).
    pos = (jnp.cumsum(steps + 1, axis=1) - 1) % g.n_pos
    per_pos = g.vocab_size // g.n_pos
    which = jnp.minimum(jnp.floor(u[1] * per_pos), per_pos - 1).astype(jnp.int32)
    return (pos + g.n_pos * which).astype(jnp.int32)


def _combine(g: Grammar, level: int, width, depth, linear, x, cx, y, cy, rules, roles, precision):
    """One round of pairwise composition of nodes (n, m, d) with categories (n, m);
    width, depth, linear may be traced (one program for many grammars)."""
    if level == 0:
        idx = 2 * cx + (cy - cx) % g.n_pos - 1                     # legal terminal pair 0..9
        local = idx
    else:
        base = g.n_pos + jnp.minimum(level - 1, depth - 1) * width
        local = (cx - base) * width + (cy - base)
        idx = g.n_terminal_rules + (jnp.minimum(level, depth) - 1) * width ** 2 + local
    out_cat = g.n_pos + jnp.minimum(level, depth - 1) * width + local % width
    w_rule = rules[idx].astype(jnp.float32) * precision           # (n, m, 2d, d)
    z_lin = jnp.einsum("nmi,nmij->nmj", jnp.concatenate([x, y], -1), w_rule)
    r = roles.astype(jnp.float32) * precision
    z_tp = x * r[cx] + x + y * r[cy] + y
    return jnp.where(linear, z_lin, z_tp), out_cat


def decode_grammar(g: Grammar, w: jax.Array, embeddings, rules, roles, precision=0.01,
                   width=None, depth=None, linear=None) -> jax.Array:
    """Noise-free meaning of sentences w (n, k) -> (n, d), balanced parse. width, depth,
    linear default to g's (pass traced values to share a program)."""
    width = g.width if width is None else width
    depth = g.depth if depth is None else depth
    linear = (g.composition == "linear") if linear is None else linear
    z = embeddings[w].astype(jnp.float32) * precision
    cat = w % g.n_pos
    level = 0
    while z.shape[1] > 1:
        z, cat = _combine(g, level, width, depth, linear, z[:, 0::2], cat[:, 0::2], z[:, 1::2],
                          cat[:, 1::2], rules, roles, precision)
        level += 1
    return z[:, 0]


def grammar_arrays(g: Grammar) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The traced description (width, depth, linear) of a grammar point."""
    return (jnp.int32(g.width), jnp.int32(g.depth), jnp.bool_(g.composition == "linear"))


def sample_grammar(key: jax.Array, g: Grammar, n: int, noise_std: float = 0.01,
                   precision: float = 0.01, shape: GrammarShape | None = None,
                   point=None) -> GrammarSample:
    """n sentences of the grammar and their noisy meanings. ``g`` fixes the static sizes
    (z_dim, num_words, vocab_size, n_pos); ``point`` = (width, depth, linear), traced,
    defaults to g's own, and ``shape`` pads rules and roles to share one program."""
    shape = shape or GrammarShape(n, g.n_rules, g.n_roles)
    width, depth, linear = grammar_arrays(g) if point is None else point
    prior, noise_code = codes.lattice_code(1.0, precision), codes.lattice_code(noise_std, precision)
    n_rules = g.n_terminal_rules + depth * width ** 2
    n_roles = g.n_pos + depth * width
    rule_mask = linear & (jnp.arange(shape.n_rules_max) < n_rules)
    role_mask = ~linear & (jnp.arange(shape.n_roles_max) < n_roles)
    # One uniform draw and one inverse-CDF pass per prior (few random call sites keep the
    # program quick to compile): [embeddings | roles | rules] under the parameter prior.
    d = g.z_dim
    sizes = (g.vocab_size * d, shape.n_roles_max * d, shape.n_rules_max * 2 * d * d)
    params = prior.sample(jax.random.uniform(jax.random.fold_in(key, 0), (sum(sizes),)))
    embeddings = params[:sizes[0]].reshape(g.vocab_size, d)
    roles = params[sizes[0]:sizes[0] + sizes[1]].reshape(shape.n_roles_max, d)
    rules = params[sizes[0] + sizes[1]:].reshape(shape.n_rules_max, 2 * d, d)
    rules = jnp.where(rule_mask[:, None, None], rules, 0)
    roles = jnp.where(role_mask[:, None], roles, 0)
    w = sample_sentences(jax.random.fold_in(key, 2), g, n)
    noise = noise_code.sample(jax.random.uniform(jax.random.fold_in(key, 3), (n, d)))
    z = decode_grammar(g, w, embeddings, rules, roles, precision, width, depth, linear) + noise * precision
    chex.assert_shape(z, (n, g.z_dim))
    return GrammarSample(w, z, embeddings, rules, rule_mask, roles, role_mask, noise)
