"""orbax-checkpoint between training chunks; resume from the newest readable checkpoint.

A checkpoint holds the run-stacked ``TrainState`` and the train-metric history so far, so a
killed run resumes with the same numbers as an uninterrupted one. The restore target is
built from the current executor's placement, so the state lands on today's devices.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

log = logging.getLogger("jaxlab")


class Checkpointer:
    """Async saves into ``<workdir>/checkpoints/<step>``; keeps the two newest."""

    def __init__(self, workdir: str, max_to_keep: int = 2):
        self.directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: Any, history: dict) -> None:
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), history=ocp.args.JsonSave(history)))

    def restore_latest(self, target: Any) -> tuple[int, Any, dict] | None:
        """(step, state, history) of the newest checkpoint that reads back, else None.

        ``target`` is a state placed as the current run wants it; an unreadable checkpoint
        is skipped with a warning and the one before it is tried.
        """
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                out = self.manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), history=ocp.args.JsonRestore()))
            except Exception as e:  # noqa: BLE001 - any read failure means "try an older one"
                log.warning("checkpoint at step %d is unreadable (%s); trying an older one",
                            step, type(e).__name__)
                continue
            return step, out.state, out.history
        return None

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
