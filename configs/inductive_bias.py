"""Towards Exact Computation of Inductive Bias (Boopathy et al., IJCAI 2024): IB of model classes.

Command (7 min wall / 418 s CPU on the 2-core CPU at a load of 1-6; 10 min at a load of 4-7):
    jaxlab run configs/inductive_bias.py --workdir runs/inductive_bias
Variants: ``smoke`` (seconds, as the tests run it), ``full`` (larger ensembles trained
longer, more bootstrap resamples); ``dimension``, ``classes``, ``architecture`` run
only those comparisons (combine with a size: ``classes,full``).
Knobs: ``--config.task.n_train=N`` (training points), ``--config.estimate.eps_reference=E``
(eps = frac x E in every cell instead of frac x its mean-predictor MSE),
``--config.cnn.channels=(C,)`` (a convnet joins the architecture comparison).

Expected result (docs/inductive_bias.md, eps = 0.2 x the mean predictor's MSE): the MLP
class's IB grows with the teacher task's input dimension (the kernel class's does not: its
errors at d = 4 are nearly deterministic); on digits the kernel class needs ~260 bits and
the MLP class ~0, which the MLP class thus encodes; the four MLP architectures' IB
intervals are disjoint.
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, one_of, variant_tokens

SIZES = ("smoke", "default", "full")
COMPARISONS = ("dimension", "classes", "architecture")
VARIANTS = {
    "": "all three comparisons: teacher dims 2-32 (kernel and MLP), digits kernel vs MLP, 4 MLP "
        "architectures (widths 32, 128 x depths 1, 2); 256 members, 4,000 kernel samples "
        "(418 s CPU; 7 min wall at load 1-6)",
    "smoke": "tiny shapes, 8 members, 2 chunks, as the tests run it (~14 s CPU first run / ~9 s cached)",
    "full": "512 members trained 1,000 steps, 10,000 kernel samples, 100 bootstrap resamples "
            "(not timed here)",
    "dimension": "only IB vs the teacher task's input dimension",
    "classes": "only the MLP class vs the kernel class on digits",
    "architecture": "only the MLP widths x depths on digits",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    tokens = variant_tokens(arg, SIZES, COMPARISONS)
    size = one_of(tokens, SIZES, "default")
    c = base_config(steps=600, chunk_steps=200, learning_rate=1e-3, n_seeds=256)
    c.study = "inductive_bias"
    c.comparisons = tuple(t for t in COMPARISONS if t in tokens) or COMPARISONS
    c.dimension_models = ("kernel", "mlp")
    c.task = ml_collections.ConfigDict(dict(
        n_train=200, n_test=400, classes=4, teacher_hidden=32, dims=(2, 4, 8, 16, 32),
        teacher_dim=8, classes_task="digits", architecture_task="digits", seed=0))
    c.kernel = ml_collections.ConfigDict(dict(sigma=1.0, jitter=1e-6, samples=4000, chunk=500))
    c.mlp = ml_collections.ConfigDict(dict(width=128, depth=2, batch=32, widths=(32, 128),
                                           depths=(1, 2)))
    # eps = frac x the cell's mean-predictor test MSE; with eps_reference > 0, eps = frac x
    # eps_reference instead: one absolute target error for every cell (the paper's way)
    # a small convnet per entry of channels joins the architecture comparison (digits only);
    # empty by default: --config.cnn.channels=(8,) adds digits_cnn_c8_d2
    c.cnn = ml_collections.ConfigDict(dict(channels=(), depth=2))
    c.estimate = ml_collections.ConfigDict(dict(eps_fracs=(0.15, 0.2, 0.3), headline=0.2,
                                                bootstrap=20, level=0.95, eps_reference=0.0))
    if size == "smoke":
        c.train.update(steps=20, chunk_steps=10)
        c.sweep.n_seeds = 8
        c.dimension_models = ("kernel",)
        c.task.update(n_train=40, n_test=40, dims=(2, 8))
        c.kernel.update(samples=200, chunk=100)
        c.mlp.update(width=16, depth=1, batch=8, widths=(16,), depths=(1, 2))
        c.estimate.bootstrap = 3
    elif size == "full":
        c.train.update(steps=1000, chunk_steps=200)
        c.sweep.n_seeds = 512
        c.kernel.samples = 10000  # the reference's count
        c.estimate.bootstrap = 100
    return c
