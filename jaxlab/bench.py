"""``jaxlab bench``: speed ratios measured in one run, written to ``<workdir>/bench.json``.

The machine's matmul peak (``matmul_peak_gflops``, the base of every FLOP fraction), then
each registered paper's ``bench(quick, peak_gflops)`` keys (see each paper's bench module;
``--only NAME`` restricts to one paper). Part of the command line: it looks papers up.
"""
from __future__ import annotations

import json
import os

import jax

from jaxlab import papers
from jaxlab.timing import matmul_peak_gflops


def main(workdir: str, quick: bool = False, only: str | None = None) -> dict:
    os.makedirs(workdir, exist_ok=True)
    print(f"jaxlab bench on {jax.device_count()} {jax.default_backend()} device(s)", flush=True)
    peak = matmul_peak_gflops(512 if quick else 2048)
    print(f"  matmul peak: {peak:.0f} GFLOP/s", flush=True)
    result = {"device_count": jax.device_count(), "backend": jax.default_backend(),
              "matmul_peak_gflops": peak}
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
