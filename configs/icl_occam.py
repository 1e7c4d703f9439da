"""In-context learning and Occam's razor: linear regression (arXiv 2410.14086 §3.1-3.2).

Explicit ICL (causal transformer -> z -> MLP predictor) trained with the prequential and the
train-risk objective, 3 seeds each: 6 runs in one compiled program, evaluated at every
context size n on 1,024 held-out tasks per seed beside the exact Bayes predictor.

Command (default: CPU-sized, about 36 minutes on a busy 2-core CPU (1836 CPU-seconds;
not yet timed on a quiet one); ``--config.sgd.enabled=False`` skips the SGD fits, about a third of it):
    jaxlab run configs/icl_occam.py --workdir runs/icl_occam
Variants (``jaxlab list`` prints them with their times): ``:smoke`` (tiny sizes, as the tests
run it), ``:paper`` (the paper's sizes, for accelerators),
``:sinusoid`` / ``:mastermind`` (other task families; combine as ``:sinusoid,smoke``), and
the further families of docs/task_families.md: ``:chebyshev``, ``:mlp``, ``:lowrank_mlp``,
``:classification``, ``:gp_rbf``, ``:gp_matern``, ``:dynamics``; ``:pool`` draws every
episode from a finite pool of ``task.pool_size`` tasks (0 = fresh tasks per episode).
The SGD learner of §3.2 (96 dataset sizes x 8 tasks x 3 seeds = 2,304 early-stopped fits,
one program) runs after the in-context learners; ``--config.sgd.enabled=False`` skips it.

Expected result (default, measured 2026-11-22; the numbers: docs/results/icl_occam.json): at
n = 1 prequential 0.804 vs train-risk 0.832 vs Bayes 0.775 (paper .816 / .875, read off its
Fig. 2; the exact Bayes risk, ours, .803); at
n = 100 prequential 0.047 vs Bayes 0.042 (within 12%);
SGD ~0.08 at n = 100 and a code length (n = 5..100) about 2.3x the prequential learner's
(the times are from before sgd.stop_rule/sgd.init became the reference's, which makes the
SGD fits ~10x longer: 961 s for the SGD part on a loaded 2-core CPU; docs/icl_occam.md);
figure.png in the workdir shows the ICL curves meeting by n ~ 50, SGD far above.
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, one_of, variant_tokens
from jaxlab.tasks import families

SIZES = ("smoke", "default", "paper")
FAMILIES = families.NAMES  # linear, sinusoid, mastermind, chebyshev, mlp, lowrank_mlp, ...
OPTIONS = ("pool",)
# What `jaxlab list` prints: variant -> what it runs and its time on the 2-core CPU
# (smoke: CPU seconds, first run / later runs with the compilation cache; others: wall).
VARIANTS = {
    "": "linear regression: prequential vs train-risk ICL, 3 seeds each, Bayes, ridge, "
        "2,304 SGD fits (~36 min wall, busy CPU)",
    "smoke": "tiny sizes, as the tests run it (~22 s CPU first run / ~9 s cached)",
    "paper": "the paper's sizes (d=256, 4 layers, 5 seeds, 1,000 points): for a GPU/TPU",
    "sinusoid": "sinusoid regression, with SGD (~8 min wall before the SGD fix; longer now)",
    "mastermind": "Mastermind with its exact oracle, with SGD (~9 min wall)",
    "chebyshev": "Chebyshev polynomials (docs/task_families.md; not timed)",
    "mlp": "random-MLP regression (not timed)",
    "lowrank_mlp": "low-rank MLP regression (not timed)",
    "classification": "linear classification, Monte-Carlo oracle (not timed)",
    "gp_rbf": "GP regression, RBF kernel, quadrature oracle (not timed)",
    "gp_matern": "GP regression, Matern-5/2 kernel (not timed)",
    "dynamics": "transition-matrix dynamics (not timed)",
    "pool": "every episode from a finite pool of 64 tasks (combine: :linear,pool)",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """``arg``: comma-separated tokens, at most one size and one task family, e.g.
    ``smoke``, ``sinusoid``, ``sinusoid,paper`` (defaults: default, linear)."""
    tokens = variant_tokens(arg, SIZES, FAMILIES, OPTIONS)
    size = one_of(tokens, SIZES, "default")
    family = one_of(tokens, FAMILIES, "linear")
    c = base_config(steps=1500, chunk_steps=100, learning_rate=3e-3, n_seeds=3)
    c.study = "icl_occam"

    # The family's own fields and defaults (jaxlab/tasks/families.py, docs/task_families.md):
    # e.g. --config.task.noise=0.1 overrides one of them; a field the family lacks is an error.
    c.task = families.task_config(family)
    if "pool" in tokens:  # every episode from a finite pool of 64 tasks (smoke: 8)
        c.task.pool_size = 64
    # kind: "explicit" (transformer -> z -> MLP), "implicit" (queries cross-attend to the
    # context, the reference's DecoderTransformer2), "interleaved" (causal transformer over
    # [x1, y1, x2, y2, ...], DecoderTransformer) or "mamba" (explicit, selective-SSM
    # aggregator). ssm_scan: "sequential" is 1.5x faster than "associative" on this CPU
    # (jaxlab bench); paper sizes use associative.
    c.model = ml_collections.ConfigDict(dict(
        kind="explicit", ssm_scan="sequential", d_model=64, n_layers=2, n_heads=4, d_ff=128, z_dim=64,
        predictor_hidden=128, predictor_layers=5, tie_predictor_hidden=True))
    # micro_batches=0: chosen from the activation size per device (jaxlab.train); the
    # recorded results (docs/icl_occam.md) were made at a fixed 16.
    c.train.update(batch_tasks=64, n_points=128, min_context=1, micro_batches=0,
                   lr_schedule="cosine", warmup_steps=100)
    # Numeric leaves that may be swept (vmapped) without recompiling.
    c.hp.objective = "prequential"
    c.sweep.axes = ml_collections.ConfigDict(dict(objective=("prequential", "train")))
    c.eval = ml_collections.ConfigDict(dict(
        n_tasks=1024, n_points=101, batch_tasks=64, report_n=(1, 2, 5, 10, 20, 100),
        bayes_tasks=48))  # Mastermind's exact oracle enumerates every code: a subset
    # The SGD learner of the paper's §3.2: one early-stopped MLP fit per (size, task, seed).
    # stop_rule="tolerant": a val loss up to min_delta above the best still resets patience
    # (the reference's CustomEarlyStopping; "lightning": val < best - min_delta);
    # init="torch": PyTorch nn.Linear's U(+-1/sqrt(fan_in)) weights and biases ("flax":
    # LeCun-normal, zero biases). Both as the reference (docs/icl_occam.md, "The SGD learner").
    c.sgd = ml_collections.ConfigDict(dict(
        enabled=True, sizes=tuple(range(5, 101)), tasks_per_size=8, test_points=1000,
        train_fraction=0.8, batch_size=64, hidden=64, n_layers=5, learning_rate=1e-4,
        grad_clip_norm=0.05, patience=10, min_delta=1e-3, max_epochs=2000, restore_best=False,
        lanes=8, chunk_steps=8, stop_rule="tolerant", init="torch",
        # n_train edges of size buckets (fits cut to their bucket's rows; () : one bucket)
        bucket_edges=()))

    if family == "mastermind":  # as the reference: a wider MLP on one-hot guesses, cross-entropy
        c.sgd.update(hidden=256, tasks_per_size=4)
    elif family not in ("linear", "sinusoid"):  # SGD rows exist for the paper's panels only
        c.sgd.enabled = False
    if size == "smoke":
        c.model.update(d_model=16, n_layers=1, n_heads=2, d_ff=32, z_dim=16,
                       predictor_hidden=32, predictor_layers=3)
        c.train.update(steps=20, chunk_steps=10, batch_tasks=8, n_points=24, micro_batches=2,
                       warmup_steps=5)
        c.sweep.n_seeds = 2
        c.eval.update(n_tasks=32, n_points=21, batch_tasks=16, report_n=(1, 2, 5, 10, 20))
        c.sgd.update(sizes=(5, 10, 20), tasks_per_size=2, test_points=50, max_epochs=30)
        c.eval.bayes_tasks = 2
        if family == "mastermind":
            c.task.update(code_length=4, n_colours=4, code_colours=3)
        for field, value in dict(oracle_samples=128, oracle_tasks=8, gp_grid=4).items():
            if field in c.task:  # the oracle sizes of the families that have them
                c.task[field] = value
        if c.task.pool_size:
            c.task.pool_size = 8
    elif size == "paper":
        c.model.update(d_model=256, n_layers=4, n_heads=4, d_ff=512, z_dim=128,
                       predictor_hidden=256, predictor_layers=5)
        c.train.update(steps=2000, chunk_steps=200, batch_tasks=256, n_points=1000,
                       lr_schedule="constant")
        c.model.ssm_scan = "associative"  # log-depth scan: the accelerator layout
        c.hp.learning_rate = 1e-4
        c.sweep.n_seeds = 5
        c.eval.update(n_tasks=1000, n_points=1000, batch_tasks=100,
                      report_n=(1, 2, 5, 10, 20, 100, 999))
        c.executor.update(kind="vmap")
        c.sgd.update(sizes=tuple(int(n) for n in sorted(set(
            round(5 * 400 ** (i / 199)) for i in range(200)))), tasks_per_size=5, test_points=5000)
    return c
