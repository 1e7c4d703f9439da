"""What ``jaxlab run`` adds to the bare training program, in one run (and, with ``--base``,
the same for an older commit, so a change to the chunk loop is measured under one load).

    python scripts/bench_cli_overhead.py [--chunk 100] [--steps 400] [--rounds 3] [--base REV]

One seed of the PyTorch reference's CPU-sized ICL config (``REFERENCE_CONFIG``): each round
times the bare chunk program for ``steps`` steps (called back-to-back in this process),
then ``jaxlab run`` in a subprocess (its manifest's steps_per_s: the chunk loop with
metrics, progress and checkpoints; start-up and evaluation excluded), then, with
``--base``, the same command from a temporary checkout of REV. Prints ms per step, best
over rounds, and the ratios run ÷ program (the ``cli_overhead`` of ``jaxlab bench``).
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from jaxlab.cli import use_cpu_cores_as_devices  # noqa: E402

use_cpu_cores_as_devices()

import jax  # noqa: E402

bench = importlib.import_module("jaxlab.papers.icl_occam.bench")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunk", type=int, default=100)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--base", default=None, help="also time jaxlab run as of this commit")
    a = p.parse_args()
    call, layout = bench.layout_step(1, a.chunk)
    jax.block_until_ready(call())
    print(f"devices {jax.device_count()}, layout {layout}", flush=True)
    times: dict[str, list[float]] = {"program": [], "run": []}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"run": ROOT}
        if a.base:
            roots["base"] = os.path.join(tmp, "base")
            times["base"] = []
            subprocess.run(["git", "worktree", "add", "--detach", roots["base"], a.base],
                           cwd=ROOT, check=True, capture_output=True)
        try:
            for r in range(a.rounds):
                times["program"].append(bench.chunks_ms_per_step(call, a.chunk, a.steps))
                for name, root in roots.items():
                    times[name].append(bench.cli_ms_per_step(os.path.join(tmp, f"{name}{r}"),
                                                             a.chunk, a.steps, root=root))
                print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in times.items())
                      + f" ms/step; load {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            if a.base:
                subprocess.run(["git", "worktree", "remove", "--force", roots["base"]], cwd=ROOT,
                               capture_output=True)
    best = {k: min(v) for k, v in times.items()}
    print(f"chunk {a.chunk}, {a.steps} steps, best of {a.rounds}: "
          + ", ".join(f"{k} {v:.1f} ms/step" for k, v in best.items()))
    for name in best:
        if name != "program":
            print(f"  {name} / program = {best[name] / best['program']:.3f}")
    if "base" in best:
        print(f"  base / run = {best['base'] / best['run']:.3f}")


if __name__ == "__main__":
    main()
