"""The paper's synthetic sweeps, closed form, vectorised over points and seeds.

A lookup-table sweep is a list of (k, V, d, δ) points; all points whose tables have a
similar size share one compiled program (arrays padded to the bucket's ``LookupShape``),
which maps over (point, seed) pairs in batches (``lax.map``). Grammar points differ in
static structure (rule count, parse depth), so each runs as its own program vmapped over
seeds. Every (point, seed) draws from
``fold_in(... fold_in(PRNGKey(root), seed) ..., point values)``, so the same point gives
the same numbers in every sweep (k=16, V=10, d=64 appears in four of them).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxlab.papers.compositionality import complexity, generators, topsim

LOOKUP_SWEEPS = ("sentence_length", "vocab_size", "zdim", "disentanglement", "length_vocab")
GRAMMAR_SWEEPS = ("grammar_width", "grammar_depth", "composition")
SWEEPS = LOOKUP_SWEEPS + GRAMMAR_SWEEPS
TERM_COLUMNS = ("k_language", "k_w_given_language", "k_decoder", "k_z_given_w_decoder",
                "k_z", "k_z_given_w", "c")


def lookup_points(sweep: str, cfg) -> list[tuple[int, int, int, int]]:
    """(k, V, d, δ) points of a lookup-table sweep; ``cfg`` holds the defaults and ranges."""
    k, v, d, delta = cfg.lookup.k, cfg.lookup.vocab, cfg.lookup.d, cfg.lookup.delta
    r = cfg.ranges
    if sweep == "sentence_length":
        return [(x, v, d, delta) for x in r.sentence_length]
    if sweep == "vocab_size":
        return [(k, x, d, delta) for x in r.vocab_size]
    if sweep == "zdim":
        return [(k, v, x, delta) for x in r.zdim]
    if sweep == "disentanglement":  # the paper ran it with V = 2 (its CSV column says 10)
        return [(k, r.disentanglement_vocab, d, x) for x in r.disentanglement]
    if sweep == "length_vocab":
        return [(kk, x, d, delta) for kk in r.length_vocab_k for x in r.vocab_size]
    raise ValueError(f"unknown lookup sweep {sweep!r}")


def grammar_points(sweep: str, cfg) -> list[generators.Grammar]:
    g, r = cfg.grammar, cfg.ranges
    make = lambda w, dep, comp: generators.Grammar(w, dep, comp, g.z_dim, g.num_words, g.vocab_size)
    if sweep == "grammar_width":
        return [make(w, g.depth, "linear") for w in r.grammar_width]
    if sweep == "grammar_depth":
        return [make(g.width, dep, "linear") for dep in r.grammar_depth]
    if sweep == "composition":
        return [make(g.width, g.depth, comp) for comp in r.composition]
    raise ValueError(f"unknown grammar sweep {sweep!r}")


def point_key(root: int, seed: int, values: Sequence[int]) -> jax.Array:
    key = jax.random.fold_in(jax.random.PRNGKey(root), seed)
    for v in values:
        key = jax.random.fold_in(key, v)
    return key


def _bucket(point: tuple[int, int, int, int]) -> int:
    """Tables of up to 4,096 numbers share a program, larger ones one per factor of 16."""
    k, v, d, delta = point
    size = v ** delta * (d * delta // k)
    return 0 if size <= 4096 else 1 + int(math.log2(size / 4096) // 4)


def _batch_for(shape: generators.LookupShape, with_topsim: bool, budget_mb: float) -> int:
    per = 4 * (shape.entries_max * shape.comp_max * 3 + shape.n * (shape.d_max * 4 + shape.k_max * 2))
    if with_topsim:
        per += 4 * 6 * shape.n * shape.n
    return max(1, int(budget_mb * 2**20 // per))


def run_lookup(points, n_seeds: int, n: int, root: int, with_topsim: bool, noise: float,
               precision: float, budget_mb: float = 512.0) -> dict[str, np.ndarray]:
    """Every (point, seed): the closed-form terms and topsim, as arrays of length P*S
    (point-major)."""
    for p in points:
        generators.check_lookup_point(*p)
    out = {name: np.zeros(len(points) * n_seeds) for name in (*TERM_COLUMNS, "topsim")}
    buckets: dict[int, list[int]] = {}
    for i, p in enumerate(points):
        buckets.setdefault(_bucket(p), []).append(i)
    for idx in buckets.values():
        pts = [points[i] for i in idx]
        shape = generators.LookupShape.covering(pts, n)

        def one(args):
            key, k, v, d, delta = args
            smp = generators.sample_lookup(key, k, v, d, delta, shape, noise, precision)
            terms = complexity.lookup_terms(smp, k, v, noise, precision).as_dict()
            ts = (topsim.topological_similarity(smp.w, smp.z, k) if with_topsim
                  else jnp.float32(jnp.nan))
            return {**terms, "topsim": ts}

        batch = _batch_for(shape, with_topsim, budget_mb)
        run = jax.jit(lambda a: jax.lax.map(one, a, batch_size=batch))
        rows = [(p, s) for p in pts for s in range(n_seeds)]
        keys = jnp.stack([point_key(root, s, p) for p, s in rows])
        cols = [jnp.asarray([p[j] for p, _ in rows], jnp.int32) for j in range(4)]
        res = jax.device_get(run((keys, *cols)))
        where = np.concatenate([np.arange(i * n_seeds, (i + 1) * n_seeds) for i in idx])
        for name in out:
            out[name][where] = np.asarray(res[name], np.float64)
    return out


def run_grammar(grammars, n_seeds: int, n: int, root: int, noise: float, precision: float,
                faithful: bool = True, budget_mb: float = 512.0) -> dict[str, np.ndarray]:
    """Every (grammar, seed) in one program (width, depth and composition traced; rules
    and roles padded to the largest grammar), as arrays of length G*S (grammar-major)."""
    shape = generators.GrammarShape.covering(grammars, n)
    g0 = grammars[0]
    batch = max(1, int(budget_mb * 2**20 // (4 * 6 * n * n)))

    def one(args):
        key, width, depth, linear = args
        smp = generators.sample_grammar(key, g0, n, noise, precision, shape, (width, depth, linear))
        terms = complexity.grammar_terms(smp, g0, noise, precision, faithful).as_dict()
        return {**terms, "topsim": topsim.topological_similarity(smp.w, smp.z)}

    rows = [(g, s) for g in grammars for s in range(n_seeds)]
    keys = jnp.stack([point_key(root, s, (g.width, g.depth, int(g.composition != "linear"), 7))
                      for g, s in rows])
    width, depth, linear = (jnp.stack(a) for a in zip(*(generators.grammar_arrays(g) for g, _ in rows)))
    res = jax.device_get(jax.jit(lambda a: jax.lax.map(one, a, batch_size=batch))(
        (keys, width, depth, linear)))
    return {name: np.asarray(v, np.float64) for name, v in res.items()}


def _meta_lookup(points, n_seeds):
    return pd.DataFrame([{"sentence_length": k, "vocab_size": v, "zdim": d, "disentanglement": dl,
                          "grammar_width": -1, "grammar_depth": -1, "composition": "lookup",
                          "n_rules": -1} for (k, v, d, dl) in points for _ in range(n_seeds)])


def _meta_grammar(grammars, n_seeds):
    return pd.DataFrame([{"sentence_length": g.num_words, "vocab_size": g.vocab_size,
                          "zdim": g.z_dim, "disentanglement": -1, "grammar_width": g.width,
                          "grammar_depth": g.depth, "composition": g.composition,
                          "n_rules": g.n_rules} for g in grammars for _ in range(n_seeds)])


def _table(sweep, meta, res, n_seeds):
    seeds = np.tile(np.arange(n_seeds), len(meta) // n_seeds)
    return pd.concat([pd.DataFrame({"sweep": sweep, "seed": seeds}), meta, pd.DataFrame(res)], axis=1)


def run_sweeps(names: Sequence[str], cfg, on_done: Callable[[str, float], None] | None = None
               ) -> pd.DataFrame:
    """The tidy table of several sweeps: one row per (sweep, point, seed). Each lookup
    sweep is one program per table-size bucket; all grammar sweeps share one program."""
    import time

    n_seeds, n = cfg.n_seeds, cfg.n_samples
    frames = []
    for sweep in names:
        if sweep not in SWEEPS:
            raise ValueError(f"unknown sweep {sweep!r}; choose from {SWEEPS}")
    for sweep in (s for s in names if s in LOOKUP_SWEEPS):
        t = time.perf_counter()
        points = lookup_points(sweep, cfg)
        with_topsim = sweep != "length_vocab" or cfg.length_vocab_topsim
        res = run_lookup(points, n_seeds, n, cfg.seed, with_topsim, cfg.noise, cfg.precision,
                         cfg.memory_mb)
        frames.append(_table(sweep, _meta_lookup(points, n_seeds), res, n_seeds))
        if on_done:
            on_done(sweep, time.perf_counter() - t)
    grammar_sweeps = [s for s in names if s in GRAMMAR_SWEEPS]
    if grammar_sweeps:
        t = time.perf_counter()
        per_sweep = {s: grammar_points(s, cfg) for s in grammar_sweeps}
        unique = list(dict.fromkeys(g for gs in per_sweep.values() for g in gs))
        res = run_grammar(unique, n_seeds, n, cfg.seed, cfg.noise, cfg.precision,
                          cfg.grammar.faithful_to_reference, cfg.memory_mb)
        for sweep, gs in per_sweep.items():
            rows = np.concatenate([np.arange(unique.index(g) * n_seeds, (unique.index(g) + 1) * n_seeds)
                                   for g in gs])
            frames.append(_table(sweep, _meta_grammar(gs, n_seeds),
                                 {k: v[rows] for k, v in res.items()}, n_seeds))
        if on_done:
            on_done("grammar", time.perf_counter() - t)
    return pd.concat(frames, ignore_index=True)


def point_of(sweep: str, row) -> object:
    """The key of a row's point in ``paper.PAPER[sweep]``."""
    return {"sentence_length": lambda r: int(r.sentence_length),
            "vocab_size": lambda r: int(r.vocab_size),
            "zdim": lambda r: int(r.zdim),
            "disentanglement": lambda r: int(r.disentanglement),
            "length_vocab": lambda r: (int(r.sentence_length), int(r.vocab_size)),
            "grammar_width": lambda r: int(r.grammar_width),
            "grammar_depth": lambda r: int(r.grammar_depth),
            "composition": lambda r: str(r.composition)}[sweep](row)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (sweep, point), with the paper's means beside ours."""
    from jaxlab.papers.compositionality.paper import PAPER

    keys = ["sweep", "sentence_length", "vocab_size", "zdim", "disentanglement",
            "grammar_width", "grammar_depth", "composition", "n_rules"]
    g = df.groupby(keys, sort=False).agg(c=("c", "mean"), c_std=("c", "std"),
                                        topsim=("topsim", "mean"), topsim_std=("topsim", "std"),
                                        k_decoder=("k_decoder", "mean"),
                                        n_seeds=("seed", "count")).reset_index()
    paper_c, paper_t = [], []
    for row in g.itertuples():
        ref = PAPER.get(row.sweep, {}).get(point_of(row.sweep, row))
        paper_c.append(np.nan if ref is None else ref[0])
        paper_t.append(np.nan if ref is None or ref[1] is None else ref[1])
    g["paper_c"], g["paper_topsim"] = paper_c, paper_t
    g["c_rel_error"] = (g["c"] - g["paper_c"]).abs() / g["paper_c"]
    return g
