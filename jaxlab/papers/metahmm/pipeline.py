"""The MetaHMM paper's pipeline: train the GPTs (phase ``lm``), compare them with the exact
Bayes oracle position by position, then (``mc.enabled``) the Monte-Carlo predictor
(phases ``decoder`` and ``posterior``, see ``mc``). Every phase runs through
``jaxlab.runner.train_runs``, so each resumes from its own checkpoints on any device count.
"""
from __future__ import annotations

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
    lm = runner.train_runs(config, study.lm_learner(config, fam), session, "lm")
    grid, executor, state = lm.grid, lm.executor, lm.state
    run_rows = grid.run_table()
    healthy = lm.healthy
    model = study.make_model(config)
    t_train = time.perf_counter() - t0

    x, ids = study.eval_sequences(config, fam)
    oracle = jax.device_get(study.run_oracle(config, fam, x))
    x_np = np.asarray(x)
    bos = config.task.n_tokens
    logq = executor.map_runs(lambda p: study.model_log_probs(model, p, x, config.eval.block, bos))(
        state.params)
    logq = np.asarray(jax.device_get(logq))[: grid.n_runs]
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
    for r, row in enumerate(run_rows):
        div = jax.device_get(study.divergences(jnp.asarray(logp[0]), jnp.asarray(logq[r])))
        div_all = jax.device_get(study.divergences(jnp.asarray(logp[1]), jnp.asarray(logq[r])))["kl"]
        nll = -np.take_along_axis(logq[r], x_np[..., None], -1)[..., 0]
        metrics = {**{k: v.mean(0) for k, v in div.items()}, f"kl_{other}": div_all.mean(0),
                   "nll": nll.mean(0)}
        if not healthy[r]:
            metrics = {k: np.full_like(v, np.nan) for k, v in metrics.items()}
        frames += study.tidy_rows(r, row["seed"], "gpt", metrics)
        amb_frames.append(study.ambiguity_rows(r, row["seed"], "gpt", np.asarray(div["kl"]), amb,
                                         config.eval.ambiguity_edges))
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
