"""The Monte-Carlo predictor of the MetaHMM study at CPU scale (docs/metahmm.md,
"Monte-Carlo predictor"); called by ``jaxlab.papers.metahmm.pipeline.run`` after the GPTs
are trained.

  decoder    p(x_t | x_<t, θ): the pretrained GPT plus a soft conditioning token (the sum
             of one embedding per latent factor added to BOS; the reference's "known"
             encoder), fine-tuned on training sequences with their true θ.
  posterior  q(θ_f | x_<t), factorised over the latent factors: the pretrained GPT with
             one categorical head per factor, trained by cross-entropy on the true factors
             at every position (its minimiser is the exact posterior marginal).
  MC(N)      p(x_t | x_<t) ≈ (1/N) Σ_i p_dec(x_t | x_<t, θ_i), with θ_i drawn
             (i)  from the exact oracle posterior p(θ | x_<t) (an upper bound: the
                  sampler is perfect, only the decoder is learned), or
             (ii) from q, each factor independently.
The paper's sampler is a conditional diffusion model over a continuous task latent z; θ is
discrete here, so (ii) replaces it (the diffusion config stays a paper config for
accelerators). Samples are drawn afresh at every evaluated position.
"""
from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
import optax

from jaxlab import runner, runs
from jaxlab.models.gpt import shift_inputs
from jaxlab.papers.metahmm import study
from jaxlab.tasks import metahmm
from jaxlab.train import Learner


def phase_config(config: ml_collections.ConfigDict, steps: int) -> ml_collections.ConfigDict:
    c = copy.deepcopy(config)
    c.train.steps = steps
    c.train.warmup_steps = min(config.train.warmup_steps, steps // 10)
    c.train.skewed = False
    c.hp.learning_rate = config.mc.learning_rate
    return c


def from_pretrained(pretrained, skip: tuple[str, ...] = ()):
    """params_fresh -> the same tree with every module the pretrained GPT also has copied
    from it (run-stacked trees), except the names in ``skip``."""

    def merge(fresh):
        inner = dict(fresh["params"])
        for name, value in pretrained["params"].items():
            if name in inner and name not in skip:
                inner[name] = value
        return {**fresh, "params": inner}

    return merge


def decoder_learner(config, fam: metahmm.Family) -> Learner:
    sizes = study.family_spec(config).factor_sizes
    model = study.make_model(config, cond_sizes=sizes)
    factors = jnp.asarray(fam.factors)
    b, t = config.train.batch, config.task.length

    def init_params(key):
        z = jnp.zeros((2, t), jnp.int32)
        return model.init(key, z, z, None, jnp.zeros((2, len(sizes)), jnp.int32))

    def sample_batch(key):
        batch = study.lm_batch(fam, config, key, b)
        return {"x": batch["x"], "inputs": batch["inputs"], "positions": batch["positions"],
                "cond": factors[batch["hmm"][:, 0]]}

    def loss(params, batch, hp, key):
        logits = model.apply(params, batch["inputs"], batch["positions"], None, batch["cond"])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["x"]).mean()
        return ce, {"nll": ce}

    return Learner(init_params, sample_batch, loss, lambda p, hp, k: {})


def posterior_learner(config, fam: metahmm.Family) -> Learner:
    sizes = study.family_spec(config).factor_sizes
    model = study.make_model(config, n_out=sum(sizes))
    factors = jnp.asarray(fam.factors)
    b, t = config.train.batch, config.task.length

    def init_params(key):
        z = jnp.zeros((2, t), jnp.int32)
        return model.init(key, z, z)

    def sample_batch(key):
        batch = study.lm_batch(fam, config, key, b)
        return {"inputs": batch["inputs"], "positions": batch["positions"],
                "theta": factors[batch["hmm"][:, 0]]}

    def loss(params, batch, hp, key):
        logits = model.apply(params, batch["inputs"], batch["positions"])
        ce = factor_log_probs(logits, sizes, batch["theta"][:, None, :]).sum(-1).mean()
        return -ce, {"factor_nll": -ce}

    return Learner(init_params, sample_batch, loss, lambda p, hp, k: {})


def factor_log_probs(logits: jax.Array, sizes, theta: jax.Array) -> jax.Array:
    """logits (..., Σ sizes), theta (..., F) broadcastable -> (..., F) log q(θ_f)."""
    out, start = [], 0
    for f, k in enumerate(sizes):
        lp = jax.nn.log_softmax(logits[..., start:start + k], -1)
        out.append(jnp.take_along_axis(lp, jnp.broadcast_to(
            theta[..., f:f + 1], lp.shape[:-1] + (1,)), -1)[..., 0])
        start += k
    return jnp.stack(out, -1)


def sample_factors(key: jax.Array, logits: jax.Array, sizes, n: int) -> jax.Array:
    """logits (..., Σ sizes) -> (..., n, F) int32 factors drawn independently."""
    out, start = [], 0
    for f, k in enumerate(sizes):
        draw = jax.random.categorical(jax.random.fold_in(key, f), logits[..., start:start + k],
                                      shape=(n,) + logits.shape[:-1])
        out.append(jnp.moveaxis(draw, 0, -1))
        start += k
    return jnp.stack(out, -1).astype(jnp.int32)


def decoder_at(model, params, x: jax.Array, pos: np.ndarray, cond: jax.Array, bos: int,
               row_batch: int) -> jax.Array:
    """log p_dec(x_t = · | x_<t, θ) for x (n, T), positions pos (P,), cond (n, P, N, F)
    -> (n, P, N, V); rows (sequence, position, sample) in ``row_batch`` groups."""
    n, t = x.shape
    _, n_p, n_s, f = cond.shape
    seq = jnp.broadcast_to(jnp.arange(n)[:, None, None], (n, n_p, n_s)).reshape(-1)
    at = jnp.broadcast_to(jnp.asarray(pos)[None, :, None], (n, n_p, n_s)).reshape(-1)
    flat = cond.reshape(-1, f)
    rows = seq.shape[0]
    pad = (-rows) % row_batch
    seq, at = jnp.pad(seq, (0, pad)), jnp.pad(at, (0, pad))
    flat = jnp.pad(flat, ((0, pad), (0, 0)))
    inputs = shift_inputs(x, bos)
    positions = jnp.broadcast_to(jnp.arange(t), (row_batch, t))

    def one(args):
        s, a, c = args
        logits = model.apply(params, inputs[s], positions, None, c)  # (rb, T, V)
        picked = jnp.take_along_axis(logits, a[:, None, None], 1)[:, 0]
        return jax.nn.log_softmax(picked, -1)

    split = lambda v: v.reshape(-1, row_batch, *v.shape[1:])
    out = jax.lax.map(one, (split(seq), split(at), split(flat))).reshape(rows + pad, -1)
    return out[:rows].reshape(n, n_p, n_s, -1)


def run(config: ml_collections.ConfigDict, fam: metahmm.Family, lm: runner.Phase, x: jax.Array,
        ids: jax.Array, oracle, session: runner.Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trains the decoder and the amortised posterior (phases ``decoder`` and ``posterior``,
    all seeds in one program each, starting from the GPTs of phase ``lm``) and evaluates
    the MC predictor. Returns (mc table, ambiguity rows)."""
    mc = config.mc
    spec = study.family_spec(config)
    sizes = spec.factor_sizes
    grid, executor = lm.grid, lm.executor
    run_rows = grid.run_table()
    n_runs, bos = grid.n_runs, config.task.n_tokens
    lm_params = lm.gather(lm.state.params)

    dec_cfg = phase_config(config, mc.decoder_steps)
    dec = runner.train_runs(dec_cfg, decoder_learner(dec_cfg, fam), session, "decoder",
                            init_params=from_pretrained(lm_params), key_salt=study.PHASES["decoder"])
    post_cfg = phase_config(config, mc.posterior_steps)
    post = runner.train_runs(post_cfg, posterior_learner(post_cfg, fam), session, "posterior",
                             init_params=from_pretrained(lm_params, skip=("head",)),
                             key_salt=study.PHASES["posterior"])
    dec_state, post_state = dec.state, post.state

    n, pos = mc.n_seqs, np.asarray(mc.positions)
    t_max = int(pos.max()) + 1
    xm = x[:n, :t_max]
    n_max = max(mc.samples)
    factors = jnp.asarray(fam.factors)
    logp = jnp.asarray(oracle.log_pred[0, :n, :t_max])  # (n, T', V) oracle, primary prior
    amb = np.asarray(oracle.entropy[0, :n])[:, pos]  # (n, P)
    # (i) oracle-posterior samples: one independent set per seed
    o_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 11)
    o_out = study.run_oracle(config, fam, xm, n_samples=n_max * grid.n_seeds, key=o_key)
    o_ids = np.asarray(o_out.samples[0])[:, pos].reshape(n, len(pos), grid.n_seeds, n_max)
    seeds = np.asarray([r["seed"] for r in run_rows])
    oracle_theta = jnp.asarray(np.moveaxis(np.asarray(fam.factors)[o_ids], 2, 0)[seeds])  # (R,n,P,N,F)

    dec = study.make_model(config, cond_sizes=sizes)
    post = study.make_model(config, n_out=sum(sizes))
    rb = mc.row_batch

    def per_run(dec_p, post_p, theta_o, key):
        q_logits = jax.lax.map(lambda xb: post.apply(post_p, shift_inputs(xb[None], bos),
                                                     jnp.arange(t_max)[None])[0], xm)
        q_theta = sample_factors(key, q_logits[:, pos], sizes, n_max)  # (n, P, N, F)
        true = jnp.broadcast_to(factors[ids[:n]][:, None, None], (n, len(pos), 1, len(sizes)))
        out = {"mc_oracle": decoder_at(dec, dec_p, xm, pos, theta_o, bos, rb),
               "mc_amortised": decoder_at(dec, dec_p, xm, pos, q_theta, bos, rb),
               "known_theta": decoder_at(dec, dec_p, xm, pos, true, bos, rb)}
        q_true = factor_log_probs(q_logits[:, pos], sizes, factors[ids[:n]][:, None]).sum(-1)
        return out, q_true

    keys = jax.vmap(lambda k: jax.random.fold_in(k, 13))(grid.keys())
    # to the executor's padded run count (trained states already have it)
    pad = lambda tree: executor.place(runs.pad_runs(tree, executor.padded(n_runs)))
    args = pad((dec_state.params, post_state.params, oracle_theta, keys))
    preds, q_true = jax.device_get(executor.map_runs(per_run)(*args))

    gpt_model = study.make_model(config)
    gpt_logq = jax.device_get(executor.map_runs(
        lambda p: study.model_log_probs(gpt_model, p, xm, min(n, config.eval.block), bos))(
            lm.state.params))
    oracle_at = logp[:, pos]  # (n, P, V)
    rows, amb_frames = [], []
    edges = config.eval.ambiguity_edges

    def add(r, learner, n_samples, logq):  # logq (n, P, V)
        kl = np.asarray(study.divergences(oracle_at, jnp.asarray(logq))["kl"])
        for j, p in enumerate(pos):
            rows.append({"run": r, "seed": run_rows[r]["seed"], "learner": learner,
                         "n_samples": n_samples, "position": int(p), "kl": kl[:, j].mean(),
                         "ambiguity": amb[:, j].mean()})
        label = learner if n_samples <= 1 and learner in ("gpt", "known_theta") \
            else f"{learner} N={n_samples}"
        amb_frames.append(study.ambiguity_rows(r, run_rows[r]["seed"], f"{label} (mc tokens)",
                                               kl, amb, edges))

    for r in range(n_runs):
        add(r, "gpt", 0, gpt_logq[r][:, pos])
        add(r, "known_theta", 1, preds["known_theta"][r][:, :, 0])
        for learner in ("mc_oracle", "mc_amortised"):
            lp = preds[learner][r]  # (n, P, N, V)
            for k in mc.samples:
                mix = jax.nn.logsumexp(jnp.asarray(lp[:, :, :k]), axis=2) - np.log(k)
                add(r, learner, k, mix)
        for j, p in enumerate(pos):  # the amortised posterior's NLL of the true factors
            rows.append({"run": r, "seed": run_rows[r]["seed"], "learner": "posterior_nll_true",
                         "n_samples": 0, "position": int(p), "kl": float(-q_true[r][:, j].mean()),
                         "ambiguity": amb[:, j].mean()})
    return pd.DataFrame(rows), pd.concat(amb_frames, ignore_index=True)
