"""Block-wise prequential coding of a model trained by SGD (all blocks in one program).

For a dataset of N items (the last ``val_size`` of which are a fixed early-stopping set)
and block boundaries n_0 < n_1 < ... < n_K = N - val_size:
  * block 0, items [0, n_0), costs its naive code;
  * block k, items [n_{k-1}, n_k), costs min(NLL under a model trained from scratch on
    [0, n_{k-1}) with early stopping, naive code of the block);
  * K(data) = sum of the block costs (the estimate of the data's complexity given the
    inputs); K(data | f) = NLL of the train items under a model fitted on all of them;
    K(f) = K(data) - K(data | f).
The K fits are independent, so they train together in ``fits.fit_many`` (padded data with
masks); vmap ``blockwise_code`` over datasets, tasks or seeds for more.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.coding import fits


class BlockCode(NamedTuple):
    """block_costs (K+1,) nats per block (block 0 first); block_nll (K,) and block_naive
    (K+1,) the two candidates; k_data, k_data_given_f, k_f scalars; epochs (K+1,)."""

    block_costs: jax.Array
    block_nll: jax.Array
    block_naive: jax.Array
    k_data: jax.Array
    k_data_given_f: jax.Array
    k_f: jax.Array
    epochs: jax.Array


def block_boundaries(first: int, total: int, n_blocks: int, spacing: str = "log") -> np.ndarray:
    """Increasing block ends n_0 = first < ... < n_K = total, linear or log-spaced."""
    if not 1 <= first < total:
        raise ValueError(f"need 1 <= first < total, got first={first}, total={total}")
    if spacing == "log":
        ends = np.geomspace(first, total, n_blocks + 1)
    elif spacing == "linear":
        ends = np.linspace(first, total, n_blocks + 1)
    else:
        raise ValueError(f"spacing must be 'log' or 'linear', got {spacing!r}")
    return np.unique(np.round(ends).astype(int))


def blockwise_code(
    spec: fits.FitSpec,
    init_params,
    x: jax.Array,
    y: jax.Array,
    boundaries: np.ndarray,
    val_size: int,
    key: jax.Array,
    nll: Callable[[jax.Array, jax.Array], jax.Array],
    naive: Callable[[jax.Array, jax.Array], jax.Array],
) -> BlockCode:
    """Code length of y given x (first N - val_size items) by block-wise prequential coding.

    x: (N, ...), y: (N, ...); nll(pred, y_rows) -> per-row code length (rows,) in nats;
    naive(y_rows, mask) -> total naive code (nats) of the masked rows. Every fit starts
    from ``init_params`` (re-initialised per block, as the reference).
    """
    bounds = np.asarray(boundaries)
    n_train_total = x.shape[0] - val_size
    if bounds[-1] != n_train_total:
        raise ValueError(f"the last boundary must be N - val_size = {n_train_total}, got {bounds[-1]}")
    if val_size < 1:
        raise ValueError(f"val_size must be >= 1, got {val_size}")
    x_tr, y_tr = x[:n_train_total], y[:n_train_total]
    x_val, y_val = x[n_train_total:], y[n_train_total:]
    # Fit k trains on [0, n_k) for k = 0..K: fits 0..K-1 encode blocks 1..K, fit K is the
    # final model for K(data | f).
    n_fits = len(bounds)
    rep = lambda a: jnp.broadcast_to(a, (n_fits, *a.shape))
    data = fits.FitData(rep(x_tr), rep(y_tr), jnp.asarray(bounds), rep(x_val), rep(y_val),
                        jnp.full((n_fits,), val_size), jax.random.split(key, n_fits))
    result = fits.fit_many(spec, init_params, data)
    rows = jnp.arange(n_train_total)
    per_row = jax.vmap(lambda p: nll(spec.apply(p, x_tr), y_tr))(result.params)  # (n_fits, N)
    lo, hi = jnp.asarray(bounds[:-1]), jnp.asarray(bounds[1:])
    block_masks = (rows[None] >= lo[:, None]) & (rows[None] < hi[:, None])  # (K, N)
    block_nll = jnp.sum(per_row[:-1] * block_masks, axis=1)
    first_mask = rows < bounds[0]
    all_masks = jnp.concatenate([first_mask[None], block_masks], axis=0)
    block_naive = jax.vmap(lambda m: naive(y_tr, m))(all_masks)
    costs = jnp.concatenate([block_naive[:1], jnp.minimum(block_nll, block_naive[1:])])
    k_data = costs.sum()
    k_data_given_f = per_row[-1].sum()
    return BlockCode(costs, block_nll, block_naive, k_data, k_data_given_f,
                     k_data - k_data_given_f, result.epochs)
