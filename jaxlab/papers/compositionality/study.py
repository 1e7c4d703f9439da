"""Representational compositionality: closed-form sweeps and emergent languages.

Paper: arXiv 2410.14817 (Elmoznino et al., ICML 2025); docs: docs/compositionality.md.

``execute`` writes, for the synthetic experiment:
  sweep:   one row per (sweep, point, seed): sweep, seed, sentence_length, vocab_size,
           zdim, disentanglement, grammar_width, grammar_depth, composition, n_rules,
           k_language, k_w_given_language, k_decoder, k_z_given_w_decoder, k_z,
           k_z_given_w, c, topsim
  summary: mean/std over seeds per point with the paper's means (paper_c, c_rel_error)
  figure.png, table.txt
and for the emergent-language experiment the ``languages``, ``curve`` and ``results``
tables (see ``jaxlab.papers.compositionality.emergent``).
"""
from __future__ import annotations

import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from jaxlab import results as results_lib  # noqa: E402
from jaxlab import runner  # noqa: E402
from jaxlab.papers.compositionality import emergent, generators, sweeps  # noqa: E402
from jaxlab.config import require  # noqa: E402

TITLE = "A Complexity-Based Theory of Compositionality (ICML 2025, arXiv 2410.14817)"
EXPERIMENTS = ("synthetic", "emergent")


def validate(config: ml_collections.ConfigDict) -> None:
    require(config.experiment in EXPERIMENTS, "experiment",
            f"must be one of {EXPERIMENTS}, got {config.experiment!r}")
    require(len(config.sweeps) >= 1, "sweeps", "needs at least one sweep")
    for s in config.sweeps:
        require(s in sweeps.SWEEPS, "sweeps", f"unknown sweep {s!r}; choose from {sweeps.SWEEPS}")
    require(config.n_seeds >= 1, "n_seeds", f"must be >= 1, got {config.n_seeds}")
    require(config.n_samples >= 3, "n_samples", f"must be >= 3, got {config.n_samples}")
    require(config.noise > 0, "noise", f"must be > 0, got {config.noise}")
    require(config.precision > 0, "precision", f"must be > 0, got {config.precision}")
    require(config.memory_mb > 0, "memory_mb", f"must be > 0 (a working-set budget in MB), "
            f"got {config.memory_mb}")
    for s in config.sweeps:
        if s in sweeps.LOOKUP_SWEEPS:
            for p in sweeps.lookup_points(s, config):
                try:
                    generators.check_lookup_point(*p)
                except ValueError as e:
                    require(False, f"ranges.{s}", str(e))
        else:
            try:
                sweeps.grammar_points(s, config)
            except ValueError as e:
                require(False, f"ranges.{s}", str(e))
    if config.experiment == "emergent":
        emergent.validate(config)


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """The synthetic sweeps (closed form) or, with ``experiment="emergent"``, the
    emergent-language experiment; writes their tables, table.txt and figure.png."""
    if config.experiment == "emergent":
        emergent.run(config, session)
        return
    session.check_stop()
    workdir = session.workdir
    cpu0 = time.process_time()
    times = {}
    bar = tqdm(total=len(config.sweeps), disable=not session.progress, desc="compositionality sweeps")

    def done(name, seconds):
        times[name] = seconds
        bar.set_postfix(last=name)
        bar.update(1 if name != "grammar" else sum(s in sweeps.GRAMMAR_SWEEPS for s in config.sweeps))
        session.unit_done()  # a stop here loses only this process's sweeps (seconds of work)

    df = sweeps.run_sweeps(config.sweeps, config, done)
    bar.close()
    summary = sweeps.summarize(df)
    results_lib.write_table(workdir, "sweep", df)
    results_lib.write_table(workdir, "summary", summary)
    plot(summary, os.path.join(workdir, "figure.png"))
    results_lib.atomic_write_text(os.path.join(workdir, "table.txt"), report(summary) + "\n")
    results_lib.update_manifest(workdir, sweep_s=times, sweeps_cpu_s=time.process_time() - cpu0)


# A few points per sweep, shown in table.txt; the summary table holds all of them.
REPORT_POINTS = {
    "sentence_length": [1, 2, 4, 8, 16, 32, 64],
    "vocab_size": [2, 3, 4, 5, 6, 10, 20, 50, 100],
    "zdim": [16, 32, 64, 96, 128, 160],
    "disentanglement": [1, 2, 4, 8, 16],
    "length_vocab": [(8, 2), (8, 4), (8, 10), (16, 5), (16, 10), (32, 6), (32, 10), (32, 100)],
    "grammar_width": [1, 2, 3, 4],
    "grammar_depth": [1, 2, 3, 4],
    "composition": ["linear", "tensorproduct"],
}


def report(summary: pd.DataFrame) -> str:
    """Paper vs ours, mean C (and topsim) over seeds, at ``REPORT_POINTS``."""
    lines = [f"{'sweep':<16} {'point':>10} {'C ours':>9} {'C paper':>9} {'rel.err':>8} "
             f"{'topsim':>7} {'paper':>7}"]
    shown = 0
    for sweep, pts in REPORT_POINTS.items():
        sub = summary[summary.sweep == sweep]
        for row in sub.itertuples():
            p = sweeps.point_of(sweep, row)
            if p not in pts:
                continue
            shown += 1
            lines.append(f"{sweep:<16} {str(p):>10} {row.c:9.5f} {row.paper_c:9.5f} "
                         f"{100 * row.c_rel_error:7.3f}% {row.topsim:7.3f} {row.paper_topsim:7.3f}")
    worst = summary.c_rel_error.max()
    n_paper = int(summary.paper_c.notna().sum())
    lines.append("paper = per-point means of the reference repository's figure CSVs "
                 "(papers/theory/data/*.csv)")
    lines.append(f"max |C - paper| / paper over the {n_paper} points with a paper value "
                 f"({shown} shown above; summary.parquet holds all {len(summary)}): {100 * worst:.3f}%")
    return "\n".join(lines)


def _panel(ax, sub, x, label, log=False):
    sub = sub.sort_values(x)
    ax.errorbar(sub[x], sub.c, yerr=sub.c_std, color="C0", lw=1, label="C (ours)")
    ax.plot(sub[x], sub.paper_c, "k.", ms=3, label="C (paper)")
    ax.set_xlabel(label)
    if log:
        ax.set_xscale("log")
    tw = ax.twinx()
    tw.plot(sub[x], sub.topsim, color="C3", lw=1, ls="--", label="topsim")
    tw.tick_params(axis="y", colors="C3", labelsize=6)
    ax.tick_params(labelsize=6)


def plot(summary: pd.DataFrame, path: str) -> None:
    """The paper's synthetic figures: C (blue, paper black dots) and topsim (red) per sweep."""
    panels = [("sentence_length", "sentence_length", "sentence length k", True),
              ("vocab_size", "vocab_size", "vocabulary size V", True),
              ("zdim", "zdim", "representation dim d", False),
              ("disentanglement", "disentanglement", "disentanglement δ (V=2)", True),
              ("length_vocab", None, "V (lines: k = 8, 16, 32)", True),
              ("grammar_width", "grammar_width", "grammar width", False),
              ("grammar_depth", "grammar_depth", "grammar depth", False),
              ("composition", None, "composition", False)]
    present = [p for p in panels if (summary.sweep == p[0]).any()]
    cols = min(4, len(present))
    rows = -(-len(present) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(present):]:
        ax.axis("off")
    for ax, (sweep, x, label, log) in zip(axes.flat, present):
        sub = summary[summary.sweep == sweep]
        ax.set_title(sweep, fontsize=8)
        if sweep == "length_vocab":
            for j, (k, grp) in enumerate(sub.groupby("sentence_length")):
                grp = grp.sort_values("vocab_size")
                ax.plot(grp.vocab_size, grp.c, color="C0", ls=["-", "--", ":"][j % 3], lw=1,
                        label=f"k={k}")
                ax.plot(grp.vocab_size, grp.paper_c, "k.", ms=1.5)
                peak = grp.loc[grp.c.idxmax()]
                ax.axvline(peak.vocab_size, color="grey", lw=0.6, ls=["-", "--", ":"][j % 3])
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.legend(fontsize=6)
        elif sweep == "composition":
            lin = sub[sub.composition == "linear"]
            rel = (sub.c.values - 1) / (lin.c.values[0] - 1)
            rel_paper = (sub.paper_c.values - 1) / (lin.paper_c.values[0] - 1)
            xs = np.arange(len(sub))
            ax.bar(xs - 0.2, rel, 0.4, color="C0", label="ours")
            ax.bar(xs + 0.2, rel_paper, 0.4, color="grey", label="paper")
            ax.set_xticks(xs, [c[:6] for c in sub.composition])
            ax.set_ylabel("(C-1) / linear", fontsize=7)
            ax.legend(fontsize=6)
        else:
            _panel(ax, sub, x, label, log)
        ax.tick_params(labelsize=6)
    axes.flat[0].set_ylabel("compositionality C", fontsize=7)
    fig.tight_layout()
    results_lib.save_figure(fig, path, dpi=130)
    plt.close(fig)


def _config(arg: str, *overrides: str):
    from jaxlab import config as config_lib

    path = "configs/compositionality.py"  # found by jaxlab.config.locate, installed or not
    return config_lib.load(f"{path}:{arg}" if arg else path, list(overrides))


def _emergent_fits(quick: bool):
    """The prequential fits of the two anchor languages x 2 seeds with the emergent
    experiment's settings (``quick``: smaller): (one-program fn, its args, per-fit data,
    per-fit initial params, the jitted single fit)."""
    import jax
    import jax.numpy as jnp

    from jaxlab.coding import fits
    from jaxlab.papers.compositionality import emergent

    over = (["--config.emergent.repeats=4", "--config.emergent.decoder_hidden=32",
             "--config.emergent.max_epochs=20", "--config.emergent.patience=3"] if quick else [])
    config = _config("emergent", *over)
    e, g = config.emergent, emergent.game_of(config)
    cfg, coder = emergent.prequential_setup(e, g.n_objects)
    attrs = g.attributes()
    perm = np.random.RandomState(0).permutation(g.n_objects)
    langs = [attrs, attrs[perm]]
    items = [(i, s) for i in range(len(langs)) for s in range(2)]
    data = [emergent.make_dataset(attrs, jnp.asarray(langs[i]), e.repeats, jax.random.PRNGKey(10 * s + i))
            for i, s in items]
    w = jnp.stack([d[0] for d in data])
    z = jnp.stack([d[1] for d in data])
    keys = jnp.stack([jax.random.PRNGKey(100 + j) for j in range(len(items))])
    one_program = jax.jit(lambda w, z, k: emergent.code_all(e, coder, cfg, w, z, k))
    # The same fits one by one (blockwise_code's data layout and keys).
    bounds = cfg.bounds(w.shape[1])
    n_tr = w.shape[1] - cfg.val_size
    singles, inits = [], []
    for j in range(len(items)):
        k_init, k_fit = jax.random.split(keys[j])
        params = coder.model.init(k_init, w[j, :1])
        for f, kf in enumerate(jax.random.split(k_fit, len(bounds))):
            singles.append(fits.FitData(w[j, :n_tr], z[j, :n_tr], jnp.asarray(bounds[f]), w[j, n_tr:],
                                        z[j, n_tr:], jnp.asarray(cfg.val_size), kf))
            inits.append(params)
    whole_fit = jax.jit(lambda p, d: fits.fit(coder.spec, p, d))
    return one_program, (w, z, keys), singles, inits, whole_fit


def bench(quick: bool, peak_gflops: float) -> dict:
    """compositionality_synthetic_sweeps_s: wall time of all 8 synthetic sweeps (default
    config; ``quick``: two sweeps of the smoke config), compile included, in this process (and its CPU
    time, ``..._cpu_s``: on a shared machine the wall time mostly measures the neighbours).
    emergent_prequential_speedup: block-wise prequential coding of 4 emergent-language
    datasets (all blocks and seeds in one program) ÷ a loop over the same fits, each fit one
    jitted program; both warm (compiled before timing)."""
    import jax

    from jaxlab.timing import best_time

    config = _config("smoke,sentence_length,composition" if quick else "")
    t, cpu = time.perf_counter(), time.process_time()
    sweeps.run_sweeps(config.sweeps, config)
    sweeps_s, sweeps_cpu_s = time.perf_counter() - t, time.process_time() - cpu

    one_program, args, singles, inits, whole_fit = _emergent_fits(quick)
    t_many = best_time(lambda: one_program(*args), 1)
    jax.block_until_ready(whole_fit(inits[0], singles[0]))
    t_loop = best_time(lambda: [whole_fit(p, d) for p, d in zip(inits, singles)], 1)
    return {"compositionality_synthetic_sweeps_s": sweeps_s,
            "compositionality_synthetic_sweeps_cpu_s": sweeps_cpu_s,
            "emergent_prequential_fits": len(singles),
            "emergent_prequential_one_program_s": t_many,
            "emergent_prequential_loop_s": t_loop,
            "emergent_prequential_speedup": t_loop / t_many}
