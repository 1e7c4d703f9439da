"""orbax-checkpoint between training chunks; resume from the newest readable checkpoint.

A checkpoint holds the run-stacked ``TrainState`` of the study's real runs (no device
padding), the train-metric history so far, and a fingerprint of the state's bits. The
state is stored packed: its leaves flattened into one array per dtype (orbax's cost grows
with the number of arrays, about 1 ms each here, not with their bytes: 112 leaves of the
ICL reference model saved in 152 ms of CPU, packed into 4 in 27 ms); checkpoints written
before packing (one array per leaf) still restore. Because it holds no trace of the device
layout, it restores onto any topology: the restore target is built from the current
executor (save on 4 devices, resume on 1 or 2). A checkpoint that does not read back, or whose bits no longer match their fingerprint
(a truncated or corrupted file; the fingerprint covers the state's bits and the history),
is skipped with a warning, moved aside to ``<directory>-unreadable/`` (so a new save of
that step replaces it) and the one before it used; when none is readable the phase
starts from step 0 and says so. A save that fails (a full disk) raises one ``OSError``
naming the checkpoint and the cause; orbax's own tracebacks from its writer threads are
not printed.
In a multi-process run every process calls ``save``/``restore_latest`` (orbax writes
each array once, from the primary process); files are written under a temporary name
and renamed when complete, so a job killed mid-save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from jaxlab.processes import barrier, is_primary

log = logging.getLogger("jaxlab")


class _OrbaxErrors(logging.Filter):
    """Drops the error records (with tracebacks) that orbax logs through absl when a save or
    a read fails: ``Checkpointer`` reports that failure itself, in one line. (The filter runs
    in the logging thread, so the caller is found on the stack.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            frames.append(frame.f_code.co_filename)
            frame = frame.f_back
        tb = record.exc_info[2] if record.exc_info else None
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        return not any(f"{os.sep}orbax{os.sep}" in f for f in frames)


class _ClosedLoopTracebacks(io.TextIOBase):
    """``sys.stderr`` without the tracebacks that end in ``RuntimeError: Event loop is
    closed`` when they are written from a thread other than the main one: after a failed
    save, orbax's writer threads (tensorstore callbacks) print one per pending write, at
    any moment, and ``Checkpointer`` reports that failure itself in one line. Anything
    else passes through unchanged; a thread's traceback is held until its last line
    tells which it is."""

    DROPPED = "RuntimeError: Event loop is closed"

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.held: dict[int, list[str]] = {}
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        if threading.current_thread() is threading.main_thread():
            return self.stream.write(text)
        me = threading.get_ident()
        with self.lock:
            if me not in self.held and not text.startswith("Traceback (most recent call last)"):
                return self.stream.write(text)
            self.held.setdefault(me, []).append(text)
            block = "".join(self.held[me])
            last = block.splitlines()[-1] if block.strip() else ""
            complete = block.endswith("\n") and last and not last[0].isspace() \
                and not last.startswith("Traceback")
            if complete:
                del self.held[me]
                if last.strip() != self.DROPPED:
                    self.stream.write(block)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _filter_closed_loop_tracebacks() -> None:
    if not isinstance(sys.stderr, _ClosedLoopTracebacks):
        sys.stderr = _ClosedLoopTracebacks(sys.stderr)


# absl: orbax's own error logs; asyncio: "Task exception was never retrieved" for the
# write tasks of a failed save
for _name in ("absl", "asyncio"):
    logging.getLogger(_name).addFilter(_OrbaxErrors())


def _short(e: BaseException) -> str:
    """The first line of an error, without pybind object reprs (``<... object at 0x...>``)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = re.sub(r"<[^<>]* at 0x[0-9a-f]+>", "<...>", text)
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


def _write_error(e: BaseException, path: str) -> OSError:
    """A failed checkpoint write as one OSError: the path and the cause (errno when orbax
    or tensorstore report one, e.g. 28 = no space left on device)."""
    text = str(e)
    match = re.search(r"os_error_code='?(\d+)", text)
    code = getattr(e, "errno", None) or (int(match.group(1)) if match else None)
    if code is None and "No space left on device" in text:
        code = errno.ENOSPC
    reason = os.strerror(code) if code else _short(e)
    return OSError(code, f"cannot write checkpoint: {reason}", path)


def history_digest(history: dict) -> str:
    """SHA-256 of the history's canonical JSON (what a checkpoint stores and restores)."""
    return hashlib.sha256(json.dumps(history, sort_keys=True).encode()).hexdigest()

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


def _pack(tree: Any) -> dict[str, np.ndarray]:
    """The tree's leaves on the host, flattened and concatenated per dtype in leaf order:
    {dtype name: (total size,)}. The leaves must be fully addressable (replicated)."""
    groups: dict[str, list[np.ndarray]] = {}
    for leaf in jax.tree.leaves(tree):
        a = np.asarray(leaf)
        groups.setdefault(a.dtype.name, []).append(a.reshape(-1))
    return {name: np.concatenate(parts) for name, parts in groups.items()}


def _unpack(packed: dict[str, np.ndarray], target: Any) -> Any:
    """Inverse of ``_pack``: ``target``'s structure, shapes and dtypes (and its shardings,
    where its leaves carry one). Raises ValueError if the sizes do not add up."""
    leaves, treedef = jax.tree.flatten(target)
    used: dict[str, int] = {}
    out = []
    for leaf in leaves:
        name, size = np.dtype(leaf.dtype).name, int(np.prod(leaf.shape, dtype=np.int64))
        start = used.get(name, 0)
        flat = np.asarray(packed.get(name, np.zeros(0, leaf.dtype)))[start:start + size]
        if flat.size != size:
            raise ValueError(f"its {name} arrays are smaller than the state's")
        used[name] = start + size
        value = flat.reshape(leaf.shape)
        sharding = getattr(leaf, "sharding", None)
        out.append(jnp.asarray(value) if sharding is None else
                   jax.make_array_from_callback(leaf.shape, sharding, lambda i, v=value: v[i]))
    if any(np.asarray(a).size != used.get(name, 0) for name, a in packed.items()):
        raise ValueError("it holds more numbers than the state has")
    return jax.tree.unflatten(treedef, out)


class Checkpointer:
    """Async saves into ``<directory>/<step>``; keeps the two newest."""

    def __init__(self, directory: str, max_to_keep: int = 2):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options)
        self.failed = False
        _filter_closed_loop_tracebacks()

    def save(self, step: int, state: Any, history: dict,
             state_fingerprint: list[int] | None = None) -> None:
        """``state``: the runs' state without padding (``Executor.unpadded``), ready on
        device; ``state_fingerprint``: its ``fingerprint`` if already computed (a caller that
        has queued more device work computes it first: the fingerprint would wait for that
        work). Raises an ``OSError`` naming the checkpoint when this save, or the previous
        (async) one, fails."""
        if state_fingerprint is None:
            state_fingerprint = fingerprint(state)
        meta = {"step": step, "fingerprint": state_fingerprint, "history": history_digest(history),
                "packed": True}
        try:
            self.manager.save(step, args=ocp.args.Composite(
                state=ocp.args.StandardSave(_pack(state)), history=ocp.args.JsonSave(history),
                meta=ocp.args.JsonSave(meta)))
        except Exception as e:  # noqa: BLE001 - any write failure, in one line
            self.failed = True
            raise _write_error(e, self.directory) from None

    def restore_latest(self, target: Any) -> tuple[int, Any, dict] | None:
        """(step, state, history) of the newest checkpoint that reads back intact, else None.

        ``target``: a pytree of arrays or ``jax.ShapeDtypeStruct``s (with shardings) saying
        where the restored state should live today. An unreadable checkpoint, or one whose
        bits or history do not match the fingerprint saved with them, is skipped with a
        warning and moved aside; if there were checkpoints but none is readable, the
        warning says that the phase starts from step 0.
        """
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        steps, found, bad = sorted(self.manager.all_steps(), reverse=True), None, []
        for step in steps:
            try:
                meta = self.manager.restore(step, args=ocp.args.Composite(
                    meta=ocp.args.JsonRestore())).meta
                out = self.manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(None if meta.get("packed") else abstract),
                    history=ocp.args.JsonRestore()))
                state = _unpack(out.state, abstract) if meta.get("packed") else out.state
                if meta.get("step") != step or meta.get("fingerprint") != fingerprint(state):
                    raise ValueError("its bits do not match the fingerprint saved with them")
                if "history" in meta and meta["history"] != history_digest(out.history):
                    raise ValueError("its metric history does not match the fingerprint saved with it")
            except Exception as e:  # noqa: BLE001 - any read failure means "try an older one"
                bad.append(step)
                log.warning("checkpoint at step %d is unreadable or corrupt (%s); trying an older one",
                            step, _short(e))
                continue
            found = (step, state, out.history)
            break
        if bad:
            self._move_aside(bad)
        if steps and found is None:
            log.warning("no readable checkpoint in %s: starting from step 0", self.directory)
        return found

    def _move_aside(self, steps: list[int]) -> None:
        """Moves unreadable steps to ``<directory>-unreadable/step<N>`` (orbax never saves a
        step at or below the newest step on disk, so they would block new saves)."""
        barrier("checkpoints-read")
        if is_primary():
            aside = self.directory + "-unreadable"
            os.makedirs(aside, exist_ok=True)
            for step in steps:
                dest, n = os.path.join(aside, f"step{step}"), 1
                while os.path.exists(dest):
                    n += 1
                    dest = os.path.join(aside, f"step{step}-{n}")
                shutil.move(os.path.join(self.directory, str(step)), dest)
                log.warning("moved the unreadable checkpoint at step %d to %s", step, dest)
        barrier("checkpoints-moved")
        self.manager.reload()

    def wait(self) -> None:
        """Waits for the last save; raises an ``OSError`` naming it if it failed."""
        try:
            self.manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001 - any write failure, in one line
            self.failed = True
            raise _write_error(e, self.directory) from None

    def close(self) -> None:
        """Releases orbax's threads; a failed save was already raised by ``wait``. After a
        failed save, the tracebacks that the pending writes print while orbax shuts its
        event loops down ("Event loop is closed") are not shown."""
        stderr = sys.stderr
        if self.failed:
            sys.stderr = io.StringIO()
        try:
            self.manager.close()
        except Exception:  # noqa: BLE001 - reported by wait()
            pass
        finally:
            sys.stderr = stderr
