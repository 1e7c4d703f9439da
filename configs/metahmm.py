"""MetaHMM: next-token prediction should be ambiguity-sensitive (arXiv 2506.16288).

Causal transformers trained on sequences from the training HMMs of a compositional HMM
family, 3 seeds in one program; on held-out HMMs (unseen factor combinations) their
predictive is compared, position by position, with the exact Bayes oracle over the family;
then the Monte-Carlo predictor (θ sampled from the oracle posterior or from an amortised
posterior over the latent factors, fed to a θ-conditioned decoder) on the same sequences.

Command (default: CPU family of 1,024 HMMs, 10 states, 20 tokens, length 64):
    jaxlab run configs/metahmm.py --workdir runs/metahmm
Variants (comma-separated; ``jaxlab list`` prints them with their times): ``smoke`` (toy
sizes, as the tests run it); ``small`` (the paper's family:
20 states, 50 tokens, 12,288 HMMs, length 200, gpt_small, batch 256, 50k steps: for
accelerators) or ``medium`` (73,728 HMMs); ``small,hour`` (the paper's family at what this
2-core CPU trains in about an hour: 2 layers, width 64, 2 heads of 64, batch 32, 3 seeds,
evaluated after 1/4, 1/2 and all of their steps); ``skewed`` (variable-length training rows,
lengths uniform in [1, T], packed); model ladder ``gpt_smaller`` (4/128/4), ``gpt_small``
(6/128/6), ``gpt_med`` (6/256/8), ``gpt_large`` (8/512/8) (layers/width/heads);
``nomc`` skips the Monte-Carlo phase. The paper's families and the ladder use the
reference's x-transformers layout (64-wide heads whatever the width, bias-free attention,
LayerNorms and head, learned scale on the sinusoid: 1.07 / 1.98 / 6.33 / 25.2 M
parameters plus one BOS row, as the authors' 1.1 / 2.0 / 6.3 / 25.0 M) and AdamW with
weight decay 0.01 (torch's default, the reference's optimizer); the CPU default keeps its
measured layout and Adam (docs/metahmm.md, "Learners").

Expected result (default, measured 2026-11-22; docs/metahmm.md, docs/results/metahmm.json): A(t) falls from ln 1024 = 6.93 to
0.14 nats by t = 63; the 0.1 M GPT's symmetrised KL to the oracle is smallest at t = 0
(0.0014) and grows as the posterior sharpens (0.64 at t = 63): at this scale it fails at
low ambiguity, with no early bump (the paper's larger models show one). MC with θ from the
exact posterior, N = 50, cuts the GPT's KL 2-3x at t = 2..6 (A = 6.1..4.6 nats); the
amortised factor posterior gains little at 800 steps. figure.png: KL vs position with A(t),
KL by ambiguity, MC vs GPT. About 45 min on a busy 2-core CPU.
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import ConfigError, base_config, one_of, variant_tokens

SIZES = ("smoke", "hour", "default")
FAMILIES = ("cpu", "small", "medium")
MODELS = {  # layers, width, heads (the reference's configs/task/metalearn/model/implicit/*.yaml;
    "gpt_tiny": (2, 64, 4),  # gpt_tiny is ours, the CPU default's model)
    "gpt_smaller": (4, 128, 4),
    "gpt_small": (6, 128, 6),
    "gpt_med": (6, 256, 8),
    "gpt_large": (8, 512, 8),
}
REFERENCE_LADDER = ("gpt_smaller", "gpt_small", "gpt_med", "gpt_large")
CONTROLS = ("skewed", "nomc")
# What `jaxlab list` prints: variant -> what it runs and its time on the 2-core CPU.
VARIANTS = {
    "": "1,024-HMM CPU family, 3 GPT seeds vs the exact oracle, Monte-Carlo predictor "
        "(~45 min wall, busy CPU)",
    "smoke": "toy family and model, as the tests run it (~33 s CPU first run / ~10 s cached)",
    "nomc": "the default without the Monte-Carlo phase",
    "small": "the paper's family (12,288 HMMs, length 200, gpt_small, 50k steps): for a GPU",
    "small,hour": "the paper's family with a 2-layer width-64 GPT, 3 seeds, KL at 3 training "
                  "lengths (~59 min wall, busy CPU)",
    "medium": "the paper's 73,728-HMM family: for a GPU",
    "skewed": "variable-length training rows (lengths uniform in [1, T]), packed",
    "gpt_smaller": "model ladder: 4 layers, width 128, 4 heads of 64, AdamW (also gpt_small, "
                   "gpt_med, gpt_large)",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    tokens = variant_tokens(arg, SIZES, FAMILIES, tuple(MODELS), CONTROLS)
    size = one_of(tokens, SIZES, "default")
    family = one_of(tokens, FAMILIES, "cpu")
    c = base_config(steps=2000, chunk_steps=100, learning_rate=1e-3, n_seeds=3)
    c.study = "metahmm"
    # CPU family: 2*2*2 * 2^2 * 2*2 = 128 transition x 2^2*2 = 8 emission combos = 1,024 HMMs
    c.task = ml_collections.ConfigDict(dict(
        n_states=10, n_tokens=20, base_cycles=2, base_directions=2, base_speeds=2,
        cycle_families=2, groups_per_family=2, cycles_per_group=3, family_directions=2,
        family_speeds=2, emission_groups=2, emission_variants=2, emission_shifts=2,
        edges_per_state=3, emission_noise=1e-5, n_held_out=100, family_seed=0, length=64))
    # layout "jaxlab": head width = width / heads, biases everywhere, fixed sinusoid (the CPU
    # default as measured); "x_transformers": the reference's layout (study.make_model).
    c.model = ml_collections.ConfigDict(dict(n_layers=2, d_model=64, n_heads=4, d_ff=256,
                                             layout="jaxlab"))
    c.train.update(batch=64, grad_clip_norm=1.0, lr_schedule="cosine", warmup_steps=100,
                   skewed=False)
    # Evaluation on held-out HMMs. The oracle's prior is uniform over the whole family
    # ("all": the reference's oracle; the only one whose support holds the held-out HMMs);
    # the oracle with the prior uniform over the training HMMs ("train": what the learners
    # were trained on, A(0) = ln #train) is reported beside it (learner "oracle_train").
    c.eval = ml_collections.ConfigDict(dict(
        n_seqs=256, block=8, oracle_block=4, split="held_out", prior="all",
        report_positions=(0, 1, 2, 3, 5, 8, 16, 32, 63),
        ambiguity_edges=(0.0, 1e-3, 1e-2, 0.1, 0.3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 12.0),
        lm_steps=()))  # steps at which the GPTs are also evaluated on the way (constant lr)
    # Monte-Carlo predictor at CPU scale: decoder p(x_t | x_<t, θ) (the pretrained GPT +
    # a soft token summing one embedding per factor, fine-tuned), the amortised factorised
    # posterior q(θ_f | x_<t) (the pretrained GPT with factor heads), both trained on the
    # training HMMs; evaluated at ``positions`` of ``n_seqs`` held-out sequences with
    # θ from the oracle posterior (upper bound) or from q, N in ``samples``.
    c.mc = ml_collections.ConfigDict(dict(
        enabled=True, decoder_steps=800, posterior_steps=800, learning_rate=5e-4,
        n_seqs=64, positions=(0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48), samples=(1, 5, 50),
        row_batch=256))

    if family in ("small", "medium"):  # the paper's families (reference data configs)
        c.task.update(n_states=20, n_tokens=50, base_cycles=4, base_speeds=2, cycle_families=3,
                      emission_groups=3, emission_shifts=3, n_held_out=1000, length=200)
        c.model.update(n_layers=6, d_model=128, n_heads=6, d_ff=512)  # gpt_small
        c.train.update(steps=50000, chunk_steps=500, batch=256, lr_schedule="constant",
                       warmup_steps=0)
        c.eval.update(n_seqs=304, report_positions=(0, 1, 2, 3, 5, 8, 16, 32, 64, 128, 199),
                      ambiguity_edges=(0.0, 1e-3, 1e-2, 0.1, 0.3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0,
                                       7.0, 8.0, 9.0, 10.0))  # A(0) = ln 12,288 = 9.42
        c.mc.update(enabled=False)  # the paper's MC predictor is the diffusion one (docs)
        if family == "medium":
            c.task.update(base_speeds=3, cycle_families=4, emission_groups=4)
    if size == "hour":  # the paper's family at what this 2-core CPU trains in about an hour
        if family != "small":
            raise ConfigError("variant 'hour' is the paper's family at a CPU budget: "
                              "combine it with 'small' (configs/metahmm.py:small,hour)")
        c.model.update(n_layers=2, d_model=64, n_heads=2, d_ff=256)  # 2 heads of 64
        # 3,600 steps: 1.34 steps/s for the 3 seeds in a probe (load 3); 59 min measured (load 3-6)
        c.train.update(steps=3600, chunk_steps=100, batch=32)
        c.eval.update(lm_steps=(900, 1800))  # the same runs at 1/4 and 1/2 of their steps
    model = one_of(tokens, tuple(MODELS), "")
    if model:
        layers, width, heads = MODELS[model]
        c.model.update(n_layers=layers, d_model=width, n_heads=heads, d_ff=4 * width)
    if family in ("small", "medium") or model in REFERENCE_LADDER:
        # the reference's model layout and optimizer (torch AdamW, default weight decay 0.01)
        c.model.layout = "x_transformers"
        c.train.update(optimizer="adamw", weight_decay=0.01)
    if "skewed" in tokens:
        c.train.skewed = True
    if "nomc" in tokens:
        c.mc.enabled = False
    if size == "smoke":
        c.task.update(n_states=6, n_tokens=8, base_cycles=2, base_speeds=2, cycle_families=1,
                      emission_groups=2, emission_shifts=2, n_held_out=8, length=16)
        c.model.update(n_layers=1, d_model=16, n_heads=2, d_ff=32)
        c.train.update(steps=20, chunk_steps=10, batch=8, warmup_steps=2)
        c.sweep.n_seeds = 2
        c.eval.update(n_seqs=8, block=4, oracle_block=2, report_positions=(0, 1, 2, 4, 8, 15))
        c.mc.update(decoder_steps=10, posterior_steps=10, n_seqs=4, positions=(0, 1, 4, 12),
                    samples=(1, 3), row_batch=16)
    return c
