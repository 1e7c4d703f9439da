"""Runs a study end to end: compile, train in checkpointed chunks, evaluate, write results.

``run(config, workdir)`` is what ``jaxlab run`` calls. The same call on a workdir that holds
an unfinished run of the same config resumes from its newest checkpoint (on whatever
devices are there today); on a finished one it just loads the results. Nothing is written
before the config has been validated.

Across several processes joined by ``jax.distributed`` every process runs this same
function: the run axis is sharded over every process's devices, all processes check the
workdir, and only process 0 writes config, manifest, tables and metric streams (orbax
coordinates the checkpoint writes itself). Metrics leave the devices once per chunk.
"""
from __future__ import annotations

import collections
import logging
import os
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from jaxlab import config as config_lib
from jaxlab import results as results_lib
from jaxlab import observe, runs, studies
from jaxlab.checkpoint import Checkpointer
from jaxlab.config import ConfigError, require

log = logging.getLogger("jaxlab")


def make_grid(config: ml_collections.ConfigDict, choices: dict) -> runs.RunGrid:
    """The run grid declared by ``config.sweep`` over the fields of ``config.hp``."""
    axes = {k: tuple(v) for k, v in config.sweep.axes.items()}
    for field, values in axes.items():
        require(field in config.hp, f"sweep.axes.{field}",
                f"is not a field of config.hp (fields: {', '.join(config.hp)})")
        require(len(values) >= 1, f"sweep.axes.{field}", "needs at least one value")
    require(config.sweep.n_seeds >= 1, "sweep.n_seeds", f"must be >= 1, got {config.sweep.n_seeds}")
    return runs.RunGrid(axes, dict(config.hp), config.sweep.n_seeds, config.seed, choices)


def make_executor(config: ml_collections.ConfigDict) -> runs.Executor:
    """The configured executor. ``executor.devices`` counts local devices (0 = all); with
    several processes the run axis spans every process's devices (all of them)."""
    ex = config.executor
    require(ex.kind in ("vmap", "chunked"), "executor.kind",
            f"must be 'vmap' or 'chunked', got {ex.kind!r}")
    require(ex.runs_per_batch >= 1, "executor.runs_per_batch", f"must be >= 1, got {ex.runs_per_batch}")
    n_local = jax.local_device_count()
    require(0 <= ex.devices <= n_local, "executor.devices",
            f"must be in [0, {n_local}] (0 = all local devices), got {ex.devices}")
    if jax.process_count() > 1:
        require(ex.devices in (0, n_local), "executor.devices",
                f"must be 0 or {n_local} when {jax.process_count()} processes share the runs")
        return runs.Executor(ex.kind, ex.runs_per_batch, jax.device_count(), all_processes=True)
    return runs.Executor(ex.kind, ex.runs_per_batch, ex.devices or n_local)


def is_primary() -> bool:
    """True in the process that writes (process 0; the only one without jax.distributed)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Every process waits here for the others (a no-op in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"jaxlab:{name}")


def any_process(flag: bool) -> bool:
    """True if ``flag`` is True in any process (so all processes stop at the same chunk)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.asarray([flag]))))


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict) -> dict:
    """Creates the workdir or checks that it holds this same config; returns its manifest.

    Every process checks (they see the same filesystem, so they agree); then process 0
    alone creates what is missing while the others wait.
    """
    config_path = os.path.join(workdir, "config.json")
    fresh = not os.path.exists(config_path)
    if not fresh:
        with open(config_path) as f:
            previous = config_lib.from_json(f.read())
        changed = config_lib.differences(previous, config)
        if changed:
            raise ConfigError(
                f"workdir {workdir!r} holds a run of a different config (changed: "
                f"{', '.join('config.' + c for c in changed[:5])}); use a new --workdir")
    elif os.path.isdir(workdir) and [f for f in os.listdir(workdir) if ".tmp-" not in f]:
        raise ConfigError(f"workdir {workdir!r} exists, is not empty and holds no jaxlab run")
    barrier("workdir-checked")
    if fresh and is_primary():
        os.makedirs(workdir, exist_ok=True)
        results_lib.atomic_write_text(config_path, config_lib.to_json(config))
        results_lib.update_manifest(workdir, status="created", created=time.time())
    barrier("workdir-ready")
    return results_lib.read_manifest(workdir)


def _manifest(workdir: str, **fields: Any) -> None:
    if is_primary():
        results_lib.update_manifest(workdir, **fields)


def memory_stats(compiled: Any = None) -> dict[str, int | None]:
    """Peak bytes: allocator peak of the busiest local device (None where the backend
    keeps no statistics, e.g. CPU), the chunk program's own footprint per device
    (arguments + outputs + temporaries, from XLA's memory analysis), and host RSS."""
    peaks = []
    for device in jax.local_devices():
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - backends without statistics
            stats = {}
        if "peak_bytes_in_use" in stats:
            peaks.append(int(stats["peak_bytes_in_use"]))
    program = None
    if compiled is not None:
        try:
            m = compiled.memory_analysis()
            program = int(m.argument_size_in_bytes + m.output_size_in_bytes
                          + m.temp_size_in_bytes - m.alias_size_in_bytes)
        except Exception:  # noqa: BLE001 - not every backend reports it
            program = None
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {"peak_device_memory_bytes": max(peaks) if peaks else None,
            "chunk_program_bytes": program, "peak_host_rss_bytes": int(rss)}


def _stack_history(history: dict, metrics: dict, n_runs: int) -> None:
    """Appends a chunk's metrics {name: (R_padded, K)} as per-step lists of per-run values."""
    for name, values in metrics.items():
        arr = np.asarray(values)[:n_runs].T  # (K, R)
        history.setdefault(name, []).extend(arr.tolist())


def _train_table(history: dict, run_rows: list[dict], swept: list[str]) -> pd.DataFrame:
    frames = []
    for name, per_step in history.items():
        arr = np.asarray(per_step, dtype=np.float64)  # (steps, R)
        steps, n = arr.shape
        frames.append(pd.DataFrame({
            "run": np.tile(np.arange(n), steps), "step": np.repeat(np.arange(1, steps + 1), n),
            "metric": name, "value": arr.reshape(-1)}))
    df = pd.concat(frames, ignore_index=True)
    meta = pd.DataFrame(run_rows)[["run", "seed", *swept]]
    return df.merge(meta, on="run")[["run", "seed", "step", "metric", "value", *swept]]


def _eval_table(study, config, per_run: dict, baselines: dict, run_rows: list[dict],
                swept: list[str], diverged: set[int]) -> pd.DataFrame:
    """Trained runs' curves, then each baseline learner's per-seed curves (run = -1)."""
    n_ctx = study.context_sizes(config)
    rows = []
    for row in run_rows:
        r = row["run"]
        for metric, values in per_run.items():
            vals = np.asarray(values[r], dtype=np.float64)
            if r in diverged:
                vals = np.full_like(vals, np.nan)
            rows.append(pd.DataFrame({"run": r, "seed": row["seed"], "learner": study.learner_of(row),
                                      "n_context": n_ctx, "metric": metric, "value": vals,
                                      **{k: row[k] for k in swept}}))
    for learner, (sizes, metrics) in baselines.items():
        for metric, values in metrics.items():
            for seed, vals in enumerate(np.asarray(values, dtype=np.float64)):
                rows.append(pd.DataFrame({"run": -1, "seed": seed, "learner": learner,
                                          "n_context": sizes, "metric": metric, "value": vals,
                                          **{k: None for k in swept}}))
    return pd.concat(rows, ignore_index=True)


def run(config: ml_collections.ConfigDict, workdir: str, *, progress: bool = True,
        should_stop: Callable[[int], bool] | None = None,
        writers: Sequence[str] = ()) -> results_lib.Results | None:
    """Trains and evaluates every run of the study; returns the results.

    ``should_stop(chunks_done)`` is asked before each chunk (the CLI answers True after a
    SIGTERM or SIGINT, tests to simulate a killed job); on True the run returns None with
    its last checkpoint complete on disk, and the same call resumes it. ``writers`` names
    optional metric streams (``"tensorboard"``, ``"wandb:PROJECT"``; see
    ``jaxlab.observe``), fed once per chunk with one series per run.
    """
    t_start = time.perf_counter()
    study = studies.get(config.study)
    study.validate(config)
    if hasattr(study, "execute"):
        return _execute(study, config, workdir, progress, should_stop, t_start)
    grid = make_grid(config, study.CHOICES)
    executor = make_executor(config)
    primary = is_primary()
    manifest = prepare_workdir(workdir, config)
    if manifest.get("status") == "done":
        log.info("%s already holds the finished study; loading it", workdir)
        return results_lib.load(workdir)

    n_runs, n_pad = grid.n_runs, executor.padded(grid.n_runs)
    run_rows, swept = grid.run_table(), list(grid.axes)
    hps = executor.place(runs.pad_runs(grid.hp_arrays(), n_pad))
    keys = executor.place(runs.pad_runs(grid.keys(), n_pad))

    programs = _programs(study, config, executor)
    trainer, evaluate = programs["trainer"], programs["evaluate"]
    state = programs["init"](keys, hps)
    t_compile = time.perf_counter()
    if "chunk" not in programs:
        programs["chunk"] = executor.map_runs(trainer.train_chunk).lower(state, hps).compile()
    chunk = programs["chunk"]
    compile_s = time.perf_counter() - t_compile
    startup_s = time.perf_counter() - t_start

    checkpointer = Checkpointer(workdir)
    history: dict[str, list] = {}
    step = 0
    # The restore target is today's topology: the real runs, replicated over the mesh.
    target = jax.tree.map(lambda a: jax.ShapeDtypeStruct((n_runs, *a.shape[1:]), a.dtype,
                                                         sharding=executor.replicated()), state)
    restored = checkpointer.restore_latest(target)
    if restored is not None:
        step, saved, history = restored
        state = executor.repadded(saved, n_pad)
        log.info("resumed from the checkpoint at step %d", step)
    diverged: set[int] = set()
    _manifest(workdir, status="running", n_runs=n_runs, compile_s=compile_s,
              startup_s=startup_s, devices=executor.devices, processes=jax.process_count(),
              executor=executor.kind, jax_version=jax.__version__,
              backend=jax.default_backend())
    streams = observe.make_writers(writers, workdir, run_rows, swept) if primary else []

    total = trainer.total_steps
    bar = tqdm(total=total, initial=step, unit="step", disable=not (progress and primary),
               desc=f"{config.study}: {n_runs} runs", dynamic_ncols=True)
    chunks_done, t_train = 0, time.perf_counter()
    steps_timed = 0
    while step < total:
        if should_stop is not None and any_process(should_stop(chunks_done)):
            checkpointer.wait()
            checkpointer.close()
            bar.close()
            for w in streams:
                w.close()
            return None
        state, metrics = chunk(state, hps)
        metrics = executor.gather(metrics)  # the chunk's metrics: one transfer per chunk
        step += trainer.chunk_steps
        steps_timed += trainer.chunk_steps
        _stack_history(history, metrics, n_runs)
        for w in streams:
            w.write(step - trainer.chunk_steps + 1, {k: np.asarray(v)[:n_runs] for k, v in metrics.items()})
        healthy = np.asarray(executor.gather(state.healthy))[:n_runs]
        diverged |= _report_divergence(healthy, diverged, run_rows, step)
        checkpointer.save(step, executor.unpadded(state, n_runs),
                        {k: list(v) for k, v in history.items()})  # a snapshot: saves are async
        chunks_done += 1
        loss = np.asarray(metrics["loss"])[:n_runs, -1]
        bar.set_postfix(loss=f"{np.nanmean(np.where(np.isfinite(loss), loss, np.nan)):.4f}")
        bar.update(trainer.chunk_steps)
    bar.close()
    train_s = time.perf_counter() - t_train
    checkpointer.wait()
    checkpointer.close()
    for w in streams:
        w.close()
    diverged |= {r for r, ok in enumerate(np.asarray(executor.gather(state.healthy))[:n_runs])
                 if not ok}

    seed_keys = grid.seed_keys()
    run_seed_keys = executor.place(runs.pad_runs(
        seed_keys[jnp.asarray([row["seed"] for row in run_rows])], n_pad))
    per_run = executor.gather(evaluate(state, hps, run_seed_keys))
    if primary:  # baselines and tables: process 0 alone, while the others wait
        baselines = study.baselines(config, seed_keys)
        train_df = _train_table(history, run_rows, swept)
        eval_df = _eval_table(study, config, per_run, baselines, run_rows, swept, diverged)
        summary_df = study.summarize(eval_df, config)
        for name, df in (("train", train_df), ("eval", eval_df), ("summary", summary_df)):
            results_lib.write_table(workdir, name, df)
        study.plot(eval_df, os.path.join(workdir, "figure.png"), config)
        table = study.report(summary_df, config)
        results_lib.atomic_write_text(os.path.join(workdir, "table.txt"), table + "\n")
        steps_per_s = steps_timed / train_s if steps_timed else None
        results_lib.update_manifest(
            workdir, status="done", diverged=sorted(diverged), train_s=train_s,
            steps_per_s=steps_per_s,
            run_steps_per_s=steps_per_s * n_runs if steps_per_s else None,
            wall_s=time.perf_counter() - t_start, **memory_stats(chunk))
    barrier("results-written")
    return results_lib.load(workdir)


_PROGRAMS: "collections.OrderedDict[tuple, dict]" = collections.OrderedDict()


def _programs(study, config, executor: runs.Executor) -> dict:
    """The trainer and its run-mapped programs (init, evaluate; the compiled train chunk
    is added by the first run) for this config and executor.

    Kept for the few most recent (config, executor) pairs of the process, so running the
    same config again (a resume, a notebook re-run, the tests) compiles nothing new.
    """
    key = (config_lib.to_json(config), executor, jax.process_count())
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    trainer = study.make_train(config)
    programs = {"trainer": trainer, "init": executor.map_runs(trainer.init),
                "evaluate": executor.map_runs(trainer.evaluate)}
    _PROGRAMS[key] = programs
    while len(_PROGRAMS) > 4:
        _PROGRAMS.popitem(last=False)
    return programs


def _execute(study, config, workdir, progress, should_stop, t_start) -> results_lib.Results | None:
    """A study that computes its own tables: the same workdir rules, resume and manifest."""
    manifest = prepare_workdir(workdir, config)
    if manifest.get("status") == "done":
        log.info("%s already holds the finished study; loading it", workdir)
        return results_lib.load(workdir)
    _manifest(workdir, status="running", jax_version=jax.__version__,
              backend=jax.default_backend(), processes=jax.process_count())
    finished = study.execute(config, workdir, progress=progress, should_stop=should_stop)
    if finished is False:
        return None
    _manifest(workdir, status="done", wall_s=time.perf_counter() - t_start, **memory_stats())
    barrier("results-written")
    return results_lib.load(workdir)


def _report_divergence(healthy: np.ndarray, known: set[int], run_rows: list[dict],
                       step: int) -> set[int]:
    new = {r for r, ok in enumerate(healthy) if not ok and r not in known}
    for r in sorted(new):
        row = run_rows[r]
        desc = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("run", "point", "hp"))
        log.warning("run %d (%s) diverged (non-finite loss) by step %d: its parameters are frozen "
                    "at their last finite values and its eval rows are NaN; the other runs go on",
                    r, desc, step)
    return new
