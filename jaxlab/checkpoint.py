"""orbax-checkpoint between training chunks; resume from the newest readable checkpoint.

A checkpoint holds the run-stacked ``TrainState`` of the study's real runs (no device
padding, replicated), the train-metric history so far, and a fingerprint of the state's
bits. Because it holds no trace of the device layout, it restores onto any topology: the
restore target is built from the current executor (save on 4 devices, resume on 1 or 2).
A checkpoint that does not read back, or whose bits no longer match their fingerprint
(a truncated or corrupted file), is skipped with a warning and the one before it used.
In a multi-process run every process calls ``save``/``restore_latest`` (orbax writes
each array once, from the primary process); files are written under a temporary name
and renamed when complete, so a job killed mid-save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

log = logging.getLogger("jaxlab")

_MIX = np.uint32(2654435761)  # Knuth's multiplicative hash constant


def _leaf_bits(a: jax.Array) -> jax.Array:
    """The leaf's raw bits as a flat uint32 vector (one entry per 1-, 2- or 4-byte item,
    two per 8-byte item)."""
    if a.dtype == jnp.bool_:
        return a.astype(jnp.uint32).reshape(-1)
    unsigned = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}[a.dtype.itemsize]
    return jax.lax.bitcast_convert_type(a, unsigned).astype(jnp.uint32).reshape(-1)


@jax.jit
def _fingerprint(tree: Any) -> list[jax.Array]:
    out = []
    for leaf in jax.tree.leaves(tree):
        bits = _leaf_bits(jnp.asarray(leaf))
        weights = jnp.arange(bits.shape[0], dtype=jnp.uint32) * _MIX + jnp.uint32(1)
        out.append(jnp.sum(bits * weights, dtype=jnp.uint32))  # wraps mod 2**32
    return out


def fingerprint(tree: Any) -> list[int]:
    """One position-weighted checksum (uint32) of every leaf's bits, computed on device:
    a flipped or lost byte changes it. The same numbers on any device layout."""
    return [int(np.asarray(x)) for x in _fingerprint(tree)]


class Checkpointer:
    """Async saves into ``<directory>/<step>``; keeps the two newest."""

    def __init__(self, directory: str, max_to_keep: int = 2):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: Any, history: dict) -> None:
        """``state``: the runs' state without padding (``Executor.unpadded``)."""
        meta = {"step": step, "fingerprint": fingerprint(state)}
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), history=ocp.args.JsonSave(history),
            meta=ocp.args.JsonSave(meta)))

    def restore_latest(self, target: Any) -> tuple[int, Any, dict] | None:
        """(step, state, history) of the newest checkpoint that reads back intact, else None.

        ``target``: a pytree of arrays or ``jax.ShapeDtypeStruct``s (with shardings) saying
        where the restored state should live today. An unreadable checkpoint, or one whose
        bits do not match the fingerprint saved with them, is skipped with a warning.
        """
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                out = self.manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), history=ocp.args.JsonRestore(),
                    meta=ocp.args.JsonRestore()))
                if out.meta.get("step") != step or out.meta.get("fingerprint") != fingerprint(out.state):
                    raise ValueError("its bits do not match the fingerprint saved with them")
            except Exception as e:  # noqa: BLE001 - any read failure means "try an older one"
                log.warning("checkpoint at step %d is unreadable or corrupt (%s: %s); trying an "
                            "older one", step, type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")
                continue
            return step, out.state, out.history
        return None

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
