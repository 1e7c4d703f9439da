#!/usr/bin/env python
"""Fault injection: kill ``jaxlab run`` at random moments, resume, compare with an uninterrupted run.

    python scripts/fault_inject.py --kills 20 --corrupt 2 --seed 0 --out faults.json

1. Runs the study once, uninterrupted (the reference; its wall time T sets the range of kill
   moments).
2. ``--kills`` times: starts the same command in a fresh workdir, sends SIGKILL or SIGTERM
   (alternating) at a random moment (default: one of the run's stretches, i.e. start-up,
   any one chunk, or the final evaluation and writing, chosen uniformly, then a uniform
   moment inside it, so kills land in every phase even on a loaded machine;
   ``--moments uniform``: a uniform delay in [0, T)); a run that finishes first is
   recorded, checked, and the fault redrawn. Checks that every file a reader
   would open (``*.parquet``, ``manifest.json``, ``config.json``) still parses, then runs
   the same command again to completion and compares every table with the reference
   (exact equality on CPU).
3. ``--corrupt`` times: stops a run with SIGTERM once two checkpoints exist, damages the
   newest (alternately: truncates its files, or flips bytes in its largest array file),
   resumes, and checks that the damage was reported and the tables are identical.

A fault loses data when the resume fails, a table differs, or a file was left unreadable.
Prints one line per fault and a summary (``faults injected / resumed identical / data
lost``); ``--out`` writes it all as JSON. Default study: the smoke config without the SGD
learner, 40 steps in chunks of 5 (8 checkpoints), about 6 s per uninterrupted run here.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "icl_occam.py") + ":smoke"
OVERRIDES = ("--config.sgd.enabled=False", "--config.train.steps=40", "--config.train.chunk_steps=5")


def command(workdir: str, config: str = CONFIG, overrides=OVERRIDES) -> list[str]:
    return [sys.executable, "-m", "jaxlab.cli", "run", config, "--workdir", workdir,
            "--no-progress", *overrides]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def tables(workdir: str) -> dict[str, pd.DataFrame]:
    return {f[: -len(".parquet")]: pd.read_parquet(os.path.join(workdir, f))
            for f in sorted(os.listdir(workdir)) if f.endswith(".parquet")}


def unreadable(workdir: str) -> list[str]:
    """Files a reader would open that do not parse (a half-written table or manifest)."""
    bad = []
    if not os.path.isdir(workdir):
        return bad
    for f in os.listdir(workdir):
        path = os.path.join(workdir, f)
        try:
            if f.endswith(".parquet"):
                pd.read_parquet(path)
            elif f in ("manifest.json", "config.json"):
                with open(path) as fh:
                    json.load(fh)
        except Exception as e:  # noqa: BLE001 - any failure is a finding
            bad.append(f"{f}: {type(e).__name__}")
    return bad


def identical(got: dict, want: dict) -> str | None:
    """None if both hold the same tables with exactly the same values, else why not."""
    if set(got) != set(want):
        return f"tables {sorted(got)} != {sorted(want)}"
    for name in want:
        try:
            pd.testing.assert_frame_equal(got[name], want[name], check_exact=True)
        except AssertionError as e:
            return f"{name}: {str(e).splitlines()[0]}"
    return None


def _total_steps(workdir: str) -> int | None:
    try:
        with open(os.path.join(workdir, "config.json")) as f:
            return json.load(f)["train"]["steps"]
    except Exception:  # noqa: BLE001 - not written yet, or mid-write
        return None


def checkpoint_steps(workdir: str) -> list[int]:
    d = os.path.join(workdir, "checkpoints", "train")
    return sorted(int(s) for s in os.listdir(d) if s.isdigit()) if os.path.isdir(d) else []


def run_to_end(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)


def reference(workdir: str, cmd_args: dict, timeout: float) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = run_to_end(command(workdir, **cmd_args), timeout)
    duration = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"the uninterrupted run failed:\n{out.stderr[-3000:]}")
    return tables(workdir), duration


def kill_and_resume(workdir: str, sig: signal.Signals, delay: float, ref: dict, cmd_args: dict,
                    timeout: float) -> dict:
    cmd = command(workdir, **cmd_args)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    after_step, delay = delay if isinstance(delay, tuple) else (0, delay)
    while after_step and proc.poll() is None and max(checkpoint_steps(workdir), default=0) < after_step:
        time.sleep(0.02)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        pass
    delivered = proc.poll() is None  # still running: the signal reaches a live run
    if delivered:
        proc.send_signal(sig)
    proc.wait(timeout=timeout)
    if sig == signal.SIGKILL and proc.returncode != -signal.SIGKILL:
        delivered = False  # it exited on its own in the instant before the signal
    status = "none"
    if os.path.exists(os.path.join(workdir, "manifest.json")):
        try:
            with open(os.path.join(workdir, "manifest.json")) as f:
                status = json.load(f).get("status", "none")
        except Exception:  # noqa: BLE001 - reported by unreadable()
            status = "unreadable"
    steps = checkpoint_steps(workdir)
    total = _total_steps(workdir)
    phase = ("finished" if status == "done" else "before the first checkpoint" if not steps
             else "training" if total is None or steps[-1] < total else "evaluating/writing")
    record = {"signal": sig.name, "after_step": after_step, "delay_s": round(delay, 3),
              "delivered": delivered,
              "phase": phase,
              "exit": proc.returncode, "status_after_kill": status,
              "checkpoints_after_kill": checkpoint_steps(workdir), "unreadable": unreadable(workdir)}
    resumed = run_to_end(cmd, timeout)
    record["resume_exit"] = resumed.returncode
    record["resumed_from"] = next((line.split()[-1] for line in resumed.stderr.splitlines()
                                   if "resumed from the checkpoint at step" in line), None)
    record["difference"] = (identical(tables(workdir), ref) if resumed.returncode == 0
                            else f"resume failed: {resumed.stderr.strip().splitlines()[-1:]}")
    record["identical"] = record["difference"] is None
    record["data_lost"] = not record["identical"] or bool(record["unreadable"])
    return record


def damage(step_dir: str, mode: str) -> str:
    files = [os.path.join(d, f) for d, _, fs in os.walk(step_dir) for f in fs]
    files = [f for f in files if os.path.getsize(f) > 0]
    if mode == "truncate":
        for f in files:
            with open(f, "r+b") as fh:
                fh.truncate(os.path.getsize(f) // 3)
        return f"truncated {len(files)} files"
    arrays = [f for f in files if f"{os.sep}state{os.sep}" in f] or files
    target = max(arrays, key=os.path.getsize)
    with open(target, "r+b") as fh:
        data = bytearray(fh.read())
        for i in range(len(data) // 2, len(data), max(1, len(data) // 64)):
            data[i] ^= 0xFF
        fh.seek(0)
        fh.write(data)
    return f"flipped bytes in {os.path.relpath(target, step_dir)}"


def corrupt_and_resume(workdir: str, mode: str, ref: dict, cmd_args: dict, timeout: float) -> dict:
    cmd = command(workdir, **cmd_args)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while len(checkpoint_steps(workdir)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=timeout)
    steps = checkpoint_steps(workdir)
    record = {"mode": mode, "exit": proc.returncode, "checkpoints": steps}
    if len(steps) < 2:
        record.update(identical=False, data_lost=True, difference="fewer than two checkpoints")
        return record
    record["damage"] = damage(os.path.join(workdir, "checkpoints", "train", str(steps[-1])), mode)
    resumed = run_to_end(cmd, timeout)
    record["resume_exit"] = resumed.returncode
    record["detected"] = "unreadable or corrupt" in resumed.stderr
    record["resumed_from"] = next((line.split()[-1] for line in resumed.stderr.splitlines()
                                   if "resumed from the checkpoint at step" in line), None)
    record["difference"] = (identical(tables(workdir), ref) if resumed.returncode == 0
                            else f"resume failed: {resumed.stderr.strip().splitlines()[-1:]}")
    record["identical"] = record["difference"] is None
    record["data_lost"] = not record["identical"]
    return record


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--corrupt", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--moments", choices=("stretch", "uniform"), default="stretch",
                   help="stretch: pick start-up, one chunk, or the final writing uniformly, "
                        "then a uniform moment inside it (timed on the reference run; robust "
                        "to a loaded machine); uniform: a uniform delay in [0, T)")
    p.add_argument("--workroot", default=None, help="where the workdirs go (default: a temp dir)")
    p.add_argument("--config", default=CONFIG)
    p.add_argument("--timeout", type=float, default=900.0, help="per process, seconds")
    p.add_argument("--out", help="write the summary and every record as JSON")
    p.epilog = f"Any --config.a.b=value arguments replace the default overrides ({' '.join(OVERRIDES)})."
    argv = sys.argv[1:] if argv is None else list(argv)
    overrides = [a for a in argv if a.startswith("--config.")]
    args = p.parse_args([a for a in argv if not a.startswith("--config.")])
    args.overrides = overrides
    import tempfile

    root = args.workroot or tempfile.mkdtemp(prefix="jaxlab-faults-")
    os.makedirs(root, exist_ok=True)
    cmd_args = {"config": args.config, "overrides": tuple(args.overrides) or OVERRIDES}
    rng = random.Random(args.seed)
    ref, duration = reference(os.path.join(root, "reference"), cmd_args, args.timeout)
    print(f"reference: {duration:.1f} s uninterrupted; tables {sorted(ref)}", flush=True)
    with open(os.path.join(root, "reference", "manifest.json")) as f:
        m = json.load(f)
    with open(os.path.join(root, "reference", "config.json")) as f:
        train = json.load(f)["train"]
    chunks = train["steps"] // train["chunk_steps"]
    timing = {"chunks": chunks, "chunk_steps": train["chunk_steps"], "startup_s": m["startup_s"],
              "chunk_s": m["train_s"] / chunks,
              "end_s": max(0.5, m["wall_s"] - m["startup_s"] - m["train_s"])}
    kills = []
    attempt = 0
    while sum(r["delivered"] for r in kills) < args.kills and attempt < 3 * args.kills:
        i = sum(r["delivered"] for r in kills)  # a run that finished first is redrawn
        sig = signal.SIGKILL if i % 2 == 0 else signal.SIGTERM
        if args.moments == "uniform":
            delay = rng.uniform(0.0, duration)
        else:  # a uniformly chosen stretch: start-up, one of the chunks, or the writing
            c = rng.randint(0, timing["chunks"])
            span = timing["startup_s"] if c == 0 else timing["chunk_s"] if c < timing["chunks"] \
                else timing["end_s"]
            delay = (c * timing["chunk_steps"], rng.uniform(0.0, span))
        workdir = os.path.join(root, f"kill-{attempt:02d}")
        attempt += 1
        r = kill_and_resume(workdir, sig, delay, ref, cmd_args, args.timeout)
        kills.append(r)
        when = (f"{delay:5.2f} s" if not isinstance(delay, tuple)
                else f"{delay[1]:5.2f} s after step {delay[0]:3d}")
        print(f"kill {i:2d}: {sig.name:7s} {when}  exit {r['exit']}  "
              f"{'' if r['delivered'] else '(finished first) '}{r['phase']:27s} "
              f"ckpts {r['checkpoints_after_kill']}  "
              f"resumed from {r['resumed_from']}  "
              f"{'identical' if r['identical'] else 'DIFFERENT: ' + str(r['difference'])}"
              f"{'  UNREADABLE: ' + str(r['unreadable']) if r['unreadable'] else ''}", flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    corrupt = []
    for i in range(args.corrupt):
        mode = ("flip", "truncate")[i % 2]
        workdir = os.path.join(root, f"corrupt-{i:02d}")
        r = corrupt_and_resume(workdir, mode, ref, cmd_args, args.timeout)
        corrupt.append(r)
        print(f"corrupt {i}: {r.get('damage', '?')} in step {r['checkpoints'][-1:]}; detected "
              f"{r.get('detected')}; resumed from {r.get('resumed_from')}; "
              f"{'identical' if r['identical'] else 'DIFFERENT: ' + str(r['difference'])}", flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    delivered = [r for r in kills if r["delivered"]]
    summary = {
        "faults_injected": len(delivered) + len(corrupt),
        "kills_delivered": len(delivered),
        "sigkill": sum(r["signal"] == "SIGKILL" for r in delivered),
        "sigterm": sum(r["signal"] == "SIGTERM" for r in delivered),
        "finished_before_signal": len(kills) - len(delivered),
        "kills_by_phase": {ph: sum(r["phase"] == ph for r in delivered) for ph in
                           ("before the first checkpoint", "training", "evaluating/writing", "finished")},
        "corrupted_checkpoints": len(corrupt),
        "corruption_detected": sum(bool(r.get("detected")) for r in corrupt),
        "resumed_identical": sum(r["identical"] for r in kills + corrupt),
        "runs_compared": len(kills) + len(corrupt),
        "data_lost": sum(r["data_lost"] for r in kills + corrupt),
        "reference_s": round(duration, 2),
    }
    print("summary: " + ", ".join(f"{k}={v}" for k, v in summary.items()), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"summary": summary, "kills": kills, "corrupt": corrupt}, f, indent=2)
    if not args.workroot:
        shutil.rmtree(root, ignore_errors=True)
    return summary


if __name__ == "__main__":
    s = main()
    sys.exit(0 if s["data_lost"] == 0 and s["resumed_identical"] == s["runs_compared"] else 1)
