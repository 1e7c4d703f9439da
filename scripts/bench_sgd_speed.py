"""Before/after cost of the ICL study's SGD fits (``jaxlab.coding.fits``), in one run.

    python scripts/bench_sgd_speed.py [--base main] [--icl-sizes 16] [--icl-tasks 4]
        [--ref-fits 64] [--lanes 8] [--chunk 8] [--variants lanes=16,chunk=8 ...]

"before" is ``jaxlab/coding/fits.py`` as committed on ``--base`` (loaded from git), "after"
the working tree's; both run the same fits on the same 2 CPU devices, alternating, so the
ratio is measured under the same load. Two workloads:
  * icl: ``--icl-sizes`` sizes log-spaced over the study's n = 5..100, ``--icl-tasks`` tasks
    each, the study's defaults (tolerant stop rule, torch init);
  * ref: ``--ref-fits`` fits with n log-uniform on [5, 2000] (the reference's size
    distribution), Lightning's rule and flax init (the bench's pinned workload: shorter fits).
Prints wall seconds, fit-steps per second, ms per fit-step, and how many fits stop at the
same step with the same validation loss as "before".
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxlab.cli import use_cpu_cores_as_devices  # noqa: E402

use_cpu_cores_as_devices()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxlab import config as config_lib  # noqa: E402
from jaxlab import runs  # noqa: E402
from jaxlab.coding import fits as new_fits  # noqa: E402
from jaxlab.papers.icl_occam import sgd as icl_sgd  # noqa: E402
from jaxlab.papers.icl_occam.bench import reference_fit_sizes  # noqa: E402

CONFIG = "configs/icl_occam.py"


def load_base(ref: str):
    src = subprocess.run(["git", "show", f"{ref}:jaxlab/coding/fits.py"], check=True,
                         capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout
    path = os.path.join(tempfile.mkdtemp(), "fits_base.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("fits_base", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fits_base"] = mod
    spec.loader.exec_module(mod)
    return mod


def workload(sizes, tasks: int, overrides=()):
    config = config_lib.load(CONFIG, [f"--config.sgd.sizes={tuple(int(n) for n in sizes)}",
                                      f"--config.sgd.tasks_per_size={tasks}", *overrides])
    data, (_, x_test, _) = icl_sgd.fit_data(config, jax.random.PRNGKey(0))
    _, model = icl_sgd.make_spec(config, 1)
    init = model.init(jax.random.PRNGKey(1), x_test[0, :1])
    return config, data, init


def run(mod, config, data, init, lanes: int, chunk: int, buckets=None):
    spec, _ = icl_sgd.make_spec(config, 1)
    spec = mod.FitSpec(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(mod.FitSpec)})
    spec = dataclasses.replace(spec, chunk_steps=chunk)
    ex = runs.Executor("vmap", devices=jax.local_device_count())
    n_fits = data.n_train.shape[0]
    padded = ex.place(runs.pad_runs(data, ex.padded(n_fits)))
    if buckets:
        n_val = np.asarray(data.n_val)
        many = jax.jit(mod.fit_many_bucketed_on(ex, spec, init, np.asarray(data.n_train), n_val,
                                                buckets, lanes))
    else:
        many = jax.jit(mod.fit_many_on(ex, spec, init, lanes))
    t0 = time.time()
    compiled = many.lower(padded).compile()
    t_compile = time.time() - t0
    t0 = time.time()
    res = jax.device_get(compiled(padded))
    wall = time.time() - t0
    res = jax.tree.map(lambda a: np.asarray(a)[:n_fits], res)
    return wall, t_compile, res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="main")
    p.add_argument("--icl-sizes", type=int, default=16)
    p.add_argument("--icl-tasks", type=int, default=4)
    p.add_argument("--ref-fits", type=int, default=64)
    p.add_argument("--lanes", type=int, default=8)
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--variants", nargs="*", default=[],
                   help="after-variants as lanes=L,chunk=C,buckets=E1/E2/.. (n_train edges; "
                        "default: the same as before)")
    p.add_argument("--workloads", default="icl,ref")
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    base = load_base(a.base)
    print(f"devices: {jax.devices()}; before = {a.base}:jaxlab/coding/fits.py", flush=True)
    loads = {}
    if "icl" in a.workloads:
        sizes = np.unique(np.geomspace(5, 100, a.icl_sizes).astype(int))
        loads["icl"] = workload(sizes, a.icl_tasks)
    if "ref" in a.workloads:
        sizes = reference_fit_sizes(a.ref_fits)
        loads["ref"] = workload(sizes, 1, ["--config.sgd.stop_rule=lightning",
                                           "--config.sgd.init=flax"])
    variants = [dict(kv.split("=") for kv in v.split(",")) for v in a.variants] or [{}]
    for name, (config, data, init) in loads.items():
        n = data.n_train.shape[0]
        rows = [("before", base, a.lanes, a.chunk, None)]
        for v in variants:
            edges = tuple(int(e) for e in v["buckets"].split("/")) if v.get("buckets") else None
            rows.append((f"after {','.join(f'{k}={x}' for k, x in v.items())}", new_fits,
                         int(v.get("lanes", a.lanes)), int(v.get("chunk", a.chunk)), edges))
        ref = None
        times = {r[0]: [] for r in rows}
        for rep in range(a.repeats):
            for label, mod, lanes, chunk, edges in rows:
                wall, tc, res = run(mod, config, data, init, lanes, chunk, edges)
                times[label].append(wall)
                if ref is None:
                    ref = res
                steps = int(res.steps.sum())
                same = np.mean((res.steps == ref.steps) & (res.best_loss == ref.best_loss))
                same_steps = np.mean(res.steps == ref.steps)
                print(f"[{name}] {n} fits, {label:36s} lanes {lanes:3d} chunk {chunk:4d}: "
                      f"{wall:7.2f} s (compile {tc:5.1f} s), {steps} fit-steps, "
                      f"{steps / wall:8.0f} fit-steps/s, {1e3 * wall / steps:.4f} ms/fit-step; "
                      f"same stop step {same_steps:.3f}, same step+val loss {same:.3f}, "
                      f"max |d val loss| {np.max(np.abs(res.best_loss - ref.best_loss)):.2e}",
                      flush=True)
        b = min(times["before"])
        for label in times:
            print(f"[{name}] {label:36s}: best {min(times[label]):.2f} s, before/this = "
                  f"{b / min(times[label]):.2f}x", flush=True)


if __name__ == "__main__":
    main()
