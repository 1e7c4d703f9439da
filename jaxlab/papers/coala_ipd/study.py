"""The COALA-PG study: meta-training phases through the runner, evaluation, the pairing
table and the figure.

Phases (each one program over its runs, checkpointed and resumable by the runner):
  ``train``      config.sweep: pool_naive x estimator x seeds (default: COALA-PG with the
                 pool of naive learners at 1, 0.5, 0);
  ``baselines``  config.baselines.estimators x seeds, vs naive learners only.
Tables: ``episodes`` (per-step reward of each side per inner episode, per pairing),
``policy`` (P(C) per memory-one state over the late episodes), ``summary`` (one row per
run and pairing, with the ZD fit), and the engine's ``train`` (the meta-training history).
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from jaxlab import results, runner  # noqa: E402
from jaxlab.config import require  # noqa: E402
from jaxlab.papers.coala_ipd import estimator, ipd, meta, zd  # noqa: E402

TITLE = "COALA-PG: learning-aware policy gradients on the iterated prisoner's dilemma (Meulemans et al. 2025)"
CHOICES = {"estimator": estimator.KINDS}
PAIRINGS = ("vs_naive", "vs_agent", "naive_naive")
LABELS = {"coala": "COALA", "no_batch": "no-batch-term", "naive": "naive-PG agent", "coala_gae": "COALA-GAE"}
# What the paper reports for each outcome (its Figure 3, qualitatively; docs/coala_ipd.md).
PAPER = {("coala", "vs_naive", 1.0): "extortion: agent > R = -1 > naive",
         ("coala", "vs_agent", 0.0): "no cooperation",
         ("coala", "vs_agent", 0.5): "mutual cooperation (R = -1)",
         ("naive_naive",): "defection (P = -2)"}


def validate(config: ml_collections.ConfigDict) -> None:
    """One-line errors for this paper's fields (the engine checks train / hp / sweep)."""
    g = config.game
    for name in ("steps", "batch", "episodes", "meta_batch"):
        require(isinstance(g[name], int) and g[name] >= 1, f"game.{name}", f"must be an integer >= 1, got {g[name]!r}")
    require(g.episodes >= 2, "game.episodes", f"must be >= 2 (shaping needs a later episode), got {g.episodes}")
    n = config.naive
    require(n.learning_rate > 0, "naive.learning_rate", f"must be > 0, got {n.learning_rate}")
    require(0 < n.gamma <= 1, "naive.gamma", f"must be in (0, 1], got {n.gamma}")
    require(n.init_std >= 0, "naive.init_std", f"must be >= 0, got {n.init_std}")
    a = config.agent
    for name in ("hidden", "mlp"):
        require(isinstance(a[name], int) and a[name] >= 1, f"agent.{name}", f"must be an integer >= 1, got {a[name]!r}")
    require(0 < config.coala.gamma <= 1, "coala.gamma", f"must be in (0, 1], got {config.coala.gamma}")
    require(0 <= config.coala.baseline_decay < 1, "coala.baseline_decay",
            f"must be in [0, 1), got {config.coala.baseline_decay}")
    require(0 <= config.coala.gae_lambda <= 1, "coala.gae_lambda",
            f"must be in [0, 1], got {config.coala.gae_lambda}")
    require(config.coala.value_learning_rate > 0, "coala.value_learning_rate",
            f"must be > 0, got {config.coala.value_learning_rate}")
    for p in (config.hp.pool_naive, *config.sweep.axes.get("pool_naive", ())):
        require(0 <= p <= 1, "hp.pool_naive" if p == config.hp.pool_naive else "sweep.axes.pool_naive",
                f"is a probability: must be in [0, 1], got {p}")
    for kind in (config.hp.estimator, *config.sweep.axes.get("estimator", ()), *config.baselines.estimators):
        require(kind in estimator.KINDS, "hp.estimator", f"must be one of {estimator.KINDS}, got {kind!r}")
    e = config.eval
    require(isinstance(e.meta_batch, int) and e.meta_batch >= 1, "eval.meta_batch", f"must be >= 1, got {e.meta_batch!r}")
    require(1 <= e.late_episodes <= g.episodes, "eval.late_episodes",
            f"must be in [1, game.episodes={g.episodes}] (no more episodes than a meta-trajectory has), got {e.late_episodes}")


def baselines_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The ``baselines`` phase: the baseline estimators x seeds, vs naive learners only."""
    c = ml_collections.ConfigDict(config.to_dict())
    c.sweep.axes = ml_collections.ConfigDict(dict(pool_naive=(1.0,),
                                                  estimator=tuple(config.baselines.estimators)))
    return c


def train_and_evaluate(config: ml_collections.ConfigDict, session: runner.Session,
                       phase_name: str) -> tuple[list[dict], dict]:
    """Meta-trains one phase's runs and evaluates them: (run rows, {output: (R, ...)})."""
    trainer = meta.make_trainer(config)
    phase = runner.train_runs(config, trainer, session, phase_name, choices=CHOICES)
    evaluate = runner.program(config, phase.executor, f"evaluate_{phase_name}", lambda: trainer.evaluate)
    keys = phase.place(jnp.stack([jax.random.PRNGKey(config.eval.seed + r["seed"]) for r in phase.run_rows]))
    out = phase.gather(evaluate(phase.state, phase.hps, keys))
    return [{**r, "phase": phase_name} for r in phase.run_rows], {k: np.asarray(v) for k, v in out.items()}


def tidy(rows: list[dict], out: dict, late: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(episodes, policy, summary) tables of one phase's evaluation."""
    episodes, policy, summary = [], [], []
    for i, r in enumerate(rows):
        meta_cols = {"phase": r["phase"], "run": r["run"], "seed": r["seed"],
                     "pool_naive": float(r["pool_naive"]), "estimator": r["estimator"]}
        for pairing in PAIRINGS:
            for side in (1, 2):
                for m, v in enumerate(out[f"{pairing}_return{side}"][i]):
                    episodes.append({**meta_cols, "pairing": pairing, "player": side, "episode": m,
                                     "reward": float(v)})
                for s, v in enumerate(out[f"{pairing}_coop{side}"][i]):
                    policy.append({**meta_cols, "pairing": pairing, "player": side,
                                   "state": ipd.STATE_NAMES[s], "p_coop": float(v)})
            r1 = float(out[f"{pairing}_return1"][i][-late:].mean())
            r2 = float(out[f"{pairing}_return2"][i][-late:].mean())
            chi, phi, resid = zd.fit_extortion(out[f"{pairing}_coop1"][i][1:])
            summary.append({**meta_cols, "pairing": pairing, "reward1": r1, "reward2": r2,
                            "coop1": float(out[f"{pairing}_coopfreq1"][i]),
                            "coop2": float(out[f"{pairing}_coopfreq2"][i]),
                            "chi_fit": chi, "zd_phi": phi, "zd_residual": resid,
                            "surplus_ratio": zd.surplus_ratio(r1, r2)})
    return pd.DataFrame(episodes), pd.DataFrame(policy), pd.DataFrame(summary)


def outcome_rows(summary: pd.DataFrame) -> list[tuple[str, tuple, pd.DataFrame]]:
    """The pairings to report: (label, PAPER key, their summary rows over seeds)."""
    out = []
    first = summary[summary.phase == "train"]
    first = first[(first.pool_naive == first.pool_naive.max())]
    first = first[first.estimator == first.estimator.iloc[0]] if len(first) else first
    out.append(("naive vs naive", ("naive_naive",), first[first.pairing == "naive_naive"]))
    for (est, pool), g in summary.groupby(["estimator", "pool_naive"], sort=False):
        if pool > 0:
            out.append((f"{LABELS[est]} vs naive (pool {pool:g})", (est, "vs_naive", pool),
                        g[g.pairing == "vs_naive"]))
        if pool < 1:
            out.append((f"{LABELS[est]} vs itself (pool {pool:g})", (est, "vs_agent", pool),
                        g[g.pairing == "vs_agent"]))
    return out


def med_iqr(v: pd.Series) -> str:
    v = v[np.isfinite(v)]
    if not len(v):
        return "nan"
    q1, q2, q3 = np.percentile(v, [25, 50, 75])
    return f"{q2:6.2f} [{q1:.2f}, {q3:.2f}]"


def report(summary: pd.DataFrame, late: int) -> str:
    """The pairing table: median [IQR] over seeds."""
    head = (f"{'pairing':<30} {'n':>3} {'reward 1 (ours)':>22} {'reward 2 (ours)':>22} "
            f"{'P(C) 1':>22} {'P(C) 2':>22} {'ZD chi fit':>22}  paper")
    lines = [head]
    for label, key, g in outcome_rows(summary):
        chi = med_iqr(g.chi_fit) if key[1:2] == ("vs_naive",) else "-"
        lines.append(f"{label:<30} {len(g):>3} {med_iqr(g.reward1):>22} {med_iqr(g.reward2):>22} "
                     f"{med_iqr(g.coop1):>22} {med_iqr(g.coop2):>22} {chi:>22}  {PAPER.get(key, '-')}")
    lines.append(f"ours: median [25th, 75th percentile] over seeds of per-step rewards and P(C) in the last "
                 f"{late} inner episodes (1 = the agent or first learner, 2 = its co-player); payoffs "
                 f"R=-1 (CC), S=-3, T=0, P=-2 (DD); chi: zero-determinant extortion factor fitted to "
                 f"player 1's P(C) per state. paper: Figure 3, qualitative (no numbers published).")
    return "\n".join(lines)


def plot(history: pd.DataFrame, policy: pd.DataFrame, summary: pd.DataFrame, path: str) -> None:
    """Rewards over meta-training per pairing (median, IQR over seeds); P(C) per state."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    curves = [("coala", 1.0, "agent_vs_naive", "COALA vs naive"),
              ("coala", 0.5, "agent_vs_agent", "mixed pool: agent vs agent"),
              ("coala", 0.0, "agent_vs_agent", "COALA vs COALA"),
              ("coala_gae", 1.0, "agent_vs_naive", "COALA-GAE vs naive"),
              ("coala_gae", 0.5, "agent_vs_agent", "COALA-GAE mixed pool: agent vs agent"),
              ("naive", 1.0, "agent_vs_naive", "naive PG vs naive"),
              ("no_batch", 1.0, "agent_vs_naive", "no batch term vs naive")]
    for est, pool, metric, label in curves:
        h = history[(history.estimator == est) & (history.pool_naive == pool) & (history.metric == metric)]
        if h.empty:
            continue
        q = h.groupby("step").value.quantile([0.25, 0.5, 0.75]).unstack()
        a1.plot(q.index, q[0.5], label=label)
        a1.fill_between(q.index, q[0.25], q[0.75], alpha=0.2)
    for y, name in ((ipd.R, "R"), (ipd.P, "P")):
        a1.axhline(y, color="gray", lw=0.6, ls="--")
    a1.set(xlabel="meta-training step", ylabel="reward per step (agent)", title="returns over meta-training")
    a1.legend(fontsize=7)
    states = list(ipd.STATE_NAMES)
    groups = [(label, key) for label, key, _ in outcome_rows(summary)]
    width = 0.8 / max(1, len(groups))
    for j, (label, key) in enumerate(groups):
        if key == ("naive_naive",):
            sel = policy[(policy.pairing == "naive_naive")]
        else:
            sel = policy[(policy.estimator == key[0]) & (policy.pairing == key[1]) & (policy.pool_naive == key[2])]
        sel = sel[sel.player == 1]
        med = sel.groupby("state").p_coop.median().reindex(states)
        a2.bar(np.arange(5) + j * width, med.values, width, label=label)
    a2.set_xticks(np.arange(5) + 0.4 - width / 2, states)
    a2.set(ylabel="P(C) of player 1 (median over seeds)", title="cooperation per state (late episodes)")
    a2.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    rows, out = train_and_evaluate(config, session, "train")
    parts = [tidy(rows, out, config.eval.late_episodes)]
    if len(config.baselines.estimators):
        rows, out = train_and_evaluate(baselines_config(config), session, "baselines")
        parts.append(tidy(rows, out, config.eval.late_episodes))
    episodes, policy, summary = (pd.concat(p, ignore_index=True) for p in zip(*parts))
    for name, df in (("episodes", episodes), ("policy", policy), ("summary", summary)):
        results.write_table(session.workdir, name, df)
    history = session.train_table()
    history = history.merge(summary[["phase", "run", "estimator"]].drop_duplicates(), on=["phase", "run"],
                            how="left", suffixes=("_x", "")) if "estimator" not in history else history
    plot(history, policy, summary, os.path.join(session.workdir, "figure.png"))
    results.atomic_write_text(os.path.join(session.workdir, "table.txt"),
                              report(summary, config.eval.late_episodes) + "\n")


def bench(quick: bool, peak_gflops: float) -> dict:
    """coala_ipd_meta_steps_per_s_{vmap,loop}: meta-training steps per second of 32 seeds
    (8 if ``quick``) of the default config (COALA-PG, mixed pool) as one vmapped program,
    and as a Python loop over one jitted single-seed program called once per seed;
    coala_ipd_seeds_vmap_vs_loop: their ratio (both measured in this run)."""
    from jaxlab import config as config_lib
    from jaxlab.timing import best_time

    seeds, steps = (8, 2) if quick else (32, 5)
    config = config_lib.load("coala_ipd", [f"--config.train.chunk_steps={steps}",
                                           f"--config.train.steps={10 * steps}"])
    trainer = meta.make_trainer(config)
    hp = {"learning_rate": jnp.full((seeds,), config.hp.learning_rate),
          "pool_naive": jnp.full((seeds,), 0.5), "estimator": jnp.zeros((seeds,), jnp.int32)}
    state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.PRNGKey(0), seeds), hp)
    together = jax.jit(jax.vmap(trainer.train_chunk))
    alone = jax.jit(trainer.train_chunk)
    singles = [(jax.tree.map(lambda x: x[i], state), jax.tree.map(lambda x: x[i], hp)) for i in range(seeds)]
    t_vmap = best_time(lambda: together(state, hp), 1 if quick else 2)
    t_loop = best_time(lambda: [alone(s, h) for s, h in singles], 1 if quick else 2)
    return {"coala_ipd_meta_steps_per_s_vmap": steps / t_vmap,
            "coala_ipd_meta_steps_per_s_loop": steps / t_loop,
            "coala_ipd_seeds": seeds, "coala_ipd_seeds_vmap_vs_loop": t_loop / t_vmap}
