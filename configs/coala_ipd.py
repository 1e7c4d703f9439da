"""Learning-aware policy gradients (COALA-PG) on the iterated prisoner's dilemma
(Meulemans et al., ICLR 2025, arXiv 2410.18636; docs/coala_ipd.md).

Two learning-aware agents per run (linear-recurrent sequence models over all M*T steps of
a meta-trajectory) are meta-trained with COALA-PG against co-players drawn from a pool:
naive learners (memory-one tabular policies taking a REINFORCE step after every inner
episode) with probability ``pool_naive``, the other learning-aware agent otherwise.
Runs (one program per phase): pool_naive in {1, 0.5, 0} x 32 seeds (COALA vs naive, mixed
pool, COALA vs COALA), then the baseline estimators (naive policy gradient, learning-aware
without the batch term) vs naive learners x 32 seeds; naive vs naive needs no training.

Command (CPU default, about 10 minutes on a quiet 2-core CPU):
    jaxlab run configs/coala_ipd.py --workdir runs/coala_ipd
Variants: ``smoke`` (tiny, as the tests run it), ``full`` (every estimator, the GAE variant
``coala_gae`` included, x five pool mixtures, longer meta-training: for accelerators or a
long CPU run). COALA-PG vs its GAE variant against naive learners on the default config
(64 runs in one program; docs/coala_ipd.md, "The GAE variant"):
    jaxlab run configs/coala_ipd.py --workdir runs/coala_gae_pool1 --config.sweep.axes.pool_naive="(1.0,)" \
        --config.sweep.axes.estimator="('coala','coala_gae')" --config.baselines.estimators="()"

Expected result (measured 2026-12-01; docs/coala_ipd.md, docs/results/coala_ipd.json): the
pairing table (median [IQR] over 32 seeds) in table.txt. COALA agents extort naive learners
(agent above the mutual-cooperation payoff -1, naive learner near -2.1, a ZD-like policy with
a fitted extortion factor well above 1); naive vs naive and both baseline estimators end
near mutual defection; agents facing each other defect in the mixed pool too (the paper's
mixed-pool cooperation is not reproduced at this scale). figure.png: rewards over
meta-training per pairing, P(C) per state.
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, one_of, variant_tokens

SIZES = ("smoke", "default", "full")
# What `jaxlab list` prints: variant -> what it runs and its time on the 2-core CPU.
VARIANTS = {
    "": "3 pool mixtures x 32 seeds with COALA-PG, 2 baseline estimators x 32 seeds "
        "vs naive learners (~10 min on a quiet 2-core CPU)",
    "smoke": "tiny games, 3 pools x 2 seeds, no baseline phase, as the tests run it (~12 s CPU first run / ~6 s cached)",
    "full": "4 estimators (incl. COALA-GAE) x 5 pool mixtures x 32 seeds, 4x the meta-training (hours on a CPU)",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    size = one_of(variant_tokens(arg, SIZES), SIZES, "default")
    c = base_config(steps=1200, chunk_steps=100, learning_rate=3e-3, n_seeds=32)
    c.study = "coala_ipd"
    c.train.grad_clip_norm = 1.0
    # hp: the probability that a co-player is a naive learner; the gradient estimator.
    c.hp.pool_naive = 1.0
    c.hp.estimator = "coala"
    c.sweep.axes.pool_naive = (1.0, 0.5, 0.0)
    c.sweep.axes.estimator = ("coala",)
    # A second phase: these estimators vs naive learners only (() skips it).
    c.baselines = ml_collections.ConfigDict(dict(estimators=("naive", "no_batch")))
    # The game: M inner episodes of B parallel games of T steps; K meta-trajectories per
    # meta-training step and agent.
    c.game = ml_collections.ConfigDict(dict(steps=6, batch=4, episodes=8, meta_batch=4))
    c.naive = ml_collections.ConfigDict(dict(learning_rate=3.0, gamma=0.9, init_std=0.5,
                                             init_mean=0.0))
    c.agent = ml_collections.ConfigDict(dict(hidden=16, mlp=16, init_logit=0.0))
    # gae_lambda, value_learning_rate: the GAE variant (estimator "coala_gae") and its
    # critic, built only when a run of the program uses it.
    c.coala = ml_collections.ConfigDict(dict(gamma=1.0, baseline_decay=0.9, gae_lambda=0.95,
                                             value_learning_rate=3e-3))
    c.eval = ml_collections.ConfigDict(dict(meta_batch=64, late_episodes=3, seed=10_000))
    if size == "smoke":
        c.train.update(steps=20, chunk_steps=10)
        c.sweep.n_seeds = 2
        c.game.update(steps=3, batch=4, episodes=3, meta_batch=1)
        c.baselines.estimators = ()
        c.agent.update(hidden=4, mlp=4)
        c.eval.update(meta_batch=4, late_episodes=2)
    if size == "full":
        c.train.update(steps=4800, chunk_steps=200)
        c.sweep.axes.pool_naive = (1.0, 0.75, 0.5, 0.25, 0.0)
        c.sweep.axes.estimator = ("coala", "no_batch", "naive", "coala_gae")
        c.baselines.estimators = ()
    return c
