"""Study: "In-context learning and Occam's razor" (arXiv 2410.14086), linear regression.

Explicit in-context learners trained with the prequential (next-token) objective and with
the train-risk objective, several seeds each, all in one program; evaluated at every
context size on held-out tasks beside the exact Bayes-optimal predictor.
Reference code: ``3rdCore/PrequentialCode``; docs: docs/icl_occam.md.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd

from jaxlab import objectives
from jaxlab.config import require
from jaxlab.models.explicit import ExplicitICL
from jaxlab.models.implicit import ImplicitICL
from jaxlab.models.interleaved import InterleavedICL
from jaxlab.tasks import families, inference
from jaxlab.tasks.linear_exact import exact_bayes_risk
from jaxlab.papers.icl_occam import sgd as icl_sgd
from jaxlab.papers.icl_occam.task import episodes, make_task, pointwise_loss
from jaxlab import results as results_lib
from jaxlab import runner
from jaxlab.processes import is_primary
from jaxlab.train import Learner, Trainer, build_trainer

TITLE = "In-context learning and Occam's razor (arXiv 2410.14086)"
OBJECTIVES = ("prequential", "train")
CHOICES = {"objective": OBJECTIVES}
MODEL_KINDS = ("explicit", "implicit", "interleaved", "mamba")

FAMILIES = families.NAMES
# Paper numbers: linear regression, generalisation MSE at context size n, seed means read
# off the linear-regression panel of the paper's Fig. 2 (to about 2 %; docs/icl_occam.md,
# "Reproduction table"). The Bayes row beside them is not a paper number: it is our exact
# expected risk (``exact_bayes``), computed when the table is printed.
PAPER_LINEAR = {
    "prequential": {1: .816, 2: .578, 5: .265, 10: .122, 20: .068, 100: .046, 1000: .043},
    "train": {1: .875, 2: .600, 5: .288, 10: .134, 20: .072, 100: .045, 1000: .043},
    "sgd": {5: .596, 10: .333, 20: .172, 100: .082, 1000: .059},
}
LEARNERS = ("bayes", "prequential", "train", "sgd", "ridge", "marginal")
# Code lengths are summed from this context size on in the table's last column (the
# smallest SGD dataset size of the reference, so every learner covers the range).
CODE_FROM = 5


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError naming the field for any impossible value."""
    t, m, tr, ev = config.task, config.model, config.train, config.eval
    families.validate(t)
    if t.family == "classification":
        require(not config.sgd.enabled, "sgd.enabled", "the SGD learner covers regression and Mastermind only")
    require(m.kind in MODEL_KINDS, "model.kind", f"must be one of {MODEL_KINDS}, got {m.kind!r}")
    require(m.ssm_scan in ("associative", "sequential"), "model.ssm_scan",
            f"must be 'associative' or 'sequential', got {m.ssm_scan!r}")
    for name in ("d_model", "n_layers", "n_heads", "d_ff", "z_dim", "predictor_hidden"):
        require(m[name] >= 1, f"model.{name}", f"must be >= 1, got {m[name]}")
    require(m.d_model % m.n_heads == 0, "model.n_heads",
            f"must divide model.d_model={m.d_model}, got {m.n_heads}")
    require(m.predictor_layers >= 2, "model.predictor_layers",
            f"must be >= 2, got {m.predictor_layers}")
    for name in ("batch_tasks", "n_points"):
        require(tr[name] >= 1, f"train.{name}", f"must be >= 1, got {tr[name]}")
    require(0 <= tr.min_context < tr.n_points, "train.min_context",
            f"must be in [0, train.n_points={tr.n_points}), got {tr.min_context}")
    require(tr.micro_batches == 0 or tr.batch_tasks % tr.micro_batches == 0, "train.micro_batches",
            f"must divide train.batch_tasks={tr.batch_tasks}, got {tr.micro_batches}")
    require(ev.n_tasks >= 1 and ev.batch_tasks >= 1 and ev.n_tasks % ev.batch_tasks == 0,
            "eval.batch_tasks", f"must be >= 1 and divide eval.n_tasks={ev.n_tasks}, got {ev.batch_tasks}")
    require(tr.min_context < ev.n_points <= tr.n_points, "eval.n_points",
            f"must be in (train.min_context, train.n_points={tr.n_points}]: the model never saw "
            f"more context than train.n_points; got {ev.n_points}")
    require(ev.n_points > CODE_FROM, "eval.n_points",
            f"must be > {CODE_FROM} (code_length_{CODE_FROM} sums from n={CODE_FROM}), got {ev.n_points}")
    for n in ev.report_n:
        require(isinstance(n, int) and not isinstance(n, bool), "eval.report_n",
                f"context sizes must be integers, got {n!r}")
        require(tr.min_context <= n < ev.n_points, "eval.report_n",
                f"context size {n} is outside [train.min_context, eval.n_points)")
    require(config.hp.objective in OBJECTIVES, "hp.objective",
            f"must be one of {OBJECTIVES}, got {config.hp.objective!r}")
    for v in config.sweep.axes.get("objective", ()):
        require(v in OBJECTIVES, "sweep.axes.objective", f"values must be in {OBJECTIVES}, got {v!r}")
    if config.sgd.enabled:
        icl_sgd.validate(config)






def make_model(config: ml_collections.ConfigDict):
    """The learner of ``config.model.kind``: ExplicitICL (transformer or Mamba aggregator),
    ImplicitICL (cross-attention) or InterleavedICL. Each maps (x, y) to a context and answers queries with ``answer``."""
    m, y_dim = config.model, make_task(config).y_dim
    if m.kind == "implicit":
        return ImplicitICL(m.d_model, m.n_layers, m.n_heads, m.d_ff, y_dim)
    if m.kind == "interleaved":
        return InterleavedICL(m.d_model, m.n_layers, m.n_heads, m.d_ff, y_dim)
    return ExplicitICL(m.d_model, m.n_layers, m.n_heads, m.d_ff, m.z_dim, m.predictor_hidden,
                       m.predictor_layers, y_dim, m.tie_predictor_hidden,
                       aggregator="mamba" if m.kind == "mamba" else "transformer",
                       ssm_scan=m.ssm_scan)






def make_learner(config: ml_collections.ConfigDict) -> Learner:
    task, model = make_task(config), make_model(config)
    tr, ev = config.train, config.eval
    m = tr.min_context

    def answerer(params, context):
        """Queries (B, N - m, x_dim) -> predictions, column j from the first m + j points."""
        return lambda xq: model.apply(params, xq, context, m, method=model.answer)

    loss_fn = pointwise_loss(config)

    def init_params(key):
        x, y = episodes(task, key, 2, tr.n_points)
        return model.init(key, x, y, method=model.init_all)

    def sample_batch(key):
        return episodes(task, key, tr.batch_tasks, tr.n_points)

    def loss(params, batch, hp, key):
        """The selected objective carries the gradient; the other is a metric only."""
        x, y = batch
        context = model.apply(params, x, y)
        q = objectives.context_queries(x, y, key, m)
        is_preq = hp["objective"] == 0
        pick = lambda a, b: jnp.where(is_preq, a, b)
        trained = loss_fn(
            answerer(params, context)(pick(q.next_x, q.seen_x)), pick(q.next_y, q.seen_y)).mean()
        frozen = jax.lax.stop_gradient
        other = loss_fn(answerer(frozen(params), frozen(context))(pick(q.seen_x, q.next_x)),
                        pick(q.seen_y, q.next_y)).mean()
        metrics = {"prequential_loss": pick(trained, other), "train_loss": pick(other, trained)}
        return trained, metrics

    def eval_episodes(key):
        x, y = episodes(task, key, ev.n_tasks, ev.n_points)
        split = lambda a: a.reshape(ev.n_tasks // ev.batch_tasks, ev.batch_tasks, *a.shape[1:])
        return split(x), split(y)

    def evaluate(params, hp, key):
        """Mean next-token (gen_error) and in-context (train_error) loss per n = m..N-1."""
        xs, ys = eval_episodes(key)

        def one_batch(batch):
            x, y, k = batch
            preq, train = objectives.query_losses(
                answerer(params, model.apply(params, x, y)),
                objectives.context_queries(x, y, k, m), loss_fn)
            return preq.sum(0), train.sum(0)

        keys = jax.random.split(jax.random.fold_in(key, 1), xs.shape[0])
        preq, train = jax.lax.map(one_batch, (xs, ys, keys))
        return {"gen_error": preq.sum(0) / ev.n_tasks, "train_error": train.sum(0) / ev.n_tasks}

    return Learner(init_params, sample_batch, loss, evaluate)


def oracle_tasks(config: ml_collections.ConfigDict) -> int:
    """How many of the evaluation episodes (the first ones) the oracle row covers."""
    return families.oracle_tasks(config.task, config.eval.n_tasks, config.eval.bayes_tasks)


def oracle_method(config: ml_collections.ConfigDict) -> str | None:
    """The oracle row's method (None: the family has no oracle in this configuration)."""
    return make_task(config).oracle_method


def bayes_evaluate(config: ml_collections.ConfigDict, key: jax.Array) -> dict:
    """The family's oracle (``oracle_method``) on the same episodes as ``evaluate`` (the first
    ``oracle_tasks`` of them): {metric: (n,)} over n = min_context..N-1, with gen_error in
    the learners' units and the oracle's diagnostics (expected_risk for closed forms;
    mc_se, mc_bias, ess for Monte Carlo; quad_delta for quadrature)."""
    task, ev, m = make_task(config), config.eval, config.train.min_context
    ep = task.sample(key, ev.n_tasks, ev.n_points)
    n = oracle_tasks(config)
    ep = jax.tree.map(lambda a: a[:n], ep) if n < ev.n_tasks else ep
    per_point = task.oracle(ep, jax.random.fold_in(key, 5), **families.oracle_options(config.task))
    return {k: v[m:] for k, v in inference.aggregate(per_point).items()}


def baseline_evaluate(config: ml_collections.ConfigDict, key: jax.Array) -> dict:
    """The cheap baseline on the same episodes as ``evaluate``: ridge on [x, 1] (regression,
    penalty task.ridge_lambda) or the add-one marginal label frequency (categorical)."""
    task, ev, m = make_task(config), config.eval, config.train.min_context
    x, y = episodes(task, key, ev.n_tasks, ev.n_points)
    per_point = families.baseline(config.task, x, y)
    return {k: v[m:] for k, v in inference.aggregate(per_point).items()}


def baselines(config: ml_collections.ConfigDict, seed_keys: jax.Array) -> dict:
    """Learners that are not trained by the engine, per seed: the family's oracle row
    ("bayes", method in ``oracle_method``) and its cheap baseline ("ridge" or "marginal") on
    the evaluation episodes, and, if enabled, the SGD learner of §3.2 on its own tasks.

    Returns {learner: (n_context (n,), {metric: (S, n)})}.
    """
    out = {}
    if oracle_method(config) is not None:
        bayes = jax.jit(jax.vmap(lambda k: bayes_evaluate(config, k)))(seed_keys)
        out["bayes"] = (context_sizes(config), jax.device_get(bayes))
    name = families.baseline_name(config.task)
    base = jax.jit(jax.vmap(lambda k: baseline_evaluate(config, k)))(seed_keys)
    out[name] = (context_sizes(config), jax.device_get(base))
    if config.sgd.enabled:
        sgd_keys = jax.vmap(lambda k: jax.random.fold_in(k, 3))(seed_keys)
        sgd = jax.device_get(icl_sgd.evaluate(config, sgd_keys))
        sgd.pop("steps")  # per fit, not a curve
        out["sgd"] = (np.asarray(config.sgd.sizes), sgd)
    return out


def make_train(config: ml_collections.ConfigDict) -> Trainer:
    validate(config)
    return build_trainer(config, make_learner(config))


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """Trains every (objective, seed) run in one program, evaluates them at every context
    size beside the oracle, the cheap baseline and the SGD learner; writes the ``eval`` and
    ``summary`` tables, ``table.txt`` and ``figure.png``."""
    phase = runner.train_runs(config, make_learner(config), session, choices=CHOICES)
    grid, executor = phase.grid, phase.executor
    seed_keys = grid.seed_keys()
    run_rows = phase.run_rows
    run_seed_keys = phase.place(seed_keys[jnp.asarray([row["seed"] for row in run_rows])])
    evaluate = runner.program(config, executor, "evaluate", lambda: phase.trainer.evaluate)
    per_run = phase.gather(evaluate(phase.state, phase.hps, run_seed_keys))
    diverged = set(np.flatnonzero(~phase.healthy).tolist())
    if not is_primary():
        return
    eval_df = eval_table(config, per_run, baselines(config, seed_keys), run_rows,
                         list(grid.axes), diverged)
    summary_df = summarize(eval_df, config)
    results_lib.write_table(session.workdir, "eval", eval_df)
    results_lib.write_table(session.workdir, "summary", summary_df)
    plot(eval_df, os.path.join(session.workdir, "figure.png"), config)
    results_lib.atomic_write_text(os.path.join(session.workdir, "table.txt"),
                                  report(summary_df, config) + "\n")


def eval_table(config: ml_collections.ConfigDict, per_run: dict, baseline_curves: dict,
               run_rows: list[dict], swept: list[str], diverged: set[int]) -> pd.DataFrame:
    """Trained runs' curves {metric: (R, n)}, then each baseline learner's per-seed curves
    (run = -1): run, seed, learner, n_context, metric, value, swept fields. A diverged
    run's rows are NaN."""
    n_ctx = context_sizes(config)
    rows = []
    for row in run_rows:
        r = row["run"]
        for metric, values in per_run.items():
            vals = np.asarray(values[r], dtype=np.float64)
            if r in diverged:
                vals = np.full_like(vals, np.nan)
            rows.append(pd.DataFrame({"run": r, "seed": row["seed"], "learner": learner_of(row),
                                      "n_context": n_ctx, "metric": metric, "value": vals,
                                      **{k: row[k] for k in swept}}))
    for learner, (sizes, metrics) in baseline_curves.items():
        for metric, values in metrics.items():
            for seed, vals in enumerate(np.asarray(values, dtype=np.float64)):
                rows.append(pd.DataFrame({"run": -1, "seed": seed, "learner": learner,
                                          "n_context": sizes, "metric": metric, "value": vals,
                                          **{k: None for k in swept}}))
    return pd.concat(rows, ignore_index=True)


# eval's own columns; the others are swept fields (or a figure's tags)
EVAL_COLUMNS = ("run", "seed", "learner", "n_context", "metric", "value", "objective",
                "member", "family", "model", "curve")


def context_sizes(config: ml_collections.ConfigDict) -> np.ndarray:
    return np.arange(config.train.min_context, config.eval.n_points)


def learner_of(row: dict) -> str:
    """The learner label of a trained run: its objective (swept or not)."""
    return row["hp"]["objective"]


def summarize(eval_df: pd.DataFrame, config: ml_collections.ConfigDict) -> pd.DataFrame:
    """Per (learner, seed, run): error at each report n, the prequential code length, the
    swept fields' values and ``finite`` (every gen_error of the curve is finite).

    code_length = sum of gen_error over n = min_context..N-1 (squared-error units, as the
    paper's area under the curve); NaN for a learner whose curve does not cover that range
    (SGD starts at n = 5) and for a non-finite (diverged) curve, never a sum that skips its
    NaNs. code_length_5 = the sum over every integer n = CODE_FROM..N-1, with the curve
    linearly interpolated between the sizes it was measured at (the SGD learner may be
    measured on a sparse grid of sizes); NaN likewise.
    """
    swept = [k for k in config.sweep.axes if k in eval_df.columns]
    gen = eval_df[eval_df.metric == "gen_error"]
    rows = []
    for (learner, seed, run), g in gen.groupby(["learner", "seed", "run"]):
        curve = g.set_index("n_context")["value"].sort_index()
        finite = bool(np.isfinite(curve.values).all())
        row = {"learner": learner, "seed": seed, "run": run,
               **{k: g[k].iloc[0] for k in swept}, "finite": finite}
        for n in config.eval.report_n:
            row[f"n={n}"] = curve.get(n, np.nan)
        full = np.arange(config.train.min_context, config.eval.n_points)
        row["code_length"] = (curve.sum(skipna=False) if finite and set(full) <= set(curve.index)
                              else np.nan)
        ns = np.arange(CODE_FROM, config.eval.n_points)
        covered = curve.index.min() <= CODE_FROM and curve.index.max() >= ns[-1]
        row[f"code_length_{CODE_FROM}"] = (
            np.interp(ns, curve.index, curve.values).sum() if covered and finite else np.nan)
        for diag in ("mc_se", "mc_bias", "mc_split_bias", "quad_delta"):  # oracle error bars, worst n
            d = eval_df[(eval_df.metric == diag) & (eval_df.learner == learner) & (eval_df.seed == seed)
                        & (eval_df.run == run)]
            if not d.empty:
                row[f"{diag}_max"] = float(d.value.max())
        rows.append(row)
    return pd.DataFrame(rows)


# Below these sizes the run is smoke-sized: the paper's rows (its own sizes; the default
# config is where docs/icl_occam.md compares them) are printed with a note.
PAPER_SCALE = (("train.steps", 1000), ("model.d_model", 64), ("eval.n_tasks", 1000))


def too_small_for_paper(config: ml_collections.ConfigDict) -> list[str]:
    """The sizes that make this run not comparable with the paper's rows (empty: none)."""
    out = []
    for field, least in PAPER_SCALE:
        group, name = field.split(".")
        if config[group][name] < least:
            out.append(f"{field}={config[group][name]} < {least}")
    return out


def exact_bayes(config: ml_collections.ConfigDict) -> dict[int, float]:
    """Ours, not the paper's: the expected risk R(n) of the Bayes predictor at each report n,
    by quadrature over the task's prior (``jaxlab.tasks.linear_exact``, about 0.2 s per n),
    for fresh linear-regression tasks; {} for other families and finite pools."""
    if config.task.family != "linear" or config.task.get("pool_size", 0):
        return {}
    task = make_task(config)
    return {int(n): exact_bayes_risk(task, int(n)) for n in config.eval.report_n}


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def report(summary: pd.DataFrame, config: ml_collections.ConfigDict) -> str:
    """The printed table: the seed mean (and std) per learner and per value of every swept
    field (one row each), paper numbers beside (fresh linear tasks; the Bayes learner's
    reference row is our exact expected risk, labelled ``exact (ours)``). Runs with a
    non-finite curve (diverged) are left out of the mean, and the row says how many."""
    cols = [f"n={n}" for n in config.eval.report_n] + ["code_length", f"code_length_{CODE_FROM}"]
    n_hi = config.eval.n_points - 1
    unit = "NLL (nats)" if families.is_categorical(config.task.family) else "MSE"
    lines = [f"generalisation {unit} at context size n (mean ± std over seeds); code_length = "
             f"sum over n={config.train.min_context}..{n_hi}, code_length_{CODE_FROM} over "
             f"n={CODE_FROM}..{n_hi}"]
    fresh_linear = config.task.family == "linear" and not config.task.get("pool_size", 0)
    small = too_small_for_paper(config)
    if fresh_linear and small:
        lines.append(f"the paper rows are not comparable at this size ({', '.join(small)}): "
                     f"they are the paper's numbers at its own sizes")
    # the objective is the learner's name; every other swept field gets its own rows
    extra = [k for k in config.sweep.axes if k != "objective" and k in summary.columns]
    if "finite" not in summary.columns:  # a summary written before the column existed
        summary = summary.assign(finite=True)
    blocks = []
    for learner in LEARNERS:
        g = summary[summary.learner == learner]
        if g.empty:
            continue
        trained = bool(extra) and bool(g[extra].notna().to_numpy().all())
        groups = g.groupby(extra, sort=True) if trained else [((), g)]
        for values, b in groups:
            values = values if isinstance(values, tuple) else (values,)
            label = " ".join([learner] + [f"{k}={_value(v)}" for k, v in zip(extra, values)])
            blocks.append((learner, label, b))
        blocks.append((learner, None, None))  # the paper row goes after the learner's rows
    width = max([14] + [len(label) + 2 for _, label, _ in blocks if label])
    header = f"{'learner':<{width}}" + "".join(f"{c:>16}" for c in cols)
    lines += [header, "-" * len(header)]
    exact = exact_bayes(config) if any(learner == "bayes" for learner, _, _ in blocks) else {}
    for learner, label, b in blocks:
        if label is None:
            ref_label, ref = (("  exact (ours)", exact) if learner == "bayes" else
                              ("  paper", PAPER_LINEAR.get(learner, {}) if fresh_linear else {}))
            cells = "".join(f"{ref.get(int(c[2:]), float('nan')) if c.startswith('n=') else float('nan'):>16.3f}"
                            for c in cols)
            if ref:
                lines.append(f"{ref_label:<{width}}{cells.replace('nan', '  –')}")
            continue
        ok = b[b.finite.astype(bool)]
        cells = "".join(f"{ok[c].mean():>9.3f} ±{ok[c].std(ddof=0):5.3f}"
                        if len(ok) and ok[c].notna().all() else f"{'–':>16}" for c in cols)
        excluded = len(b) - len(ok)
        flag = (f"  [{excluded} of {len(b)} runs non-finite (diverged): left out of the mean]"
                if excluded else "")
        lines.append(f"{label:<{width}}{cells}{flag}")
    method = oracle_method(config)
    if method is not None:
        lines.append(f"bayes = {method}; on the first {oracle_tasks(config)} of the "
                     f"{config.eval.n_tasks} evaluation episodes per seed")
        g = summary[summary.learner == "bayes"]
        for diag, what in (("mc_se", "Monte-Carlo standard error of its gen_error"),
                           ("mc_bias", "Monte-Carlo upward bias of its gen_error (delta method)"),
                           ("mc_split_bias", "Monte-Carlo upward bias of its gen_error (split samples)"),
                           ("quad_delta", "quadrature indicator (grid vs half grid, MSE)")):
            if f"{diag}_max" in g and g[f"{diag}_max"].notna().any():
                lines.append(f"  {what}: at most {g[f'{diag}_max'].max():.2g} over n and seeds")
    if exact:
        lines.append("exact (ours) = the Bayes predictor's expected risk over the task prior, by "
                     "quadrature (jaxlab.tasks.linear_exact); not a paper number")
    if fresh_linear and any(learner in PAPER_LINEAR for learner, _, _ in blocks):
        lines.append("paper = seed means read off the linear-regression panel of the paper's "
                     "Fig. 2 (to about 2 %)")
    return "\n".join(lines)


COLORS = {"bayes": "k", "prequential": "tab:blue", "train": "tab:orange", "sgd": "tab:green",
          "explicit": "tab:blue", "implicit": "tab:red", "mamba": "tab:purple", "interleaved": "tab:brown",
          "ridge": "tab:gray", "marginal": "tab:gray"}


def error_label(family: str) -> str:
    return "generalisation error (nats)" if families.is_categorical(family) else "generalisation error (MSE)"


def draw_curves(ax, eval_df: pd.DataFrame, by: str = "learner") -> None:
    """gen_error vs context size on ``ax`` (log-log): one curve per value of column ``by``,
    seed mean with a min..max band; the Bayes oracle dashed."""
    gen = eval_df[eval_df.metric == "gen_error"]
    extra = [c for c in gen.columns if c not in EVAL_COLUMNS and gen[c].nunique() > 1]
    if by == "learner" and extra:  # one curve per learner and swept value
        gen = gen.assign(curve=[" ".join([row[0]] + [f"{k}={_value(v)}" for k, v in zip(extra, row[1:])
                                                     if not pd.isna(v)])
                                for row in gen[["learner", *extra]].itertuples(index=False)])
        by = "curve"
    seen: dict[str, int] = {}
    for label, g in gen.groupby(by, sort=False):
        stats = g.groupby("n_context")["value"].agg(["mean", "min", "max"])
        base = label.split(" ")[0]  # a swept variant keeps its learner's colour, and
        variant = seen.setdefault(base, 0)  # gets its own line style
        seen[base] += 1
        style = "--" if label == "bayes" else (":" if label in ("ridge", "marginal") else
                                               ("-", "-.", (0, (5, 1)), (0, (1, 1)))[variant % 4])
        ax.plot(stats.index, stats["mean"], linestyle=style, color=COLORS.get(base), label=label)
        ax.fill_between(stats.index, stats["min"], stats["max"], color=COLORS.get(base), alpha=0.2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context size n (datapoints seen)")


def plot(eval_df: pd.DataFrame, path: str, config: ml_collections.ConfigDict) -> None:
    """Generalisation error vs context size (log x), seed band (min..max), one curve per learner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = config.task.family
    fig, ax = plt.subplots(figsize=(5.5, 4))
    draw_curves(ax, eval_df)
    ax.set_ylabel(error_label(family))
    ax.set_title(f"{family.capitalize()}: prequential vs train-risk ICL" +
                 (" vs SGD" if "sgd" in set(eval_df.learner) else ""))
    ax.legend()
    fig.tight_layout()
    results_lib.save_figure(fig, path, dpi=120)
    plt.close(fig)
