"""Worked example paper (docs/new_paper.md): an MLP fitting y = sin(x) + 0.1 noise.

Command (seconds on a CPU):
    jaxlab run configs/example_sine.py --workdir runs/example_sine
Variants: ``smoke`` (fewer steps, as the tests run it; ``jaxlab list`` prints the times).

Expected result: every run's held-out MSE lies just above the Bayes error (noise^2 = 0.01).
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, one_of, variant_tokens

SIZES = ("smoke", "default")
# What `jaxlab list` prints: variant -> what it runs and its time on the 2-core CPU
# (CPU seconds, first run / later runs with the compilation cache).
VARIANTS = {
    "": "2 learning rates x 2 seeds, 2,000 steps (~6 s CPU first run / ~3 s cached)",
    "smoke": "40 steps, as the tests run it (~5 s CPU first run / ~3 s cached)",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    size = one_of(variant_tokens(arg, SIZES), SIZES, "default")
    c = base_config(steps=2000, chunk_steps=200, learning_rate=1e-2, n_seeds=2)
    c.study = "example_sine"
    c.sweep.axes.learning_rate = (3e-3, 1e-2)
    c.task = ml_collections.ConfigDict(dict(noise=0.1, batch=64, test_points=4096))
    c.model = ml_collections.ConfigDict(dict(width=32))
    if size == "smoke":
        c.train.update(steps=40, chunk_steps=10)
    return c
