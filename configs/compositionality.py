"""Representational compositionality (Elmoznino et al., ICML 2025, arXiv 2410.14817).

C(Z) = K(Z) / K(Z | W), priced in closed form for the paper's synthetic representations
(lookup tables and grammars), 10 seeds per point, every sweep vectorised over its points
and seeds; the emergent-language variant learns the decoder by block-wise prequential coding.

Commands:
    jaxlab run configs/compositionality.py --workdir runs/comp            # all 8 synthetic sweeps
    jaxlab run configs/compositionality.py:vocab_size --workdir runs/comp_v   # one sweep
    jaxlab run configs/compositionality.py:emergent --workdir runs/comp_emergent
Tokens (comma-separated; ``jaxlab list`` prints them with their times): any of the sweep
names ``sentence_length``, ``vocab_size``, ``zdim``, ``disentanglement``, ``length_vocab``,
``grammar_width``, ``grammar_depth``, ``composition`` (default: all of them), ``emergent``
(the emergent-language experiment instead), ``smoke`` (tiny sizes, as the tests run it).
There is no ``paper`` size: the default is the paper's synthetic experiment, on a CPU.

Expected result (default, measured; the numbers: docs/results/compositionality.json and
compositionality_emergent.json): every one of the 428 sweep points within 1% of the
paper's mean C (largest 0.922%, mean 0.03%), e.g. k=16, V=10, d=64 → 1.126 (paper 1.1266),
k=64 → 2.027 (2.022), grammar w3/d2 → 1.00642 (1.00642), tensor product 1.0381 (1.0380);
520 s wall / 95 s CPU from a cold compilation cache, 83 s / 37 s with it (2-core AMD EPYC
at load ~10: docs/results/run_times.json). Emergent (``:emergent``, 209 s wall / 74 s CPU at load ~11): C 1.91 ± 0.43 with resets (iterated
learning) vs 1.05 ± 0.03 without (paper 1.95 ± 0.33 vs 1.017 ± 0.008). See
docs/compositionality.md.
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, variant_tokens

SWEEPS = ("sentence_length", "vocab_size", "zdim", "disentanglement", "length_vocab",
          "grammar_width", "grammar_depth", "composition")
OTHER = ("emergent", "smoke")
# What `jaxlab list` prints: variant -> what it runs and its time on the 2-core CPU
# (CPU seconds, first run / later runs with the compilation cache).
VARIANTS = {
    "": "all 8 closed-form synthetic sweeps, 428 points x 10 seeds "
        "(~95 s CPU first run / ~37 s cached)",
    "smoke": "the 8 sweeps at a few points, 2 seeds, as the tests run it "
             "(~13 s CPU first run / ~7 s cached)",
    "vocab_size": "one sweep (any sweep name: sentence_length, zdim, disentanglement, "
                  "length_vocab, grammar_width, grammar_depth, composition)",
    "emergent": "iterated-learning languages coded prequentially "
                "(~74 s CPU first run / ~51 s cached)",
    "emergent,smoke": "the emergent experiment at toy size (~21 s CPU first run / ~10 s cached)",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    tokens = variant_tokens(arg, SWEEPS, OTHER)
    smoke = "smoke" in tokens
    c = base_config(training=False)
    c.study = "compositionality"
    c.experiment = "emergent" if "emergent" in tokens else "synthetic"
    c.sweeps = tuple(t for t in tokens if t in SWEEPS) or SWEEPS
    c.n_seeds = 10
    c.n_samples = 1000
    c.noise = 0.01          # std of the lattice noise on z
    c.precision = 0.01      # lattice width of every parameter and noise value
    c.memory_mb = 512.0     # per-batch working-set budget of a sweep program
    c.length_vocab_topsim = False  # the paper's k x V sweep has no topsim column
    c.lookup = ml_collections.ConfigDict(dict(k=16, vocab=10, d=64, delta=1))
    c.grammar = ml_collections.ConfigDict(dict(width=3, depth=2, z_dim=10, num_words=16,
                                               vocab_size=100, faithful_to_reference=True))
    c.ranges = ml_collections.ConfigDict(dict(
        sentence_length=(1, 2, 4, 8, 16, 32, 64),
        vocab_size=tuple(range(2, 101)),
        zdim=tuple(range(16, 161, 16)),
        disentanglement=(1, 2, 4, 8, 16),
        disentanglement_vocab=2,
        length_vocab_k=(8, 16, 32),
        grammar_width=(1, 2, 3, 4),
        grammar_depth=(1, 2, 3, 4),
        composition=("linear", "tensorproduct")))
    # Emergent languages (docs/compositionality.md): an iterated-learning referential game,
    # then block-wise prequential coding of objects given messages.
    c.emergent = ml_collections.ConfigDict(dict(
        # the game (CPU-sized: the reference runs 80 generations of 1200/200/3000 rounds)
        n_attributes=2, n_values=8, message_length=2, vocab_size=8,
        language_seeds=3, generations=30, generations_per_chunk=5, hidden=64,
        imitation_steps=300, listener_steps=100, game_steps=400, game_batch=64,
        candidates=15, learning_rate=3e-3, imitation_fraction=0.75, dense_reward=True,
        entropy=0.02,
        # prequential coding (the reference: 50 repeats, hidden 256, patience 50)
        repeats=10, val_objects=8, prequential_seeds=2,
        embed=64, decoder_layers=3, decoder_hidden=64, decoder_learning_rate=1e-3,
        batch_size=50, patience=5, min_delta=1e-3, max_epochs=60, lanes=8))
    if smoke:
        c.n_seeds = 2
        c.n_samples = 48
        c.ranges.update(sentence_length=(1, 4, 16), vocab_size=(2, 5, 10), zdim=(16, 64),
                        disentanglement=(1, 4), length_vocab_k=(8, 16), grammar_width=(1, 3),
                        grammar_depth=(1, 2))
        c.emergent.update(language_seeds=1, generations=2, generations_per_chunk=1, hidden=32, imitation_steps=20,
                          listener_steps=20, game_steps=20, repeats=4, val_objects=8,
                          prequential_seeds=1, embed=8, decoder_hidden=16, decoder_layers=2,
                          batch_size=16, patience=2, max_epochs=4, lanes=8)
    return c
