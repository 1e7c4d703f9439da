"""The jaxlab command: train and evaluate the studies of a paper, one command each.

commands:
  jaxlab list                          every paper, its config file and its variants
  jaxlab run CONFIG[:VARIANT] --workdir DIR [--config.a.b=value ...]
                                       train and evaluate a study; the same command resumes
  jaxlab sweep CONFIG[:VARIANT] --workdir ROOT --axis a.b=v1,v2 [--launcher local|slurm]
                                       one job per point of fields that change shapes
  jaxlab bench --workdir DIR [--quick] speed ratios, written to DIR/bench.json

CONFIG is a config file, e.g. configs/icl_occam.py, or a paper's name (icl_occam): the
configs/ of this checkout, the directories of $JAXLAB_CONFIGS and the configs installed
with the package are searched. VARIANT picks a size or a sub-study, comma-separated
tokens such as smoke (a quick run, as the tests use), paper or sinusoid,smoke.

--config.a.b=value (or --config.a.b value) sets any field of the config, type-checked:
  jaxlab run configs/icl_occam.py:smoke --workdir runs/try --config.train.steps=50

examples:
  jaxlab list
  jaxlab run configs/example_sine.py:smoke --workdir runs/sine
  jaxlab run configs/icl_occam.py --workdir runs/icl_occam --config.sweep.n_seeds 2

Several processes (hosts) share one run with --distributed (jax.distributed, its cluster
auto-detection, e.g. under srun) or --coordinator HOST:PORT --num-processes N
--process-id I. Config mistakes print one line naming the field and exit with status 2,
before anything is written.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
from typing import Any, Sequence


def use_cpu_cores_as_devices() -> None:
    """On a CPU host, expose each core as a device so the run axis is sharded over cores.

    XLA:CPU runs element-wise work on one thread per device; with one device per core the
    runs' softmaxes, norms and optimizer updates run in parallel (measured by ``jaxlab
    bench``). Must run before jax is imported; ``JAXLAB_CPU_DEVICES=1`` or an explicit
    ``--xla_force_host_platform_device_count`` in XLA_FLAGS turns it off. Accelerators
    are unaffected (their own devices are used).

    Host devices meet at every cross-device collective (a data axis's ``pmean``, the
    fits' all-gathers). XLA kills the process when one device's thread is about a minute
    late for one (a 20 s warning, then 40 s), which happens on a CPU shared with other
    jobs (seen on a 2-core machine at a load of about 6); the 40 s become
    ``JAXLAB_COLLECTIVE_TIMEOUT_S`` (default 1800, XLA's own limit for a collective's
    execution) unless XLA_FLAGS sets them.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return
    n = int(os.environ.get("JAXLAB_CPU_DEVICES", os.cpu_count() or 1))
    flags = f"{flags} --xla_force_host_platform_device_count={n}"
    if "xla_cpu_collective_call_terminate_timeout_seconds" not in flags:
        timeout = int(os.environ.get("JAXLAB_COLLECTIVE_TIMEOUT_S", 1800))
        flags += f" --xla_cpu_collective_call_terminate_timeout_seconds={timeout}"
    os.environ["XLA_FLAGS"] = flags.strip()


def enable_compilation_cache() -> None:
    """Persistent compilation cache (so re-runs start fast)."""
    import jax

    cache = os.environ.get("JAXLAB_CACHE_DIR", os.path.expanduser("~/.cache/jaxlab/xla"))
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


QUICK_COMPILE_FLAG = "--xla_backend_optimization_level=0"


def quick_compile(mode: str, spec: str) -> bool:
    """Turns XLA's CPU code optimisations off (``mode`` "quick", or "auto" for a config
    whose variant includes ``smoke``): a smoke run's cold start is mostly LLVM optimising
    tiny programs (quick halved the ICL smoke's cold CPU time, with tables equal to the
    printed digits). Must run before jax creates its backend; the compilation cache keeps
    quick and optimized programs apart (XLA_FLAGS are part of its key)."""
    quick = mode == "quick" or (mode == "auto" and "smoke" in spec.partition(":")[2].split(","))
    flags = os.environ.get("XLA_FLAGS", "")
    if quick and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {QUICK_COMPILE_FLAG}".strip()
    return quick


def _init_distributed(args: argparse.Namespace) -> None:
    """Joins the processes of a multi-process run (before jax touches a device). CPU
    collectives across processes go through gloo."""
    if not (args.distributed or args.coordinator):
        return
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {}
    if args.coordinator:
        if args.num_processes is None or args.process_id is None:
            from jaxlab.config import ConfigError

            raise ConfigError("--coordinator needs --num-processes and --process-id")
        kwargs = dict(coordinator_address=args.coordinator, num_processes=args.num_processes,
                      process_id=args.process_id)
    jax.distributed.initialize(**kwargs)


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


RUN_HELP = """Trains and evaluates the study a config describes, writes its tables, table.txt
and figure.png to WORKDIR, prints the table and the files it wrote. Running the same
command again resumes an interrupted run from its last checkpoint, or reloads a finished
one.

CONFIG[:VARIANT]: a config file (configs/<paper>.py) or a paper's name, with optional
comma-separated variant tokens; `jaxlab list` prints every paper's variants and their
expected times. A first run compiles its programs (the compilation cache, in
$JAXLAB_CACHE_DIR or ~/.cache/jaxlab/xla, makes later runs start faster).

--config.a.b=value, or --config.a.b value, overrides any field of the config (repeat
for several); values are parsed as Python literals and type-checked against the field:
  --config.train.steps=50
  --config.sweep.n_seeds 2
  --config.sweep.axes.learning_rate="(1e-3, 3e-3)"     (a swept axis: runs in one program)
"""

RUN_EXAMPLES = """examples:
  jaxlab run configs/example_sine.py:smoke --workdir runs/sine_smoke
  jaxlab run configs/icl_occam.py:sinusoid,smoke --workdir runs/sin --config.train.steps=40
  jaxlab run metahmm:smoke --workdir runs/metahmm_smoke
then, in Python or a notebook (notebooks/<paper>.ipynb, with JAXLAB_WORKDIR=runs/...):
  from jaxlab import results; res = results.load("runs/sine_smoke"); res.tables
"""


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="jaxlab", description=__doc__.split("\n\nSeveral")[0],
                                formatter_class=raw)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", aliases=["papers"], help="every paper, its config and its variants",
                   description="Prints every registered paper, its config file and its variants "
                               "with what each runs and its expected time (imports no jax).")
    r = sub.add_parser("run", help="train and evaluate a study", description=RUN_HELP,
                       epilog=RUN_EXAMPLES, formatter_class=raw,
                       usage="jaxlab run CONFIG[:VARIANT] --workdir DIR [--config.a.b=value ...] "
                             "[options]")
    r.add_argument("config", metavar="CONFIG[:VARIANT]",
                   help="config file or paper name, optionally with :VARIANT "
                        "(e.g. configs/icl_occam.py:smoke); see `jaxlab list`")
    r.add_argument("--workdir", required=True, help="where checkpoints and results go")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument("--overwrite", action="store_true",
                   help="discard the run WORKDIR holds (checkpoints, tables) and start over")
    r.add_argument("--compile", choices=("auto", "quick", "optimized"), default="auto",
                   help="quick: XLA's code optimisations off, so a first run compiles about "
                        "twice as fast and runs slower; auto (default): quick for :smoke "
                        "variants, optimized otherwise")
    r.add_argument("--tensorboard", action="store_true",
                   help="TensorBoard event files in WORKDIR/tensorboard, one series per run")
    r.add_argument("--wandb", metavar="PROJECT", help="log train metrics to this W&B project")
    d = r.add_argument_group("several processes (jax.distributed)")
    d.add_argument("--distributed", action="store_true",
                   help="join the other processes of this job (cluster auto-detection)")
    d.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    d.add_argument("--num-processes", type=int)
    d.add_argument("--process-id", type=int)
    s = sub.add_parser("sweep", help="one job per point of fields that change shapes",
                       description="One `jaxlab run` job per point of the product of the --axis "
                                   "values (fields that change array shapes), each in ROOT/<config "
                                   "hash>; --config.a.b=value overrides apply to every job.")
    s.add_argument("config", metavar="CONFIG[:VARIANT]", help="config file or paper name, "
                                                             "optionally with :VARIANT")
    s.add_argument("--workdir", required=True, help="sweep root; job workdirs are ROOT/<config hash>")
    s.add_argument("--axis", action="append", default=[], metavar="FIELD=V1,V2",
                   help="a swept field and its values (repeat for a product); "
                        "tuple values as a list literal: 'field=[(1, 2), (3, 4)]'")
    s.add_argument("--launcher", choices=("local", "slurm"), default="local")
    s.add_argument("--parallel", type=int, default=1, help="local: jobs at a time")
    s.add_argument("--cluster", choices=("slurm", "local", "debug"), default=None,
                   help="slurm launcher: submitit cluster (default: SLURM if available; "
                        "'local' runs the array with submitit's local executor)")
    s.add_argument("--no-wait", action="store_true",
                   help="slurm launcher: return after submitting (default: wait for the jobs)")
    s.add_argument("--partition", help="SLURM partition")
    s.add_argument("--timeout-min", type=int, default=60)
    s.add_argument("--nodes", type=int, default=1)
    s.add_argument("--tasks-per-node", type=int, default=1,
                   help=">1 (or --nodes >1): the tasks of a job join by jax.distributed")
    s.add_argument("--gpus-per-node", type=int, default=0)
    s.add_argument("--cpus-per-task", type=int, default=None)
    s.add_argument("--mem-gb", type=float, default=None)
    s.add_argument("--array-parallelism", type=int, default=256)
    s.add_argument("--slurm-param", action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. account=abc or qos=high")
    b = sub.add_parser("bench", help="measure speed ratios and write bench.json")
    b.add_argument("--workdir", required=True)
    b.add_argument("--quick", action="store_true", help="tiny sizes (checks the benchmark runs)")
    b.add_argument("--only", metavar="PAPER", help="only this paper's keys (and the matmul peak)")
    return p


def _sweep(args: argparse.Namespace, overrides: list[str]) -> int:
    """Expands, records and launches a sweep; prints one line per job."""
    from jaxlab import sweep
    from jaxlab.config import ConfigError

    for flag in ("parallel", "timeout_min", "nodes", "tasks_per_node", "array_parallelism"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    for param in args.slurm_param:
        if "=" not in param or not param.split("=", 1)[0]:
            raise ConfigError(f"--slurm-param {param!r} is not of the form KEY=VALUE")
    if args.launcher == "slurm" and args.cluster in (None, "slurm") and not shutil.which("sbatch"):
        raise ConfigError("--launcher slurm: SLURM is not available here (no sbatch on PATH); "
                          "use --launcher local, or --cluster local to run the job array here")
    jobs = sweep.expand(args.config, overrides, args.axis, args.workdir)
    sweep.record(args.workdir, args.config, jobs)
    todo = []
    for job in jobs:
        state = sweep.status(job)
        if state == "done":
            print(f"{job.key}  {sweep.describe(job)}: finished, skipped")
        else:
            todo.append(job)
    if not todo:
        return 0
    multi = args.nodes * args.tasks_per_node > 1
    extra = ["--distributed"] if multi else []
    if args.launcher == "local":
        codes = sweep.launch_local(args.config, todo, args.workdir, args.parallel, extra)
    else:
        params = dict(timeout_min=args.timeout_min, nodes=args.nodes,
                      tasks_per_node=args.tasks_per_node, gpus_per_node=args.gpus_per_node,
                      slurm_array_parallelism=args.array_parallelism)
        if args.partition:
            params["slurm_partition"] = args.partition
        if args.cpus_per_task:
            params["cpus_per_task"] = args.cpus_per_task
        if args.mem_gb:
            params["mem_gb"] = args.mem_gb
        if args.slurm_param:
            params["slurm_additional_parameters"] = dict(
                p.split("=", 1) for p in args.slurm_param)
        submitted = sweep.launch_submitit(args.config, todo, args.workdir, RunJob(), cluster=args.cluster,
                                          parameters=params, extra=extra)
        for job, sub in zip(todo, submitted):
            print(f"{job.key}  {sweep.describe(job)}: submitted as {sub.job_id}")
        if args.no_wait:
            return 0
        codes = {}
        for job, sub in zip(todo, submitted):
            try:
                codes[job.key] = sub.result()
            except Exception as e:  # noqa: BLE001 - report every job, then fail
                print(f"{job.key}: failed: {str(e).strip().splitlines()[-1][:300]}", file=sys.stderr)
                codes[job.key] = 1
    for job in todo:
        code = codes.get(job.key)
        word = {0: "finished", 143: "stopped (resumable)", None: "not started"}.get(code, f"failed ({code})")
        print(f"{job.key}  {sweep.describe(job)}: {word}")
    if any(c not in (0,) for c in codes.values()) or len(codes) < len(todo):
        return 143 if all(c in (0, 143, None) for c in codes.values()) else 1
    return 0


def _os_error_line(e: OSError) -> str:
    """``disk full: ...`` first for ENOSPC; the path (or paths) and the problem otherwise."""
    import errno

    where = " -> ".join(repr(p) for p in (e.filename, e.filename2) if p)
    what = e.strerror or str(e)
    line = f"{where}: {what}" if where else what
    return f"disk full: {line}" if e.errno == errno.ENOSPC else line


class RunJob:
    """What a submitit job executes: ``jaxlab run`` in the job's own process. On a SLURM
    preemption or time-out submitit calls ``checkpoint``, which requeues the same job; it
    resumes from the workdir's newest checkpoint."""

    def __call__(self, argv: Sequence[str]) -> int:
        code = main(list(argv))
        if code not in (0, 143):
            raise RuntimeError(f"jaxlab {' '.join(argv)} exited with status {code}")
        return code

    def checkpoint(self, argv: Sequence[str]) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(RunJob(), argv)


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the other arguments, the ``--config.a.b=value`` overrides). ``--config.a.b value``
    (a space, as absl and argparse take it) becomes ``--config.a.b=value``; an override
    followed by nothing or by another option is kept as it is (config.load names it)."""
    known, overrides = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if "=" not in arg and nxt is not None and not (
                    nxt.startswith("--") or (nxt.startswith("-") and not _is_number(nxt))):
                arg, i = f"{arg}={nxt}", i + 1
            overrides.append(arg)
        else:
            known.append(arg)
        i += 1
    return known, overrides


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _NamedFormatter(logging.Formatter):
    """jaxlab's own messages as ``jaxlab: ...``; a library's with its logger name and level
    (``orbax.checkpoint...: WARNING: ...``), so they are not mistaken for jaxlab's."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(levelname)s: %(message)s")
        self.own = logging.Formatter("jaxlab: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "jaxlab" or record.name.startswith("jaxlab."):
            return self.own.format(record)
        return super().format(record)


def _log_with_names() -> None:
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_NamedFormatter())
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    for noisy in ("absl", "orbax", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


BOOKKEEPING = ("config.json", "manifest.json")


def files_line(workdir: str) -> str:
    """``results: DIR: wrote a, b, c (and config.json, manifest.json)``: exactly the files
    this run wrote into the workdir; on a workdir that finished earlier, the files it holds."""
    from jaxlab import results as results_lib

    wrote = results_lib.written(workdir)
    if wrote:
        own = sorted(f for f in wrote if f not in BOOKKEEPING)
        extra = [f for f in BOOKKEEPING if f in wrote]
        tail = f" (and {', '.join(extra)})" if extra else ""
        return f"results: {workdir}: wrote {', '.join(own)}{tail}"
    held = sorted(f for f in os.listdir(workdir) if ".tmp-" not in f and f not in BOOKKEEPING
                  and os.path.isfile(os.path.join(workdir, f)))
    return f"results: {workdir} (finished earlier, nothing new written): {', '.join(held)}"


def list_papers(extra: Sequence[str] = ()) -> int:
    """``jaxlab list``: each registered paper, its config file and the variants the config
    declares (its ``VARIANTS`` dict, read from the file's source: nothing is imported)."""
    from jaxlab import config as config_lib
    from jaxlab import papers

    if extra:
        print("jaxlab: error: jaxlab list takes no --config overrides", file=sys.stderr)
        return 2
    print("papers (jaxlab run CONFIG[:VARIANT] --workdir DIR; times on a 2-core CPU: CPU "
          "seconds of a first run / of later runs, which find the compilation cache, or wall "
          "time where it says so; docs/results/run_times.json):")
    for name in papers.names():
        try:
            path = config_lib.locate(f"configs/{name}.py")
        except config_lib.ConfigError:
            print(f"\n{name}: no config file found (searched {', '.join(config_lib.config_dirs())})")
            continue
        info = papers.config_info(path)
        print(f"\n{name}: {info['title']}")
        print(f"  jaxlab run configs/{name}.py[:VARIANT] --workdir DIR    ({os.path.abspath(path)})")
        width = max((len(t) for t in info["variants"]), default=0) + 1
        for token, what in info["variants"].items():
            label = f":{token}" if token else "(none)"
            print(f"    {label:<{width}}  {what}")
    print("\nA study's page: docs/<paper>.md; its notebook: notebooks/<paper>.ipynb "
          "(JAXLAB_WORKDIR=DIR).")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    use_cpu_cores_as_devices()
    known, overrides = split_overrides(argv)
    args = _parser().parse_args(known)
    if args.command in ("list", "papers"):
        return list_papers(overrides)
    _log_with_names()
    from jaxlab.config import ConfigError

    try:
        if args.command == "run":
            from jaxlab import config as config_lib
            from jaxlab import papers
            from jaxlab.processes import is_primary

            config = config_lib.load(args.config, overrides)
            quick_compile(args.compile, args.config)
            enable_compilation_cache()
            _init_distributed(args)
            stop = _stop_on_signals()
            writers = (["tensorboard"] if args.tensorboard else []) + (
                [f"wandb:{args.wandb}"] if args.wandb else [])
            results = papers.run(config, args.workdir, progress=not args.no_progress,
                                 should_stop=lambda _: stop.is_set(), writers=writers,
                                 overwrite=args.overwrite)
            if results is None:
                print(f"jaxlab: stopped by a signal; the last chunk is checkpointed in "
                      f"{args.workdir}: run the same command to resume", file=sys.stderr)
                return 143
            if not is_primary():
                return 0
            with open(os.path.join(args.workdir, "table.txt")) as f:
                print(f.read(), end="")
            print(files_line(results.workdir))
            if results.manifest.get("diverged"):
                print(f"diverged runs (eval rows are NaN): {results.manifest['diverged']}")
        elif args.command == "sweep":
            return _sweep(args, overrides)
        elif args.command == "bench":
            if overrides:
                raise ConfigError("jaxlab bench takes no --config overrides")
            enable_compilation_cache()
            from jaxlab import bench

            bench.main(args.workdir, quick=args.quick, only=args.only)
    except ConfigError as e:
        print(f"jaxlab: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # file-system errors: the path and the problem, in one line
        print(f"jaxlab: error: {_os_error_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:
        if "RESOURCE_EXHAUSTED" not in str(e):
            raise
        print(f"jaxlab: error: out of memory: {str(e).strip().splitlines()[0][:300]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jaxlab: interrupted; the run resumes from its last checkpoint", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
