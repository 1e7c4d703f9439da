"""The ICL study's speed ratios for ``jaxlab bench`` (default ICL config; ``quick``: smoke).

Keys:
  seed_parallel_speedup      8 seeds in one program / a loop of 8 single-seed runs of the
                             same jitted train_chunk (default ICL config)
  seed_parallel_speedup_naive  the same with a plain jit(vmap) on one device, no micro-batches
  train_step_flops_fraction  FLOP/s of the 8-seed program / matmul_peak_gflops
  compile_s, warm_start_s    cold compile of the default study; start-up of a re-run that
                             finds the persistent compilation cache
  sgd_fits_per_s             early-stopped SGD fits (the §3.2 linear-regression learner, 64
                             fits) per second, all in one program
  sgd_vs_step_loop           that ÷ the same fits one after another, a Python loop calling a
                             jitted optimizer step per iteration (the reference's structure)
  sgd_vs_jitted_fit_loop     that ÷ a Python loop over fits, each fit one jitted program
  sgd_flops_fraction         useful FLOP/s of the vectorized fits ÷ matmul_peak_gflops
  sgd_vs_jitted_fit_loop_at_peak  the ceiling of sgd_vs_jitted_fit_loop on this machine: the
                             fit loop's time ÷ the time the same FLOPs take at matmul peak
  sgd_ref_ms_per_fit_step    ms per fit optimizer step of fits at the PyTorch reference's
                             sizes (n log-uniform on [5, 2000], Lightning's rule, flax init),
                             in the layout for them: size buckets at n_train 64/256/1024
                             (``fits.fit_many_bucketed_on``), 4 lanes per device
  sgd_ref_flops_fraction     their useful FLOP/s (6 FLOPs per weight per training row of
                             a step: the MLP's forward and backward matmuls) ÷ matmul_peak_gflops
  sgd_ref_lane_occupancy     fit steps ÷ lane-steps the programs executed (lanes idle after
                             their fit stopped, waiting for a chunk end or the last fit,
                             count as executed): 1 = no lane ever idle
  mastermind_oracle_episodes_per_s  exact Bayes predictive over all secret codes for
                             100-guess episodes (8 positions, 6 colours, codes from 5)
  ref_config_ms_per_step_1_seed  ms per optimizer step of one seed on the PyTorch
                             reference's CPU-sized ICL config (REFERENCE_CONFIG), in the
                             layout the runner chooses (devices, data axis, micro-batches):
                             the median of 15 chunks of 10 steps, metrics fetched per chunk
                             (the side-by-side harness's protocol and statistic, which
                             measured the reference); ``..._fastest``: the fastest chunk
  ref_config_ms_per_seed_step_8_seeds  the same for 8 seeds in one program, per seed-step
  ref_config_1_seed_vs_padded_layout  ms per step of the old layout (the seed padded to one
                             run per device, 16 micro-batches) ÷ the chosen layout's, same run
  cli_overhead               ms per step of one seed of the reference's config through
                             ``jaxlab run`` (its manifest's steps_per_s: the training loop with
                             metrics, progress and checkpoints, start-up and evaluation
                             excluded) ÷ the same chunks called back-to-back in this process
                             (cli_ms_per_step_run, cli_ms_per_step_program; best of rounds,
                             alternated; the default chunk of 100 steps)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import jax
import numpy as np

from jaxlab import config as config_lib
from jaxlab import runner, runs
from jaxlab.coding import fits
from jaxlab.papers.icl_occam import sgd as icl_sgd
from jaxlab.papers.icl_occam import study
from jaxlab.tasks.mastermind import Mastermind
from jaxlab.timing import best_time, interleaved_times

# Found through jaxlab.config.locate (the checkout, $JAXLAB_CONFIGS or the installed configs).
CONFIG = "configs/icl_occam.py"

def _seed_setup(spec: str, n_seeds: int, *overrides: str):
    config = config_lib.load(spec, ["--config.sweep.axes.objective=('prequential',)",
                                    f"--config.sweep.n_seeds={n_seeds}",
                                    "--config.train.warmup_steps=0", *overrides])
    grid = runner.make_grid(config, study.CHOICES)
    return config, grid, study.make_train(config)


def seed_parallel(spec: str, chunk: int, repeats: int, executor: runs.Executor,
                  *overrides: str) -> dict:
    """Seconds per chunk of 8 seeds: one program vs a loop over the single-seed program."""
    over = (f"--config.train.chunk_steps={chunk}", f"--config.train.steps={chunk}", *overrides)
    config, grid, trainer = _seed_setup(spec, 8, *over)
    hps, keys = grid.hp_arrays(), grid.keys()
    n = executor.padded(grid.n_runs)
    hps_p, keys_p = executor.place(runs.pad_runs((hps, keys), n))
    state = executor.map_runs(trainer.init)(keys_p, hps_p)
    many = executor.map_runs(trainer.train_chunk).lower(state, hps_p).compile()
    t_many = best_time(lambda: many(state, hps_p), repeats)

    single = jax.jit(trainer.train_chunk)
    one = lambda tree, r: jax.tree.map(lambda a: a[r], tree)
    singles = [(jax.jit(trainer.init)(keys[r], one(hps, r)), one(hps, r)) for r in range(8)]
    single_c = single.lower(*singles[0]).compile()
    t_loop = best_time(lambda: [single_c(s, h) for s, h in singles], repeats)
    return {"t_many": t_many, "t_loop": t_loop, "config": config}


# The PyTorch reference's CPU-sized ICL config (d = 64, 2 layers, 4 heads, 64 tasks x 64
# points, prequential, Adam 1e-4, constant rate, no clipping; 88,321 parameters), as
# overrides of the default config, so its step times compare with the reference's.
REFERENCE_CONFIG = (
    "--config.task.family=linear", "--config.task.x_dim=3", "--config.task.y_dim=1",
    "--config.task.noise=0.2", "--config.task.pool_size=0", "--config.model.kind=explicit",
    "--config.model.d_model=64", "--config.model.n_layers=2", "--config.model.n_heads=4",
    "--config.model.d_ff=128", "--config.model.z_dim=128", "--config.model.predictor_hidden=64",
    "--config.model.predictor_layers=5", "--config.model.tie_predictor_hidden=True",
    "--config.train.batch_tasks=64", "--config.train.n_points=64", "--config.train.min_context=1",
    "--config.train.grad_clip_norm=0.0", "--config.train.lr_schedule=constant",
    "--config.train.warmup_steps=0", "--config.hp.learning_rate=0.0001",
    "--config.hp.objective=prequential", "--config.sweep.axes.objective=('prequential',)",
    "--config.eval.n_points=64", "--config.eval.report_n=(1, 2, 5, 10, 20)",
    "--config.eval.n_tasks=64", "--config.sgd.enabled=False")


def layout_step(n_seeds: int, chunk: int, *overrides: str,
                executor: runs.Executor | None = None) -> tuple[Callable[[], Any], dict]:
    """(a call of one chunk of ``chunk`` steps, the layout record) for n_seeds seeds of the
    reference's config, in the runner's layout (or ``executor``), built by the runner's own
    program builder."""
    config = config_lib.load(CONFIG, [*REFERENCE_CONFIG, f"--config.sweep.n_seeds={n_seeds}",
                                      f"--config.train.chunk_steps={chunk}",
                                      f"--config.train.steps={chunk}", *overrides])
    grid, learner = runner.make_grid(config, study.CHOICES), study.make_learner(config)
    ex = executor or runner.make_executor(config, grid.n_runs, runner.batch_size(learner))
    trainer = runner.phase_programs(config, learner, ex, grid.n_runs)["trainer"]
    n = ex.padded(grid.n_runs)
    hps, keys = ex.place(runs.pad_runs((grid.hp_arrays(), grid.keys()), n))
    state = ex.map_runs(trainer.init)(keys, hps)
    step = ex.map_runs(trainer.train_chunk).lower(state, hps).compile()
    return (lambda: step(state, hps)), runner.layout_record(ex, trainer, grid.n_runs)


# ``jaxlab bench --quick`` checks the plumbing on a smaller batch (its times do not compare
# with the reference's).
QUICK_SHAPES = ("--config.train.batch_tasks=32", "--config.train.n_points=16")


# The side-by-side harness's protocol, which measured the reference: 15 timed chunks of 10
# steps after a warm-up chunk, each chunk's metrics fetched to the host, the median chunk.
REF_TIMING_CHUNK, REF_TIMING_CHUNKS = 10, 15


def reference_config_times(chunk: int, rounds: int, *overrides: str) -> dict:
    """The ref_config_* keys: the chosen layouts, and the old padded one (one run per
    device, 16 micro-batches), ``rounds`` chunks of ``chunk`` steps each, interleaved,
    metrics fetched to the host per chunk; ms per step of the median chunk (the statistic
    the harness reports for the reference) and of the fastest."""
    one, layout_one = layout_step(1, chunk, *overrides)
    eight, layout_eight = layout_step(8, chunk, *overrides)
    padded, _ = layout_step(1, chunk, *overrides, "--config.train.micro_batches=16",
                            executor=runs.Executor("vmap", devices=jax.local_device_count()))
    fetched = lambda call: (lambda: jax.device_get(call()[1]))
    t = interleaved_times({"one": fetched(one), "eight": fetched(eight),
                           "padded": fetched(padded)}, rounds)
    med = {k: float(np.median(v)) / chunk * 1e3 for k, v in t.items()}
    return {"ref_config_ms_per_step_1_seed": med["one"],
            "ref_config_ms_per_seed_step_8_seeds": med["eight"] / 8,
            "ref_config_ms_per_step_1_seed_padded_layout": med["padded"],
            "ref_config_1_seed_vs_padded_layout": med["padded"] / med["one"],
            "ref_config_ms_per_step_1_seed_fastest": min(t["one"]) / chunk * 1e3,
            "ref_config_ms_per_seed_step_8_seeds_fastest": min(t["eight"]) / (8 * chunk) * 1e3,
            "ref_config_layout_1_seed": json.dumps(layout_one),
            "ref_config_layout_8_seeds": json.dumps(layout_eight)}


def chunks_ms_per_step(call: Callable[[], Any], chunk: int, steps: int) -> float:
    """ms per step of ``steps // chunk`` calls of a chunk program, back-to-back."""
    t = time.perf_counter()
    for _ in range(steps // chunk):
        out = call()
    jax.block_until_ready(out)
    return (time.perf_counter() - t) / steps * 1e3


def cli_ms_per_step(workdir: str, chunk: int, steps: int, *overrides: str,
                    root: str | None = None) -> float:
    """ms per step of one seed of the reference's config through ``jaxlab run`` (a
    subprocess; its manifest's steps_per_s). ``root``: run the jaxlab checkout there."""
    cmd = [sys.executable, "-m", "jaxlab.cli", "run", CONFIG, "--workdir", workdir,
           "--no-progress", *REFERENCE_CONFIG, "--config.sweep.n_seeds=1",
           f"--config.train.steps={steps}", f"--config.train.chunk_steps={chunk}", *overrides]
    env = None if root is None else {**os.environ, "PYTHONPATH": root}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"jaxlab run failed: {tail}")
    with open(os.path.join(workdir, "manifest.json")) as f:
        return 1e3 / json.load(f)["steps_per_s"]


def cli_overhead(chunk: int, steps: int, repeats: int, *overrides: str) -> dict:
    """The cli_* keys: ``jaxlab run`` (a subprocess, its own manifest) vs the bare chunk
    program, the same number of chunks, rounds alternated so load falls on both alike."""
    call, _ = layout_step(1, chunk, *overrides)
    jax.block_until_ready(call())
    run_ms, program_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            program_ms.append(chunks_ms_per_step(call, chunk, steps))
            run_ms.append(cli_ms_per_step(os.path.join(tmp, f"run{r}"), chunk, steps, *overrides))
    run, program = min(run_ms), min(program_ms)
    return {"cli_ms_per_step_run": run, "cli_ms_per_step_program": program,
            "cli_overhead": run / program}


def architecture_step_times(spec: str, chunk: int, repeats: int, executor: runs.Executor,
                            n_seeds: int = 4) -> dict:
    """ms per seed-step of each ICL learner kind (n_seeds runs in one program), and the
    Mamba aggregator with each scan layout, all on the same config and executor."""
    over = (f"--config.train.chunk_steps={chunk}", f"--config.train.steps={chunk}")
    mamba = ("--config.model.kind=mamba",)
    variants = {"explicit": (), "implicit": ("--config.model.kind=implicit",),
                "interleaved": ("--config.model.kind=interleaved",),
                "mamba": (*mamba, "--config.model.ssm_scan=sequential"),
                "mamba_associative_scan": (*mamba, "--config.model.ssm_scan=associative")}
    out = {}
    for name, extra in variants.items():
        config, grid, trainer = _seed_setup(spec, n_seeds, *over, *extra)
        n = executor.padded(grid.n_runs)
        hps, keys = executor.place(runs.pad_runs((grid.hp_arrays(), grid.keys()), n))
        state = executor.map_runs(trainer.init)(keys, hps)
        step = executor.map_runs(trainer.train_chunk).lower(state, hps).compile()
        out[f"ms_per_seed_step_{name}"] = best_time(lambda: step(state, hps), repeats) / (
            n_seeds * chunk) * 1e3
    return out


def step_flops(spec: str, n_seeds: int, *overrides: str) -> float:
    """XLA's FLOP count of one optimizer step of n_seeds runs (no inner loops to hide it)."""
    config, grid, trainer = _seed_setup(
        spec, n_seeds, "--config.train.chunk_steps=1", "--config.train.steps=1",
        "--config.train.micro_batches=1", *overrides)
    hps, keys = grid.hp_arrays(), grid.keys()
    ex = runs.Executor("vmap")
    state = ex.map_runs(trainer.init)(keys, hps)
    compiled = ex.map_runs(trainer.train_chunk).lower(state, hps).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


def startup_times(spec: str, *overrides: str) -> dict:
    """compile_s of a cold start and start-up of a warm re-run, each in a fresh process."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JAXLAB_CACHE_DIR": os.path.join(tmp, "cache")}
        for name in ("cold", "warm"):
            workdir = os.path.join(tmp, name)
            cmd = [sys.executable, "-m", "jaxlab.cli", "run", spec, "--workdir", workdir,
                   "--no-progress", *overrides]
            subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            with open(os.path.join(workdir, "manifest.json")) as f:
                out[name] = json.load(f)
    return {"compile_s": out["cold"]["compile_s"], "cold_start_s": out["cold"]["startup_s"],
            "warm_start_s": out["warm"]["startup_s"], "warm_compile_s": out["warm"]["compile_s"]}


def pinned_fits(spec: str, sizes, tasks_per_size: int) -> tuple:
    """(config, fit spec, FitData with leading axis F, initial params) of the SGD fits of
    ``sizes`` x ``tasks_per_size`` tasks, on the workload the recorded bench numbers were
    measured on: Lightning's stopping rule and Flax's init (the study's faithful defaults,
    "tolerant" + "torch", run fits about 6x longer, which would change what fits/s means;
    the speed-ups are per fit step)."""
    config = config_lib.load(spec, [f"--config.sgd.sizes={tuple(int(n) for n in sizes)}",
                                    f"--config.sgd.tasks_per_size={tasks_per_size}",
                                    "--config.sgd.stop_rule=lightning", "--config.sgd.init=flax"])
    fit_spec, model = icl_sgd.make_spec(config, config.task.y_dim)
    data, (_, x_test, _) = icl_sgd.fit_data(config, jax.random.PRNGKey(0))
    return config, fit_spec, data, model.init(jax.random.PRNGKey(1), x_test[0, :1])


def reference_fit_sizes(n_fits: int) -> np.ndarray:
    """(n_fits,) sorted fit sizes drawn log-uniform on [5, 2000] (seed 0): the size
    distribution of the PyTorch reference's SGD baseline."""
    rng = np.random.default_rng(0)
    return np.sort(np.exp(rng.uniform(np.log(5), np.log(2000), n_fits)).astype(int))


def sgd_fits(spec: str, n_sizes: int, tasks_per_size: int, repeats: int) -> dict:
    """Times the same SGD fits three ways; returns seconds and the useful FLOP count."""

    base = config_lib.load(spec)
    sizes = np.unique(np.geomspace(min(base.sgd.sizes), max(base.sgd.sizes), n_sizes).astype(int))
    config, fit_spec, data, init = pinned_fits(spec, sizes, tasks_per_size)
    n_fits = data.n_train.shape[0]
    one = lambda i: jax.tree.map(lambda a: a[i], data)

    ex = runs.Executor("vmap", devices=jax.local_device_count())
    padded = ex.place(runs.pad_runs(data, ex.padded(n_fits)))
    many = jax.jit(fits.fit_many_on(ex, fit_spec, init, config.sgd.lanes))
    result = jax.device_get(many(padded))
    t_many = best_time(lambda: many(padded), repeats)

    whole_fit = jax.jit(lambda d: fits.fit(fit_spec, init, d))
    singles = [one(i) for i in range(n_fits)]
    t_fit_loop = best_time(lambda: [whole_fit(d) for d in singles], 1)

    step = jax.jit(lambda s, d: fits.fit_step(fit_spec, s, d))
    start = jax.jit(lambda d: fits.init_fit(fit_spec, init, d))

    def step_loop():
        out = []
        for d in singles:
            state = start(d)
            while not bool(state.done):
                state = step(state, d)
            out.append(state.steps)
        return out

    t_step_loop = best_time(step_loop, 1)
    steps = np.asarray(result.steps)[:n_fits]
    # Float rounding differs between layouts, so a fit whose validation loss sits on the
    # min_delta threshold may stop a step apart; report how many stop identically.
    same_stop = float(np.mean(steps == np.asarray(step_loop())))
    step_cost = jax.jit(lambda s, d: fits.fit_step(fit_spec, s, d)).lower(
        start(singles[0]), singles[0]).compile().cost_analysis()
    step_cost = step_cost[0] if isinstance(step_cost, (list, tuple)) else step_cost
    return {"n_fits": n_fits, "t_many": t_many, "t_fit_loop": t_fit_loop,
            "t_step_loop": t_step_loop, "useful_flops": float(step_cost["flops"]) * steps.sum(),
            "total_steps": int(steps.sum()), "same_stop": same_stop}


# The fits of the PyTorch reference's SGD baseline: sizes log-uniform on [5, 2000]
# (the pinned workload of the SGD bench: Lightning's rule, flax init), cut into these
# n_train buckets, with this many lanes per device (the best of scripts/bench_sgd_speed.py).
REF_FIT_BUCKETS, REF_FIT_LANES = (64, 256, 1024), 4


def sgd_ref_sizes(spec: str, n_fits: int, repeats: int) -> dict:
    """The sgd_ref_* keys: ms per fit-step and useful FLOP fraction (FLOPs, not yet
    divided by the peak) of ``n_fits`` fits at the reference's sizes, one program per bucket."""
    _, fit_spec, data, init = pinned_fits(spec, reference_fit_sizes(n_fits), 1)
    n_train, n_val = np.asarray(data.n_train), np.asarray(data.n_val)
    ex = runs.Executor("vmap", devices=jax.local_device_count())
    many = jax.jit(fits.fit_many_bucketed_on(ex, fit_spec, init, n_train, n_val,
                                             REF_FIT_BUCKETS, REF_FIT_LANES))
    result = jax.device_get(many(data))
    t = best_time(lambda: many(data), repeats)
    steps = np.asarray(result.steps)
    # Useful FLOPs: forward and backward of the MLP's matmuls (6 per weight per row) on the
    # rows a step actually trains on (an epoch of n_train rows in ceil(n_train / batch) steps).
    weights = sum(np.size(k) for k in jax.tree.leaves(
        jax.tree_util.tree_map_with_path(lambda p, a: a if "kernel" in str(p[-1]) else None, init)))
    rows_per_step = n_train / np.ceil(n_train / fit_spec.batch_size)
    flops = float(np.sum(6 * weights * rows_per_step * steps))
    return {"sgd_ref_n_fits": len(steps), "sgd_ref_total_steps": int(steps.sum()),
            "sgd_ref_ms_per_fit_step": t / steps.sum() * 1e3, "sgd_ref_s": t,
            "sgd_ref_useful_flops": flops,
            "sgd_ref_lane_occupancy": float(steps.sum() / np.sum(result.lane_steps))}


def mastermind_oracle(quick: bool, repeats: int) -> float:
    """Episodes per second of the exact Mastermind oracle (4 episodes per call)."""
    game = Mastermind(code_length=4, n_colours=4, code_colours=3) if quick else Mastermind()
    ep = game.sample(jax.random.PRNGKey(0), 4, 100)
    f = jax.jit(lambda x, y: jax.lax.map(lambda a: game.bayes_nll(*a), (x, y)))
    return 4 / best_time(lambda: f(ep.x, ep.y), repeats)


def bench(quick: bool, peak: float) -> dict:
    """Every key above, measured in this process (FLOP fractions against ``peak``)."""
    spec = CONFIG + (":smoke" if quick else "")
    chunk, repeats = (2, 1) if quick else (10, 3)
    tuned = seed_parallel(spec, chunk, repeats, runs.Executor("vmap", devices=jax.local_device_count()))
    naive = seed_parallel(spec, chunk, repeats, runs.Executor("vmap"), "--config.train.micro_batches=1")
    flops = step_flops(spec, 8)
    flops_per_s = flops * chunk / tuned["t_many"]
    short = ("--config.train.steps=10", "--config.train.chunk_steps=10", "--config.train.warmup_steps=1",
             "--config.eval.n_tasks=64", "--config.sweep.n_seeds=1")
    start = startup_times(spec, *short)
    sgd = sgd_fits(spec, 4 if quick else 16, 2 if quick else 4, repeats)
    sgd_ref = sgd_ref_sizes(spec, 8 if quick else 64, 1 if quick else 2)
    mastermind = mastermind_oracle(quick, repeats)
    arch = architecture_step_times(spec, chunk, repeats,
                                   runs.Executor("vmap", devices=jax.local_device_count()))
    ref = (reference_config_times(2, 1, *QUICK_SHAPES) if quick
           else reference_config_times(REF_TIMING_CHUNK, REF_TIMING_CHUNKS))
    cli = (cli_overhead(2, 4, 1, *QUICK_SHAPES, "--config.eval.n_points=16",
                        "--config.eval.report_n=(1, 2, 5, 10)") if quick
           else cli_overhead(100, 400, repeats))
    result = {
        "seed_parallel_speedup": tuned["t_loop"] / tuned["t_many"],
        "seed_parallel_speedup_naive": naive["t_loop"] / naive["t_many"],
        "ms_per_seed_step_one_program": tuned["t_many"] / (8 * chunk) * 1e3,
        "ms_per_seed_step_loop": tuned["t_loop"] / (8 * chunk) * 1e3,
        "ms_per_seed_step_naive_vmap": naive["t_many"] / (8 * chunk) * 1e3,
        "train_step_gflop_8_seeds": flops / 1e9,
        "train_step_gflops": flops_per_s / 1e9,
        "train_step_flops_fraction": flops_per_s / 1e9 / peak,
        **start,
        "sgd_n_fits": sgd["n_fits"],
        "sgd_fits_per_s": sgd["n_fits"] / sgd["t_many"],
        "sgd_vs_step_loop": sgd["t_step_loop"] / sgd["t_many"],
        "sgd_vs_jitted_fit_loop": sgd["t_fit_loop"] / sgd["t_many"],
        "sgd_flops_fraction": sgd["useful_flops"] / sgd["t_many"] / 1e9 / peak,
        "sgd_vs_jitted_fit_loop_at_peak": sgd["t_fit_loop"] / (sgd["useful_flops"] / 1e9 / peak),
        "sgd_total_steps": sgd["total_steps"],
        "sgd_same_stop_fraction": sgd["same_stop"],
        **sgd_ref,
        "sgd_ref_flops_fraction": sgd_ref["sgd_ref_useful_flops"] / sgd_ref["sgd_ref_s"] / 1e9 / peak,
        "mastermind_oracle_episodes_per_s": mastermind,
        **arch,
        "mamba_associative_vs_sequential_scan": (arch["ms_per_seed_step_mamba_associative_scan"]
                                                 / arch["ms_per_seed_step_mamba"]),
        **ref,
        **cli,
    }
    return result
