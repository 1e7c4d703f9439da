"""Exact Bayes over a finite family of HMMs: posterior over HMMs, posterior predictive.

The family is factor-indexed (see ``jaxlab.tasks.metahmm``): HMM h = a * B + b has
transition ``trans[a]`` (A, S, S) and emission ``emis[b]`` (B, S, V). Every HMM starts
from the uniform state distribution. For sequences x (n, T) the filter carries, for every
HMM and sequence, the predicted state distribution alpha_t = p(z_t | x_<t, θ) and the
log-likelihood L_t(θ) = log p(x_<t | θ). At position t (before seeing x_t):

  posterior       w_t(θ) ∝ prior(θ) exp L_t(θ)
  ambiguity       A(t) = H[w_t] (nats); A(0) = ln(#HMMs with prior mass)
  predictive      p(x_t = v | x_<t) = Σ_b Σ_s (Σ_a w_t(a, b) alpha_t(a, b, s)) E_b[s, v]
  epistemic       I(x_t; θ | x_<t) = H[p(x_t | x_<t)] - Σ_θ w_t(θ) H[p(x_t | x_<t, θ)]

then the update alpha_{t+1} ∝ (alpha_t ⊙ E_b[:, x_t]) T_a, normalised per HMM with the
normaliser added to L. Probabilities stay normalised, so float32 is safe (emission noise
keeps every token's probability >= ~1e-6).

Layout. The state is (A, n·B, S): all HMMs that share a transition matrix are rows of one
(n·B, S) @ (S, S) product, so the step's heavy work is one batched matmul with A batch
entries, growing with the number of sequences n filtered together. The mixture over HMMs
is taken on state distributions before the emission product (Σ_a first), so the
predictive over V tokens costs B·S·V per sequence, not H·S·V. Several priors (P, H)
share one filter: only the weights differ.
"""
from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


class OracleOut(NamedTuple):
    """Per prior p, sequence i, position t (all float32 unless noted):

    log_pred   (P, n, T, V) log p(x_t = v | x_<t)
    entropy    (P, n, T)    A(t) = H[p(θ | x_<t)] in nats
    epistemic  (P, n, T)    I(x_t; θ | x_<t) in nats (zeros unless requested)
    samples    (P, n, T, N) int32 HMM ids drawn from p(θ | x_<t) (N = 0 unless requested)
    log_lik    (n, H)       log p(x | θ) of the whole sequence per HMM
    """

    log_pred: jax.Array
    entropy: jax.Array
    epistemic: jax.Array
    samples: jax.Array
    log_lik: jax.Array


def log_prior_of(n_hmms: int, support: np.ndarray | None = None) -> np.ndarray:
    """(H,) uniform log-prior over ``support`` (HMM ids; all HMMs if None), -inf elsewhere."""
    if support is None:
        return np.full(n_hmms, -np.log(n_hmms), np.float32)
    out = np.full(n_hmms, -np.inf, np.float32)
    out[np.asarray(support)] = -np.log(len(support))
    return out


def _entropy(logw: jax.Array, axis) -> jax.Array:
    w = jnp.exp(logw)
    return -jnp.sum(jnp.where(w > 0, w * logw, 0.0), axis=axis)


def posterior_filter(trans: jax.Array, emis: jax.Array, x: jax.Array, log_prior: jax.Array, *,
                     epistemic: bool = False, n_samples: int = 0,
                     key: jax.Array | None = None) -> OracleOut:
    """The exact Bayes oracle on sequences x (n, T) int32 for priors log_prior (P, H).

    trans (A, S, S), emis (B, S, V) row-stochastic. With ``n_samples`` > 0, ``key`` draws
    that many HMM ids per (prior, sequence, position) from the posterior (inverse CDF).
    """
    chex.assert_rank([trans, emis, x, log_prior], [3, 3, 2, 2])
    n_a, s, _ = trans.shape
    n_b, _, v = emis.shape
    n, t_len = x.shape
    n_p, n_h = log_prior.shape
    chex.assert_equal(n_h, n_a * n_b)
    lp = log_prior.reshape(n_p, n_a, 1, n_b)
    emis_t = jnp.swapaxes(emis, 1, 2)  # (B, V, S): row x_t is E_b[:, x_t]
    alpha0 = jnp.full((n_a, n * n_b, s), 1.0 / s, jnp.float32)
    ll0 = jnp.zeros((n_a, n, n_b), jnp.float32)
    keys = (jax.random.split(key, t_len) if n_samples else jnp.zeros((t_len, 2), jnp.uint32))

    def step(carry, inputs):
        alpha, ll = carry
        x_t, k = inputs  # (n,)
        a4 = alpha.reshape(n_a, n, n_b, s)
        logits = ll[None] + lp  # (P, A, n, B)
        norm = jax.nn.logsumexp(logits, axis=(1, 3), keepdims=True)
        logw = logits - norm
        w = jnp.exp(logw)
        ent = _entropy(logw, (1, 3))  # (P, n)
        mix = jnp.einsum("panb,anbs->pnbs", w, a4)
        pred = jnp.einsum("pnbs,bsv->pnv", mix, emis)
        log_pred = jnp.log(pred)
        out = {"log_pred": log_pred, "entropy": ent}
        if epistemic:
            per = jnp.einsum("anbs,bsv->anbv", a4, emis)
            h_per = -jnp.sum(per * jnp.log(per), -1)  # (A, n, B)
            h_mix = -jnp.sum(pred * log_pred, -1)  # (P, n)
            out["epistemic"] = h_mix - jnp.einsum("panb,anb->pn", w, h_per)
        if n_samples:
            cdf = jnp.cumsum(jnp.moveaxis(w, 2, 1).reshape(n_p, n, n_h), -1)
            u = jax.random.uniform(k, (n_p, n, n_samples)) * cdf[..., -1:]
            idx = jax.vmap(jax.vmap(jnp.searchsorted))(cdf, u)
            out["samples"] = jnp.minimum(idx, n_h - 1).astype(jnp.int32)
        e = emis_t[:, x_t]  # (B, n, S) rows E_b[:, x_t]
        lik = a4 * jnp.swapaxes(e, 0, 1)[None]  # (A, n, B, S)
        c = lik.sum(-1)
        ll = ll + jnp.log(c)
        filt = (lik / c[..., None]).reshape(n_a, n * n_b, s)
        alpha = jnp.einsum("ams,ast->amt", filt, trans)
        return (alpha, ll), out

    (_, ll), out = jax.lax.scan(step, (alpha0, ll0), (x.T, keys))
    zeros = jnp.zeros((t_len, n_p, n), jnp.float32)
    return OracleOut(
        log_pred=jnp.transpose(out["log_pred"], (1, 2, 0, 3)),
        entropy=jnp.transpose(out["entropy"], (1, 2, 0)),
        epistemic=jnp.transpose(out.get("epistemic", zeros), (1, 2, 0)),
        samples=(jnp.transpose(out["samples"], (1, 2, 0, 3)) if n_samples
                 else jnp.zeros((n_p, n, t_len, 0), jnp.int32)),
        log_lik=jnp.moveaxis(ll, 1, 0).reshape(n, n_h),
    )


def naive_filter(trans_h: jax.Array, emis_h: jax.Array, x: jax.Array) -> jax.Array:
    """Reference layout: ONE sequence x (T,), every HMM's own log-space forward pass
    (vmapped over H per-HMM matrices trans_h (H, S, S), emis_h (H, S, V)) giving each
    HMM's predictive over V tokens, then the uniform-prior mixture. -> (T, V) log p."""

    def one_hmm(tr, em):
        log_tr, log_em = jnp.log(tr), jnp.log(em)

        def step(carry, x_t):
            log_alpha, ll = carry  # log p(z_t, x_<t | θ)
            log_pred = jax.nn.logsumexp(log_alpha[:, None] + log_em, axis=0)  # (V,)
            log_alpha = log_alpha + log_em[:, x_t]
            nxt = jax.nn.logsumexp(log_alpha[:, None] + log_tr, axis=0)
            return (nxt, ll), log_pred

        init = jnp.full(tr.shape[0], -jnp.log(tr.shape[0]))
        _, log_joint = jax.lax.scan(step, (init, 0.0), x)
        return log_joint  # (T, V) log p(x_<t, x_t = v | θ)

    log_joint = jax.vmap(one_hmm)(trans_h, emis_h)  # (H, T, V)
    log_mix = jax.nn.logsumexp(log_joint, axis=0)  # (T, V), uniform prior cancels
    return log_mix - jax.nn.logsumexp(log_mix, axis=-1, keepdims=True)


def blocked_filter(trans: jax.Array, emis: jax.Array, x: jax.Array, log_prior: jax.Array, *,
                   block: int = 4, epistemic: bool = False, n_samples: int = 0,
                   key: jax.Array | None = None) -> OracleOut:
    """``posterior_filter`` on x (n, T) in ``lax.map`` blocks of ``block`` sequences.

    A few sequences per block keep the filter state (block·H·S floats) cache-resident:
    measured here, 4-8 sequences per block run 2-3x faster per sequence than 64 at once
    and than one at a time. n must be a multiple of ``block``.
    """
    n = x.shape[0]
    if n % block:
        raise ValueError(f"{n} sequences are not a multiple of block={block}")
    keys = jax.random.split(key if key is not None else jax.random.PRNGKey(0), n // block)

    def one(args):
        xb, k = args
        return posterior_filter(trans, emis, xb, log_prior, epistemic=epistemic,
                                n_samples=n_samples, key=k)

    out = jax.lax.map(one, (x.reshape(n // block, block, x.shape[1]), keys))
    merge = lambda a, axis: jnp.moveaxis(a, 0, axis).reshape(
        *a.shape[1:axis + 1], n, *a.shape[axis + 2:])
    return OracleOut(merge(out.log_pred, 1), merge(out.entropy, 1), merge(out.epistemic, 1),
                     merge(out.samples, 1), merge(out.log_lik, 0))


def nll(out: OracleOut, x: jax.Array) -> jax.Array:
    """(P, n, T) the oracle's next-token NLL in nats; its sum over t is the Bayes-optimal
    prequential code length of each sequence under each prior."""
    return -jnp.take_along_axis(out.log_pred, x[None, :, :, None], axis=-1)[..., 0]


def matmul_flops_per_seq(n_trans: int, n_emis: int, n_states: int, n_tokens: int,
                         length: int, n_priors: int = 1) -> float:
    """Multiply-adds (x2) of the filter per sequence: transition products over every HMM,
    the posterior mixture of state distributions, and the B·S·V emission product."""
    h = n_trans * n_emis
    per_step = 2 * h * n_states * n_states + 2 * n_priors * h * n_states \
        + 2 * n_priors * n_emis * n_states * n_tokens
    return float(per_step * length)
