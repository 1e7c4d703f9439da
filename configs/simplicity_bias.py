"""Simplicity bias as two-part compression (Marty, Elmoznino et al., 2026, arXiv 2603.25839).

Feature code lengths from learning curves (every fit of a benchmark point in one program),
the MDL envelope's predicted switch N, and the empirical switch of a network trained on the
mixed data (permutation tests), on a synthetic coloured-digits benchmark (scikit-learn's
8x8 digits; EMNIST is not downloadable here).

Commands:
    jaxlab run configs/simplicity_bias.py --workdir runs/sb          # Scenario A, one point
    jaxlab run configs/simplicity_bias.py:full --workdir runs/sb_full  # every sweep
Variants (``jaxlab list`` prints them with their times): ``smoke`` (as the tests run it),
``bank`` (the Scenario B bank-size sweep), ``bank_cpu`` (that sweep cut to this CPU,
measured: 3 of 11 K have both switches, r 0.55 pairing first switches, 0.93 by the
reference's closest pairs; with four K between the paper's and K = 316 run to N = 32,768,
0.909 by closest pairs over 6 points; docs/simplicity_bias.md), ``full`` (all sweeps: A over
spur_prob, B over flip_prob and over the bank size).

Expected result (default, measured: 81 s wall / 157 s CPU alone on a 2-core Intel Xeon):
the network relies on colour at small N and on the digit at large N, the permutation
drops crossing at N ~ 391; the envelope predicts the switch at 1,178, 3.01x later (per
seed 2.1-3.0x; 3.92x with 6 seeds; 1.80x with the partial models' curves clipped at
chance, ours); the network switches near where the digit model's per-sample loss on the
mixed data drops below colour's (N ~ 267). The first protocol (``,protocol1``: held-out
test digits) gave 17x, because a digit learned from 1,437 images never beats colour on
unseen ones (docs/simplicity_bias.md).
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, one_of, variant_tokens

SIZES = ("smoke", "default", "bank", "bank_cpu", "full")
# "protocol1": the protocol of the first recorded runs (docs/simplicity_bias.md says which):
# test digits from held-out source images, the mixed network checked at most every 100
# steps like the feature curves; the default's grid to 4,096 with a 3,000-step cap and every
# drop crossing counted, bank_cpu's grid to 8,192 with a 1,500-step cap
OPTIONS = ("protocol1",)
VARIANTS = {
    "": "Scenario A (spur_prob 0.1), 14 sizes x 3 seeds x 3 tasks = 126 fits in one program (measured: 81 s wall / 157 s CPU)",
    "smoke": "Scenario A at 2 spur_probs, tiny sizes, as the tests run it (~21 s CPU first run / ~10 s cached)",
    "bank": "Scenario B over the watermark bank size K in 1..316, 11 points, 14 sizes, 2 seeds (not yet measured; ~18 min CPU estimated from bank_cpu's points)",
    "bank_cpu": "Scenario B over all 11 K in 1..316, 9 sizes 4..16,384 x 3 seeds (measured: 890 s wall / 1554 s CPU at a load of 0.8-4.1)",
    "protocol1": "the first recorded runs' protocol: held-out test digits, mixed-network checks bounded at 100 steps, that time's grids and caps (combine: :bank_cpu,protocol1)",
    "full": "every sweep: A over spur_prob, B over flip_prob and over K, 43 points (measured: 3887 s wall / 6449 s CPU, beside the test suite for 27 min)",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    tokens = variant_tokens(arg, SIZES, OPTIONS)
    size = one_of(tokens, SIZES, "default")
    c = base_config(training=False)
    c.study = "simplicity_bias"
    c.sweeps = ("A",)
    c.task = ml_collections.ConfigDict(dict(
        image_size=16, digit_size=15, digits_per_class=5, prototypes=0, watermark_bits=16,
        test_images="shared"))
    c.scenario_a = ml_collections.ConfigDict(dict(
        spur_prob=0.1, flip_prob=0.0, env_noisiness=0.0, bank_size=1))
    c.scenario_b = ml_collections.ConfigDict(dict(
        spur_prob=0.5, flip_prob=0.15, env_noisiness=0.0, bank_size=200))
    c.grid = ml_collections.ConfigDict(dict(
        spur_prob=(0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24,
                   0.26, 0.28, 0.3),
        flip_prob=(0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24,
                   0.26, 0.28, 0.3),
        bank_size=(1, 2, 3, 6, 10, 18, 32, 56, 100, 178, 316)))
    c.curve = ml_collections.ConfigDict(dict(
        sizes=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384), n_seeds=3,
        n_val=256, n_test=1024, batch_size=64, learning_rate=1e-3, weight_decay=1e-4,
        patience=5, min_delta=5e-4, check_min=20, check_max=100, check_max_mixed=0, max_steps=6000,
        chunk_steps=20, lanes=12))
    # drop crossings below N = 10 are ignored, as the reference's compute_empirical_switches
    c.reliance = ml_collections.ConfigDict(dict(n_perm=100, perm_samples=200, min_switch_n=10))
    c.model = ml_collections.ConfigDict(dict(hidden=64, n_layers=3))
    c.mdl = ml_collections.ConfigDict(dict(abs_delta=5e-5, min_points=5, n_models=64, horizon=100))
    if size == "smoke":
        c.sweeps = ("A_spur",)
        c.grid.spur_prob = (0.1, 0.2)
        c.task.update(image_size=12, digit_size=10)
        c.curve.update(sizes=(4, 16, 64), n_seeds=2, n_val=32, n_test=64, max_steps=60,
                       check_min=5, check_max=10, patience=2, chunk_steps=10)
        c.reliance.update(n_perm=4, perm_samples=32)
        c.model.update(hidden=8)
        c.mdl.update(n_models=8)
    elif size == "bank_cpu":
        # the bank sweep cut to this 2-core CPU: 9 sizes to 16,384 (K = 316 needs more than
        # 4,096 samples to learn the cue), the default's 6,000-step cap
        c.sweeps = ("B_bank",)
        c.curve.update(sizes=(4, 16, 64, 256, 1024, 2048, 4096, 8192, 16384), n_seeds=3)
    elif size in ("bank", "full"):
        c.sweeps = ("B_bank",) if size == "bank" else ("A_spur", "B_flip", "B_bank")
        c.curve.update(n_seeds=2)
    if "protocol1" in tokens:
        c.task.test_images = "held_out"
        c.curve.check_max_mixed = 100
        if size == "default":
            c.curve.update(sizes=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096), max_steps=3000)
            c.reliance.min_switch_n = 1
        elif size == "bank_cpu":
            c.curve.update(sizes=(4, 16, 64, 256, 1024, 2048, 4096, 8192), max_steps=1500)
    return c
