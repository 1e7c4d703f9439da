"""MetaHMM: a compositional family of HMMs (the reference's ``data/hmm.py``; docs/metahmm.md).

Every HMM is one combination of discrete latent factors θ. The transition matrix depends
only on the transition factors, the emission matrix only on the emission factors, so the
family is stored as two factor-indexed tables instead of one matrix pair per HMM:

  trans  (A, S, S)  one row-stochastic matrix per transition-factor combination
  emis   (B, S, V)  one row-stochastic matrix per emission-factor combination
  HMM h = a * B + b   (h in 0..H-1, H = A * B)

Transition factors: base cycle, base direction, base speed, one group per cycle family,
family direction, family speed. Emission factors: one variant per emission group, shift.

Building blocks (drawn once from ``FamilySpec.seed`` with numpy):
  * base cycle: a random permutation of all S states used as a ring; direction reverses
    it; speed k links every state to the one k hops ahead (gcd(k, S) disjoint rings when
    gcd > 1). Every state keeps one out-edge, so no row of a transition matrix is empty.
  * cycle families: each family holds ``groups_per_family`` groups of
    ``cycles_per_group`` random cycles (lengths uniform in ``cycle_lengths``) over random
    subsets of states; the selected groups of all families share one direction and speed.
  * transition = row-normalised SUM of the base ring and every selected cycle's edges
    (duplicate edges add up). This is the intended "union of cycles"; the reference
    assigns instead of adding inside the family loop (each group keeps only its last
    coprime cycle) and reuses the base ring in the speed-2/even-length case. Not replicated.
  * emission groups: the states are split into contiguous groups; per group and variant a
    bipartite state->token edge set by preferential attachment (each state one distinct
    token, then ``edges_per_state * |group|`` extra edges: state uniform, token with
    probability softmax(current token degree)). Shift s gives local state i the edge list
    of local state i - s (mod group size), i.e. state index + s owns the list. Emission =
    union (binary) of the selected groups' edges + ``emission_noise``, rows normalised.

Start distribution: uniform over states. ``held_out`` HMMs, chosen at random, are unseen
combinations of seen factors (compositional generalisation split).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class FamilySpec:
    """Static description of a MetaHMM family (the reference's data config)."""

    n_states: int = 20
    n_tokens: int = 50
    base_cycles: int = 4
    base_directions: int = 2
    base_speeds: int = 2
    cycle_families: int = 3
    groups_per_family: int = 2
    cycles_per_group: int = 3
    family_directions: int = 2
    family_speeds: int = 2
    emission_groups: int = 3
    emission_variants: int = 2
    emission_shifts: int = 3
    edges_per_state: int = 3
    emission_noise: float = 1e-5
    cycle_lengths: tuple[int, int] = (3, 8)
    n_held_out: int = 1000
    seed: int = 0

    @property
    def trans_factor_sizes(self) -> tuple[int, ...]:
        return (self.base_cycles, self.base_directions, self.base_speeds,
                *([self.groups_per_family] * self.cycle_families),
                self.family_directions, self.family_speeds)

    @property
    def emis_factor_sizes(self) -> tuple[int, ...]:
        return (*([self.emission_variants] * self.emission_groups), self.emission_shifts)

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self.trans_factor_sizes + self.emis_factor_sizes

    @property
    def factor_names(self) -> tuple[str, ...]:
        fam = tuple(f"family{i}_group" for i in range(self.cycle_families))
        emi = tuple(f"emission{i}_variant" for i in range(self.emission_groups))
        return ("base_cycle", "base_direction", "base_speed", *fam, "family_direction",
                "family_speed", *emi, "emission_shift")

    @property
    def n_trans(self) -> int:
        return int(np.prod(self.trans_factor_sizes))

    @property
    def n_emis(self) -> int:
        return int(np.prod(self.emis_factor_sizes))

    @property
    def n_hmms(self) -> int:
        return self.n_trans * self.n_emis


class Family(NamedTuple):
    """A built family. trans (A, S, S), emis (B, S, V) float32 row-stochastic;
    factors (H, F) int32 factor values of HMM h = a * B + b; train_ids (H_train,),
    held_out_ids (H_held,) int32 sorted HMM ids."""

    trans: np.ndarray
    emis: np.ndarray
    factors: np.ndarray
    train_ids: np.ndarray
    held_out_ids: np.ndarray

    @property
    def n_hmms(self) -> int:
        return self.trans.shape[0] * self.emis.shape[0]


def ring_edges(order: np.ndarray, speed: int, n_states: int) -> np.ndarray:
    """(S, S) adjacency of ``order`` used as a ring traversed ``speed`` hops at a time:
    order[i] -> order[(i + speed) % L] for every i (gcd(speed, L) disjoint rings)."""
    adj = np.zeros((n_states, n_states), np.float64)
    nxt = np.roll(order, -speed)
    np.add.at(adj, (order, nxt), 1.0)
    return adj


def preferential_attachment(rng: np.random.Generator, n_states: int, n_tokens: int,
                            n_extra: int) -> np.ndarray:
    """(n_states, n_tokens) binary edges: one distinct token per state, then ``n_extra``
    edges (state uniform, token ~ softmax(current token degree))."""
    edges = np.zeros((n_states, n_tokens), np.float64)
    degree = np.zeros(n_tokens)
    first = rng.choice(n_tokens, size=n_states, replace=False)
    edges[np.arange(n_states), first] = 1.0
    degree[first] = 1.0
    for _ in range(n_extra):
        s = rng.integers(n_states)
        p = np.exp(degree - degree.max())
        o = rng.choice(n_tokens, p=p / p.sum())
        degree[o] += 1.0
        edges[s, o] = 1.0
    return edges


def _transition_blocks(spec: FamilySpec, rng: np.random.Generator):
    s = spec.n_states
    base = np.zeros((spec.base_cycles, spec.base_directions, spec.base_speeds, s, s))
    for c in range(spec.base_cycles):
        perm = rng.permutation(s)
        for d in range(spec.base_directions):
            order = perm[::-1] if d == 1 else perm
            for k in range(spec.base_speeds):
                base[c, d, k] = ring_edges(order, k + 1, s)
    lo, hi = spec.cycle_lengths[0], min(spec.cycle_lengths[1], s)  # a cycle visits distinct states
    fam = np.zeros((spec.cycle_families, spec.groups_per_family, spec.family_directions,
                    spec.family_speeds, s, s))
    for f in range(spec.cycle_families):
        for g in range(spec.groups_per_family):
            lengths = rng.integers(lo, hi + 1, size=spec.cycles_per_group)
            cycles = [rng.choice(s, size=int(n), replace=False) for n in lengths]
            for d in range(spec.family_directions):
                for k in range(spec.family_speeds):
                    for cyc in cycles:
                        fam[f, g, d, k] += ring_edges(cyc[::-1] if d == 1 else cyc, k + 1, s)
    return base, fam


def _emission_blocks(spec: FamilySpec, rng: np.random.Generator) -> np.ndarray:
    groups = np.array_split(np.arange(spec.n_states), spec.emission_groups)
    em = np.zeros((spec.emission_groups, spec.emission_variants, spec.emission_shifts,
                   spec.n_states, spec.n_tokens))
    for gi, group in enumerate(groups):
        n = len(group)
        for v in range(spec.emission_variants):
            local = preferential_attachment(rng, n, spec.n_tokens, spec.edges_per_state * n)
            for sh in range(spec.emission_shifts):
                em[gi, v, sh, group] = np.roll(local, sh, axis=0)  # state i+sh owns list i
    return em


def build(spec: FamilySpec) -> Family:
    """Every HMM of the family (as factor-indexed tables) and the held-out split."""
    if spec.n_tokens < -(-spec.n_states // spec.emission_groups):
        raise ValueError("n_tokens must be >= the largest emission group")
    rng = np.random.default_rng(spec.seed)
    base, fam = _transition_blocks(spec, rng)
    em = _emission_blocks(spec, rng)
    nf = spec.cycle_families
    t_combos = np.array(list(itertools.product(*map(range, spec.trans_factor_sizes))), np.int32)
    trans = np.zeros((len(t_combos), spec.n_states, spec.n_states))
    for a, (c, d, k, *rest) in enumerate(t_combos):
        groups, (fd, fk) = rest[:nf], rest[nf:]
        trans[a] = base[c, d, k] + sum(fam[f, g, fd, fk] for f, g in enumerate(groups))
    trans /= trans.sum(-1, keepdims=True)
    e_combos = np.array(list(itertools.product(*map(range, spec.emis_factor_sizes))), np.int32)
    emis = np.zeros((len(e_combos), spec.n_states, spec.n_tokens))
    for b, (*variants, sh) in enumerate(e_combos):
        union = np.clip(sum(em[g, v, sh] for g, v in enumerate(variants)), 0, 1)
        emis[b] = union + spec.emission_noise
    emis /= emis.sum(-1, keepdims=True)
    factors = np.concatenate([np.repeat(t_combos, len(e_combos), 0),
                              np.tile(e_combos, (len(t_combos), 1))], axis=1)
    n_h = factors.shape[0]
    if not 0 <= spec.n_held_out < n_h:
        raise ValueError(f"n_held_out must be in [0, {n_h}), got {spec.n_held_out}")
    split = np.random.default_rng([spec.seed, 1]).permutation(n_h)
    held = np.sort(split[: spec.n_held_out]).astype(np.int32)
    train = np.sort(split[spec.n_held_out:]).astype(np.int32)
    return Family(trans.astype(np.float32), emis.astype(np.float32), factors, train, held)


def hmm_matrices(fam: Family, ids: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(n,) HMM ids -> transition (n, S, S) and emission (n, S, V) matrices."""
    n_b = fam.emis.shape[0]
    return jnp.asarray(fam.trans)[ids // n_b], jnp.asarray(fam.emis)[ids % n_b]


def sample(fam: Family, key: jax.Array, ids: jax.Array, length: int) -> tuple[jax.Array, jax.Array]:
    """Sequences of HMMs ``ids`` (n,): tokens and states, each (n, length) int32. Jittable."""
    chex.assert_rank(ids, 1)
    return sample_packed(fam, key, ids[:, None], jnp.zeros((ids.shape[0], length), jnp.int32))[:2]


def sample_packed(fam: Family, key: jax.Array, seg_ids: jax.Array, segment: jax.Array):
    """Rows of independent sequences packed end to end. Jittable.

    seg_ids (n, K) int32: the HMM of each segment of a row; segment (n, T) int32: the
    segment index of each position (non-decreasing). At a segment start the state is
    drawn from the uniform start distribution of the segment's HMM, elsewhere from the
    transition row of the previous state. Returns tokens, states (n, T) int32 and the
    HMM id of each position (n, T).
    """
    trans, emis = jnp.log(jnp.asarray(fam.trans)), jnp.log(jnp.asarray(fam.emis))
    n_b = emis.shape[0]
    n, t = segment.shape
    hmm = jnp.take_along_axis(seg_ids, segment, axis=1)  # (n, T)
    start = jnp.concatenate([jnp.ones((n, 1), bool), segment[:, 1:] != segment[:, :-1]], 1)
    k_z0, k_steps = jax.random.split(key)
    z0 = jax.random.randint(k_z0, (n,), 0, trans.shape[-1])

    def step(z_prev, inputs):
        k, h, new = inputs
        kz, kx, ku = jax.random.split(k, 3)
        z_next = jax.random.categorical(kz, trans[h // n_b, z_prev])
        z = jnp.where(new, jax.random.randint(ku, (n,), 0, trans.shape[-1]), z_next)
        x = jax.random.categorical(kx, emis[h % n_b, z])
        return z, (x.astype(jnp.int32), z.astype(jnp.int32))

    keys = jax.random.split(k_steps, t)
    _, (x, z) = jax.lax.scan(step, z0, (keys, hmm.T, start.T))
    return x.T, z.T, hmm


def packed_segments(key: jax.Array, n: int, length: int, min_len: int = 1) -> jax.Array:
    """(n, length) segment index per position for rows packed with sequences whose
    lengths are uniform in [min_len, length] (the last one cut at the row's end)."""
    lens = jax.random.randint(key, (n, length), min_len, length + 1)
    ends = jnp.cumsum(lens, axis=1)  # (n, K) exclusive end of segment k
    pos = jnp.arange(length)
    return jnp.sum(ends[:, None, :] <= pos[None, :, None], axis=-1).astype(jnp.int32)


def positions_in_segment(segment: jax.Array) -> jax.Array:
    """(n, T) segment index -> (n, T) position of each token inside its segment."""
    t = jnp.arange(segment.shape[1])
    start = jnp.concatenate([jnp.ones_like(segment[:, :1], bool),
                             segment[:, 1:] != segment[:, :-1]], 1)
    last_start = jax.lax.cummax(jnp.where(start, t, 0), axis=1)
    return t - last_start
