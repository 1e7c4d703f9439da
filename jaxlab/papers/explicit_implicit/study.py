"""Study: "Does learning the right latent variables necessarily improve in-context
learning?" (Mittal, Elmoznino et al., ICML 2025, arXiv 2405.19162); docs/explicit_implicit.md.

For every task family of ``config.task.families`` and every model kind of
``config.model.kinds``, one training phase trains all seeds (and swept hp points) in one
program. At the end of every chunk each run is validated on one fixed set of tasks: MSE on
in-distribution (iid), far and wide queries, wide queries at every ``eval.intensities``, and
the probe's (and known-z head's) latent error. Results are reported at the chunk-end step
with the lowest seed-mean iid MSE, as the paper reports its best epoch. A classification
family (``tasks.CLASSIFICATION``) is trained on cross-entropy and validated on each set's
cross-entropy (under the set's name) and accuracy (``acc_<set>``); its best step has the
highest seed-mean iid accuracy, and ``posterior_accuracy`` gives the Bayes-optimal accuracy
of its validation tasks as a reference.

The supervised ablation (family ``ablation``, kind ``supervised``; ``ablation.py``) runs
alone through the same loop, with its own batches, validation sets and table. The Raven
family (``raven.py``) has its own batches, models, loss and table too (accuracy over 8
candidates on ID and held-out rule combinations, and the rule probe's accuracy).

Tables: ``curves`` (family, kind, run, seed, step, metric, value: every validation),
``summary`` (the same at each (family, kind)'s best step), ``baselines`` (the raw-context
linear probe per family and seed); ``table.txt`` and figures in the workdir.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd

from jaxlab import results, runner
from jaxlab.config import require
from jaxlab.papers.explicit_implicit import ablation, raven
from jaxlab.papers.explicit_implicit import tasks as tasks_lib
from jaxlab.papers.explicit_implicit.models import EXPLICIT, KINDS, LATENT_KINDS, Model, sizes
from jaxlab.processes import is_primary
from jaxlab.tasks import raven as raven_tasks
from jaxlab.train import Learner, Trainer, build_trainer

TITLE = "Explicit vs implicit in-context learners (Mittal, Elmoznino et al., ICML 2025)"
VAL_SALT = 7919  # the fixed validation tasks: PRNGKey(config.seed) folded with this (and the family)

# The paper's numbers: seed means of the reference's notebooks/neurips/data/*.csv at the best
# epoch (5 seeds, context style "same"), two significant digits: (ID, far, wide) MSE per model
# kind (linreg_, sinusoid_, lowrankmlpreg_model_comparison.csv, gp_regression.csv; ID and wide
# are the paper's Table 1 / Fig. 3 values, far is the CSVs' third column).
PAPER = {
    "linear": {"implicit": (1.9e-4, 3.3e-3, 0.315), "tsf": (3.2e-4, 3.9e-3, 0.368),
               "mlp": (3.2e-4, 3.8e-3, 0.194), "known_z": (3.4e-4, 4.8e-3, 0.372),
               "known_f": (1.7e-4, 9.0e-4, 8.4e-4)},
    "sinusoid": {"implicit": (3.3e-4, 6.7e-3, 0.155), "tsf": (5.7e-4, 4.5e-3, 0.189),
                 "mlp": (1.5e-3, 2.0e-2, 0.453), "known_z": (5.6e-4, 4.3e-3, 0.164),
                 "known_f": (3.5e-4, 9.9e-4, 1.2e-3)},
    "lowrank_mlp": {"implicit": (0.012, 0.093, 1.15), "tsf": (0.027, 0.17, 1.66), "mlp": (0.035, 0.21, 2.63),
                    "known_z": (0.032, 0.18, 1.73), "known_f": (0.067, 0.38, 1.27)},
    "gp": {"implicit": (0.010, 0.28, 0.147), "tsf": (0.026, 0.33, 0.174), "mlp": (0.036, 0.36, 0.213)},
}
# Classification: (ID, far, wide) accuracy, seed means of lincls_ and
# lowrankmlpcls_model_comparison.csv (x 2-d, 2 classes, T = 1e-6; best epoch by the seed-mean
# ID accuracy), 4 decimals.
PAPER_ACC = {
    "linear_cls": {"implicit": (0.9869, 0.9775, 0.9733), "tsf": (0.9846, 0.9758, 0.9713),
                   "mlp": (0.9840, 0.9760, 0.9695), "known_z": (0.9841, 0.9759, 0.9708),
                   "known_f": (0.9844, 0.9761, 0.9716)},
    "lowrank_cls": {"implicit": (0.9809, 0.9514, 0.9398), "tsf": (0.9780, 0.9474, 0.9369),
                    "mlp": (0.9771, 0.9469, 0.9346), "known_z": (0.9774, 0.9481, 0.9374),
                    "known_f": (0.9715, 0.9382, 0.9044)},
}
# Probe MSE of the explicit models (range over kinds; *_w_decoding.csv) and of a raw-context
# linear probe (the reference's baselines.csv).
PAPER_PROBE = {"linear": ("1e-4..1e-3", 0.52), "sinusoid": ("7e-4..4e-3", 0.34),
               "lowrank_mlp": ("0.35..0.59", 0.95),
               "linear_cls": ("0.587..0.591", 0.86), "lowrank_cls": ("0.78..0.80", 0.97)}
LEARNED = ("tsf", "mlp", "known_z")  # learned bottlenecks (predictor not given)


def intensity_metric(s: float) -> str:
    return f"wide@{s:g}"


# ----------------------------------------------------------------------------- config
def validate(config: ml_collections.ConfigDict) -> None:
    """One-line ConfigErrors for this paper's fields (the engine checks train/hp/sweep)."""
    t, m, ev, tr = config.task, config.model, config.eval, config.train
    fams = tuple(t.families)
    require(len(fams) >= 1 and len(set(fams)) == len(fams) and set(fams) <= set(tasks_lib.FAMILIES),
            "task.families", f"must be distinct names from {tasks_lib.FAMILIES}, got {fams!r}")
    kinds = tuple(m.kinds)
    require(len(kinds) >= 1 and len(set(kinds)) == len(kinds) and set(kinds) <= set(KINDS),
            "model.kinds", f"must be distinct names from {KINDS}, got {kinds!r}")
    for name in ("x_dim", "y_dim", "n_freq", "min_context", "max_context", "n_queries", "batch_tasks"):
        require(isinstance(t[name], int) and t[name] >= 1, f"task.{name}", f"must be an integer >= 1, got {t[name]!r}")
    require(t.y_dim == 1 or not {"sinusoid", "gp"} & set(fams), "task.y_dim",
            f"the sinusoid and gp families have one output, got {t.y_dim}")
    require(t.noise >= 0, "task.noise", f"must be >= 0, got {t.noise}")
    require(isinstance(t.lowrank_x_dim, int) and t.lowrank_x_dim >= 1, "task.lowrank_x_dim",
            f"must be an integer >= 1, got {t.lowrank_x_dim!r}")
    for name in ("cls_x_dim", "n_classes"):
        require(isinstance(t[name], int) and t[name] >= 1 + (name == "n_classes"), f"task.{name}",
                f"must be an integer >= {1 + (name == 'n_classes')}, got {t[name]!r}")
    require(t.temperature > 0, "task.temperature", f"must be > 0 (labels ~ softmax(logits / T)), got {t.temperature}")
    require(t.gp_noise >= 0, "task.gp_noise", f"must be >= 0, got {t.gp_noise}")
    require(t.min_context <= t.max_context, "task.min_context",
            f"must be <= task.max_context={t.max_context}, got {t.min_context}")
    require(t.context_style in tasks_lib.CONTEXT_STYLES, "task.context_style",
            f"must be one of {tasks_lib.CONTEXT_STYLES}, got {t.context_style!r}")
    require(t.quadrant_sampling in tasks_lib.QUADRANT_STYLES, "task.quadrant_sampling",
            f"must be one of {tasks_lib.QUADRANT_STYLES}, got {t.quadrant_sampling!r}")
    validate_ablation(config)
    validate_raven(config)
    require(tr.micro_batches == 0 or t.batch_tasks % tr.micro_batches == 0, "train.micro_batches",
            f"must divide task.batch_tasks={t.batch_tasks}, got {tr.micro_batches}")
    for name in ("d_model", "n_heads", "d_ff", "implicit_layers", "context_layers",
                 "predictor_layers", "z_dim", "mlp_hidden", "mlp_layers"):
        require(isinstance(m[name], int) and m[name] >= 1, f"model.{name}", f"must be an integer >= 1, got {m[name]!r}")
    require(m.d_model % m.n_heads == 0, "model.n_heads", f"must divide model.d_model={m.d_model}, got {m.n_heads}")
    require(m.probe_scale > 0, "model.probe_scale", f"must be > 0, got {m.probe_scale}")
    require(isinstance(ev.n_tasks, int) and ev.n_tasks >= 1, "eval.n_tasks", f"must be >= 1, got {ev.n_tasks!r}")
    require(t.min_context <= ev.n_context <= t.max_context, "eval.n_context",
            f"must be in [task.min_context, task.max_context] = [{t.min_context}, {t.max_context}] "
            f"(the models never saw more context), got {ev.n_context}")
    require(ev.ood_intensity > 0, "eval.ood_intensity", f"must be > 0, got {ev.ood_intensity}")
    require(all(s > 0 for s in ev.intensities), "eval.intensities", f"must all be > 0, got {ev.intensities}")
    require(isinstance(ev.baseline_tasks, int) and ev.baseline_tasks >= 1, "eval.baseline_tasks",
            f"must be >= 1, got {ev.baseline_tasks!r}")
    require(ev.probe_ridge > 0, "eval.probe_ridge", f"must be > 0, got {ev.probe_ridge}")


def validate_ablation(config: ml_collections.ConfigDict) -> None:
    """The supervised ablation runs alone, with its one model and its 2-d task."""
    t, m = config.task, config.model
    fams, kinds = tuple(t.families), tuple(m.kinds)
    if "ablation" not in fams:
        require("supervised" not in kinds, "model.kinds",
                f"'supervised' is the ablation's model (task.families=('ablation',)), got {kinds!r}")
        return
    require(fams == ("ablation",), "task.families",
            f"the supervised ablation runs alone: ('ablation',), got {fams!r}")
    require(kinds == ("supervised",), "model.kinds",
            f"the ablation trains one model: ('supervised',), got {kinds!r}")
    require(t.x_dim == 2, "task.x_dim", f"must be 2 for the ablation (2-d x and w), got {t.x_dim}")
    require(t.y_dim == 1, "task.y_dim", f"must be 1 for the ablation, got {t.y_dim}")
    require(m.z_dim == 2, "model.z_dim", f"must be 2 for the ablation (z is regressed on the 2-d w), got {m.z_dim}")
    require(t.context_style == "same", "task.context_style",
            f"must be 'same' for the ablation (its queries are drawn on their own), got {t.context_style!r}")


def validate_raven(config: ml_collections.ConfigDict) -> None:
    """The Raven family's value range, OOD setting and model kinds."""
    t, kinds = config.task, tuple(config.model.kinds)
    require(isinstance(t.raven_values, int) and t.raven_values >= 20, "task.raven_values",
            f"must be an integer >= 20 (values 1..raven_values-1; the reference's ranges: 20, 30, 40, "
            f"80), got {t.raven_values!r}")
    require(t.raven_setting in raven_tasks.OOD_SETTINGS, "task.raven_setting",
            f"must be one of {raven_tasks.OOD_SETTINGS}, got {t.raven_setting!r}")
    require(config.model.raven_input_scale > 0, "model.raven_input_scale",
            f"must be > 0, got {config.model.raven_input_scale}")
    if "raven" in tuple(t.families):
        require(set(kinds) <= set(raven.KINDS), "model.kinds",
                f"the raven family has the kinds {raven.KINDS}, got {kinds!r}")


# ----------------------------------------------------------------------------- learner
def make_model(config: ml_collections.ConfigDict, family: str, kind: str) -> Model:
    m, task = config.model, tasks_lib.make_task(family, config.task)
    return Model(kind, *sizes(m), task.y_dim, task.n_params, task.function, m.probe_scale)


def model_inputs(b: tasks_lib.Batch) -> tuple:
    """The arguments of ``Model.__call__``: (x_c, y_c, valid, x_q, latent)."""
    return b.x_c, b.y_c, b.valid, b.x_q, b.latent


def cross_entropy(logits: jax.Array, one_hot: jax.Array) -> jax.Array:
    """Per-query cross-entropy in nats: logits, one_hot (..., C) -> (...)."""
    return -jnp.sum(one_hot * jax.nn.log_softmax(logits, axis=-1), axis=-1)


def losses(out: dict, batch: tasks_lib.Batch, classification: bool = False) -> dict:
    """Per-batch losses: ``mse`` of the predictions (``ce``, cross-entropy in nats, for a
    classification family), ``probe`` and ``aux`` (MSE) of the latent heads."""
    sq = lambda a, b: jnp.mean(jnp.square(a - b))
    if classification:
        res = {"ce": jnp.mean(cross_entropy(out["pred"], batch.y_q))}
    else:
        res = {"mse": sq(out["pred"], batch.y_q)}
    for head in ("probe", "aux"):
        if head in out:
            res[head] = sq(out[head], batch.latent)
    return res


def validation_batch(config: ml_collections.ConfigDict, family: str) -> tuple[tasks_lib.Batch, list[str]]:
    """The fixed validation tasks of a family (the same for every run and model kind):
    ``eval.n_context`` context points and, per query set, ``eval.n_context`` queries (iid,
    far, wide at eval.ood_intensity, then wide at each eval.intensities), concatenated on
    the query axis (queries never see each other, so this is one forward pass per set)."""
    ev, t = config.eval, config.task
    task = tasks_lib.make_task(family, t)
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), VAL_SALT + tasks_lib.FAMILIES.index(family))
    k_b, k_far, k_noise = jax.random.split(key, 3)
    base = tasks_lib.sample_batch(task, k_b, ev.n_tasks, ev.n_context, ev.n_context, ev.n_context)
    sets = [("iid", "iid", 1.0), ("far", "far", ev.ood_intensity), ("wide", "wide", ev.ood_intensity)]
    sets += [(intensity_metric(s), "wide", s) for s in ev.intensities]
    x_q = jnp.concatenate([tasks_lib.shift_queries(base.x_q, shift, s, k_far) for _, shift, s in sets], 1)
    y_q = tasks_lib.observe(task, k_noise, task.function(base.latent, x_q))
    return base._replace(x_q=x_q, y_q=y_q), [name for name, _, _ in sets]


def make_learner(config: ml_collections.ConfigDict, family: str, kind: str) -> Learner:
    if family == "raven":
        return raven.make_learner(config, kind)
    t = config.task
    task, model = tasks_lib.make_task(family, t), make_model(config, family, kind)
    classification = tasks_lib.is_classification(task)

    def apply(params, b: tasks_lib.Batch) -> dict:
        return model.apply(params, *model_inputs(b))

    def sample_batch(key):
        if family == "ablation":
            return ablation.train_batch(task, t, key)
        k_n, k_b = jax.random.split(key)
        n = tasks_lib.draw_context_size(k_n, t.min_context, t.max_context)
        return tasks_lib.sample_batch(task, k_b, t.batch_tasks, t.max_context, t.n_queries, n,
                                      t.context_style)

    def init_params(key):
        k_init, k_batch = jax.random.split(key)
        return model.init(k_init, *model_inputs(sample_batch(k_batch)))

    def loss(params, batch, hp, key):
        parts = losses(apply(params, batch), batch, classification)
        return sum(parts.values()), parts

    def evaluate(params, hp, key):
        """{metric: scalar} on the fixed validation tasks (``key`` is unused: they are fixed)."""
        if family == "ablation":
            val, names = ablation.validation_batch(config)
            return ablation.scores(apply(params, val), val, names)
        val, names = validation_batch(config, family)
        out = apply(params, val)
        per_set = lambda e: e.reshape(val.y_q.shape[0], len(names), config.eval.n_context).mean((0, 2))
        if classification:  # cross-entropy under the set's name, and its accuracy
            hit = jnp.argmax(out["pred"], -1) == jnp.argmax(val.y_q, -1)
            res = dict(zip(names, per_set(cross_entropy(out["pred"], val.y_q))))
            res.update(zip([f"acc_{n}" for n in names], per_set(hit.astype(jnp.float32))))
        else:
            res = dict(zip(names, per_set(jnp.square(out["pred"] - val.y_q).mean(-1))))
        for head in ("probe", "aux"):
            if head in out:
                res[head] = jnp.mean(jnp.square(out[head] - val.latent))
        return res

    return Learner(init_params, sample_batch, loss, evaluate)


def make_trainer(config: ml_collections.ConfigDict, family: str, kind: str) -> Trainer:
    """The engine's trainer for one (family, kind), validated at the end of every chunk:
    each validation metric is a (chunk_steps,) row, NaN but at the chunk's last step, under
    the name ``val_<metric>``."""
    learner = make_learner(config, family, kind)
    base = build_trainer(config, learner)
    k = base.chunk_steps

    def train_chunk(state, hp):
        state, metrics = base.train_chunk(state, hp)
        val = learner.evaluate(state.params, hp, state.key)
        at_end = lambda v: jnp.full((k,), jnp.nan, jnp.float32).at[-1].set(v)
        return state, {**metrics, **{f"val_{n}": at_end(v) for n, v in val.items()}}

    return Trainer(base.init, train_chunk, base.evaluate, k, base.total_steps,
                   base.micro_batches, base.data, base.layout)


def kinds_for(config: ml_collections.ConfigDict, family: str) -> list[str]:
    """The configured kinds that apply to ``family`` (a family without a finite latent, the
    GP, has no known-f, known-z or true-z model)."""
    if family == "raven":
        return [k for k in config.model.kinds if k in raven.KINDS]
    finite = tasks_lib.make_task(family, config.task).n_params > 0
    return [k for k in config.model.kinds if finite or k not in LATENT_KINDS]


# ----------------------------------------------------------------------------- baselines
def raw_context_probe(config: ml_collections.ConfigDict, family: str, key: jax.Array) -> jax.Array:
    """MSE of a ridge-regression probe from the raw context (the flattened (x, y) pairs and
    a bias) to the true latent, fitted on ``eval.baseline_tasks`` fresh tasks drawn with
    ``key`` and scored on the fixed validation tasks."""
    ev = config.eval
    task = tasks_lib.make_task(family, config.task)
    n = ev.n_context
    train = tasks_lib.sample_batch(task, key, ev.baseline_tasks, n, 1, n)
    val, _ = validation_batch(config, family)

    def features(b):
        flat = jnp.concatenate([b.x_c, b.y_c], -1).reshape(b.x_c.shape[0], -1)
        return jnp.concatenate([flat, jnp.ones((flat.shape[0], 1))], -1)

    phi = features(train)
    gram = phi.T @ phi + ev.probe_ridge * jnp.eye(phi.shape[1])
    w = jnp.linalg.solve(gram, phi.T @ train.latent)
    return jnp.mean(jnp.square(features(val) @ w - val.latent))


def posterior_accuracy(config: ml_collections.ConfigDict, family: str, key: jax.Array,
                       n_samples: int = 16384) -> dict:
    """Accuracy of the Bayes-optimal predictor (up to Monte-Carlo error) on a
    classification family's fixed validation tasks, per query set: at T -> 0 the posterior
    is the prior restricted to latents that label every context point as given, so
    ``n_samples`` prior draws per task are kept where they agree with the whole context and
    each query gets the majority label of the kept draws (a task with none kept: the prior's
    majority, so a family whose context labels are often improbable under the prior, with
    tasks that keep no draw, gets a lower bound). Also returns ``accepted``, the mean number
    of draws kept per task, and ``no_draw``, the fraction of tasks that kept none."""
    task = tasks_lib.make_task(family, config.task)
    val, names = validation_batch(config, family)

    def one(args):
        x_c, y_c, x_q, k = args
        lat = task.sample_latent(k, n_samples)
        label = lambda x: jnp.argmax(task.function(lat, jnp.broadcast_to(x, (n_samples,) + x.shape)), -1)
        keep = jnp.all(label(x_c) == jnp.argmax(y_c, -1), axis=-1)  # (S,)
        votes = jax.nn.one_hot(label(x_q), task.y_dim)  # (S, Q, C)
        kept = jnp.einsum("s,sqc->qc", keep.astype(jnp.float32), votes)
        return jnp.argmax(jnp.where(keep.any(), kept, votes.sum(0)), -1), keep.sum()

    keys = jax.random.split(key, val.x_c.shape[0])
    pred, accepted = jax.lax.map(one, (val.x_c, val.y_c, val.x_q, keys))
    hit = (pred == jnp.argmax(val.y_q, -1)).reshape(len(keys), len(names), -1).mean((0, 2))
    return {**dict(zip(names, np.asarray(hit, np.float64))), "accepted": float(accepted.mean()),
            "no_draw": float((accepted == 0).mean())}


# ----------------------------------------------------------------------------- run
def val_rows(history: dict, family: str, kind: str, run_rows: list[dict]) -> pd.DataFrame:
    """The chunk-end validations of a phase's history as tidy rows."""
    frames = []
    for name, per_step in history.items():
        if not name.startswith("val_"):
            continue
        arr = np.asarray(per_step, np.float64)  # (steps, R)
        steps = np.flatnonzero(np.isfinite(arr).any(axis=1))
        for row in run_rows:
            frames.append(pd.DataFrame({
                "family": family, "kind": kind, "run": row["run"], "seed": row["seed"],
                "step": steps + 1, "metric": name[4:], "value": arr[steps, row["run"]]}))
    return pd.concat(frames, ignore_index=True)


def best_steps(curves: pd.DataFrame) -> pd.DataFrame:
    """Per (family, kind): the step with the lowest seed-mean iid MSE, or for a
    classification family the highest seed-mean iid accuracy (the reference's mode "max"),
    NaN runs skipped."""
    frames = []
    for (family, kind), g in curves.groupby(["family", "kind"], sort=False):
        acc = (g.metric == "acc_iid").any()
        mean = g[g.metric == ("acc_iid" if acc else "iid")].groupby("step").value.mean()
        frames.append((family, kind, int(mean.idxmax() if acc else mean.idxmin())))
    return pd.DataFrame(frames, columns=["family", "kind", "best_step"])


def summarize(curves: pd.DataFrame) -> pd.DataFrame:
    """Every validation metric of every run at its (family, kind)'s best step."""
    best = best_steps(curves)
    merged = curves.merge(best, on=["family", "kind"])
    return merged[merged.step == merged.best_step].drop(columns="best_step").reset_index(drop=True)


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """Trains every (family, kind) as its own phase, then writes the tables, table.txt and
    the figures."""
    frames, run_rows = [], None
    for family in config.task.families:
        for kind in kinds_for(config, family):
            phase = runner.train_runs(config, make_trainer(config, family, kind), session,
                                      phase=f"{family}.{kind}")
            run_rows = phase.run_rows
            frames.append(val_rows(phase.history, family, kind, run_rows))
    seeds = sorted({r["seed"] for r in run_rows})
    seed_keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.PRNGKey(config.seed + 1), s))(
        jnp.asarray(seeds))
    base = [pd.DataFrame({"family": family, "seed": seeds, "metric": "raw_context_probe",
                          "value": np.asarray(jax.jit(jax.vmap(
                              lambda k, f=family: raw_context_probe(config, f, k)))(seed_keys), np.float64)})
            for family in config.task.families
            if tasks_lib.make_task(family, config.task).n_params > 0 and family not in ("ablation", "raven")]
    base = base or [pd.DataFrame(columns=["family", "seed", "metric", "value"])]
    if not is_primary():
        return
    curves = pd.concat(frames, ignore_index=True)
    summary = summarize(curves)
    baselines = pd.concat(base, ignore_index=True)
    results.write_table(session.workdir, "curves", curves)
    results.write_table(session.workdir, "summary", summary)
    results.write_table(session.workdir, "baselines", baselines)
    from jaxlab.papers.explicit_implicit import figures

    is_raven = summary.family == "raven"
    if is_raven.any():
        figures.write_raven(summary, session.workdir)
    if (~is_raven).any():
        figures.draw_all(summary[~is_raven], curves[curves.family != "raven"], baselines, config,
                         session.workdir)
    results.atomic_write_text(os.path.join(session.workdir, "table.txt"),
                              report(summary, baselines, config) + "\n")


# ----------------------------------------------------------------------------- report
def mean_std(values: pd.Series) -> tuple[float, float]:
    v = values.to_numpy(np.float64)
    v = v[np.isfinite(v)]
    return (float(v.mean()), float(v.std())) if len(v) else (np.nan, np.nan)


def cell(values: pd.Series) -> str:
    mean, std = mean_std(values)
    return f"{mean:.2e} ±{std:.0e}" if np.isfinite(mean) else "–"


def claims(summary: pd.DataFrame, baselines: pd.DataFrame) -> list[str]:
    """The study's three claims checked on this run's seed means, one line each (for a
    classification family, on accuracy: ``classification_claims``)."""
    lines = []
    means = summary.groupby(["family", "kind", "metric"]).value.mean()
    for family in summary.family.unique():
        if family == "raven":  # its own table: raven.report_lines
            continue
        m = means[family]
        has = lambda kind: (kind, "iid") in m.index
        if family in tasks_lib.CLASSIFICATION:
            lines += classification_claims(family, m, has)
        else:
            lines += regression_claims(family, m, has)
        probes = [k for k in EXPLICIT if (k, "probe") in m.index]
        raw = baselines[baselines.family == family].value.mean()
        if probes and np.isfinite(raw):
            worst = max(m[k, "probe"] for k in probes)
            lines.append(f"{family}: probe latent MSE {min(m[k, 'probe'] for k in probes):.2e}..{worst:.2e} "
                         f"vs raw-context probe {raw:.3f} ({raw / worst:.0f}x at worst; claim >= 10x: "
                         f"{'holds' if raw / worst >= 10 else 'does not hold'})")
    return lines


def regression_claims(family: str, m: pd.Series, has) -> list[str]:
    lines = []
    learned = [k for k in LEARNED + ("implicit",) if has(k)]
    if has("known_f") and learned:
        best = min(learned, key=lambda k: m[k, "wide"])
        ratio = m[best, "wide"] / m["known_f", "wide"]
        how = f"{ratio:.1f}x below" if ratio >= 1 else f"{1 / ratio:.1f}x above"
        lines.append(f"{family}: known_f wide MSE {m['known_f', 'wide']:.2e} is {how} "
                     f"the best learned predictor ({best}, {m[best, 'wide']:.2e}); claim >= 10x: "
                     f"{'holds' if ratio >= 10 else 'does not hold'}")
    if has("implicit"):
        better = [k for k in LEARNED if has(k) and m[k, "iid"] < m["implicit", "iid"]
                  and m[k, "wide"] < m["implicit", "wide"]]
        lines.append(f"{family}: learned bottlenecks better than implicit on both ID and wide: "
                     f"{', '.join(better) if better else 'none'} (claim: none)")
    return lines


def classification_claims(family: str, m: pd.Series, has) -> list[str]:
    """On accuracy: known f against the best learned predictor on wide queries (the paper's
    known f gains nothing on classification), and learned bottlenecks against implicit."""
    lines = []
    learned = [k for k in LEARNED + ("implicit",) if has(k)]
    paper = PAPER_ACC.get(family, {})
    if has("known_f") and learned:
        best = max(learned, key=lambda k: m[k, "acc_wide"])
        ref = (f"; paper {paper['known_f'][2]:.4f} vs {max(v[2] for k, v in paper.items() if k != 'known_f'):.4f}"
               if paper else "")
        lines.append(f"{family}: known_f wide accuracy {m['known_f', 'acc_wide']:.4f} vs the best learned "
                     f"predictor ({best}, {m[best, 'acc_wide']:.4f}){ref}")
    if has("implicit"):
        better = [k for k in LEARNED if has(k) and m[k, "acc_iid"] > m["implicit", "acc_iid"]
                  and m[k, "acc_wide"] > m["implicit", "acc_wide"]]
        lines.append(f"{family}: learned bottlenecks more accurate than implicit on both ID and wide: "
                     f"{', '.join(better) if better else 'none'} (claim: none)")
    return lines


def report(summary: pd.DataFrame, baselines: pd.DataFrame, config: ml_collections.ConfigDict) -> str:
    """The B4-layout table: per family and kind, ID / far / wide MSE (mean ± std over seeds)
    at the best step, the probe's latent MSE, and the paper's ID / far / wide beside; the
    classification families in a second table of accuracies (and cross-entropies). The
    supervised ablation, which runs alone, has its own table: ``ablation.report_lines``."""
    if "ablation" in set(summary.family):
        return "\n".join(ablation.report_lines(summary, cell, config.task.quadrant_sampling))
    lines = raven.report_lines(summary, acc_cell)
    summary = summary[summary.family != "raven"]
    cls = summary.family.isin(tasks_lib.CLASSIFICATION)
    if (~cls).any():
        lines += regression_table(summary[~cls])
    if cls.any():
        lines += classification_table(summary[cls])
    for family, g in baselines.groupby("family", sort=False):
        paper = PAPER_PROBE.get(family)
        lines.append(f"{family:<12}raw-context linear probe of the latent: {cell(g.value)}"
                     + (f" (paper: {paper[1]}; explicit-model probes {paper[0]})" if paper else ""))
    return "\n".join(lines + claims(summary, baselines))


def table(summary: pd.DataFrame, title: str, columns: list[tuple[str, int, object]]) -> list[str]:
    """``title``, a header and one row per (family, kind) of ``summary``: family, kind, then
    each column (name, width, fn(family, kind, rows) -> text), then the best step."""
    head = f"{'family':<12}{'model':<9}" + "".join(f"{n:>{w}}" for n, w, _ in columns) + f"{'best step':>11}"
    lines = [title, head, "-" * len(head)]
    for (family, kind), g in summary.groupby(["family", "kind"], sort=False):
        lines.append(f"{family:<12}{kind:<9}" + "".join(f"{fn(family, kind, g):>{w}}" for _, w, fn in columns)
                     + f"{int(g.step.iloc[0]):>11}")
    return lines


def metric_column(metric: str, fmt=None):
    """A column of ``metric``'s mean ± std over seeds (``fmt``: ``cell`` by default)."""
    return lambda family, kind, g: (fmt or cell)(g[g.metric == metric].value)


def paper_column(paper: dict, fmt):
    """The paper's (ID, far, wide) of the row's (family, kind) in ``paper``, or "–"."""
    def column(family, kind, g):
        values = paper.get(family, {}).get(kind)
        return " / ".join(fmt(v) for v in values) if values else "–"
    return column


def regression_table(summary: pd.DataFrame) -> list[str]:
    two_digits = lambda v: f"{v:#.2g}" if v >= 0.01 else f"{v:.1e}"
    return table(summary, f"MSE at the best validation step (lowest seed-mean ID MSE), mean ± std over "
                          f"{summary.seed.nunique()} seeds; ours at CPU scale, paper (ref. notebooks/neurips/data/"
                          f"*.csv, 5 seeds, d=256) beside",
                 [("ID MSE", 17, metric_column("iid")), ("far MSE", 17, metric_column("far")),
                  ("wide MSE", 17, metric_column("wide")), ("probe MSE", 17, metric_column("probe")),
                  ("paper ID / far / wide", 29, paper_column(PAPER, two_digits))])


def acc_cell(values: pd.Series) -> str:
    mean, std = mean_std(values)
    return f"{mean:.4f} ±{std:.0e}" if np.isfinite(mean) else "–"


def classification_table(summary: pd.DataFrame) -> list[str]:
    return table(summary, f"accuracy at the best validation step (highest seed-mean ID accuracy), mean ± std over "
                          f"{summary.seed.nunique()} seeds, cross-entropy in nats; ours at CPU scale, paper accuracy "
                          f"(ref. notebooks/neurips/data/*cls_model_comparison.csv, 5 seeds, d=256) beside",
                 [("ID acc", 15, metric_column("acc_iid", acc_cell)), ("far acc", 15, metric_column("acc_far", acc_cell)),
                  ("wide acc", 15, metric_column("acc_wide", acc_cell)), ("ID CE", 17, metric_column("iid")),
                  ("wide CE", 17, metric_column("wide")), ("probe MSE", 17, metric_column("probe")),
                  ("paper ID / far / wide", 27, paper_column(PAPER_ACC, lambda v: f"{v:.4f}"))])
