"""The training-phase runner: every training phase of every paper goes through ``train_runs``.

A paper hands ``train_runs`` a per-run ``Learner`` (or a ready ``Trainer``); the runner owns
the rest: the run grid (hp points x seeds of ``config.sweep``), the executor (vmap / chunked,
sharded over devices and processes), init, restore, the ``lax.scan`` chunk loop,
checkpoints of the unpadded run axis (so a phase resumes on any device count), divergence
isolation and its report, the stop agreement across processes, metric streams, the
progress bar and the phase's training history. Several phases of one paper share one
``Session`` (the workdir, the stop request, the histories that become the ``train`` table).

The runner knows no paper: it never imports one.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import os
import resource
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import ml_collections
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from jaxlab import config as config_lib
from jaxlab import observe, runs
from jaxlab.checkpoint import Checkpointer, fingerprint
from jaxlab.config import require
from jaxlab.processes import any_process, is_primary
from jaxlab.train import Learner, Trainer, TrainState, build_trainer

log = logging.getLogger("jaxlab")


class Stopped(Exception):
    """Raised when a stop was requested at a chunk boundary; the last chunk is checkpointed
    and the same command resumes."""


# ----------------------------------------------------------------------------- grid
def make_grid(config: ml_collections.ConfigDict, choices: Mapping[str, tuple] | None = None
              ) -> runs.RunGrid:
    """The run grid declared by ``config.sweep`` over the fields of ``config.hp``;
    ``choices[field]`` lists a categorical field's values (encoded as int32 indices)."""
    axes = {k: tuple(v) for k, v in config.sweep.axes.items()}
    for field, values in axes.items():
        require(field in config.hp, f"sweep.axes.{field}",
                f"is not a field of config.hp (fields: {', '.join(config.hp)})")
        require(len(values) >= 1, f"sweep.axes.{field}", "needs at least one value")
    require(config.sweep.n_seeds >= 1, "sweep.n_seeds", f"must be >= 1, got {config.sweep.n_seeds}")
    return runs.RunGrid(axes, dict(config.hp), config.sweep.n_seeds, config.seed, dict(choices or {}))


def make_executor(config: ml_collections.ConfigDict, n_runs: int | None = None,
                  batch: int | None = None) -> runs.Executor:
    """The configured executor. ``executor.devices`` counts local devices (0 = all); with
    several processes the run axis spans every process's devices (all of them).

    Given ``n_runs``, the layout rule (``runs.layout``) applies: never more run devices than
    runs; devices left over split each run's batch of ``batch`` tasks over a ``data`` axis
    (``executor.data``: 0 = chosen, 1 = none, or a count) when the batch (and a fixed
    ``train.micro_batches``) splits evenly, else they stay idle.
    """
    ex = config.executor
    require(ex.kind in ("vmap", "chunked"), "executor.kind",
            f"must be 'vmap' or 'chunked', got {ex.kind!r}")
    require(ex.runs_per_batch >= 1, "executor.runs_per_batch", f"must be >= 1, got {ex.runs_per_batch}")
    n_local = jax.local_device_count()
    require(0 <= ex.devices <= n_local, "executor.devices",
            f"must be in [0, {n_local}] (0 = all local devices), got {ex.devices}")
    data = ex.get("data", 0)
    require(data >= 0, "executor.data", f"must be >= 0 (0 = chosen from the work), got {data}")
    multi = jax.process_count() > 1
    if multi:
        require(ex.devices in (0, n_local), "executor.devices",
                f"must be 0 or {n_local} when {jax.process_count()} processes share the runs")
    devices = jax.device_count() if multi else ex.devices or n_local
    if n_runs is None:
        return runs.Executor(ex.kind, ex.runs_per_batch, devices, all_processes=multi)
    micro = config.train.get("micro_batches", 1) if "train" in config else 1
    split = None if batch is None else (micro or batch)
    require(data <= 1 or split is not None, "executor.data",
            f"must be 0 or 1 for a trainer built outside the runner, got {data}")
    try:
        n_run_devices, n_data = runs.layout(n_runs, devices, data=data, batch=split,
                                            runs_per_batch=ex.runs_per_batch,
                                            chunked=ex.kind == "chunked")
    except ValueError as e:
        raise config_lib.ConfigError(f"config.executor.data: {e}") from None
    if multi and n_run_devices * n_data != devices:  # every process needs a share of the mesh
        n_run_devices, n_data = devices, 1
    return runs.Executor(ex.kind, ex.runs_per_batch, n_run_devices * n_data,
                         all_processes=multi, data=n_data)


def batch_size(learner: Learner) -> int:
    """Tasks in one step's batch: the leading axis of ``sample_batch`` (shapes only)."""
    batch = jax.eval_shape(learner.sample_batch, jax.random.PRNGKey(0))
    return int(jax.tree.leaves(batch)[0].shape[0])


# ----------------------------------------------------------------------------- session
@dataclasses.dataclass
class Session:
    """What the phases of one paper run share.

    ``should_stop(chunks_done)`` is asked before every chunk of every phase (the CLI
    answers True after SIGTERM / SIGINT; tests simulate a kill); ``writers`` names optional
    metric streams (``observe.make_writers``). The runner fills ``histories`` (one tidy
    frame per phase), ``diverged`` (runs per phase) and ``stats`` (timings per phase).
    """

    workdir: str
    progress: bool = True
    should_stop: Callable[[int], bool] | None = None
    writers: Sequence[str] = ()
    t_start: float = dataclasses.field(default_factory=time.perf_counter)
    chunks_done: int = 0
    histories: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    diverged: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    stats: dict[str, dict] = dataclasses.field(default_factory=dict)

    def stop_requested(self) -> bool:
        """Every process agrees (so all stop at the same chunk boundary)."""
        asked = self.should_stop is not None and self.should_stop(self.chunks_done)
        return any_process(asked)

    def check_stop(self) -> None:
        """For work outside the chunk loop (evaluation, baselines): raise Stopped if asked."""
        if self.stop_requested():
            raise Stopped()

    def unit_done(self) -> None:
        """A paper's own resumable unit of work (outside ``train_runs``) is finished and
        saved: it counts as a chunk, then ``check_stop``."""
        self.chunks_done += 1
        self.check_stop()

    def train_table(self) -> pd.DataFrame:
        """Every phase's history: phase, run, seed, step, metric, value, swept fields."""
        frames = [df for df in self.histories.values() if len(df)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["phase", "run", "seed", "step", "metric", "value"])

    def manifest_fields(self) -> dict[str, Any]:
        """Timings for the manifest: per phase, plus the first phase's at the top level
        (compile_s, startup_s, steps_per_s, ...) and the union of diverged runs."""
        out: dict[str, Any] = {"phases": self.stats,
                               "diverged": sorted({r for rs in self.diverged.values() for r in rs})}
        if self.stats:
            first = next(iter(self.stats.values()))
            out.update({k: first.get(k) for k in ("startup_s", "steps_per_s", "run_steps_per_s",
                                                   "chunk_program_bytes", "n_runs", "devices",
                                                   "executor", "layout")})
            out["compile_s"] = sum(s["compile_s"] for s in self.stats.values())
            out["train_s"] = sum(s["train_s"] for s in self.stats.values())
        return out


@dataclasses.dataclass
class Phase:
    """A trained phase. ``state`` is run-stacked, padded to ``executor.padded(n_runs)`` and
    placed on the executor's devices (ready for ``executor.map_runs`` programs); ``hps`` and
    ``keys`` likewise. ``healthy`` (n_runs,) is False for diverged runs."""

    name: str
    grid: runs.RunGrid
    executor: runs.Executor
    trainer: Trainer
    state: TrainState
    hps: Any
    keys: Any
    history: dict[str, list]

    @property
    def n_runs(self) -> int:
        return self.grid.n_runs

    @property
    def run_rows(self) -> list[dict]:
        return self.grid.run_table()

    @property
    def healthy(self) -> np.ndarray:
        return np.asarray(self.executor.gather(self.state.healthy))[: self.n_runs]

    def place(self, tree: Any) -> Any:
        """A host run-stacked pytree (n_runs, ...) padded and placed like ``state``."""
        return self.executor.place(runs.pad_runs(tree, self.executor.padded(self.n_runs)))

    def gather(self, tree: Any) -> Any:
        """A run-stacked device output as host arrays, without the padding runs."""
        return runs.unpad_runs(self.executor.gather(tree), self.n_runs)


# ----------------------------------------------------------------------------- programs
_PROGRAMS: "collections.OrderedDict[tuple, Any]" = collections.OrderedDict()


def cached(key: tuple, build: Callable[[], Any], keep: int = 16) -> Any:
    """``build()`` once per key in this process (the few most recent keys are kept), so
    running the same config again (a resume, a notebook, the tests) compiles nothing new.
    Keys should start with the config's JSON (``config_lib.to_json``)."""
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    value = build()
    _PROGRAMS[key] = value
    while len(_PROGRAMS) > keep:
        _PROGRAMS.popitem(last=False)
    return value


def program(config: ml_collections.ConfigDict, executor: runs.Executor, name: str,
            fn: Callable[[], Callable]) -> Callable:
    """``executor.map_runs(fn())``, cached by (config, executor, name)."""
    key = (config_lib.to_json(config), executor, jax.process_count(), "program", name)
    return cached(key, lambda: executor.map_runs(fn()))


# ----------------------------------------------------------------------------- runner
def train_runs(config: ml_collections.ConfigDict, learner: Learner | Trainer, session: Session,
               phase: str = "train", *, choices: Mapping[str, tuple] | None = None,
               init_params: Callable[[Any], Any] | None = None, key_salt: int = 0,
               keys: jax.Array | None = None) -> Phase:
    """Trains every run of ``config.sweep`` (one program) through one training phase.

    learner: a per-run ``Learner`` (wrapped with the optimizer of ``config.train``), or a
      ready per-run ``Trainer``.
    phase: names the phase: checkpoints go to ``workdir/checkpoints/<phase>``, history rows
      carry it; the same phase resumes from its newest readable checkpoint.
    init_params(params): replaces the fresh run-stacked parameters (n_runs, ...) before
      training, e.g. to start from an earlier phase's model.
    key_salt: a non-zero salt folds into every run's key (a later phase draws its own
      batches).
    keys: (n_runs, 2) run keys replacing the grid's ``fold_in(fold_in(root, point), seed)``
      (a paper whose reference seeds its runs otherwise); keep each a function of its run.

    Raises ``Stopped`` when ``session`` asks to stop (its last chunk is checkpointed).
    """
    grid = make_grid(config, choices)
    executor = make_executor(config, grid.n_runs,
                             None if isinstance(learner, Trainer) else batch_size(learner))
    n_runs, n_pad = grid.n_runs, executor.padded(grid.n_runs)
    run_rows, swept = grid.run_table(), list(grid.axes)
    keys = grid.keys() if keys is None else keys
    if key_salt:
        keys = jax.vmap(lambda k: jax.random.fold_in(k, key_salt))(keys)
    hps = executor.place(runs.pad_runs(grid.hp_arrays(), n_pad))
    keys = executor.place(runs.pad_runs(keys, n_pad))

    ckey = (config_lib.to_json(config), executor, jax.process_count(), "phase", phase, key_salt)
    programs = cached(ckey, lambda: phase_programs(config, learner, executor, n_runs))
    trainer = programs["trainer"]
    state_bytes = tree_bytes(jax.eval_shape(programs["init"], keys, hps))  # shapes only
    check_memory(state_bytes // executor.run_devices, f"the training state of {n_runs} runs", executor)
    state = programs["init"](keys, hps)
    if init_params is not None:
        fresh = runs.unpad_runs(executor.gather(state.params), n_runs)
        state = state._replace(params=executor.place(runs.pad_runs(init_params(fresh), n_pad)))
    t_compile = time.perf_counter()
    if "chunk" not in programs:
        programs["chunk"] = executor.map_runs(trainer.train_chunk).lower(state, hps).compile()
    chunk = programs["chunk"]
    compile_s = time.perf_counter() - t_compile
    check_memory(program_bytes(chunk), f"the training program of {n_runs} runs", executor)

    checkpointer = Checkpointer(os.path.join(session.workdir, "checkpoints", phase))
    step, history = 0, {}
    target = jax.tree.map(lambda a: jax.ShapeDtypeStruct((n_runs, *a.shape[1:]), a.dtype,
                                                         sharding=executor.replicated()), state)
    restored = checkpointer.restore_latest(target)
    if restored is not None:
        step, saved, history = restored
        state = executor.repadded(saved, n_pad)
        log.info("%s: resumed from the checkpoint at step %d", phase, step)
    stats = {"compile_s": compile_s, "startup_s": time.perf_counter() - session.t_start,
             "n_runs": n_runs, "devices": executor.devices, "executor": executor.kind,
             "layout": layout_record(executor, trainer, n_runs)}
    primary = is_primary()
    streams = observe.make_writers(session.writers, _stream_dir(session.workdir, phase),
                                   run_rows, swept) if primary else []
    diverged = set(r for r, ok in enumerate(np.asarray(executor.gather(state.healthy))[:n_runs])
                   if not ok)
    bar = tqdm(total=trainer.total_steps, initial=step, unit="step",
               disable=not (session.progress and primary), dynamic_ncols=True,
               desc=f"{phase}: {n_runs} runs")
    t_train, steps_timed, wait_s = time.perf_counter(), 0, 0.0
    # Pipelined: chunk k+1 is dispatched before chunk k's host work (history, streams,
    # checkpoint), which then overlaps the device's work on chunk k+1; a stop asked after
    # chunk k's checkpoint drops chunk k+1.
    pending = None
    try:
        if step < trainer.total_steps:
            if session.stop_requested():
                raise Stopped()
            pending = chunk(state, hps)
        while pending is not None:
            t_wait = time.perf_counter()
            state, metrics = pending
            metrics = executor.gather(metrics)  # the chunk's metrics: one transfer per chunk
            healthy = np.asarray(executor.gather(state.healthy))[:n_runs]
            # the checkpoint's snapshot and fingerprint, computed before the next chunk
            # queues on the device (they would wait for it)
            snapshot = executor.unpadded(state, n_runs)
            digest = fingerprint(snapshot)
            wait_s += time.perf_counter() - t_wait
            step += trainer.chunk_steps
            steps_timed += trainer.chunk_steps
            session.chunks_done += 1
            pending = chunk(state, hps) if step < trainer.total_steps else None
            for name, values in metrics.items():
                history.setdefault(name, []).extend(np.asarray(values)[:n_runs].T.tolist())
            for w in streams:
                w.write(step - trainer.chunk_steps + 1,
                        {k: np.asarray(v)[:n_runs] for k, v in metrics.items()})
            diverged |= report_divergence(healthy, diverged, run_rows, step, phase)
            checkpointer.save(step, snapshot, {k: list(v) for k, v in history.items()},
                              digest)  # a snapshot: async
            loss = np.asarray(metrics["loss"])[:n_runs, -1]
            if np.isfinite(loss).any():
                bar.set_postfix(loss=f"{np.nanmean(np.where(np.isfinite(loss), loss, np.nan)):.4f}")
            bar.update(trainer.chunk_steps)
            if pending is not None and session.stop_requested():
                raise Stopped()  # the chunk in flight is dropped; this one is checkpointed
    finally:
        bar.close()
        try:
            checkpointer.wait()  # a failed save (a full disk) raises here, in one line
        finally:
            checkpointer.close()
            for w in streams:
                w.close()
    train_s = time.perf_counter() - t_train
    steps_per_s = steps_timed / train_s if steps_timed else None
    stats.update(train_s=train_s, steps_per_s=steps_per_s, host_s=train_s - wait_s,
                 run_steps_per_s=steps_per_s * n_runs if steps_per_s else None,
                 chunk_program_bytes=program_bytes(chunk))
    session.stats[phase] = stats
    session.diverged[phase] = sorted(diverged)
    session.histories[phase] = history_table(history, phase, run_rows, swept)
    return Phase(phase, grid, executor, trainer, state, hps, keys, history)


def phase_programs(config: ml_collections.ConfigDict, learner: Learner | Trainer,
                   executor: runs.Executor, n_runs: int) -> dict:
    """{"trainer", "init"} of a phase: a ``Learner`` is built into a trainer for the
    executor's layout (its data axis, the runs each device holds)."""
    if isinstance(learner, Trainer):
        trainer = learner
        require(trainer.data == executor.data, "executor.data",
                f"the trainer was built for {trainer.data} data devices, the layout has "
                f"{executor.data}")
    else:
        trainer = build_trainer(config, learner, data=executor.data,
                                data_axis=runs.DATA_AXIS,
                                runs_per_device=executor.runs_per_device(n_runs))
    return {"trainer": trainer, "init": executor.map_runs(trainer.init)}


def layout_record(executor: runs.Executor, trainer: Trainer, n_runs: int) -> dict:
    """What the manifest states about a phase's layout: devices on each mesh axis, runs
    (with padding) per run device, micro-batches in use (and the activation estimate an
    automatic count came from)."""
    return {"runs": executor.run_devices, "data": executor.data,
            "runs_per_device": executor.padded(n_runs) // executor.run_devices,
            "padded_runs": executor.padded(n_runs) - n_runs,
            "micro_batches": trainer.layout.get("micro_batches", trainer.micro_batches),
            "micro_batches_auto": trainer.micro_batches == 0,
            "activation_bytes": trainer.layout.get("activation_bytes")}


def _stream_dir(workdir: str, phase: str) -> str:
    """Metric streams of the main phase in workdir, of later phases in workdir/<phase>
    (so ``tensorboard/`` holds one directory per run of each phase)."""
    return workdir if phase == "train" else os.path.join(workdir, "streams", phase)


def history_table(history: dict[str, list], phase: str, run_rows: list[dict],
                  swept: Sequence[str]) -> pd.DataFrame:
    """{metric: per-step lists of per-run values} as tidy rows:
    phase, run, seed, step, metric, value, swept fields."""
    frames = []
    for name, per_step in history.items():
        arr = np.asarray(per_step, dtype=np.float64)  # (steps, R)
        steps, n = arr.shape
        frames.append(pd.DataFrame({
            "run": np.tile(np.arange(n), steps), "step": np.repeat(np.arange(1, steps + 1), n),
            "metric": name, "value": arr.reshape(-1)}))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    meta = pd.DataFrame(run_rows)[["run", "seed", *swept]]
    df = df.merge(meta, on="run")[["run", "seed", "step", "metric", "value", *swept]]
    df.insert(0, "phase", phase)
    return df


def report_divergence(healthy: np.ndarray, known: set[int], run_rows: list[dict], step: int,
                      phase: str = "train") -> set[int]:
    """Logs each newly diverged run by run, seed and swept values; returns their indices."""
    new = {r for r, ok in enumerate(healthy) if not ok and r not in known}
    for r in sorted(new):
        row = run_rows[r]
        desc = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("run", "point", "hp"))
        log.warning("%s: run %d (%s) diverged (non-finite loss) by step %d: its parameters are "
                    "frozen at their last finite values and its results are NaN; the other runs "
                    "go on", phase, r, desc, step)
    return new


def program_bytes(compiled: Any) -> int | None:
    """A compiled program's footprint per device (arguments + outputs + temporaries), from
    XLA's memory analysis; None where the backend does not report it."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
                   - m.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 - not every backend reports it
        return None


def tree_bytes(tree: Any) -> int:
    """Bytes of a pytree of arrays or shape structs."""
    return int(sum(np.prod(a.shape, dtype=np.int64) * (getattr(a.dtype, "itemsize", None) or 8)
                   for a in jax.tree.leaves(tree)))


def available_memory() -> tuple[int, bool] | None:
    """(bytes available, shared by all local devices?): the host's available memory on CPU
    (MemAvailable, capped by a cgroup limit), one accelerator's limit otherwise; None when
    unknown."""
    device = jax.local_devices()[0]
    if device.platform != "cpu":
        try:
            limit = (device.memory_stats() or {}).get("bytes_limit")
        except Exception:  # noqa: BLE001 - backends without statistics
            limit = None
        return (int(limit), False) if limit else None
    free = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except OSError:
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read())
        if limit != "max" and free is not None:
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return (free, True) if free is not None else None


def check_memory(per_device: int | None, what: str, executor: runs.Executor) -> None:
    """Refuses (a one-line ConfigError) a program whose estimated memory exceeds what is
    available, before it runs; warns above half of it."""
    available = available_memory()
    if not per_device or available is None:
        return
    free, shared = available
    need = per_device * (min(executor.devices, jax.local_device_count()) if shared else 1)
    gb = lambda b: f"{b / 2**30:.3g} GB"
    where = "this host has" if shared else "a device has"
    if need > free:
        raise config_lib.ConfigError(
            f"{what} needs about {gb(need)} of memory but {where} {gb(free)} available: "
            f"reduce the model or batch sizes (model.*, train.batch_tasks) or the number of runs "
            f"(sweep), or set train.micro_batches / executor.kind=chunked")
    if need > free / 2:
        log.warning("%s needs about %s of the %s available", what, gb(need), gb(free))


def memory_stats() -> dict[str, int | None]:
    """Allocator peak of the busiest local device (None where the backend keeps no
    statistics, e.g. CPU) and the host's peak RSS."""
    peaks = []
    for device in jax.local_devices():
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - backends without statistics
            stats = {}
        if "peak_bytes_in_use" in stats:
            peaks.append(int(stats["peak_bytes_in_use"]))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {"peak_device_memory_bytes": max(peaks) if peaks else None,
            "peak_host_rss_bytes": int(rss)}
