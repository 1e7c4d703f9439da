"""``jaxlab bench``: speed ratios measured in one run, written to ``<workdir>/bench.json``.

The machine's matmul peak (``matmul_peak_gflops``, the base of every FLOP fraction), then
each registered paper's ``bench(quick, peak_gflops)`` keys (see each paper's bench module;
``--only NAME`` restricts to one paper). Part of the command line: it looks papers up.
"""
from __future__ import annotations

import datetime
import json
import os
import platform

import jax

from jaxlab import papers
from jaxlab.timing import matmul_peak_gflops


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo) and core count: ratios measured on
    different machines are told apart by it."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def main(workdir: str, quick: bool = False, only: str | None = None) -> dict:
    os.makedirs(workdir, exist_ok=True)
    print(f"jaxlab bench on {jax.device_count()} {jax.default_backend()} device(s)", flush=True)
    peak = matmul_peak_gflops(512 if quick else 2048)
    print(f"  matmul peak: {peak:.0f} GFLOP/s", flush=True)
    result = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(),
              "device_count": jax.device_count(), "backend": jax.default_backend(),
              "jax_version": jax.__version__, "matmul_peak_gflops": peak}
    for name in (only,) if only else papers.names():
        paper = papers.get(name)
        if hasattr(paper, "bench"):
            print(f"  {name} ...", flush=True)
            result.update(paper.bench(quick, peak))
    path = os.path.join(workdir, "bench.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    width = max(map(len, result))
    for k, v in result.items():
        print(f"  {k:<{width}}  {v:.3f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    print(f"wrote {path}")
    return result
