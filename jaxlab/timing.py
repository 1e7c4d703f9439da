"""Timing helpers for benchmarks: best-of-n wall time and the machine's matmul peak
(the base of every FLOP fraction; only ratios taken in one run carry across machines)."""
from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Minimum wall time of ``fn()`` (blocked until ready) over ``repeats`` calls."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of ``repeats`` calls of each function (blocked until ready, after one
    warm-up call each), their calls interleaved round by round, so load from elsewhere on a
    shared machine falls on all of them alike (for ratios)."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t)
    return times


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    return 2 * n**3 / best_time(lambda: f(a), repeats) / 1e9
