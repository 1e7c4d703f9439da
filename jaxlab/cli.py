"""The ``jaxlab`` command.

    jaxlab run CONFIG[:ARG] --workdir DIR [--config.a.b=value ...]
    jaxlab bench --workdir DIR [--quick]

Config mistakes print one line naming the field and exit with status 2, before anything
is written.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading


def use_cpu_cores_as_devices() -> None:
    """On a CPU host, expose each core as a device so the run axis is sharded over cores.

    XLA:CPU runs element-wise work on one thread per device; with one device per core the
    runs' softmaxes, norms and optimizer updates run in parallel (measured by ``jaxlab
    bench``). Must run before jax is imported; ``JAXLAB_CPU_DEVICES=1`` or an explicit
    ``--xla_force_host_platform_device_count`` in XLA_FLAGS turns it off. Accelerators
    are unaffected (their own devices are used).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return
    n = int(os.environ.get("JAXLAB_CPU_DEVICES", os.cpu_count() or 1))
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def _setup_jax() -> None:
    """Persistent compilation cache (so re-runs start fast)."""
    import jax

    cache = os.environ.get("JAXLAB_CACHE_DIR", os.path.expanduser("~/.cache/jaxlab/xla"))
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _stop_on_signals() -> threading.Event:
    """SIGTERM / SIGINT ask the run to stop at the end of the current chunk (a second
    SIGINT interrupts at once; the newest checkpoint is still there)."""
    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        print(f"jaxlab: {signal.Signals(signum).name}: stopping after the current chunk",
              file=sys.stderr)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jaxlab", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and evaluate a study")
    r.add_argument("config", help="config file, optionally with :ARG (e.g. configs/icl_occam.py:smoke)")
    r.add_argument("--workdir", required=True, help="where checkpoints and results go")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    b = sub.add_parser("bench", help="measure speed ratios and write bench.json")
    b.add_argument("--workdir", required=True)
    b.add_argument("--quick", action="store_true", help="tiny sizes (checks the benchmark runs)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    use_cpu_cores_as_devices()
    known = [a for a in argv if not a.startswith("--config.")]
    overrides = [a for a in argv if a.startswith("--config.")]
    args = _parser().parse_args(known)
    logging.basicConfig(level=logging.INFO, format="jaxlab: %(message)s")
    for noisy in ("absl", "orbax", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from jaxlab.config import ConfigError

    try:
        if args.command == "run":
            from jaxlab import config as config_lib
            from jaxlab import experiment

            config = config_lib.load(args.config, overrides)
            _setup_jax()
            stop = _stop_on_signals()
            results = experiment.run(config, args.workdir, progress=not args.no_progress,
                                     should_stop=lambda _: stop.is_set())
            if results is None:
                print(f"jaxlab: stopped by a signal; the last chunk is checkpointed in "
                      f"{args.workdir}: run the same command to resume", file=sys.stderr)
                return 143
            with open(os.path.join(args.workdir, "table.txt")) as f:
                print(f.read(), end="")
            print(f"results: {results.workdir} (figure.png, eval.parquet, train.parquet)")
            if results.manifest.get("diverged"):
                print(f"diverged runs (eval rows are NaN): {results.manifest['diverged']}")
        elif args.command == "bench":
            if overrides:
                raise ConfigError("jaxlab bench takes no --config overrides")
            _setup_jax()
            from jaxlab import bench

            bench.main(args.workdir, quick=args.quick)
    except ConfigError as e:
        print(f"jaxlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxlab: interrupted; the run resumes from its last checkpoint", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
