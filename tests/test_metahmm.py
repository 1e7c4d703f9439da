"""MetaHMM: generator statistics, the exact oracle against brute-force enumeration, A(0)."""
import itertools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.tasks import hmm_oracle, metahmm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = metahmm.FamilySpec(
    n_states=3, n_tokens=4, base_cycles=2, base_directions=2, base_speeds=1, cycle_families=1,
    groups_per_family=2, cycles_per_group=1, family_directions=2, family_speeds=1,
    emission_groups=1, emission_variants=2, emission_shifts=2, n_held_out=8, seed=3)


@pytest.fixture(scope="module")
def small():
    return metahmm.build(metahmm.FamilySpec())


def test_paper_small_family_has_12288_hmms_and_a_disjoint_held_out_split(small):
    spec = metahmm.FamilySpec()
    assert spec.n_hmms == 12288 and small.n_hmms == 12288
    assert small.factors.shape == (12288, len(spec.factor_sizes)) == (12288, len(spec.factor_names))
    assert len(np.unique(small.factors, axis=0)) == 12288  # every combination once
    assert len(small.held_out_ids) == 1000 and len(small.train_ids) == 11288
    assert not set(small.held_out_ids) & set(small.train_ids)
    # held-out HMMs are new combinations of seen factor values
    for f in range(small.factors.shape[1]):
        assert set(small.factors[small.held_out_ids, f]) <= set(small.factors[small.train_ids, f])


def test_matrices_are_stochastic_and_emissions_sparse(small):
    np.testing.assert_allclose(small.trans.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(small.emis.sum(-1), 1, atol=1e-5)
    assert (small.trans.max(-1) > 0).all()
    per_state = (small.emis > 1e-3).sum(-1)
    assert per_state.min() >= 1 and 2.5 < per_state.mean() < 4.0  # ~3.1 tokens per state (docs/metahmm.md)


def test_speed_two_on_an_even_ring_splits_it_into_two_rings():
    order = np.random.default_rng(0).permutation(10)
    adj = metahmm.ring_edges(order, 2, 10)
    assert adj.sum() == 10 and (adj.sum(0) == 1).all() and (adj.sum(1) == 1).all()
    reach, z = set(), order[0]
    for _ in range(10):
        reach.add(int(z))
        z = int(np.argmax(adj[z]))
    assert len(reach) == 5  # order[0]'s ring holds every other state


def test_family_cycles_are_added_not_assigned():
    """Intended union of cycles (the reference keeps only a group's last cycle): at speed
    1, direction 0, a group of 3 cycles over 20 states adds up to every cycle's edges."""
    spec = metahmm.FamilySpec(cycles_per_group=3)
    rng = np.random.default_rng(spec.seed)
    base, fam = metahmm._transition_blocks(spec, rng)
    rng2 = np.random.default_rng(spec.seed)
    for _ in range(spec.base_cycles):
        rng2.permutation(spec.n_states)
    lengths = rng2.integers(3, 9, size=3)
    assert fam[0, 0, 0, 0].sum() == lengths.sum()


def test_sampler_follows_the_hmm(small):
    h = int(small.train_ids[7])
    x, z = jax.jit(lambda k: metahmm.sample(small, k, jnp.full((64,), h), 200))(jax.random.PRNGKey(0))
    x, z = np.asarray(x), np.asarray(z)
    tr, em = (np.asarray(a[0]) for a in metahmm.hmm_matrices(small, jnp.array([h])))
    counts = np.zeros_like(tr)
    np.add.at(counts, (z[:, :-1], z[:, 1:]), 1)
    assert (counts[tr == 0] == 0).all()  # never an impossible transition
    freq = counts / counts.sum(1, keepdims=True)
    visited = counts.sum(1) > 300
    assert np.abs(freq - tr)[visited].max() < 0.12
    assert em[z, x].min() > 1e-3 or (em[z, x] < 1e-3).mean() < 1e-3  # noise tokens are rare


def test_packed_rows_restart_states_and_positions():
    fam = metahmm.build(TINY)
    seg = metahmm.packed_segments(jax.random.PRNGKey(0), 16, 30)
    pos = np.asarray(metahmm.positions_in_segment(seg))
    ids = jnp.asarray(np.random.default_rng(0).choice(fam.train_ids, (16, 30)))
    x, z, hmm = metahmm.sample_packed(fam, jax.random.PRNGKey(1), ids, seg)
    seg, hmm = np.asarray(seg), np.asarray(hmm)
    assert (np.diff(seg, axis=1) >= 0).all() and seg.max() > 0
    assert (pos[seg == 0] == np.broadcast_to(np.arange(30), seg.shape)[seg == 0]).all()
    assert (pos[:, 1:][np.diff(seg, axis=1) > 0] == 0).all()
    np.testing.assert_array_equal(hmm, np.take_along_axis(np.asarray(ids), seg, 1))


def _brute_force_predictive(trans, emis, x, support):
    """p(x_t = v | x_<t) by summing p(x_<=t, z_<=t | θ) over every state path and HMM."""
    s, v = trans.shape[1], emis.shape[2]
    n_b = emis.shape[0]
    out = np.zeros((len(x), v))
    post_ent = np.zeros(len(x))
    for t in range(len(x)):
        joint = np.zeros((len(support), v))
        for i, h in enumerate(support):
            tr, em = trans[h // n_b].astype(np.float64), emis[h % n_b].astype(np.float64)
            for path in itertools.product(range(s), repeat=t + 1):
                p = 1.0 / s
                for k in range(t + 1):
                    if k:
                        p *= tr[path[k - 1], path[k]]
                    if k < t:
                        p *= em[path[k], x[k]]
                joint[i] += p * em[path[t]]
        out[t] = joint.sum(0) / joint.sum()
        w = joint.sum(1) / joint.sum()
        post_ent[t] = -(w[w > 0] * np.log(w[w > 0])).sum()
    return out, post_ent


def test_oracle_matches_brute_force_enumeration_on_a_tiny_family():
    fam = metahmm.build(TINY)
    x, _ = metahmm.sample(fam, jax.random.PRNGKey(2), jnp.asarray(fam.held_out_ids[:2]), 5)
    priors = np.stack([hmm_oracle.log_prior_of(fam.n_hmms),
                       hmm_oracle.log_prior_of(fam.n_hmms, fam.train_ids)])
    out = hmm_oracle.blocked_filter(jnp.asarray(fam.trans), jnp.asarray(fam.emis), x,
                                    jnp.asarray(priors), block=1, epistemic=True)
    for i in range(2):
        for p, support in enumerate([np.arange(fam.n_hmms), fam.train_ids]):
            pred, ent = _brute_force_predictive(fam.trans, fam.emis, np.asarray(x[i]), support)
            np.testing.assert_allclose(np.exp(out.log_pred[p, i]), pred, atol=2e-5)
            np.testing.assert_allclose(out.entropy[p, i], ent, atol=2e-4)
    assert (np.asarray(out.epistemic) >= -1e-4).all()
    assert (np.asarray(out.epistemic) <= np.asarray(out.entropy) + 1e-4).all()


def test_ambiguity_starts_at_log_number_of_training_hmms_and_falls(small):
    x, _ = metahmm.sample(small, jax.random.PRNGKey(4), jnp.asarray(small.held_out_ids[:4]), 24)
    prior = hmm_oracle.log_prior_of(small.n_hmms, small.train_ids)[None]
    out = jax.jit(lambda xx: hmm_oracle.blocked_filter(
        jnp.asarray(small.trans), jnp.asarray(small.emis), xx, jnp.asarray(prior), block=2))(x)
    ent = np.asarray(out.entropy[0])
    np.testing.assert_allclose(ent[:, 0], math.log(11288), rtol=1e-5)
    assert (ent[:, -1] < 0.5 * ent[:, 0]).all()
    assert np.isfinite(np.asarray(out.log_pred)).all()


def test_naive_filter_agrees_with_the_batched_oracle():
    fam = metahmm.build(TINY)
    x, _ = metahmm.sample(fam, jax.random.PRNGKey(5), jnp.asarray(fam.train_ids[:1]), 7)
    th, eh = metahmm.hmm_matrices(fam, jnp.arange(fam.n_hmms))
    naive = hmm_oracle.naive_filter(th, eh, x[0])
    out = hmm_oracle.posterior_filter(jnp.asarray(fam.trans), jnp.asarray(fam.emis), x,
                                      jnp.asarray(hmm_oracle.log_prior_of(fam.n_hmms)[None]))
    np.testing.assert_allclose(naive, out.log_pred[0, 0], atol=1e-4)


def test_posterior_samples_follow_the_posterior():
    fam = metahmm.build(TINY)
    x, _ = metahmm.sample(fam, jax.random.PRNGKey(6), jnp.asarray(fam.train_ids[:1]), 3)
    prior = jnp.asarray(hmm_oracle.log_prior_of(fam.n_hmms, fam.train_ids)[None])
    out = hmm_oracle.posterior_filter(jnp.asarray(fam.trans), jnp.asarray(fam.emis), x, prior,
                                      n_samples=4000, key=jax.random.PRNGKey(0))
    s = np.asarray(out.samples[0, 0])  # (T, N)
    assert set(np.unique(s)) <= set(fam.train_ids)
    ll = np.asarray(out.log_lik[0])  # full-sequence likelihood: posterior after all 3 tokens
    # at t = 0 the posterior is the prior: uniform over training HMMs
    hist = np.bincount(s[0], minlength=fam.n_hmms)[fam.train_ids] / s.shape[1]
    assert np.abs(hist - 1 / len(fam.train_ids)).max() < 0.02 and np.isfinite(ll).all()


# ----------------------------------------------------------------------------- study
def _metahmm_config(*overrides):
    import os

    from jaxlab import config as config_lib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return config_lib.load(os.path.join(root, "configs", "metahmm.py") + ":smoke,nomc",
                           list(overrides))


@pytest.mark.e2e
def test_smoke_study_writes_tidy_tables_with_the_oracle_beside_the_gpt(tmp_path):
    from jaxlab import papers
    from jaxlab.papers.metahmm import study

    res = papers.run(_metahmm_config(), str(tmp_path), progress=False)
    pos = res.tables["positions"]
    assert set(pos.learner) == {"gpt", "oracle", "oracle_train"}
    amb0 = pos[(pos.metric == "ambiguity") & (pos.position == 0)].set_index("learner").value
    fam = metahmm.build(study.family_spec(res.config))
    np.testing.assert_allclose(amb0["oracle_train"], math.log(len(fam.train_ids)), rtol=1e-5)
    np.testing.assert_allclose(amb0["oracle"], math.log(fam.n_hmms), rtol=1e-5)
    kl = pos[(pos.learner == "gpt") & (pos.metric == "kl")]
    assert len(kl) == 2 * res.config.task.length and (kl.value >= 0).all()
    summary = res.summary.set_index(["learner", "seed"])
    # the oracle is Bayes-optimal on average: no learner codes the sequences shorter
    assert (summary.loc["gpt", "excess_code_length"] > -0.5).all()
    ambiguity = res.tables["ambiguity"]
    assert ambiguity.groupby("run").n_tokens.sum().eq(
        res.config.eval.n_seqs * res.config.task.length).all()


@pytest.mark.e2e
def test_mc_decoder_rows_match_a_full_forward_pass():
    from jaxlab.papers.metahmm import study
    from jaxlab.papers.metahmm import mc as metahmm_mc

    config = _metahmm_config()
    fam = metahmm.build(study.family_spec(config))
    sizes = study.family_spec(config).factor_sizes
    model = study.make_model(config, cond_sizes=sizes)
    x, _ = metahmm.sample(fam, jax.random.PRNGKey(0), jnp.asarray(fam.train_ids[:4]), 16)
    theta = jnp.asarray(fam.factors[fam.train_ids[:4]])
    params = model.init(jax.random.PRNGKey(1), x, jnp.broadcast_to(jnp.arange(16), x.shape), None, theta)
    full = study.model_log_probs(model, params, x, 2, config.task.n_tokens, cond=theta)
    pos = np.array([0, 3, 15])
    rows = metahmm_mc.decoder_at(model, params, x, pos, theta[:, None, None].repeat(3, 1),
                                 config.task.n_tokens, row_batch=5)
    np.testing.assert_allclose(rows[:, :, 0], full[:, pos], atol=1e-5)
    logits = jax.random.normal(jax.random.PRNGKey(2), (3, sum(sizes))) * 3
    draws = np.asarray(metahmm_mc.sample_factors(jax.random.PRNGKey(3), logits, sizes, 4000))
    assert draws.shape == (3, 4000, len(sizes))
    p0 = np.asarray(jax.nn.softmax(logits[0, :sizes[0]]))
    np.testing.assert_allclose(np.bincount(draws[0, :, 0], minlength=sizes[0]) / 4000, p0, atol=0.03)
    lp = metahmm_mc.factor_log_probs(logits, sizes, jnp.asarray(draws[:, 0]))
    assert lp.shape == (3, len(sizes)) and (np.asarray(lp) <= 0).all()


@pytest.mark.e2e
@pytest.mark.slow
def test_smoke_study_with_the_monte_carlo_predictor(tmp_path):
    import os

    from jaxlab import config as config_lib, papers

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = config_lib.load(os.path.join(root, "configs", "metahmm.py") + ":smoke")
    res = papers.run(config, str(tmp_path), progress=False)
    mc = res.tables["mc"]
    assert {"gpt", "known_theta", "mc_oracle", "mc_amortised"} <= set(mc.learner)
    assert np.isfinite(mc.kl).all()


def _matmul_flops(jaxpr) -> int:
    """2 x multiply-adds of every dot_general in a jaxpr, scan bodies times their length."""
    from jax.extend import core as jcore

    total = 0
    for eqn in jaxpr.eqns:
        assert eqn.primitive.name != "while", "a loop of unknown length"
        if eqn.primitive.name == "dot_general":
            (contracted, _), _ = eqn.params["dimension_numbers"]
            k = math.prod(eqn.invars[0].aval.shape[d] for d in contracted)
            total += 2 * k * math.prod(eqn.outvars[0].aval.shape)
        times = eqn.params["length"] if eqn.primitive.name == "scan" else 1
        total += times * sum(_matmul_flops(sub) for sub in jcore.jaxprs_in_params(eqn.params))
    return total


@pytest.mark.parametrize("n_priors", [1, 2])
def test_oracle_flop_count_is_the_matmul_work_the_filter_traces(n_priors):
    """matmul_flops_per_seq (the bench's FLOP numerator) against the dot products of the
    traced filter, counted from its jaxpr, per sequence, direct and in blocks."""
    a, b, s, v, n, t = 3, 2, 4, 5, 4, 6
    key = jax.random.PRNGKey(0)
    trans = jax.nn.softmax(jax.random.normal(key, (a, s, s)), -1)
    emis = jax.nn.softmax(jax.random.normal(jax.random.fold_in(key, 1), (b, s, v)), -1)
    x = jnp.zeros((n, t), jnp.int32)
    prior = jnp.full((n_priors, a * b), -math.log(a * b))
    claimed = hmm_oracle.matmul_flops_per_seq(a, b, s, v, t, n_priors)
    for f in (lambda xx: hmm_oracle.posterior_filter(trans, emis, xx, prior).log_pred,
              lambda xx: hmm_oracle.blocked_filter(trans, emis, xx, prior, block=2).log_pred):
        assert _matmul_flops(jax.make_jaxpr(f)(x).jaxpr) / n == claimed


@pytest.mark.e2e
def test_bench_hook_reports_the_oracle_keys():
    from jaxlab.papers.metahmm import study
    from jaxlab.timing import matmul_peak_gflops

    peak = matmul_peak_gflops(512)
    out = study.bench(True, peak)  # checks the fast oracle against the naive one inside
    fast, naive = out["metahmm_oracle_s_per_seq"], out["metahmm_oracle_naive_s_per_seq"]
    assert out["metahmm_oracle_vs_naive"] == pytest.approx(naive / fast, rel=1e-9)
    # Useful matmul FLOP/s cannot beat a dense matmul (a time that missed the computation,
    # or an inflated FLOP count, would): the fraction is in (0, 1], and it is the reported
    # FLOPs over the reported time over the peak.
    frac = out["metahmm_oracle_flops_fraction"]
    assert 0 < frac <= 1, (frac, out)
    assert frac == pytest.approx(out["metahmm_oracle_gflop_per_seq"] / fast / peak, rel=1e-9)


def test_the_table_has_one_row_per_swept_value_with_that_value_s_seed_mean():
    """Two learning rates x two seeds: each learning rate's row averages its own two runs
    (values set by hand), never the four together."""
    import pandas as pd

    from jaxlab.papers.metahmm import study

    config = _metahmm_config("--config.sweep.axes.learning_rate=(0.001, 0.003)")
    runs = [(0.001, 0), (0.001, 1), (0.003, 0), (0.003, 1)]
    rows = [dict(run=r, seed=s, learner="gpt", position=p, metric=m, value=0.1 * (r + 1))
            for r, (_, s) in enumerate(runs) for p in range(16) for m in ("kl", "nll")]
    rows += [dict(run=-1, seed=s, learner="oracle", position=p, metric="nll", value=0.05)
             for s in (0, 1) for p in range(16)]
    run_rows = [dict(run=r, seed=s, learning_rate=lr) for r, (lr, s) in enumerate(runs)]
    summary = study.summarize(pd.DataFrame(rows), config, run_rows)
    assert summary[summary.learner == "gpt"].learning_rate.tolist() == [lr for lr, _ in runs]
    empty = pd.DataFrame(columns=["learner", "bin_lo", "bin_hi", "kl", "n_tokens"])
    table = study.report(summary, empty, config, None).splitlines()
    low = next(line for line in table if line.startswith("gpt learning_rate=0.001"))
    high = next(line for line in table if line.startswith("gpt learning_rate=0.003"))
    assert low.split()[2] == "0.1500" and high.split()[2] == "0.3500"  # kl@0 seed means
    assert "2.4000" in low and "5.6000" in high  # code length: 16 positions x the run's value


# The reference's GPT ladder (leogagnon/latent_control @ 9237230,
# configs/task/metalearn/model/implicit/<name>.yaml: n_layer / n_embd / n_head) and the
# authors' size labels (notebooks/workshop_figures.ipynb, column "Size").
REFERENCE_LADDER = {"gpt_smaller": (4, 128, 4, 1.1), "gpt_small": (6, 128, 6, 2.0),
                    "gpt_med": (6, 256, 8, 6.3), "gpt_large": (8, 512, 8, 25.0)}


def x_transformers_params(layers: int, d: int, heads: int, vocab: int) -> int:
    """Parameters of x-transformers' TransformerWrapper(Decoder(dim=d, depth, heads)) with
    the reference's arguments and x-transformers' defaults: token embedding V x d, scaled
    sinusoid (1 scalar), per layer q, k, v, out without bias at dim_head 64
    (4 * d * 64 * heads), feed-forward d -> 4d -> d with biases, two gain-only LayerNorms;
    a final gain-only LayerNorm, logits d x V without bias."""
    inner, ff = 64 * heads, 4 * d
    layer = 4 * d * inner + (d * ff + ff) + (ff * d + d) + 2 * d
    return vocab * d + 1 + layers * layer + d + d * vocab


@pytest.mark.parametrize("name", list(REFERENCE_LADDER))
def test_ladder_has_the_reference_parameter_count(name):
    """Our ladder = the reference's x-transformers GPT, parameter for parameter, plus the
    BOS embedding row (d) our inputs start with; the count rounds to the authors' label
    (1.07 -> 1.1, 1.98 -> 2.0, 6.33 -> 6.3, 25.2 -> 25 M)."""
    from jaxlab import config as config_lib
    from jaxlab.models.gpt import n_params
    from jaxlab.papers.metahmm import study

    layers, d, heads, label = REFERENCE_LADDER[name]
    config = config_lib.load(os.path.join(ROOT, "configs", "metahmm.py") + f":small,{name}")
    m = config.model
    assert (m.n_layers, m.d_model, m.n_heads, m.d_ff) == (layers, d, heads, 4 * d)
    assert config.task.n_tokens == 50  # the reference's n_obs (configs/task/metalearn/data/small.yaml)
    model = study.make_model(config)
    x = jnp.zeros((1, 4), jnp.int32)
    ours = n_params(jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x, x)))
    reference = x_transformers_params(layers, d, heads, 50)
    assert ours == reference + d
    assert float(f"{reference / 1e6:.2g}") == label  # two significant digits, as labelled


@pytest.mark.parametrize("variant,optimizer,decay", [
    ("", "adam", 0.0), ("nomc", "adam", 0.0), ("small", "adamw", 0.01),
    ("medium", "adamw", 0.01), ("gpt_med", "adamw", 0.01), ("small,gpt_large", "adamw", 0.01)])
def test_paper_variants_train_with_adamw(variant, optimizer, decay):
    """The paper's families and the ladder use the reference's AdamW (torch default weight
    decay 0.01); the CPU default keeps the Adam its documented numbers were measured with."""
    from jaxlab import config as config_lib

    config = config_lib.load(os.path.join(ROOT, "configs", "metahmm.py") + f":{variant}")
    assert (config.train.optimizer, config.train.weight_decay) == (optimizer, decay)
    assert config.model.layout == ("jaxlab" if optimizer == "adam" else "x_transformers")


def test_the_hour_variant_is_the_paper_family_with_a_cpu_model_and_staged_evaluation(capsys):
    """``small,hour``: the paper's family (12,288 HMMs, 20 states, 50 tokens, length 200) and
    learner recipe (reference layout, AdamW 0.01, constant lr), a CPU-sized model, evaluated
    at 1/4 and 1/2 of its steps; it validates, and ``jaxlab list`` shows it."""
    from jaxlab import cli, config as config_lib
    from jaxlab.papers.metahmm import study

    config = config_lib.load(os.path.join(ROOT, "configs", "metahmm.py") + ":small,hour")
    study.validate(config)
    assert study.family_spec(config).n_hmms == 12288
    assert (config.task.n_states, config.task.n_tokens, config.task.length) == (20, 50, 200)
    assert (config.train.optimizer, config.train.weight_decay, config.train.lr_schedule,
            config.model.layout) == ("adamw", 0.01, "constant", "x_transformers")
    steps = config.train.steps
    assert tuple(config.eval.lm_steps) == (steps // 4, steps // 2)
    assert cli.main(["list"]) == 0
    assert ":small,hour " in capsys.readouterr().out
    with pytest.raises(config_lib.ConfigError, match="combine it with 'small'"):
        config_lib.load(os.path.join(ROOT, "configs", "metahmm.py") + ":hour")
    with pytest.raises(config_lib.ConfigError, match="eval.lm_steps"):  # a cosine stage is no
        study.validate(_metahmm_config("--config.eval.lm_steps=(10,)"))  # point of the full run


@pytest.mark.e2e
def test_a_stage_is_the_run_after_that_many_steps(tmp_path):
    """``eval.lm_steps``: the staged run's gpt@10 rows equal those of a separate 10-step
    run (the saved stage holds the step-10 parameters), its final gpt rows (30 steps) differ
    from them, and a run stopped at step 20 (a checkpoint newer than the stage) resumes to
    the same tables as the uninterrupted one (the stage is read from its unit, not from
    the newest checkpoint)."""
    from jaxlab import papers

    constant = "--config.train.lr_schedule=constant"
    staged_config = _metahmm_config(constant, "--config.train.steps=30",
                                    "--config.eval.lm_steps=(10,)")
    staged = papers.run(staged_config, str(tmp_path / "staged"), progress=False)
    short = papers.run(_metahmm_config(constant, "--config.train.steps=10"),
                       str(tmp_path / "short"), progress=False)
    pos = staged.tables["positions"]
    kl = lambda p, learner: p[(p.learner == learner) & (p.metric == "kl")].value.to_numpy()  # noqa: E731
    assert set(pos.learner) == {"gpt@10", "gpt", "oracle", "oracle_train"}
    np.testing.assert_allclose(kl(pos, "gpt@10"), kl(short.tables["positions"], "gpt"), rtol=1e-5)
    assert np.abs(kl(pos, "gpt@10") - kl(pos, "gpt")).max() > 1e-4
    assert set(staged.tables["ambiguity"].learner) == {"gpt@10", "gpt"}
    assert "gpt@10" in open(os.path.join(staged.workdir, "table.txt")).read()
    # chunks: stage (1), its unit (2), the final phase's first chunk (3, step 20): stop there
    resumed_dir = str(tmp_path / "resumed")
    assert papers.run(staged_config, resumed_dir, progress=False,
                      should_stop=lambda chunks: chunks >= 3) is None
    resumed = papers.run(staged_config, resumed_dir, progress=False)
    for name in ("positions", "ambiguity"):
        a, b = staged.tables[name], resumed.tables[name]
        np.testing.assert_allclose(a.select_dtypes("number"), b.select_dtypes("number"), rtol=1e-6)
