"""Mastermind task family (the Occam reference's ``Mastermind``) and its exact Bayes predictor.

A task is a secret code in {0..C-1}^L; a point is a uniform random guess x in {0..K-1}^L
and its feedback y = (exact position matches, sum_c min(count_code(c), count_guess(c))),
each in 0..L (the second count includes the exact matches, as the reference). The
reference draws secret codes with ``randint(0, num_colours - 1)``, i.e. from colours 0..4
only when guesses use 6 colours; ``code_colours`` replicates that (5) or fixes it (6).

The oracle enumerates every possible secret code: after k points, the posterior under
the uniform prior is uniform over the codes consistent with all k feedbacks, and the
predictive distribution of point k's feedback is the histogram of feedback(code, x_k)
over those codes. Episodes and codes are processed in vectorized blocks.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class MastermindEpisodes(NamedTuple):
    """x: (B, N, L) int32 guesses; y: (B, N, 2) int32 feedback; code: (B, L) int32."""

    x: jax.Array
    y: jax.Array
    code: jax.Array


def feedback(code: jax.Array, guess: jax.Array, n_colours: int) -> jax.Array:
    """(..., L) codes and guesses (broadcasting) -> (..., 2) int32 feedback."""
    exact = jnp.sum(code == guess, axis=-1)
    colours = jnp.arange(n_colours)
    count = lambda a: jnp.sum(a[..., None] == colours, axis=-2)  # (..., C)
    common = jnp.sum(jnp.minimum(count(code), count(guess)), axis=-1)
    return jnp.stack([exact, common], axis=-1).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class Mastermind:
    code_length: int = 8
    n_colours: int = 6
    code_colours: int = 5  # the reference's off-by-one: codes use colours 0..4 only
    kind = "mastermind"
    oracle_method = "exact: enumeration of every secret code"

    def sample(self, key: jax.Array, n_tasks: int, n_points: int) -> MastermindEpisodes:
        k_code, k_x = jax.random.split(key)
        code = jax.random.randint(k_code, (n_tasks, self.code_length), 0, self.code_colours)
        x = jax.random.randint(k_x, (n_tasks, n_points, self.code_length), 0, self.n_colours)
        return MastermindEpisodes(x, feedback(code[:, None], x, self.n_colours), code)

    @property
    def x_dim(self) -> int:
        return self.code_length * self.n_colours

    @property
    def y_dim(self) -> int:
        return 2 * (self.code_length + 1)

    def encode(self, ep: MastermindEpisodes) -> tuple[jax.Array, jax.Array]:
        """One-hot float features: x (B, N, L*K), y (B, N, 2*(L+1))."""
        b, n = ep.x.shape[:2]
        x = jax.nn.one_hot(ep.x, self.n_colours).reshape(b, n, self.x_dim)
        y = jax.nn.one_hot(ep.y, self.code_length + 1).reshape(b, n, self.y_dim)
        return x, y

    def all_codes(self) -> jax.Array:
        """(code_colours ** L, L) every secret code the prior allows."""
        grid = np.array(list(itertools.product(range(self.code_colours), repeat=self.code_length)))
        return jnp.asarray(grid, jnp.int32)

    def bayes_next_token(self, x: jax.Array, y: jax.Array, code_block: int = 32768) -> jax.Array:
        """Exact predictive log-probabilities of each point's feedback given the earlier ones.

        x: (N, L), y: (N, 2) for one episode -> (N, 2, L + 1) log p(y_k[j] = v | points < k),
        the marginals of the two feedback counts (the learners predict them as two
        categorical outputs). Codes are scanned in blocks of ``code_block``.
        """
        codes = self.all_codes()
        n_codes, n = codes.shape[0], x.shape[0]
        pad = (-n_codes) % code_block
        codes = jnp.concatenate([codes, jnp.zeros((pad, self.code_length), jnp.int32)])
        valid = jnp.arange(n_codes + pad) < n_codes
        blocks = codes.reshape(-1, code_block, self.code_length), valid.reshape(-1, code_block)
        values = jnp.arange(self.code_length + 1)

        def block_counts(block):
            cb, ok = block
            fb = feedback(cb[:, None], x[None], self.n_colours)  # (M, N, 2)
            match = jnp.all(fb == y[None], axis=-1)  # (M, N)
            # consistent with every point < k: no mismatch before k
            miss = (~match).astype(jnp.int32)
            consistent = (jnp.cumsum(miss, axis=1) - miss) == 0
            weight = (consistent & ok[:, None]).astype(jnp.float32)  # (M, N)
            onehot = (fb[..., None] == values).astype(jnp.float32)  # (M, N, 2, L+1)
            return jnp.einsum("mn,mnjv->njv", weight, onehot)

        counts = jax.lax.map(block_counts, blocks).sum(0)  # (N, 2, L+1)
        return jnp.log(counts) - jnp.log(counts.sum(-1, keepdims=True))

    def bayes_nll(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """(N,) the oracle's next-token NLL in nats, averaged over the two outputs (the
        learners' loss); its sum over k is the Bayes-optimal prequential code length."""
        logp = self.bayes_next_token(x, y)
        picked = jnp.take_along_axis(logp, y[..., None], axis=-1)[..., 0]  # (N, 2)
        return -picked.mean(-1)

    def oracle(self, ep: MastermindEpisodes, key: jax.Array | None = None) -> dict:
        """Per-point (B, N) exact next-token NLL, one episode at a time (costly: the study
        runs it on a subset of the evaluation episodes)."""
        return {"loss": jax.lax.map(lambda a: self.bayes_nll(*a), (ep.x, ep.y))}
