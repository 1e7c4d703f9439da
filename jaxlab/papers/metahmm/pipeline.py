"""The MetaHMM paper's pipeline: train the GPTs (phase ``lm``), compare them with the exact
Bayes oracle position by position, then (``mc.enabled``) the Monte-Carlo predictor
(phases ``decoder`` and ``posterior``, see ``mc``). Every phase runs through
``jaxlab.runner.train_runs``, so each resumes from its own checkpoints on any device count.
``eval.lm_steps`` evaluates the same GPT runs on the way too (learners ``gpt@N``): the
``lm`` phase is trained to each N in turn and its parameters saved (``units/``).
"""
from __future__ import annotations

import copy
import io
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd

from jaxlab import results as results_lib
from jaxlab import runner
from jaxlab.models.gpt import n_params
from jaxlab.papers.metahmm import mc as metahmm_mc
from jaxlab.papers.metahmm import study
from jaxlab.tasks import metahmm


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """Trains the GPT seeds, evaluates them against the oracle, then the MC predictor."""
    workdir = session.workdir
    t0 = time.perf_counter()
    fam = metahmm.build(study.family_spec(config))
    stages, train_s, compile_s = {}, 0.0, 0.0
    for steps in config.eval.lm_steps:  # the same run, evaluated on the way (a resumable unit each)
        session.stats.pop("lm", None)
        stages[steps] = lm_stage(config, fam, session, steps)
        if "lm" in session.stats:
            train_s += session.stats["lm"]["train_s"]
            compile_s += session.stats["lm"]["compile_s"]
    lm = runner.train_runs(config, study.lm_learner(config, fam), session, "lm")
    if stages:  # the phase's timings over every stage, not the last stage's alone
        session.stats["lm"].update(train_s=session.stats["lm"]["train_s"] + train_s,
                                   compile_s=session.stats["lm"]["compile_s"] + compile_s)
    grid, executor, state = lm.grid, lm.executor, lm.state
    run_rows = grid.run_table()
    model = study.make_model(config)
    t_train = time.perf_counter() - t0

    x, ids = study.eval_sequences(config, fam)
    oracle = jax.device_get(study.run_oracle(config, fam, x))
    x_np = np.asarray(x)
    bos = config.task.n_tokens
    log_probs = executor.map_runs(
        lambda p: study.model_log_probs(model, p, x, config.eval.block, bos))
    treedef = jax.tree.structure(state.params)
    evaluated = [(f"gpt@{steps}", lm.place(jax.tree.unflatten(treedef, leaves)), ok)
                 for steps, (leaves, ok) in stages.items()]
    evaluated.append(("gpt", state.params, lm.healthy))
    logp = oracle.log_pred  # (P, n, T, V)
    amb = oracle.entropy[0]  # (n, T) ambiguity under the primary prior
    oracle_nll = -np.take_along_axis(logp, x_np[None, ..., None], -1)[..., 0]  # (P, n, T)

    frames, amb_frames = [], []
    primary, other = study.prior_order(config)
    for p, prior in enumerate((primary, other)):
        learner = "oracle" if p == 0 else f"oracle_{other}"
        for seed in range(grid.n_seeds):
            frames += study.tidy_rows(-1, seed, learner, {"nll": oracle_nll[p].mean(0),
                                                "ambiguity": oracle.entropy[p].mean(0),
                                                "epistemic": oracle.epistemic[p].mean(0)})
    for name, params, healthy in evaluated:
        logq = np.asarray(jax.device_get(log_probs(params)))[: grid.n_runs]
        for r, row in enumerate(run_rows):
            div = jax.device_get(study.divergences(jnp.asarray(logp[0]), jnp.asarray(logq[r])))
            div_all = jax.device_get(study.divergences(jnp.asarray(logp[1]), jnp.asarray(logq[r])))["kl"]
            nll = -np.take_along_axis(logq[r], x_np[..., None], -1)[..., 0]
            metrics = {**{k: v.mean(0) for k, v in div.items()}, f"kl_{other}": div_all.mean(0),
                       "nll": nll.mean(0)}
            if not healthy[r]:
                metrics = {k: np.full_like(v, np.nan) for k, v in metrics.items()}
            frames += study.tidy_rows(r, row["seed"], name, metrics)
            amb_frames.append(study.ambiguity_rows(r, row["seed"], name, np.asarray(div["kl"]),
                                                   amb, config.eval.ambiguity_edges))
    positions = pd.concat(frames, ignore_index=True)
    ambiguity = pd.concat(amb_frames, ignore_index=True)

    mc = None
    mc_s = 0.0
    if config.mc.enabled:
        t_mc = time.perf_counter()
        mc, mc_amb = metahmm_mc.run(config, fam, lm, x, ids, oracle, session)
        ambiguity = pd.concat([ambiguity, mc_amb], ignore_index=True)
        mc_s = time.perf_counter() - t_mc

    summary = study.summarize(positions, config, run_rows)
    for name, df in (("positions", positions), ("ambiguity", ambiguity), ("summary", summary)):
        results_lib.write_table(workdir, name, df)
    if mc is not None:
        results_lib.write_table(workdir, "mc", mc)
    study.plot(positions, ambiguity, mc, os.path.join(workdir, "figure.png"), config)
    table = study.report(summary, ambiguity, config, mc)
    results_lib.atomic_write_text(os.path.join(workdir, "table.txt"), table + "\n")
    results_lib.update_manifest(
        workdir, n_runs=grid.n_runs,
        n_params=n_params(jax.tree.map(lambda a: a[0], state.params)), lm_s=t_train,
        mc_s=mc_s, n_hmms=fam.n_hmms, n_train_hmms=int(len(fam.train_ids)))


def lm_stage(config: ml_collections.ConfigDict, fam: metahmm.Family, session: runner.Session,
             steps: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The ``lm`` phase's run-stacked parameter leaves (n_runs, ...) and health (n_runs,)
    after ``steps`` of its ``train.steps``: trained on to that step (the phase's own
    checkpoints; with a constant learning rate and per-step batch keys this is the same
    trajectory as an uninterrupted run), then saved as a unit (``units/lm_<steps>.npz``),
    so a resume after a later stage has begun never re-reads a newer checkpoint here."""
    path = os.path.join(session.workdir, "units", f"lm_{steps}.npz")
    if not os.path.exists(path):
        stage = copy.deepcopy(config)
        stage.train.steps = steps
        phase = runner.train_runs(stage, study.lm_learner(stage, fam), session, "lm")
        leaves = [np.asarray(a) for a in jax.tree.leaves(phase.gather(phase.state.params))]
        buf = io.BytesIO()
        np.savez(buf, *leaves, healthy=phase.healthy)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        results_lib.atomic_write_bytes(path, buf.getvalue())
        session.unit_done()
    with np.load(path) as f:
        leaves = [f[f"arr_{i}"] for i in range(len(f.files) - 1)]
        return leaves, f["healthy"]
