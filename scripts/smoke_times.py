"""Times every paper's smoke run with an empty and with a warm compilation cache.

    python scripts/smoke_times.py [--out docs/results/run_times.json] [SPEC ...]

Each SPEC (default: every ``configs/<paper>.py:smoke`` the studies table lists) runs as
``jaxlab run SPEC --workdir <fresh> --no-progress`` twice: first with a new, empty
JAXLAB_CACHE_DIR (cold: a first run on a new machine), then again in a new workdir with
the cache the first run filled (warm: every later run). Wall time and the child's CPU time
(user + sys, from getrusage) are recorded; on a shared machine the wall time includes
waiting for the other jobs, the CPU time does not. ``--out`` adds the runs measured to
that file (keeping the others), each with its date and the load average it ran at: the
README's table of first and cached runs and ``jaxlab list``'s times quote it (tested).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = ("configs/example_sine.py:smoke", "configs/icl_occam.py:smoke",
         "configs/compositionality.py:smoke", "configs/compositionality.py:emergent,smoke",
         "configs/metahmm.py:smoke", "configs/icl_figures.py:panels,smoke")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(cmd: list[str], env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("specs", nargs="*", default=list(SPECS))
    p.add_argument("--out", help="write the measurements here as JSON")
    args = p.parse_args()
    out = {"measured": {"date": datetime.date.today().isoformat(),
                        "cpu": f"{cpu_model()}, {os.cpu_count()} cores"}, "runs": {}}
    for spec in args.specs:
        tmp = tempfile.mkdtemp(prefix="jaxlab-smoke-")
        env = {**os.environ, "JAXLAB_CACHE_DIR": os.path.join(tmp, "xla")}
        row = {"date": out["measured"]["date"], "cpu": out["measured"]["cpu"], "load_average": round(os.getloadavg()[0], 1)}
        for kind in ("cold", "warm"):
            cmd = [sys.executable, "-m", "jaxlab.cli", "run", spec, "--workdir",
                   os.path.join(tmp, kind), "--no-progress"]
            row[kind] = timed(cmd, env)
            print(f"{spec:<45} {kind}: {row[kind]['wall_s']:6.1f} s wall, "
                  f"{row[kind]['cpu_s']:6.1f} s CPU (user+sys)", flush=True)
        out["runs"][spec] = row
        shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        previous = json.load(open(args.out)) if os.path.exists(args.out) else {}
        out["runs"] = {**previous.get("runs", {}), **out["runs"]}
        out["measured"] = {**previous.get("measured", {}), **out["measured"]}
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
