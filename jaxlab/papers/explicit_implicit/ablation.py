"""The supervised ablation (family ``ablation``, model kind ``supervised``): can a learner
that is *told* the latent predict out of distribution? docs/explicit_implicit.md.

The context encoder's z (2-d) is regressed on the true w and the transformer predictor is
fed the true w, so the encoder learns to infer w and the predictor learns the known function
y = x . w from (w, x_q) pairs. Validation sets (``SETS``: name, w shift, x_q shift): iid;
w shifted by range (+1) or to the held-out quadrant; x_q shifted likewise. Per set three
MSEs: ``<set>`` (the predictor fed the true w, against y_q), ``z_<set>`` (the known
function of the inferred z, x_q . z, against y_q: does the encoder infer w?) and
``latent_<set>`` (z against w). The reference logs the same three per set and reports the
predictor on the x_q shifts and the z route on the w shifts (``PAPER``).

Shapes: S sets, T validation tasks, Q queries.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import pandas as pd

from jaxlab.papers.explicit_implicit import tasks as tasks_lib

SETS = (("iid", "none", "none"), ("range_w", "range", "none"), ("quad_w", "quadrant", "none"),
        ("range_x", "none", "range"), ("quad_x", "none", "quadrant"))
VAL_SALT = 104_729  # the ablation's fixed validation tasks: PRNGKey(config.seed) folded with this

# The paper's numbers: the reference's notebooks/neurips/data/supervised_ablation.csv (5 seeds,
# epoch 96 of 100, d=256, 4+4 layers, context 16..128, the reference sampler "set"), mean ± std
# over seeds: the predictor fed the true w on iid / range_x / quad_x queries, the known function
# of the inferred z on iid / range_w / quad_w tasks.
PAPER = {"iid": (2.50e-5, 4e-6), "range_x": (0.0777, 0.004), "quad_x": (0.00976, 0.002),
         "z_iid": (3.71e-4, 1e-4), "z_range_w": (0.0595, 0.009), "z_quad_w": (0.00799, 0.002)}


def train_batch(task: tasks_lib.QuadrantLinearTask, t: ml_collections.ConfigDict,
                key: jax.Array) -> tasks_lib.Batch:
    """A fresh in-distribution training batch (n ~ U{min_context..max_context} per batch)."""
    k_n, k_b = jax.random.split(key)
    n = tasks_lib.draw_context_size(k_n, t.min_context, t.max_context)
    return tasks_lib.sample_ablation_batch(task, k_b, t.batch_tasks, t.max_context, t.n_queries, n)


def validation_batch(config: ml_collections.ConfigDict) -> tuple[tasks_lib.Batch, list[str]]:
    """The fixed validation tasks, the sets of ``SETS`` concatenated on the task axis
    (S * T tasks with ``eval.n_context`` context points and as many queries). Every set uses
    the same key, so the shifted sets are the iid set's draws with w or x_q moved."""
    ev = config.eval
    task = tasks_lib.make_task("ablation", config.task)
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), VAL_SALT)
    parts = [tasks_lib.sample_ablation_batch(task, key, ev.n_tasks, ev.n_context, ev.n_context,
                                             ev.n_context, w_shift, x_shift)
             for _, w_shift, x_shift in SETS]
    batch = jax.tree.map(lambda *a: jnp.concatenate(a, 0), *parts)
    return batch, [name for name, _, _ in SETS]


def scores(out: dict, val: tasks_lib.Batch, names: list[str]) -> dict:
    """{metric: scalar}: per set the predictor's MSE, the z route's MSE and z's latent MSE."""
    s = len(names)
    per_set = lambda a: a.reshape(s, -1).mean(1)  # (S * T, ...) -> (S,)
    pred = per_set(jnp.square(out["pred"] - val.y_q))
    via_z = per_set(jnp.square(jnp.einsum("bqd,bd->bq", val.x_q, out["z"]) - val.y_q[..., 0]))
    latent = per_set(jnp.square(out["z"] - val.latent))
    res = {}
    for i, name in enumerate(names):
        res[name], res[f"z_{name}"], res[f"latent_{name}"] = pred[i], via_z[i], latent[i]
    return res


def report_lines(summary: pd.DataFrame, cell, sampling: str) -> list[str]:
    """The ablation's table: per set, the predictor fed the true w, the known function of the
    inferred z and z's latent error (mean ± std over seeds), with the paper's beside."""
    g = summary[summary.family == "ablation"]
    if g.empty:
        return []
    paper = lambda m: f"{PAPER[m][0]:.2e}" if m in PAPER else "–"
    head = (f"{'set':<9}{'w':>9}{'x_q':>9}{'pred(true w)':>17}{'paper':>10}{'x_q . z':>17}"
            f"{'paper':>10}{'|z - w|^2':>17}")
    lines = [f"supervised ablation (2-d linear, no bias, sampler {sampling!r}"
                 f"): MSE at the best step {int(g.step.iloc[0])} (lowest seed-mean iid), mean ± std "
                 f"over {g.seed.nunique()} seeds; paper: the reference's supervised_ablation.csv",
             head, "-" * len(head)]
    for name, w_shift, x_shift in SETS:
        col = lambda m: cell(g[g.metric == m].value)
        lines.append(f"{name:<9}{w_shift:>9}{x_shift:>9}{col(name):>17}{paper(name):>10}"
                     f"{col('z_' + name):>17}{paper('z_' + name):>10}{col('latent_' + name):>17}")
    return lines
