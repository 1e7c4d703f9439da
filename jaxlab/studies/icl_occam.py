"""Study: "In-context learning and Occam's razor" (arXiv 2410.14086), linear regression.

Explicit in-context learners trained with the prequential (next-token) objective and with
the train-risk objective, several seeds each, all in one program; evaluated at every
context size on held-out tasks beside the exact Bayes-optimal predictor.
Spec: ../shared/specs/icl_occam.md; docs: docs/icl_occam.md.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd

from jaxlab import objectives
from jaxlab.config import ConfigError, require
from jaxlab.models.explicit import ExplicitICL
from jaxlab.models.implicit import ImplicitICL
from jaxlab.models.interleaved import InterleavedICL
from jaxlab.tasks import baselines as task_baselines
from jaxlab.tasks import inference
from jaxlab.tasks.chebyshev import ChebyshevRegression
from jaxlab.tasks.classification import LinearClassification
from jaxlab.tasks.dynamics import TransitionMatrix
from jaxlab.tasks.gp import GPRegression
from jaxlab.tasks.linear import LinearRegression
from jaxlab.tasks.mastermind import Mastermind
from jaxlab.tasks.mlp_tasks import LowRankMLPRegression, MLPRegression
from jaxlab.tasks.pool import FinitePool
from jaxlab.tasks.sinusoid import SinusoidRegression
from jaxlab.studies import icl_sgd
from jaxlab.train import Learner, Trainer, build_trainer

TITLE = "In-context learning and Occam's razor (arXiv 2410.14086)"
OBJECTIVES = ("prequential", "train")
CHOICES = {"objective": OBJECTIVES}
MODEL_KINDS = ("explicit", "implicit", "interleaved", "mamba")

FAMILIES = ("linear", "sinusoid", "mastermind", "chebyshev", "mlp", "lowrank_mlp",
            "classification", "gp_rbf", "gp_matern", "dynamics")
# Families whose oracle is Monte Carlo or quadrature: run on the first task.oracle_tasks
# evaluation episodes (Mastermind's enumeration: eval.bayes_tasks).
COSTLY_ORACLES = ("sinusoid", "mlp", "lowrank_mlp", "classification", "gp_rbf", "gp_matern")
CATEGORICAL = ("mastermind", "classification")
# Paper numbers (spec §6, linear regression, generalisation MSE at context size n).
PAPER_LINEAR = {
    "bayes": {1: .803, 2: .581, 5: .163, 10: .068, 20: .050, 100: .042, 1000: .040},
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
    require(t.family in FAMILIES, "task.family", f"must be one of {FAMILIES}, got {t.family!r}")
    for name in ("x_dim", "y_dim"):
        require(t[name] >= 1, f"task.{name}", f"must be >= 1, got {t[name]}")
    if t.family == "linear":
        require(t.noise > 0, "task.noise", f"must be > 0 (the Bayes oracle divides by it), got {t.noise}")
    elif t.family == "mastermind":
        require(1 <= t.code_colours <= t.n_colours, "task.code_colours",
                f"must be in [1, task.n_colours={t.n_colours}], got {t.code_colours}")
    elif t.family == "sinusoid":
        require(t.noise >= 0, "task.noise", f"must be >= 0, got {t.noise}")
        require(t.y_dim == 1, "task.y_dim", f"must be 1 for sinusoid tasks, got {t.y_dim}")
    else:
        _validate_family(config)
    if t.family == "classification":
        require(not config.sgd.enabled, "sgd.enabled", "the SGD learner covers regression and Mastermind only")
    pool = t.get("pool_size", 0)
    require(pool >= 0, "task.pool_size", f"must be >= 0 (0 = fresh tasks per episode), got {pool}")
    if pool:
        require(t.family not in ("mastermind", "gp_rbf", "gp_matern"), "task.pool_size",
                f"a finite pool needs a finite task latent; {t.family} has none here, so use 0")
    require(m.kind in MODEL_KINDS, "model.kind", f"must be one of {MODEL_KINDS}, got {m.kind!r}")
    require(m.ssm_scan in ("associative", "sequential"), "model.ssm_scan",
            f"must be 'associative' or 'sequential', got {m.ssm_scan!r}")
    for name in ("d_model", "n_layers", "n_heads", "d_ff", "z_dim", "predictor_hidden"):
        require(m[name] >= 1, f"model.{name}", f"must be >= 1, got {m[name]}")
    require(m.d_model % m.n_heads == 0, "model.n_heads",
            f"must divide model.d_model={m.d_model}, got {m.n_heads}")
    require(m.predictor_layers >= 2, "model.predictor_layers",
            f"must be >= 2, got {m.predictor_layers}")
    for name in ("steps", "chunk_steps", "batch_tasks", "n_points", "micro_batches"):
        require(tr[name] >= 1, f"train.{name}", f"must be >= 1, got {tr[name]}")
    require(0 <= tr.min_context < tr.n_points, "train.min_context",
            f"must be in [0, train.n_points={tr.n_points}), got {tr.min_context}")
    require(tr.batch_tasks % tr.micro_batches == 0, "train.micro_batches",
            f"must divide train.batch_tasks={tr.batch_tasks}, got {tr.micro_batches}")
    require(tr.lr_schedule in ("constant", "cosine"), "train.lr_schedule",
            f"must be 'constant' or 'cosine', got {tr.lr_schedule!r}")
    require(0 <= tr.warmup_steps < tr.steps, "train.warmup_steps",
            f"must be in [0, train.steps={tr.steps}), got {tr.warmup_steps}")
    require(tr.steps % tr.chunk_steps == 0, "train.chunk_steps",
            f"must divide train.steps={tr.steps}, got {tr.chunk_steps}")
    require(ev.n_tasks >= 1 and ev.batch_tasks >= 1 and ev.n_tasks % ev.batch_tasks == 0,
            "eval.batch_tasks", f"must be >= 1 and divide eval.n_tasks={ev.n_tasks}, got {ev.batch_tasks}")
    require(tr.min_context < ev.n_points <= tr.n_points, "eval.n_points",
            f"must be in (train.min_context, train.n_points={tr.n_points}]: the model never saw "
            f"more context than train.n_points; got {ev.n_points}")
    for n in ev.report_n:
        require(tr.min_context <= n < ev.n_points, "eval.report_n",
                f"context size {n} is outside [train.min_context, eval.n_points)")
    require(config.hp.objective in OBJECTIVES, "hp.objective",
            f"must be one of {OBJECTIVES}, got {config.hp.objective!r}")
    for v in config.sweep.axes.get("objective", ()):
        require(v in OBJECTIVES, "sweep.axes.objective", f"values must be in {OBJECTIVES}, got {v!r}")
    for v in config.sweep.axes.get("learning_rate", ()):
        require(v > 0, "sweep.axes.learning_rate", f"values must be > 0, got {v}")
    require(config.hp.learning_rate > 0, "hp.learning_rate",
            f"must be > 0, got {config.hp.learning_rate}")
    if config.sgd.enabled:
        icl_sgd.validate(config)


def _validate_family(config: ml_collections.ConfigDict) -> None:
    """One-line errors for the families added after linear/sinusoid/Mastermind."""
    t = config.task
    g = lambda name, default: t.get(name, default)
    for name in ("oracle_samples", "oracle_tasks", "gp_grid"):
        require(g(name, 1) >= 1, f"task.{name}", f"must be >= 1, got {g(name, 1)}")
    require(g("ridge_lambda", 1.0) > 0, "task.ridge_lambda", f"must be > 0, got {g('ridge_lambda', 1.0)}")
    if t.family == "chebyshev":
        require(g("degree", 3) >= 0, "task.degree", f"must be >= 0, got {g('degree', 3)}")
        require(t.noise >= 0, "task.noise", f"must be >= 0, got {t.noise}")
    elif t.family in ("mlp", "lowrank_mlp"):
        require(t.noise > 0, "task.noise", "must be > 0: the importance-sampling oracle weighs "
                f"prior draws by a Gaussian likelihood, got {t.noise}")
        require(g("hidden", 64) >= 1, "task.hidden", f"must be >= 1, got {g('hidden', 64)}")
        require(g("z_dim", 10) >= 1, "task.z_dim", f"must be >= 1, got {g('z_dim', 10)}")
        require(g("mlp_init", "xavier") in ("xavier", "normal"), "task.mlp_init",
                f"must be 'xavier' or 'normal', got {g('mlp_init', 'xavier')!r}")
    elif t.family == "classification":
        require(g("n_classes", 2) >= 2, "task.n_classes", f"must be >= 2, got {g('n_classes', 2)}")
        require(g("temperature", 1e-6) > 0, "task.temperature",
                f"must be > 0, got {g('temperature', 1e-6)}")
    elif t.family in ("gp_rbf", "gp_matern"):
        require(t.y_dim == 1, "task.y_dim", f"must be 1 for GP tasks, got {t.y_dim}")
    elif t.family == "dynamics":
        for name in ("dim", "x_len", "y_len"):
            require(g(name, 1) >= 1, f"task.{name}", f"must be >= 1, got {g(name, 1)}")
        require(g("dt", 0.01) > 0, "task.dt", f"must be > 0, got {g('dt', 0.01)}")
        require(t.noise >= 0, "task.noise", f"must be >= 0, got {t.noise}")
        require(t.x_dim == t.dim * t.x_len, "task.x_dim",
                f"must equal task.dim * task.x_len = {t.dim * t.x_len}, got {t.x_dim}")
        require(t.y_dim == t.dim * t.y_len, "task.y_dim",
                f"must equal task.dim * task.y_len = {t.dim * t.y_len}, got {t.y_dim}")


def make_task(config: ml_collections.ConfigDict):
    """The task family of ``config.task`` (see jaxlab/tasks/ and docs/task_families.md),
    wrapped in a finite pool of ``task.pool_size`` tasks when that is > 0."""
    t = config.task
    g = lambda name, default: t.get(name, default)
    if t.family == "mastermind":
        return Mastermind(t.code_length, t.n_colours, t.code_colours)
    if t.family == "sinusoid":
        base = SinusoidRegression(t.x_dim, 3, t.noise, t.fixed_freq)
    elif t.family == "chebyshev":
        base = ChebyshevRegression(t.x_dim, t.y_dim, g("degree", 3), t.noise)
    elif t.family == "mlp":
        base = MLPRegression(t.x_dim, t.y_dim, g("hidden", 64), t.noise, g("mlp_init", "xavier"))
    elif t.family == "lowrank_mlp":
        base = LowRankMLPRegression(t.x_dim, t.y_dim, g("hidden", 64), g("z_dim", 10), t.noise)
    elif t.family == "classification":
        base = LinearClassification(t.x_dim, g("n_classes", 2), g("temperature", 1e-6))
    elif t.family in ("gp_rbf", "gp_matern"):
        return GPRegression("rbf" if t.family == "gp_rbf" else "matern52", t.x_dim)
    elif t.family == "dynamics":
        base = TransitionMatrix(t.dim, t.x_len, t.y_len, g("dt", 0.01), t.noise)
    else:
        base = LinearRegression(t.x_dim, t.y_dim, t.noise)
    if g("pool_size", 0) > 0:
        return FinitePool(base, t.pool_size, config.seed)
    return base


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


def episodes(task, key: jax.Array, n_tasks: int, n_points: int) -> tuple[jax.Array, jax.Array]:
    """Float model inputs (x, y), (B, N, x_dim) and (B, N, y_dim); one-hot for Mastermind."""
    return task.encode(task.sample(key, n_tasks, n_points))


def pointwise_loss(config: ml_collections.ConfigDict):
    """Squared error (regression), or the cross-entropy in nats of the categorical outputs
    (two for Mastermind, one for classification)."""
    if config.task.family == "mastermind":
        return lambda pred, y: objectives.grouped_cross_entropy(pred, y, 2)
    if config.task.family == "classification":
        return lambda pred, y: objectives.grouped_cross_entropy(pred, y, 1)
    return objectives.squared_error


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
    ev = config.eval
    if config.task.family == "mastermind":
        return min(ev.bayes_tasks, ev.n_tasks)
    if config.task.family in COSTLY_ORACLES and not config.task.get("pool_size", 0):
        return min(config.task.get("oracle_tasks", ev.n_tasks), ev.n_tasks)
    return ev.n_tasks


def oracle_method(config: ml_collections.ConfigDict) -> str | None:
    """The oracle row's method (None: the family has no oracle in this configuration)."""
    return make_task(config).oracle_method


def bayes_evaluate(config: ml_collections.ConfigDict, key: jax.Array) -> dict:
    """The family's oracle (``oracle_method``) on the same episodes as ``evaluate`` (the first
    ``oracle_tasks`` of them): {metric: (n,)} over n = min_context..N-1, with gen_error in
    the learners' units and the oracle's diagnostics (expected_risk for closed forms;
    mc_se, mc_bias, ess for Monte Carlo; quad_delta for quadrature)."""
    task, ev, m, t = make_task(config), config.eval, config.train.min_context, config.task
    ep = task.sample(key, ev.n_tasks, ev.n_points)
    n = oracle_tasks(config)
    ep = jax.tree.map(lambda a: a[:n], ep) if n < ev.n_tasks else ep
    opts = {}
    if t.family in ("sinusoid", "mlp", "lowrank_mlp", "classification") and not t.get("pool_size", 0):
        opts["n_samples"] = t.get("oracle_samples", 1024)
    if t.family in ("gp_rbf", "gp_matern"):
        opts["grid"] = t.get("gp_grid", 8)
    per_point = task.oracle(ep, jax.random.fold_in(key, 5), **opts)
    return {k: v[m:] for k, v in inference.aggregate(per_point).items()}


def baseline_evaluate(config: ml_collections.ConfigDict, key: jax.Array) -> dict:
    """The cheap baseline on the same episodes as ``evaluate``: ridge on [x, 1] (regression,
    penalty task.ridge_lambda) or the add-one marginal label frequency (categorical)."""
    task, ev, m = make_task(config), config.eval, config.train.min_context
    x, y = episodes(task, key, ev.n_tasks, ev.n_points)
    if config.task.family == "mastermind":
        per_point = task_baselines.marginal_frequency(y, 2)
    elif config.task.family == "classification":
        per_point = task_baselines.marginal_frequency(y, 1)
    else:
        per_point = task_baselines.ridge(x, y, config.task.get("ridge_lambda", 1.0))
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
    name = "marginal" if config.task.family in CATEGORICAL else "ridge"
    base = jax.jit(jax.vmap(lambda k: baseline_evaluate(config, k)))(seed_keys)
    out[name] = (context_sizes(config), jax.device_get(base))
    if config.sgd.enabled:
        sgd_keys = jax.vmap(lambda k: jax.random.fold_in(k, 3))(seed_keys)
        out["sgd"] = (np.asarray(config.sgd.sizes), jax.device_get(icl_sgd.evaluate(config, sgd_keys)))
    return out


def make_train(config: ml_collections.ConfigDict) -> Trainer:
    validate(config)
    return build_trainer(config, make_learner(config))


def context_sizes(config: ml_collections.ConfigDict) -> np.ndarray:
    return np.arange(config.train.min_context, config.eval.n_points)


def learner_of(row: dict) -> str:
    """The learner label of a trained run: its objective (swept or not)."""
    return row["hp"]["objective"]


def summarize(eval_df: pd.DataFrame, config: ml_collections.ConfigDict) -> pd.DataFrame:
    """Per (learner, seed): error at each report n and the prequential code length.

    code_length = sum of gen_error over n = min_context..N-1 (squared-error units, as the
    paper's area under the curve); NaN for a learner whose curve does not cover that range
    (SGD starts at n = 5). code_length_5 = the sum over every integer n = CODE_FROM..N-1,
    with the curve linearly interpolated between the sizes it was measured at (the SGD
    learner may be measured on a sparse grid of sizes).
    """
    gen = eval_df[eval_df.metric == "gen_error"]
    rows = []
    for (learner, seed, run), g in gen.groupby(["learner", "seed", "run"]):
        curve = g.set_index("n_context")["value"]
        row = {"learner": learner, "seed": seed, "run": run}
        for n in config.eval.report_n:
            row[f"n={n}"] = curve.get(n, np.nan)
        full = np.arange(config.train.min_context, config.eval.n_points)
        row["code_length"] = curve.sum() if set(full) <= set(curve.index) else np.nan
        ns = np.arange(CODE_FROM, config.eval.n_points)
        covered = curve.index.min() <= CODE_FROM and curve.index.max() >= ns[-1]
        row[f"code_length_{CODE_FROM}"] = (
            np.interp(ns, curve.index, curve.values).sum() if covered else np.nan)
        for diag in ("mc_se", "mc_bias", "mc_split_bias", "quad_delta"):  # oracle error bars, worst n
            d = eval_df[(eval_df.metric == diag) & (eval_df.learner == learner) & (eval_df.seed == seed)
                        & (eval_df.run == run)]
            if not d.empty:
                row[f"{diag}_max"] = float(d.value.max())
        rows.append(row)
    return pd.DataFrame(rows)


def report(summary: pd.DataFrame, config: ml_collections.ConfigDict) -> str:
    """The printed table: seed mean (and std) per learner, paper numbers beside."""
    cols = [f"n={n}" for n in config.eval.report_n] + ["code_length", f"code_length_{CODE_FROM}"]
    n_hi = config.eval.n_points - 1
    unit = "NLL (nats)" if config.task.family in CATEGORICAL else "MSE"
    lines = [f"generalisation {unit} at context size n (mean ± std over seeds); code_length = "
             f"sum over n={config.train.min_context}..{n_hi}, code_length_{CODE_FROM} over "
             f"n={CODE_FROM}..{n_hi}"]
    header = f"{'learner':<14}" + "".join(f"{c:>16}" for c in cols)
    lines += [header, "-" * len(header)]
    for learner in LEARNERS:
        g = summary[summary.learner == learner]
        if g.empty:
            continue
        cells = "".join(f"{g[c].mean():>9.3f} ±{g[c].std(ddof=0):5.3f}"
                        if g[c].notna().all() else f"{'–':>16}" for c in cols)
        lines.append(f"{learner:<14}{cells}")
        fresh_linear = config.task.family == "linear" and not config.task.get("pool_size", 0)
        paper = PAPER_LINEAR.get(learner, {}) if fresh_linear else {}
        ref = "".join(f"{paper.get(int(c[2:]), float('nan')) if c.startswith('n=') else float('nan'):>16.3f}"
                      for c in cols)
        if paper:
            lines.append(f"{'  paper':<14}{ref.replace('nan', '  –')}")
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
    return "\n".join(lines)


COLORS = {"bayes": "k", "prequential": "tab:blue", "train": "tab:orange", "sgd": "tab:green",
          "explicit": "tab:blue", "implicit": "tab:red", "mamba": "tab:purple", "interleaved": "tab:brown",
          "ridge": "tab:gray", "marginal": "tab:gray"}


def error_label(family: str) -> str:
    return "generalisation error (nats)" if family in CATEGORICAL else "generalisation error (MSE)"


def draw_curves(ax, eval_df: pd.DataFrame, by: str = "learner") -> None:
    """gen_error vs context size on ``ax`` (log-log): one curve per value of column ``by``,
    seed mean with a min..max band; the Bayes oracle dashed."""
    gen = eval_df[eval_df.metric == "gen_error"]
    for label, g in gen.groupby(by, sort=False):
        stats = g.groupby("n_context")["value"].agg(["mean", "min", "max"])
        style = "--" if label == "bayes" else (":" if label in ("ridge", "marginal") else "-")
        ax.plot(stats.index, stats["mean"], style, color=COLORS.get(label), label=label)
        ax.fill_between(stats.index, stats["min"], stats["max"], color=COLORS.get(label), alpha=0.2)
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
    fig.savefig(path, dpi=120)
    plt.close(fig)
