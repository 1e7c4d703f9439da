"""The Raven family of the explicit/implicit study (family ``raven``): models, loss, validation
and table; the generator is ``jaxlab.tasks.raven``. docs/explicit_implicit.md.

A task is 6 context panels and 2 query panels of 4 integer attributes each (a Raven matrix
missing its last panel) and 8 candidate panels. Every panel is embedded by one shared
Linear(4 -> d); the context panels get learned position embeddings (6, d), the query panels
too (2, d) for the implicit and transformer-predictor models. A model outputs a vector y_hat;
the candidates are scored by -||y_hat - Linear(candidate)|| and trained by cross-entropy over
the 8 candidates.

  implicit  one encoder, every token attends to every token (no mask), over the 6 context
            and 2 query tokens; y_hat = the last query token's output
  tsf       context encoder: a learned CLS token and the 6 context tokens, no mask (the CLS
            is attended to, unlike the regression families' encoder); z = the CLS output.
            Predictor: an encoder over [z; 2 query tokens], no mask; y_hat = the last output
  mlp       the same encoder; y_hat = MLP([z; the two query embeddings]) (no query positions)
  known_z   tsf whose rule head's gradients reach z (the reference's "aux" model)
  known_f   the same encoder; Linear(z) -> (4, 13) logits, softmax over the 13 rules per
            attribute; y_hat = sum_r p_r rule_r(query) per attribute, in raw values (the
            candidates are then compared in raw values too)

Every explicit model has the rule head Linear(z) -> (4 attributes, 13 rules) trained by
cross-entropy on the true rules, on stop_gradient(z) except for known_z; its validation
score is the fraction of tasks whose 4 rules are all predicted right (the reference's
exact-match rule accuracy).

Shapes: B tasks, d model width.
"""
from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd

from jaxlab.models.mlp import MLP
from jaxlab.papers.explicit_implicit import tasks as tasks_lib
from jaxlab.papers.explicit_implicit.models import Encoder, Sizes, sizes
from jaxlab.tasks import raven as raven_tasks
from jaxlab.train import Learner

KINDS = ("implicit", "tsf", "mlp", "known_z", "known_f")
VAL_SALT = 15_485_863  # the fixed validation tasks: PRNGKey(config.seed) folded with this
# The paper's numbers (spec B4 / the reference's notebooks/neurips/data/raven_model_comparison.csv
# and raven_rule_decoding.csv): OOD accuracy per model kind, rule-probe accuracy.
PAPER_OOD_ACC = {"implicit": 0.9785, "tsf": 0.984, "mlp": 0.979, "known_z": 0.989, "known_f": 0.993}
PAPER_RULE_ACC = {"known_f": 0.98, "mlp": 0.92, "tsf": 0.87}


def full_mask(b: int, t: int) -> jax.Array:
    """(B, 1, T, T) all True: every token attends to every token."""
    return jnp.ones((b, 1, t, t), bool)


class RavenModel(Sizes):
    """(context (B, 6, 4), query (B, 2, 4), candidates (B, 8, 4)) -> dict with ``logits``
    (B, 8) and, for the explicit kinds, ``z`` (B, z_dim) and ``rules`` (B, 4, 13)."""

    input_scale: float = 1.0  # panels enter the shared embedding as input_scale * values

    @nn.compact
    def __call__(self, context, query, candidates):
        m, b = self, context.shape[0]
        if m.kind not in KINDS:
            raise ValueError(f"unknown Raven model kind {m.kind!r}")
        dense = nn.Dense(m.d_model, name="embed")
        embed = lambda v: dense(m.input_scale * v)
        pos = lambda name, n: self.param(name, nn.initializers.normal(1.0), (n, m.d_model))
        ctx = embed(context) + pos("context_pos", 6)
        qry = embed(query) + (pos("query_pos", 2) if m.kind in ("implicit", "tsf", "known_z") else 0.0)
        if m.kind == "implicit":
            h = jnp.concatenate([ctx, qry], 1)
            y_hat = Encoder(m.implicit_layers, m.n_heads, m.d_ff, name="implicit")(h, full_mask(b, 8))[:, -1]
            return {"logits": -distance(y_hat, embed(candidates))}
        cls = self.param("cls", nn.initializers.normal(1.0), (m.d_model,))
        h = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, m.d_model)), ctx], 1)
        z = Encoder(m.context_layers, m.n_heads, m.d_ff, name="context")(h, full_mask(b, 7))[:, 0]
        if m.z_dim != m.d_model:
            z = nn.Dense(m.z_dim, name="to_z")(z)
        rule_in = z if m.kind == "known_z" else jax.lax.stop_gradient(z)
        out = {"z": z, "rules": nn.Dense(4 * 13, name="rule_head")(rule_in).reshape(b, 4, 13)}
        if m.kind == "known_f":
            probs = jax.nn.softmax(nn.Dense(4 * 13, name="to_rules")(z).reshape(b, 4, 13), -1)
            y_hat = jnp.sum(raven_tasks.apply_rules(query) * probs, -1)  # (B, 4) raw values
            return {**out, "logits": -distance(y_hat, candidates)}
        if m.kind == "mlp":
            y_hat = MLP(m.mlp_hidden, m.mlp_layers + 1, m.d_model, name="predictor")(
                jnp.concatenate([z, qry.reshape(b, -1)], -1))
        else:
            zt = z if m.z_dim == m.d_model else nn.Dense(m.d_model, name="embed_z")(z)
            h = jnp.concatenate([zt[:, None], qry], 1)
            y_hat = Encoder(m.predictor_layers, m.n_heads, m.d_ff, name="predictor")(h, full_mask(b, 3))[:, -1]
        return {**out, "logits": -distance(y_hat, embed(candidates))}


def distance(y_hat: jax.Array, cands: jax.Array) -> jax.Array:
    """y_hat (B, E), cands (B, 8, E) -> (B, 8) Euclidean distances (the reference's cdist)."""
    return jnp.sqrt(jnp.sum(jnp.square(cands - y_hat[:, None]), -1) + 1e-12)


def make_model(config: ml_collections.ConfigDict, kind: str) -> RavenModel:
    m = config.model
    return RavenModel(kind, *sizes(m), m.raven_input_scale)


def losses(out: dict, batch: raven_tasks.RavenBatch) -> dict:
    """``ce`` over the 8 candidates and, for an explicit model, ``rule`` (cross-entropy over
    the 13 rules, mean over tasks and attributes)."""
    ce = lambda logits, label: -jnp.mean(jnp.take_along_axis(
        jax.nn.log_softmax(logits, -1), label[..., None], -1))
    res = {"ce": ce(out["logits"], batch.label)}
    if "rules" in out:
        res["rule"] = ce(out["rules"], batch.rules)
    return res


def scores(out: dict, batch: raven_tasks.RavenBatch, prefix: str) -> dict:
    """``<prefix>`` cross-entropy, ``acc_<prefix>`` accuracy and ``rule_acc_<prefix>`` (all
    four rules right) of one validation set."""
    parts = losses(out, batch)
    res = {prefix: parts["ce"],
           f"acc_{prefix}": jnp.mean(jnp.argmax(out["logits"], -1) == batch.label)}
    if "rules" in out:
        right = jnp.all(jnp.argmax(out["rules"], -1) == batch.rules, -1)
        res[f"rule_acc_{prefix}"] = jnp.mean(right)
    return res


@functools.lru_cache(maxsize=8)
def _validation_batches(seed: int, n_tasks: int, n_values: int, setting: str) -> dict:
    task = raven_tasks.RavenTask(n_values, setting)
    key = jax.random.fold_in(jax.random.PRNGKey(seed), VAL_SALT)
    k_iid, k_ood = jax.random.split(key)
    draw = jax.jit(raven_tasks.sample_tasks, static_argnums=2)  # one compile for both sets
    return {name: jax.tree.map(np.asarray, draw(k_task, task.draw_rules(k_rule, n_tasks, ood), n_values))
            for name, ood, (k_rule, k_task) in (("iid", False, jax.random.split(k_iid)),
                                                ("ood", True, jax.random.split(k_ood)))}


def validation_batches(config: ml_collections.ConfigDict) -> dict:
    """{"iid": ..., "ood": ...}: ``eval.n_tasks`` fixed tasks each (ID and held-out rule
    combinations), the same for every run and model kind; drawn once, outside the training
    program, so the generator is compiled into it only once (for the training batches)."""
    t = config.task
    return _validation_batches(config.seed, config.eval.n_tasks, t.raven_values, t.raven_setting)


def make_learner(config: ml_collections.ConfigDict, kind: str) -> Learner:
    task, model = tasks_lib.make_task("raven", config.task), make_model(config, kind)
    apply = lambda params, b: model.apply(params, b.context, b.query, b.candidates)

    def sample_batch(key):
        return task.sample(key, config.task.batch_tasks, False)

    def init_params(key):
        k_init, k_batch = jax.random.split(key)
        b = sample_batch(k_batch)
        return model.init(k_init, b.context, b.query, b.candidates)

    def loss(params, batch, hp, key):
        parts = losses(apply(params, batch), batch)
        return sum(parts.values()), parts

    val_sets = validation_batches(config)

    def evaluate(params, hp, key):
        res = {}
        for name, val in val_sets.items():
            res.update(scores(apply(params, val), val, name))
        return res

    return Learner(init_params, sample_batch, loss, evaluate)


# ----------------------------------------------------------------------------- report
def report_lines(summary: pd.DataFrame, acc_cell) -> list[str]:
    """The Raven table: ID / OOD accuracy and rule-probe accuracy per kind (mean ± std over
    seeds) at the best step, the paper's OOD and rule accuracy beside."""
    g = summary[summary.family == "raven"]
    if g.empty:
        return []
    head = (f"{'model':<10}{'ID acc':>15}{'OOD acc':>15}{'rule acc ID':>15}{'rule acc OOD':>15}"
            f"{'paper OOD':>11}{'paper rule':>12}{'best step':>11}")
    lines = [f"Raven (rule-RAVEN, held-out rule combinations): accuracy over 8 candidates at the best "
             f"step (highest seed-mean ID accuracy), mean ± std over {g.seed.nunique()} seeds; rule acc = "
             f"all 4 rules right (probe on stop_gradient(z); known_z: gradients into z); paper: "
             f"ref. raven_model_comparison.csv / raven_rule_decoding.csv, 5 seeds, d=256", head, "-" * len(head)]
    for kind, k in g.groupby("kind", sort=False):
        col = lambda metric: acc_cell(k[k.metric == metric].value)
        paper = lambda d: f"{d[kind]:.4g}" if kind in d else "–"
        lines.append(f"{kind:<10}{col('acc_iid'):>15}{col('acc_ood'):>15}{col('rule_acc_iid'):>15}"
                     f"{col('rule_acc_ood'):>15}{paper(PAPER_OOD_ACC):>11}{paper(PAPER_RULE_ACC):>12}"
                     f"{int(k.step.iloc[0]):>11}")
    return lines
