"""Study: "Next-token prediction should be ambiguity-sensitive" (MetaHMM, arXiv 2506.16288).

Causal transformers (seeds = runs, one program) learn next-token prediction on sequences
freshly sampled from the training HMMs of a compositional family. On sequences from
held-out HMMs their predictive is compared with the exact Bayes oracle at every position:
symmetrised KL vs position, KL binned by the oracle's ambiguity A(t) = H[p(θ | x_<t)],
prequential code length beside the oracle's (the Bayes-optimal one). Then, if
``mc.enabled``, the Monte-Carlo predictor (``jaxlab.papers.metahmm.mc``).

Tables written to the workdir (learner ``gpt``: the GPT runs after ``train.steps``;
``gpt@N``: the same runs after N steps, for each N of ``eval.lm_steps``):
  positions  run, seed, learner, position, metric, value     (per-position means)
  ambiguity  run, seed, learner, bin_lo, bin_hi, kl, n_tokens (KL binned by A(t))
  summary    learner, seed, run, kl@t..., code_length, ...
  train      run, seed, step, metric, value                  (each training phase)
  mc         run, seed, learner, n_samples, position, kl, ... (if mc.enabled)
Docs: docs/metahmm.md.
"""
from __future__ import annotations


from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pandas as pd

from jaxlab import results as results_lib
from jaxlab.config import require
from jaxlab.models.gpt import GPT, shift_inputs
from jaxlab.tasks import hmm_oracle, metahmm
from jaxlab.train import Learner

TITLE = "Next-token prediction should be ambiguity-sensitive (MetaHMM, arXiv 2506.16288)"
CHOICES: dict = {}
PRIORS = ("train", "all")
PHASES = {"lm": 0, "decoder": 1, "posterior": 2}  # training phases and their key salts


# ----------------------------------------------------------------------------- config
def family_spec(config: ml_collections.ConfigDict) -> metahmm.FamilySpec:
    t = config.task
    return metahmm.FamilySpec(
        n_states=t.n_states, n_tokens=t.n_tokens, base_cycles=t.base_cycles,
        base_directions=t.base_directions, base_speeds=t.base_speeds,
        cycle_families=t.cycle_families, groups_per_family=t.groups_per_family,
        cycles_per_group=t.cycles_per_group, family_directions=t.family_directions,
        family_speeds=t.family_speeds, emission_groups=t.emission_groups,
        emission_variants=t.emission_variants, emission_shifts=t.emission_shifts,
        edges_per_state=t.edges_per_state, emission_noise=t.emission_noise,
        n_held_out=t.n_held_out, seed=t.family_seed)


def validate(config: ml_collections.ConfigDict) -> None:
    t, m, tr, ev, mc = config.task, config.model, config.train, config.eval, config.mc
    for name in ("n_states", "n_tokens", "base_cycles", "base_directions", "base_speeds",
                 "groups_per_family", "cycles_per_group", "family_directions", "family_speeds",
                 "emission_groups", "emission_variants", "emission_shifts", "length"):
        require(t[name] >= 1, f"task.{name}", f"must be >= 1, got {t[name]}")
    require(t.n_tokens >= -(-t.n_states // t.emission_groups), "task.n_tokens",
            "must be >= the largest emission group (each state first gets a distinct token)")
    n_h = family_spec(config).n_hmms
    require(0 < t.n_held_out < n_h, "task.n_held_out", f"must be in (0, {n_h}), got {t.n_held_out}")
    require(t.emission_noise > 0, "task.emission_noise", "must be > 0 (keeps every token possible)")
    for name in ("n_layers", "d_model", "n_heads", "d_ff"):
        require(m[name] >= 1, f"model.{name}", f"must be >= 1, got {m[name]}")
    layout = m.get("layout", "jaxlab")
    require(layout in LAYOUTS, "model.layout", f"must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "jaxlab":  # heads of width d_model / n_heads (x_transformers: 64 wide)
        require(m.d_model % m.n_heads == 0, "model.n_heads", f"must divide model.d_model={m.d_model}")
    require(tr.batch >= 1, "train.batch", f"must be >= 1, got {tr.batch}")
    require(tr.micro_batches == 0 or tr.batch % tr.micro_batches == 0, "train.micro_batches",
            f"must divide train.batch={tr.batch}")
    require(ev.split in ("held_out", "train"), "eval.split", "must be held_out or train")
    require(ev.prior in PRIORS, "eval.prior", f"must be one of {PRIORS}, got {ev.prior!r}")
    require(not (ev.split == "held_out" and ev.prior == "train" and mc.enabled), "eval.prior",
            "the MC predictor samples the oracle posterior, which must contain the true HMM")
    for name in ("block", "oracle_block"):
        require(ev[name] >= 1 and ev.n_seqs % ev[name] == 0, f"eval.{name}",
                f"must be >= 1 and divide eval.n_seqs={ev.n_seqs}")
    for p in ev.report_positions:
        require(0 <= p < t.length, "eval.report_positions", f"{p} is outside [0, {t.length})")
    stages = list(ev.get("lm_steps", ()))
    for s in stages:
        require(0 < s < tr.steps and s % tr.chunk_steps == 0, "eval.lm_steps",
                f"{s} must be in (0, train.steps={tr.steps}) and a multiple of "
                f"train.chunk_steps={tr.chunk_steps}")
    require(stages == sorted(set(stages)), "eval.lm_steps", "must be increasing")
    require(not stages or tr.lr_schedule == "constant", "eval.lm_steps",
            "needs train.lr_schedule = 'constant' (a stage of a decaying schedule is not a "
            "point of the full run)")
    edges = list(ev.ambiguity_edges)
    require(len(edges) >= 2 and edges == sorted(edges), "eval.ambiguity_edges",
            "must be >= 2 increasing values")
    if mc.enabled:
        require(1 <= mc.n_seqs <= ev.n_seqs, "mc.n_seqs", f"must be in [1, eval.n_seqs={ev.n_seqs}]")
        require(mc.n_seqs % ev.oracle_block == 0, "mc.n_seqs",
                f"must be a multiple of eval.oracle_block={ev.oracle_block}")
        for p in mc.positions:
            require(0 <= p < t.length, "mc.positions", f"{p} is outside [0, {t.length})")
        require(len(mc.samples) >= 1 and min(mc.samples) >= 1, "mc.samples", "must be >= 1")
        for name in ("decoder_steps", "posterior_steps"):
            require(mc[name] >= tr.chunk_steps and mc[name] % tr.chunk_steps == 0, f"mc.{name}",
                    f"must be a positive multiple of train.chunk_steps={tr.chunk_steps}")


# ----------------------------------------------------------------------------- model
# model.layout -> GPT layout options. "x_transformers": the reference's TransformerWrapper +
# Decoder with x-transformers' defaults (2.2.x): dim_head 64 whatever the width, q/k/v/out
# without bias, LayerNorm with a gain and no bias, logits without bias, scaled sinusoid.
LAYOUTS = {
    "jaxlab": dict(),
    "x_transformers": dict(head_dim=64, attn_bias=False, norm_bias=False, head_bias=False,
                           learned_pos_scale=True),
}


def make_model(config: ml_collections.ConfigDict, n_out: int | None = None,
               cond_sizes: tuple[int, ...] = ()) -> GPT:
    m, t = config.model, config.task
    layout = m.get("layout", "jaxlab")
    if layout not in LAYOUTS:
        raise ValueError(f"config.model.layout: must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return GPT(t.n_tokens, m.d_model, m.n_layers, m.n_heads, m.d_ff,
               t.n_tokens if n_out is None else n_out, tuple(cond_sizes), **LAYOUTS[layout])


def lm_batch(fam: metahmm.Family, config: ml_collections.ConfigDict, key: jax.Array, n: int) -> dict:
    """Training rows (n, T): targets x, inputs, positions, segment, and the HMM of each
    position. ``train.skewed``: rows packed with sequences of lengths uniform in [1, T]."""
    t, bos = config.task.length, config.task.n_tokens
    k_ids, k_seg, k_x = jax.random.split(key, 3)
    train_ids = jnp.asarray(fam.train_ids)
    if config.train.skewed:
        segment = metahmm.packed_segments(k_seg, n, t)
        seg_ids = train_ids[jax.random.randint(k_ids, (n, t), 0, len(fam.train_ids))]
    else:
        segment = jnp.zeros((n, t), jnp.int32)
        seg_ids = train_ids[jax.random.randint(k_ids, (n, 1), 0, len(fam.train_ids))]
    x, _, hmm = metahmm.sample_packed(fam, k_x, seg_ids, segment)
    pos = metahmm.positions_in_segment(segment)
    return {"x": x, "inputs": shift_inputs(x, bos, pos), "positions": pos,
            "segment": segment if config.train.skewed else None, "hmm": hmm}


def _cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets)


def lm_learner(config: ml_collections.ConfigDict, fam: metahmm.Family) -> Learner:
    """The implicit learner: next-token cross-entropy on fresh training sequences."""
    model = make_model(config)
    b, t = config.train.batch, config.task.length

    def init_params(key):
        z = jnp.zeros((2, t), jnp.int32)
        return model.init(key, z, z)

    def loss(params, batch, hp, key):
        logits = model.apply(params, batch["inputs"], batch["positions"], batch["segment"])
        ce = _cross_entropy(logits, batch["x"]).mean()
        return ce, {"nll": ce}

    def sample_batch(key):
        return {k: v for k, v in lm_batch(fam, config, key, b).items() if k != "hmm"}

    return Learner(init_params, sample_batch, loss, lambda params, hp, key: {})


def model_log_probs(model: GPT, params: Any, x: jax.Array, block: int, bos: int,
                    cond: jax.Array | None = None) -> jax.Array:
    """Next-token log-probabilities (n, T, V) of sequences x (n, T), ``block`` rows at a time."""
    n, t = x.shape
    pos = jnp.broadcast_to(jnp.arange(t), (block, t))

    def one(args):
        xb, cb = args
        return jax.nn.log_softmax(model.apply(params, shift_inputs(xb, bos), pos, None, cb), -1)

    c = jnp.zeros((n, 1), jnp.int32) if cond is None else cond
    out = jax.lax.map(one, (x.reshape(n // block, block, t), c.reshape(n // block, block, -1)))
    return out.reshape(n, t, -1)


def divergences(logp: jax.Array, logq: jax.Array) -> dict:
    """KL(p*‖p_φ) (forward), KL(p_φ‖p*) (backward) and their mean, over the last axis;
    logp is the oracle, logq the learner."""
    fwd = jnp.sum(jnp.exp(logp) * (logp - logq), -1)
    bwd = jnp.sum(jnp.exp(logq) * (logq - logp), -1)
    return {"kl": 0.5 * (fwd + bwd), "kl_fwd": fwd, "kl_bwd": bwd}


# ----------------------------------------------------------------------------- oracle
def eval_sequences(config: ml_collections.ConfigDict, fam: metahmm.Family) -> tuple[jax.Array, jax.Array]:
    """The evaluation set, shared by every seed: ``eval.n_seqs`` sequences (n, T) from HMMs
    of ``eval.split`` drawn uniformly, and their HMM ids (n,)."""
    ev = config.eval
    pool = jnp.asarray(fam.held_out_ids if ev.split == "held_out" else fam.train_ids)
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 7)
    k_ids, k_x = jax.random.split(key)
    ids = pool[jax.random.randint(k_ids, (ev.n_seqs,), 0, pool.shape[0])]
    x, _ = jax.jit(metahmm.sample, static_argnums=3)(fam, k_x, ids, config.task.length)
    return x, ids


def prior_order(config: ml_collections.ConfigDict) -> tuple[str, str]:
    """(primary, other): the oracle the study reports first (``eval.prior``) and the other."""
    primary = config.eval.prior
    return primary, next(p for p in PRIORS if p != primary)


def priors(fam: metahmm.Family, order: tuple[str, ...] = PRIORS) -> jax.Array:
    """(2, H) log-priors in ``order``: "train" = uniform over the training HMMs, "all" =
    uniform over every HMM of the family."""
    table = {"train": hmm_oracle.log_prior_of(fam.n_hmms, fam.train_ids),
             "all": hmm_oracle.log_prior_of(fam.n_hmms)}
    return jnp.asarray(np.stack([table[p] for p in order]))


def run_oracle(config, fam, x, *, n_samples: int = 0, key=None) -> hmm_oracle.OracleOut:
    f = jax.jit(lambda xx, k: hmm_oracle.blocked_filter(
        jnp.asarray(fam.trans), jnp.asarray(fam.emis), xx, priors(fam, prior_order(config)),
        block=config.eval.oracle_block, epistemic=True, n_samples=n_samples, key=k))
    return f(x, key if key is not None else jax.random.PRNGKey(0))


# ----------------------------------------------------------------------------- training
# ----------------------------------------------------------------------------- tables
def tidy_rows(run: int, seed: int, learner: str, metrics: dict) -> list[pd.DataFrame]:
    out = []
    for metric, values in metrics.items():
        v = np.asarray(values, np.float64)
        out.append(pd.DataFrame({"run": run, "seed": seed, "learner": learner,
                                 "position": np.arange(v.shape[0]), "metric": metric, "value": v}))
    return out


def ambiguity_rows(run: int, seed: int, learner: str, kl: np.ndarray, amb: np.ndarray,
                   edges) -> pd.DataFrame:
    """Mean KL of the tokens whose ambiguity falls in each bin [lo, hi)."""
    edges = np.asarray(edges, np.float64)
    which = np.digitize(amb.reshape(-1), edges) - 1
    kl = kl.reshape(-1)
    rows = []
    for i in range(len(edges) - 1):
        sel = which == i
        rows.append({"run": run, "seed": seed, "learner": learner, "bin_lo": edges[i],
                     "bin_hi": edges[i + 1], "kl": float(kl[sel].mean()) if sel.any() else np.nan,
                     "n_tokens": int(sel.sum())})
    return pd.DataFrame(rows)


def summarize(positions: pd.DataFrame, config: ml_collections.ConfigDict,
              run_rows: list[dict] = ()) -> pd.DataFrame:
    """Per (learner, seed, run): KL at report positions, the KL bump's peak and its
    position, code length (sum over positions of the mean NLL) and its excess over the
    oracle's (the Bayes-optimal prequential code length); the swept fields' values of each
    trained run (``run_rows``; None for the oracle rows)."""
    swept = list(config.sweep.axes)
    values = {row["run"]: {k: row[k] for k in swept} for row in run_rows}
    rows = []
    oracle_cl = {}
    for (learner, seed, run), g in positions.groupby(["learner", "seed", "run"], sort=False):
        row = {"learner": learner, "seed": seed, "run": run,
               **values.get(run, {k: None for k in swept})}
        kl = g[g.metric == "kl"].set_index("position")["value"]
        nll = g[g.metric == "nll"].set_index("position")["value"]
        for p in config.eval.report_positions:
            row[f"kl@{p}"] = kl.get(p, np.nan)
        finite = bool(np.isfinite(kl.values).all() and np.isfinite(nll.values).all())
        row["finite"] = finite  # False for a diverged run: its sums are NaN, never 0
        row["kl_peak"] = kl.max() if len(kl) and finite else np.nan
        row["kl_peak_position"] = int(kl.idxmax()) if len(kl) and finite else -1
        row["code_length"] = nll.sum(skipna=False) if len(nll) else np.nan
        if learner == "oracle":
            oracle_cl[seed] = row["code_length"]
        rows.append(row)
    df = pd.DataFrame(rows)
    df["excess_code_length"] = df["code_length"] - df["seed"].map(oracle_cl)
    return df


def report(summary: pd.DataFrame, ambiguity: pd.DataFrame, config, mc: pd.DataFrame | None) -> str:
    cols = [f"kl@{p}" for p in config.eval.report_positions] + ["kl_peak", "code_length",
                                                               "excess_code_length"]
    prior = {"all": "every HMM", "train": "the training HMMs"}[config.eval.prior]
    lines = [f"symmetrised KL to the Bayes oracle (uniform prior over {prior}) at position t on "
             f"{config.eval.n_seqs} sequences of {config.eval.split} HMMs; code length = "
             f"sum over t of NLL (nats/sequence); mean ± std over seeds"]
    widths = [max(16, len(c) + 2) for c in cols]  # a column never runs into its neighbour
    swept = [k for k in config.sweep.axes if k in summary.columns]
    body = []  # one row per learner and value of every swept field
    for key, g in summary.groupby(["learner", *swept], sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        label = " ".join([key[0], *(f"{k}={v}" for k, v in zip(swept, key[1:]) if pd.notna(v))])
        ok = g[g.finite.astype(bool)] if "finite" in g else g
        cells = "".join(_mean_std(ok[c], w) for c, w in zip(cols, widths))
        excluded = len(g) - len(ok)
        flag = (f"  [{excluded} of {len(g)} runs non-finite (diverged): left out of the mean]"
                if excluded else "")
        body.append((label, cells + flag))
    width = max([12] + [len(label) + 2 for label, _ in body])
    header = f"{'learner':<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cols, widths))
    lines += [header, "-" * len(header)] + [f"{label:<{width}}{row}" for label, row in body]
    gpts = gpt_learners(ambiguity)
    a = ambiguity[ambiguity.learner.isin(gpts)].groupby(["bin_lo", "bin_hi", "learner"]).agg(
        kl=("kl", "mean"), n_tokens=("n_tokens", "mean")).reset_index()
    kl = a.pivot(index=["bin_lo", "bin_hi"], columns="learner", values="kl")
    tokens = a.groupby(["bin_lo", "bin_hi"]).n_tokens.first()
    lines += ["", "GPT's KL binned by the oracle's ambiguity A(t) (nats)"
              + ("; gpt@N: the same runs after N steps" if len(gpts) > 1 else ""),
              f"{'A(t) bin':<16}" + "".join(f"{g if len(gpts) > 1 else 'kl':>12}" for g in gpts)
              + f"{'tokens/seed':>14}"]
    for (lo, hi), n in tokens.items():
        if n:
            lines.append(f"[{lo:g}, {hi:g})".ljust(16)
                         + "".join(f"{kl.loc[(lo, hi), g]:>12.4f}" for g in gpts) + f"{n:>14.0f}")
    if mc is not None and len(mc):
        lines += ["", "Monte-Carlo predictor: symmetrised KL to the oracle at position t "
                  f"({config.mc.n_seqs} sequences; mean over seeds)"]
        piv = mc.groupby(["learner", "n_samples", "position"])["kl"].mean().unstack("position")
        lines.append(f"{'learner':<22}{'N':>4}" + "".join(f"{'t=' + str(p):>9}" for p in piv.columns))
        for (learner, n), r in piv.iterrows():
            lines.append(f"{learner:<22}{n:>4}" + "".join(f"{v:>9.4f}" for v in r.values))
        amb = mc.groupby("position")["ambiguity"].mean()
        lines.append(f"{'A(t) oracle':<26}" + "".join(f"{amb[p]:>9.3f}" for p in piv.columns))
    return "\n".join(lines)


def gpt_learners(table: pd.DataFrame) -> list[str]:
    """The GPT learners of a table in training order: ``gpt@N`` (the runs evaluated after N
    steps, ``eval.lm_steps``) by N, then ``gpt`` (after ``train.steps``)."""
    staged = sorted({name for name in table.learner if name.startswith("gpt@")},
                    key=lambda name: int(name[4:]))
    return staged + (["gpt"] if (table.learner == "gpt").any() else [])


def _mean_std(values: pd.Series, width: int) -> str:
    """``mean ±std`` over seeds, right-aligned in ``width``; the mean alone for one value,
    a dash for none."""
    v = values.dropna()
    if v.empty:
        return f"{'–':>{width}}"
    text = f"{v.mean():.4f}" + (f" ±{v.std(ddof=0):.3f}" if len(v) > 1 else "      ")
    return f"{text:>{width}}"


def plot(positions: pd.DataFrame, ambiguity: pd.DataFrame, mc: pd.DataFrame | None,
         path: str, config) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_pan = 3 if mc is not None and len(mc) else 2
    fig, axes = plt.subplots(1, n_pan, figsize=(5 * n_pan, 4))
    ax = axes[0]
    gpts = gpt_learners(positions)
    for i, learner in enumerate(gpts):
        kl = positions[(positions.learner == learner) & (positions.metric == "kl")]
        stats = kl.groupby("position")["value"].agg(["mean", "min", "max"])
        x = stats.index + 1
        color = plt.cm.Blues(0.4 + 0.6 * (i + 1) / len(gpts)) if len(gpts) > 1 else "tab:blue"
        label = ("GPT: symmetrised KL to oracle" if len(gpts) == 1 else
                 f"GPT after {learner[4:] if '@' in learner else config.train.steps} steps")
        ax.plot(x, stats["mean"], color=color, label=label)
        ax.fill_between(x, stats["min"], stats["max"], color=color, alpha=0.2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context position t + 1")
    ax.set_ylabel("KL (nats)")
    amb = positions[(positions.learner == "oracle") & (positions.metric == "ambiguity")]
    a_stats = amb.groupby("position")["value"].mean()
    ax2 = ax.twinx()
    ax2.plot(a_stats.index + 1, a_stats.values, "k--", label="A(t) = H[p(θ|x<t)]")
    ax2.set_ylabel("ambiguity A(t) (nats)")
    ax.set_title("KL to the Bayes oracle vs position")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower left")

    ax = axes[1]
    n_max = f"N={max(config.mc.samples)} " if config.mc.enabled else ""
    for learner, g in ambiguity.groupby("learner"):
        if "N=" in learner and n_max not in learner:
            continue  # the table keeps every N; the panel shows the largest
        s = g.groupby(["bin_lo", "bin_hi"])["kl"].mean().reset_index().dropna()
        centre = np.sqrt(np.maximum(s.bin_lo, 1e-4) * s.bin_hi)
        ax.plot(centre, s.kl, "o-", label=learner)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("oracle ambiguity A(t) (nats, bin centre)")
    ax.set_ylabel("mean symmetrised KL (nats)")
    ax.set_title("KL binned by ambiguity")
    ax.legend(fontsize=7)
    if n_pan == 3:
        ax = axes[2]
        for (learner, n), g in mc[mc.learner != "posterior_nll_true"].groupby(["learner", "n_samples"]):
            s = g.groupby("position")["kl"].mean()
            ax.plot(s.index + 1, s.values, "o-" if learner != "gpt" else "k-",
                    label=learner if learner in ("gpt", "known_theta") else f"{learner} N={n}",
                    ms=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("context position t + 1")
        ax.set_ylabel("symmetrised KL (nats)")
        ax.set_title("Monte-Carlo predictor vs GPT")
        ax.legend(fontsize=6)
    fig.tight_layout()
    results_lib.save_figure(fig, path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- bench
def bench(quick: bool, peak_gflops: float) -> dict:
    """metahmm_oracle_s_per_seq: exact oracle over the paper's 12,288 HMMs, length-200
    sequences, batched (blocks of 4 sequences), both priors and the epistemic term off;
    metahmm_oracle_vs_naive: a naive per-sequence filter (every HMM its own log-space
    scan, the reference's layout) ÷ that; metahmm_oracle_flops_fraction: useful matmul
    FLOP/s ÷ the matmul peak. ``quick``: 1,024-HMM CPU family, length 64."""
    from jaxlab.timing import best_time

    if quick:
        spec = metahmm.FamilySpec(n_states=10, n_tokens=20, base_cycles=2, cycle_families=2,
                                  emission_groups=2, emission_shifts=2, n_held_out=100)
        length, n_seq, block = 64, 8, 4
    else:
        spec, length, n_seq, block = metahmm.FamilySpec(), 200, 32, 4
    fam = metahmm.build(spec)
    x, _ = metahmm.sample(fam, jax.random.PRNGKey(0), jnp.asarray(fam.held_out_ids[:n_seq]), length)
    tr, em = jnp.asarray(fam.trans), jnp.asarray(fam.emis)
    prior = jnp.asarray(hmm_oracle.log_prior_of(fam.n_hmms)[None])
    fast = jax.jit(lambda xx: hmm_oracle.blocked_filter(tr, em, xx, prior, block=block).log_pred)
    t_fast = best_time(lambda: fast(x), 1 if quick else 3) / n_seq
    th, eh = metahmm.hmm_matrices(fam, jnp.arange(fam.n_hmms))
    naive = jax.jit(lambda xx: hmm_oracle.naive_filter(th, eh, xx))
    t_naive = best_time(lambda: naive(x[0]), 1)
    np.testing.assert_allclose(np.asarray(naive(x[0])), np.asarray(fast(x[:block])[0, 0]),
                               atol=2e-3)
    flops = hmm_oracle.matmul_flops_per_seq(fam.trans.shape[0], fam.emis.shape[0],
                                            spec.n_states, spec.n_tokens, length)
    return {"metahmm_oracle_s_per_seq": t_fast, "metahmm_oracle_naive_s_per_seq": t_naive,
            "metahmm_oracle_vs_naive": t_naive / t_fast,
            "metahmm_oracle_gflop_per_seq": flops / 1e9,
            "metahmm_oracle_flops_fraction": flops / t_fast / 1e9 / peak_gflops}
