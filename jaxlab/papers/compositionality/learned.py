"""K(Z | W) by block-wise prequential coding of a learned sentence -> representation decoder.

The decoder (the reference's ``SentenceDecoder``) embeds each of the k words (Embedding(V,
e)), flattens them and maps them through an MLP (``layers`` Dense layers, ReLU) to either
  * continuous z: a mean and a per-dimension std (softplus, floored at the lattice width),
    trained by Gaussian NLL and coded on the lattice (``lattice_gaussian_nll``), or
  * discrete z (``n_values`` classes per attribute): logits, trained and coded by
    categorical NLL.
Block 0 costs its naive code (discrete: n · attrs · log(values); continuous: the block's own
marginal lattice Gaussian); block i costs min(NLL under a decoder trained from scratch on
the earlier items, naive code); K(Z | W) = K(data) is their sum (``jaxlab.coding.blockwise``,
all block fits in one program; ``jax.vmap`` this over datasets and seeds).
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab import runs
from jaxlab.coding import blockwise, fits, lattice
from jaxlab.models.mlp import MLP


class SentenceDecoder(nn.Module):
    """(M, k) int words -> (M, out) floats: Embedding(V, embed), flatten, MLP."""

    vocab_size: int
    embed: int
    hidden: int
    layers: int
    out: int

    @nn.compact
    def __call__(self, w: jax.Array) -> jax.Array:
        e = nn.Embed(self.vocab_size, self.embed)(w)
        return MLP(self.hidden, self.layers, self.out)(e.reshape(w.shape[0], -1))


@dataclasses.dataclass(frozen=True)
class PrequentialConfig:
    """How to code: block ends ``boundaries`` (n_0 < ... < N - val_size) or, if None,
    ``n_blocks`` log-spaced ends from ``first``; the last ``val_size`` items are the
    early-stopping set; decoder sizes and the optimiser."""

    val_size: int = 100
    boundaries: tuple[int, ...] | None = None
    first: int = 16
    n_blocks: int = 8
    embed: int = 64
    hidden: int = 256
    layers: int = 3
    learning_rate: float = 1e-3
    batch_size: int = 50
    patience: int = 10
    min_delta: float = 1e-3
    max_epochs: int = 200
    chunk_steps: int = 16
    lanes: int | None = 8  # fits in flight (None: all); a few lanes refilled as fits stop are fastest on CPU

    def bounds(self, n_items: int) -> np.ndarray:
        n_train = n_items - self.val_size
        if self.boundaries is not None:
            return np.asarray(self.boundaries)
        return blockwise.block_boundaries(self.first, n_train, self.n_blocks, "log")


class Coder(NamedTuple):
    spec: fits.FitSpec
    model: SentenceDecoder
    nll: object
    naive: object


def make_coder(vocab_size: int, k: int, out_dim: int, cfg: PrequentialConfig,
               n_values: int | None = None, precision: float = 0.01) -> Coder:
    """The fit rule and the codes for z of ``out_dim`` attributes (discrete, ``n_values``
    classes each) or dimensions (continuous, when ``n_values`` is None)."""
    discrete = n_values is not None
    model = SentenceDecoder(vocab_size, cfg.embed, cfg.hidden, cfg.layers,
                            out_dim * n_values if discrete else 2 * out_dim)

    if discrete:
        def nll(pred, z):
            logits = pred.reshape(pred.shape[0], out_dim, n_values)
            return lattice.categorical_nll(logits, z).sum(-1)

        loss = nll

        def naive(z, mask):
            return jnp.sum(mask) * out_dim * math.log(n_values)
    else:
        def split(pred):
            mean, s = pred[:, :out_dim], pred[:, out_dim:]
            return mean, jnp.maximum(jax.nn.softplus(s), precision)

        def nll(pred, z):
            mean, std = split(pred)
            return lattice.lattice_gaussian_nll(z, mean, std, precision).sum(-1)

        def loss(pred, z):  # differentiable surrogate: Gaussian density on the lattice
            mean, std = split(pred)
            return jnp.sum(0.5 * jnp.square((z - mean) / std) + jnp.log(std / precision)
                           + 0.5 * math.log(2 * math.pi), -1)

        def naive(z, mask):
            m = mask[:, None].astype(jnp.float32)
            n = jnp.maximum(m.sum(), 1.0)
            mean = (z * m).sum(0) / n
            sd = jnp.maximum(jnp.sqrt(((z - mean) ** 2 * m).sum(0) / n), precision)
            return (lattice.lattice_gaussian_nll(z, mean, sd, precision) * m).sum()

    spec = fits.FitSpec(model.apply, loss, optax.adam(cfg.learning_rate), cfg.batch_size,
                        cfg.patience, cfg.min_delta, cfg.max_epochs, True, cfg.chunk_steps)
    return Coder(spec, model, nll, naive)


def prequential_code(coder: Coder, cfg: PrequentialConfig, w: jax.Array, z: jax.Array,
                     key: jax.Array) -> blockwise.BlockCode:
    """Block-wise prequential code of z (N, ...) given sentences w (N, k): every block fit
    in one program. ``key`` seeds the decoder initialisation and the minibatch order."""
    k_init, k_fit = jax.random.split(key)
    params = coder.model.init(k_init, w[:1])
    return blockwise.blockwise_code(coder.spec, params, w, z, cfg.bounds(w.shape[0]), cfg.val_size,
                                    k_fit, coder.nll, coder.naive)


def prequential_code_many(coder: Coder, cfg: PrequentialConfig, w: jax.Array, z: jax.Array,
                          keys: jax.Array, lanes: int | None = None) -> blockwise.BlockCode:
    """``prequential_code`` of D datasets w (D, N, k), z (D, N, ...) with keys (D,), every
    block fit of every dataset in ONE ``fits.fit_many`` queue per device (``lanes`` fits in
    flight, refilled as fits stop), instead of D vmapped queues that all wait for the
    slowest fit; the fits are dealt over all local devices. Same
    fits, same keys, same numbers as ``jax.vmap(prequential_code)`` (tested); returns a
    BlockCode whose leaves have the leading axis D."""
    n_data, n_items = w.shape[:2]
    bounds = cfg.bounds(n_items)
    n_tr, n_fits = n_items - cfg.val_size, len(bounds)
    k_init, k_fit = jax.vmap(jax.random.split, out_axes=1)(keys)
    params = jax.vmap(lambda k, x: coder.model.init(k, x[:1]))(k_init, w)
    per_fit = lambda a: jnp.repeat(a, n_fits, axis=0)                 # (D, ...) -> (D*F, ...)
    data = fits.FitData(per_fit(w[:, :n_tr]), per_fit(z[:, :n_tr]),
                        jnp.tile(jnp.asarray(bounds), n_data), per_fit(w[:, n_tr:]),
                        per_fit(z[:, n_tr:]), jnp.full((n_data * n_fits,), cfg.val_size),
                        jax.vmap(lambda k: jax.random.split(k, n_fits))(k_fit).reshape(n_data * n_fits, -1))
    executor = runs.Executor("vmap", devices=jax.local_device_count())
    result = fits.fit_many_on(executor, coder.spec, None, lanes, params_per_fit=True)(
        jax.tree.map(per_fit, params), data)
    fitted = jax.tree.map(lambda a: a.reshape(n_data, n_fits, *a.shape[1:]), result.params)
    epochs = result.epochs.reshape(n_data, n_fits)

    def costs(p, x, y, ep):
        """blockwise_code's block costs from the fitted params p (F, ...) of one dataset."""
        x_tr, y_tr = x[:n_tr], y[:n_tr]
        per_row = jax.vmap(lambda q: coder.nll(coder.spec.apply(q, x_tr), y_tr))(p)   # (F, N)
        rows = jnp.arange(n_tr)
        lo, hi = jnp.asarray(bounds[:-1]), jnp.asarray(bounds[1:])
        block_masks = (rows[None] >= lo[:, None]) & (rows[None] < hi[:, None])
        block_nll = jnp.sum(per_row[:-1] * block_masks, axis=1)
        all_masks = jnp.concatenate([(rows < bounds[0])[None], block_masks], axis=0)
        block_naive = jax.vmap(lambda m: coder.naive(y_tr, m))(all_masks)
        c = jnp.concatenate([block_naive[:1], jnp.minimum(block_nll, block_naive[1:])])
        return blockwise.BlockCode(c, block_nll, block_naive, c.sum(), per_row[-1].sum(),
                                   c.sum() - per_row[-1].sum(), ep)

    return jax.vmap(costs)(fitted, w, z, epochs)
