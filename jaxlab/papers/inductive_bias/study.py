"""The study: which hypothesis classes on which tasks (cells), their test errors, the fits.

A *cell* is one hypothesis class on one task: the kernel class (GP posterior samples) or an
MLP class (an ensemble trained through the engine). The three comparisons share cells
(the digits MLP of ``classes`` is also an ``architecture`` cell), so each cell is sampled
once. Every cell is a resumable unit: kernel errors and estimates are saved under
``workdir/units/`` and each MLP ensemble is a training phase with its own checkpoints.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os

import jax
import ml_collections
import numpy as np

from jaxlab import results, runner
from jaxlab.config import require
from jaxlab.papers.inductive_bias import estimator, kernel, tasks
from jaxlab.papers.inductive_bias.ensemble import make_learner

TITLE = "Towards Exact Computation of Inductive Bias (Boopathy et al., IJCAI 2024)"
COMPARISONS = ("dimension", "classes", "architecture")
TASKS = ("teacher", "digits", "pendulum")
MODELS = ("kernel", "mlp")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One hypothesis class on one task (``dim``: the teacher's input dimension, else 0)."""

    task: str
    dim: int
    model: str
    width: int = 0
    depth: int = 0

    @property
    def key(self) -> str:
        task = f"{self.task}{self.dim}" if self.task == "teacher" else self.task
        size = {"mlp": f"_w{self.width}_d{self.depth}", "cnn": f"_c{self.width}_d{self.depth}"}
        return f"{task}_{self.model}" + size.get(self.model, "")

    def row(self) -> dict:
        return {"cell": self.key, **dataclasses.asdict(self)}


def comparison_cells(config: ml_collections.ConfigDict) -> dict[str, list[Cell]]:
    """{comparison: its cells, in table order} for the comparisons ``config`` selects."""
    t, mlp = config.task, config.mlp
    dim = lambda task: t.teacher_dim if task == "teacher" else 0
    out = {}
    for name in config.comparisons:
        if name == "dimension":
            out[name] = [Cell("teacher", d, "kernel") if m == "kernel" else
                         Cell("teacher", d, "mlp", mlp.width, mlp.depth)
                         for m in config.dimension_models for d in t.dims]
        elif name == "classes":
            out[name] = [Cell(t.classes_task, dim(t.classes_task), "kernel"),
                         Cell(t.classes_task, dim(t.classes_task), "mlp", mlp.width, mlp.depth)]
        else:
            out[name] = [Cell(t.architecture_task, dim(t.architecture_task), "mlp", w, d)
                         for w in mlp.widths for d in mlp.depths] + [
                Cell(t.architecture_task, dim(t.architecture_task), "cnn", c, config.cnn.depth)
                for c in config.cnn.channels]
    return out


def validate(config: ml_collections.ConfigDict) -> None:
    """One-line errors for this paper's fields, before anything is written."""
    comps = tuple(config.comparisons)
    require(len(comps) >= 1 and all(c in COMPARISONS for c in comps), "comparisons",
            f"must be a non-empty tuple of {COMPARISONS}, got {comps!r}")
    require(not config.sweep.axes, "sweep.axes",
            "must be empty: ensemble members are the seeds (sweep.n_seeds)")
    require(config.sweep.n_seeds >= 3, "sweep.n_seeds",
            f"is the ensemble size and must be >= 3 to fit three parameters, got {config.sweep.n_seeds}")
    t = config.task
    for name, least in (("n_train", 2), ("n_test", 1), ("classes", 2), ("teacher_hidden", 1),
                        ("teacher_dim", 1)):
        require(isinstance(t[name], int) and t[name] >= least, f"task.{name}",
                f"must be an integer >= {least}, got {t[name]!r}")
    require(len(t.dims) >= 1 and all(isinstance(d, int) and d >= 1 for d in t.dims), "task.dims",
            f"must be a non-empty tuple of integers >= 1, got {t.dims!r}")
    for name in ("classes_task", "architecture_task"):
        require(t[name] in TASKS, f"task.{name}", f"must be one of {TASKS}, got {t[name]!r}")
    uses_digits = any(c.task == "digits" for cs in comparison_cells(config).values() for c in cs)
    require(not uses_digits or t.n_train + t.n_test <= tasks.DIGITS_SIZE, "task.n_test",
            f"task.n_train + task.n_test must be <= {tasks.DIGITS_SIZE} (the digits there are), "
            f"got {t.n_train} + {t.n_test}")
    require(all(m in MODELS for m in config.dimension_models) and len(config.dimension_models) >= 1,
            "dimension_models", f"must be a non-empty tuple of {MODELS}, got {config.dimension_models!r}")
    k = config.kernel
    require(k.sigma > 0, "kernel.sigma", f"must be > 0, got {k.sigma}")
    require(0 < k.jitter <= 1e-2, "kernel.jitter", f"must be in (0, 0.01], got {k.jitter}")
    require(k.samples >= 3, "kernel.samples", f"must be >= 3, got {k.samples}")
    require(k.chunk >= 1 and k.samples % k.chunk == 0, "kernel.chunk",
            f"must be >= 1 and divide kernel.samples={k.samples}, got {k.chunk}")
    m = config.mlp
    for name in ("width", "depth", "batch"):
        require(m[name] >= 1, f"mlp.{name}", f"must be >= 1, got {m[name]}")
    require(m.batch <= t.n_train, "mlp.batch",
            f"must be <= task.n_train={t.n_train} (a batch draws distinct points), got {m.batch}")
    for name in ("widths", "depths"):
        require(len(m[name]) >= 1 and all(v >= 1 for v in m[name]), f"mlp.{name}",
                f"must be a non-empty tuple of integers >= 1, got {m[name]!r}")
    c = config.cnn
    require(all(isinstance(v, int) and v >= 1 for v in c.channels), "cnn.channels",
            f"must be a tuple of integers >= 1 (empty: no convnet), got {c.channels!r}")
    require(isinstance(c.depth, int) and c.depth >= 1, "cnn.depth", f"must be an integer >= 1, got {c.depth!r}")
    require(not c.channels or "architecture" not in comps or t.architecture_task == "digits",
            "cnn.channels", "the convnet reads 8x8 images: it needs task.architecture_task='digits', "
            f"got {t.architecture_task!r}")
    e = config.estimate
    require(len(e.eps_fracs) >= 1 and all(0 < f <= 2 for f in e.eps_fracs), "estimate.eps_fracs",
            f"must be fractions in (0, 2] of the mean predictor's test error, got {e.eps_fracs!r}")
    require(e.headline in e.eps_fracs, "estimate.headline",
            f"must be one of estimate.eps_fracs={tuple(e.eps_fracs)}, got {e.headline}")
    require(isinstance(e.eps_reference, (int, float)) and 0 <= e.eps_reference < math.inf,
            "estimate.eps_reference", "must be 0 (eps relative to each cell's mean-predictor MSE) or "
            f"a finite absolute test MSE > 0, got {e.eps_reference!r}")
    require(e.bootstrap >= 2, "estimate.bootstrap", f"must be >= 2 resamples, got {e.bootstrap}")
    require(0 < e.level < 1, "estimate.level", f"must be a probability in (0, 1), got {e.level}")


# ----------------------------------------------------------------------------- data
def dataset(config: ml_collections.ConfigDict, cell: Cell) -> tasks.Dataset:
    t = config.task
    if cell.task == "teacher":
        return tasks.teacher(cell.dim, t.n_train, t.n_test, t.classes, t.teacher_hidden, t.seed)
    if cell.task == "digits":
        return tasks.digits(t.n_train, t.n_test, t.seed)
    return tasks.pendulum(t.n_train, t.n_test, t.seed)


def _unit_path(workdir: str, name: str, ext: str) -> str:
    os.makedirs(os.path.join(workdir, "units"), exist_ok=True)
    return os.path.join(workdir, "units", f"{name}.{ext}")


def kernel_errors(config: ml_collections.ConfigDict, cell: Cell, data: tasks.Dataset,
                  session: runner.Session) -> dict[str, np.ndarray]:
    """The kernel class's test errors (samples,), saved as a resumable unit."""
    path = _unit_path(session.workdir, cell.key, "npy")
    if os.path.exists(path):
        return {"test_mse": np.load(path)}
    k = config.kernel
    mean, cov = kernel.rbf_posterior(data.x_train, data.y_train, data.x_test, k.sigma, k.jitter)
    root = kernel.sample_root(cov, k.jitter)
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 7)
    errors = kernel.sample_errors(key, mean, root, data.y_test, k.samples, k.chunk)
    buf = io.BytesIO()
    np.save(buf, errors)
    results.atomic_write_bytes(path, buf.getvalue())
    session.unit_done()
    return {"test_mse": errors}


def mlp_errors(config: ml_collections.ConfigDict, cell: Cell, data: tasks.Dataset,
               session: runner.Session) -> dict[str, np.ndarray]:
    """Trains the cell's ensemble of MLPs or convnets (members = seeds of the run grid) as the training phase
    named by the cell; returns each member's test_mse, train_mse and test_acc."""
    learner = make_learner(data, cell.width, cell.depth, config.mlp.batch, cell.model)
    phase = runner.train_runs(config, learner, session, phase=cell.key)
    evaluate = runner.program(config, phase.executor, f"evaluate_{cell.key}",
                              lambda: phase.trainer.evaluate)
    out = phase.gather(evaluate(phase.state, phase.hps, phase.keys))
    return {name: np.asarray(v, np.float64) for name, v in out.items()}


# ----------------------------------------------------------------------------- estimates
def estimate(config: ml_collections.ConfigDict, cell: Cell, errors: np.ndarray, base: float,
             session: runner.Session) -> dict:
    """The cell's fit, KS statistic and IB(eps) with bootstrap intervals at every
    eps = frac * reference (``estimate.eps_reference`` if > 0, else ``base``, the cell's
    mean-predictor MSE), saved as a resumable unit (the bootstrap is the slow part)."""
    path = _unit_path(session.workdir, f"{cell.key}_fit", "json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    e = config.estimate
    finite = errors[np.isfinite(errors)]
    fit = estimator.fit_ncx2(finite)
    reference = float(e.eps_reference) if e.eps_reference > 0 else base
    eps = np.asarray(e.eps_fracs, np.float64) * reference
    bits = estimator.inductive_bias_bits(eps, fit)
    low, high = estimator.bootstrap_bits(finite, eps, fit, e.bootstrap, config.seed, e.level)
    out = {"df": fit.df, "nc": fit.nc, "scale": fit.scale, "ks": estimator.ks_statistic(finite, fit),
           "n_hypotheses": int(len(finite)), "base_error": base, "eps_reference": reference,
           "mean_error": float(finite.mean()),
           "eps": eps.tolist(), "ib_bits": bits.tolist(), "ib_low": low.tolist(),
           "ib_high": high.tolist(),
           "far_tail": (~np.isfinite(np.asarray(fit.logcdf(eps), np.float64))).tolist()}
    results.atomic_write_text(path, json.dumps(out))
    session.unit_done()
    return out
