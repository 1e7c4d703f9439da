"""The in-context-learning task families as config groups: one registry, one base.

``REGISTRY`` maps each family name (the ``config.task.family`` token) to a frozen dataclass
holding that family's parameters and their defaults. The base class supplies everything
the families share: the finite-pool wrapper, the per-point loss (squared error, or
cross-entropy over ``categorical_groups`` one-hot outputs), the cheap baseline (ridge or
add-one marginal frequency), the oracle's options and cost. A family declares only its
fields, its checks and how to build its task object. Field docs: docs/task_families.md.

A study keeps ``config.task = task_config(name)`` (an ``ml_collections.ConfigDict``, so
``--config.task.noise=0.1`` overrides work) and calls the functions at the bottom of this
module on it. Every bad value, and every field the family does not have, is a one-line
``ConfigError`` naming ``config.task.<field>``.

Shapes: episodes x (B, N, x_dim), y (B, N, y_dim) after ``task.encode`` (one-hot labels
for categorical families); per-point losses (B, N).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Mapping

import jax
import ml_collections

from jaxlab import objectives
from jaxlab.config import require
from jaxlab.tasks import baselines
from jaxlab.tasks.chebyshev import ChebyshevRegression
from jaxlab.tasks.classification import LinearClassification
from jaxlab.tasks.dynamics import TransitionMatrix
from jaxlab.tasks.gp import GPRegression
from jaxlab.tasks.linear import LinearRegression
from jaxlab.tasks.mastermind import Mastermind
from jaxlab.tasks.mlp_tasks import LowRankMLPRegression, MLPRegression
from jaxlab.tasks.pool import FinitePool
from jaxlab.tasks.sinusoid import SinusoidRegression

PointwiseLoss = Callable[[jax.Array, jax.Array], jax.Array]


def _at_least(value: float, low: float, field: str) -> None:
    require(value >= low, f"task.{field}", f"must be >= {low}, got {value}")


@dataclasses.dataclass(frozen=True)
class TaskFamily:
    """Fields every family has. ``pool_size`` > 0: every episode comes from a finite pool of
    that many tasks drawn once from ``PRNGKey(config.seed)`` (0 = fresh tasks per episode)."""

    pool_size: int = 0

    name: ClassVar[str] = ""
    categorical_groups: ClassVar[int] = 0  # > 0: categorical outputs, one-hot in this many groups
    poolable: ClassVar[bool] = True  # has a finite latent that a pool can hold
    costly_oracle: ClassVar[bool] = False  # Monte Carlo / quadrature / enumeration oracle
    baseline_name: ClassVar[str] = "ridge"  # the cheap baseline's learner label

    def make(self) -> Any:
        """The family's task object (jaxlab/tasks/*), before any pool wrapper."""
        raise NotImplementedError

    def check(self) -> None:
        """The family's own value checks (``require(ok, "task.<field>", message)``)."""

    def validate(self) -> None:
        """Raises ConfigError naming the first impossible field."""
        _at_least(self.pool_size, 0, "pool_size")
        if self.pool_size:
            require(self.poolable, "task.pool_size",
                    f"a finite pool needs a finite task latent; {self.name} has none here, so use 0")
        self.check()

    def build(self, seed: int) -> Any:
        """The task object, wrapped in ``FinitePool(task, pool_size, seed)`` when pooled."""
        task = self.make()
        return FinitePool(task, self.pool_size, seed) if self.pool_size > 0 else task

    def pointwise_loss(self) -> PointwiseLoss:
        """(pred, y) (..., y_dim) -> (...): squared error, or cross-entropy in nats averaged
        over the ``categorical_groups`` one-hot outputs."""
        groups = self.categorical_groups
        if groups:
            return lambda pred, y: objectives.grouped_cross_entropy(pred, y, groups)
        return objectives.squared_error

    def oracle_options(self) -> dict:
        """Keyword arguments of ``task.oracle`` beyond (episodes, key)."""
        return {}

    def baseline(self, x: jax.Array, y: jax.Array) -> dict:
        """x (B, N, x_dim), y (B, N, y_dim) encoded -> {"loss": (B, N)}."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Regression(TaskFamily):
    """Real-valued targets; baseline: ridge on [x, 1] with penalty ``ridge_lambda``."""

    ridge_lambda: float = 1.0

    def check(self) -> None:
        super().check()
        require(self.ridge_lambda > 0, "task.ridge_lambda", f"must be > 0, got {self.ridge_lambda}")

    def baseline(self, x: jax.Array, y: jax.Array) -> dict:
        return baselines.ridge(x, y, self.ridge_lambda)


class Categorical(TaskFamily):
    """One-hot targets; baseline: the add-one marginal frequency of each output's labels."""

    baseline_name: ClassVar[str] = "marginal"

    def baseline(self, x: jax.Array, y: jax.Array) -> dict:
        return baselines.marginal_frequency(y, self.categorical_groups)


@dataclasses.dataclass(frozen=True)
class CostlyOracle(TaskFamily):
    """A Monte-Carlo or quadrature oracle: run on the first ``oracle_tasks`` evaluation
    episodes (a pool's oracle is exact and cheap: all of them)."""

    oracle_tasks: int = 256

    @property
    def costly_oracle(self) -> bool:
        return not self.pool_size

    def check(self) -> None:
        super().check()
        _at_least(self.oracle_tasks, 1, "oracle_tasks")


@dataclasses.dataclass(frozen=True)
class MonteCarlo(CostlyOracle):
    """Importance-sampling oracle with ``oracle_samples`` samples per episode."""

    oracle_samples: int = 1024

    def oracle_options(self) -> dict:
        return {} if self.pool_size else {"n_samples": self.oracle_samples}

    def check(self) -> None:
        super().check()
        require(self.oracle_samples >= 4 and self.oracle_samples % 4 == 0, "task.oracle_samples",
                f"must be a positive multiple of 4 (split-sample bias), got {self.oracle_samples}")


# --- the families ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Linear(Regression):
    """y = [x, 1] w + noise eps, w ~ N(0, I / (x_dim + 1)); exact oracle."""

    name: ClassVar[str] = "linear"
    x_dim: int = 3
    y_dim: int = 1
    noise: float = 0.2

    def check(self) -> None:
        super().check()
        _at_least(self.x_dim, 1, "x_dim")
        _at_least(self.y_dim, 1, "y_dim")
        require(self.noise > 0, "task.noise",
                f"must be > 0 (the Bayes oracle divides by it), got {self.noise}")

    def make(self) -> LinearRegression:
        return LinearRegression(self.x_dim, self.y_dim, self.noise)


@dataclasses.dataclass(frozen=True)
class Sinusoid(MonteCarlo, Regression):
    """Reference config: one input, 3 frequencies fixed across tasks (``fixed_freq``), no noise."""

    name: ClassVar[str] = "sinusoid"
    x_dim: int = 1
    n_freq: int = 3
    noise: float = 0.0
    fixed_freq: bool = True

    def check(self) -> None:
        super().check()
        _at_least(self.x_dim, 1, "x_dim")
        _at_least(self.n_freq, 1, "n_freq")
        _at_least(self.noise, 0, "noise")

    def make(self) -> SinusoidRegression:
        return SinusoidRegression(self.x_dim, self.n_freq, self.noise, self.fixed_freq)


@dataclasses.dataclass(frozen=True)
class MastermindFamily(Categorical):
    """8 positions, 6 colours, codes from colours 0..4 (the reference's off-by-one); the
    exact oracle enumerates every code, so it covers ``eval.bayes_tasks`` episodes."""

    name: ClassVar[str] = "mastermind"
    categorical_groups: ClassVar[int] = 2  # exact matches, colour matches
    poolable: ClassVar[bool] = False  # the enumeration is written for the uniform code prior
    costly_oracle: ClassVar[bool] = True
    code_length: int = 8
    n_colours: int = 6
    code_colours: int = 5

    def check(self) -> None:
        super().check()
        _at_least(self.code_length, 1, "code_length")
        _at_least(self.n_colours, 1, "n_colours")
        require(1 <= self.code_colours <= self.n_colours, "task.code_colours",
                f"must be in [1, task.n_colours={self.n_colours}], got {self.code_colours}")

    def make(self) -> Mastermind:
        return Mastermind(self.code_length, self.n_colours, self.code_colours)


@dataclasses.dataclass(frozen=True)
class Chebyshev(Regression):
    """The reference config: one input, degree 3, no noise; exact oracle."""

    name: ClassVar[str] = "chebyshev"
    x_dim: int = 1
    y_dim: int = 1
    degree: int = 3
    noise: float = 0.0

    def check(self) -> None:
        super().check()
        _at_least(self.x_dim, 1, "x_dim")
        _at_least(self.y_dim, 1, "y_dim")
        _at_least(self.degree, 0, "degree")
        _at_least(self.noise, 0, "noise")

    def make(self) -> ChebyshevRegression:
        return ChebyshevRegression(self.x_dim, self.y_dim, self.degree, self.noise)


@dataclasses.dataclass(frozen=True)
class _MLP(MonteCarlo, Regression):
    """x -> hidden -> y; noise 0.1 (the importance-sampling oracle needs noise > 0)."""

    x_dim: int = 1
    y_dim: int = 1
    hidden: int = 64
    noise: float = 0.1

    def check(self) -> None:
        super().check()
        _at_least(self.x_dim, 1, "x_dim")
        _at_least(self.y_dim, 1, "y_dim")
        require(self.noise > 0, "task.noise", "must be > 0: the importance-sampling oracle weighs "
                f"prior draws by a Gaussian likelihood, got {self.noise}")
        _at_least(self.hidden, 1, "hidden")


@dataclasses.dataclass(frozen=True)
class MLP(_MLP):
    """A fresh MLP per task; ``mlp_init``: "xavier" (Occam reference) or "normal"."""

    name: ClassVar[str] = "mlp"
    mlp_init: str = "xavier"

    def check(self) -> None:
        super().check()
        require(self.mlp_init in ("xavier", "normal"), "task.mlp_init",
                f"must be 'xavier' or 'normal', got {self.mlp_init!r}")

    def make(self) -> MLPRegression:
        return MLPRegression(self.x_dim, self.y_dim, self.hidden, self.noise, self.mlp_init)


@dataclasses.dataclass(frozen=True)
class LowRankMLP(_MLP):
    """MLP weights theta0 + P z with z ~ N(0, I_z_dim) (Fastfood projections)."""

    name: ClassVar[str] = "lowrank_mlp"
    z_dim: int = 10

    def check(self) -> None:
        super().check()
        _at_least(self.z_dim, 1, "z_dim")

    def make(self) -> LowRankMLPRegression:
        return LowRankMLPRegression(self.x_dim, self.y_dim, self.hidden, self.z_dim, self.noise)


@dataclasses.dataclass(frozen=True)
class Classification(MonteCarlo, Categorical):
    """Explicit/implicit scripts: 2 inputs, 2 classes, temperature 1e-6 (argmax labels);
    4,096 oracle samples (see the ESS table in docs/task_families.md)."""

    name: ClassVar[str] = "classification"
    categorical_groups: ClassVar[int] = 1
    x_dim: int = 2
    n_classes: int = 2
    temperature: float = 1e-6
    oracle_samples: int = 4096

    def check(self) -> None:
        super().check()
        _at_least(self.x_dim, 1, "x_dim")
        _at_least(self.n_classes, 2, "n_classes")
        require(self.temperature > 0, "task.temperature", f"must be > 0, got {self.temperature}")

    def make(self) -> LinearClassification:
        return LinearClassification(self.x_dim, self.n_classes, self.temperature)


@dataclasses.dataclass(frozen=True)
class _GP(CostlyOracle, Regression):
    """One input (the reference asserts it); quadrature oracle on a gp_grid^2 grid over
    (length, scale). No pools: the latent (l, s) does not fix the function."""

    poolable: ClassVar[bool] = False
    kernel: ClassVar[str] = ""
    x_dim: int = 1
    gp_grid: int = 8

    def check(self) -> None:
        super().check()
        _at_least(self.x_dim, 1, "x_dim")
        _at_least(self.gp_grid, 1, "gp_grid")

    def oracle_options(self) -> dict:
        return {"grid": self.gp_grid}

    def make(self) -> GPRegression:
        return GPRegression(self.kernel, self.x_dim)


@dataclasses.dataclass(frozen=True)
class GPRBF(_GP):
    name: ClassVar[str] = "gp_rbf"
    kernel: ClassVar[str] = "rbf"


@dataclasses.dataclass(frozen=True)
class GPMatern(_GP):
    name: ClassVar[str] = "gp_matern"
    kernel: ClassVar[str] = "matern52"


@dataclasses.dataclass(frozen=True)
class Dynamics(Regression):
    """3-d state, x = the first 20 states, y = the next 20 (x_dim = y_dim = 60), dt 0.01, no
    noise (the Occam reference)."""

    name: ClassVar[str] = "dynamics"
    dim: int = 3
    x_len: int = 20
    y_len: int = 20
    dt: float = 0.01
    noise: float = 0.0

    def check(self) -> None:
        super().check()
        for field in ("dim", "x_len", "y_len"):
            _at_least(getattr(self, field), 1, field)
        require(self.dt > 0, "task.dt", f"must be > 0, got {self.dt}")
        _at_least(self.noise, 0, "noise")

    def make(self) -> TransitionMatrix:
        return TransitionMatrix(self.dim, self.x_len, self.y_len, self.dt, self.noise)


REGISTRY: dict[str, type[TaskFamily]] = {cls.name: cls for cls in (
    Linear, Sinusoid, MastermindFamily, Chebyshev, MLP, LowRankMLP, Classification, GPRBF,
    GPMatern, Dynamics)}
NAMES: tuple[str, ...] = tuple(REGISTRY)


# --- what a study calls, on its ``config.task`` ------------------------------------------


def _family_class(name: Any) -> type[TaskFamily]:
    require(name in REGISTRY, "task.family", f"must be one of {NAMES}, got {name!r}")
    return REGISTRY[name]


def task_config(name: str) -> ml_collections.ConfigDict:
    """``config.task`` for family ``name``: {"family": name, field: default, ...}."""
    fields = dataclasses.asdict(_family_class(name)())
    return ml_collections.ConfigDict({"family": name, **fields})


def from_config(task: Mapping[str, Any]) -> TaskFamily:
    """The validated family dataclass of ``config.task``; ConfigError names a bad family, an
    unknown field or an impossible value."""
    values = dict(task.items())
    name = values.pop("family", None)
    cls = _family_class(name)
    known = [f.name for f in dataclasses.fields(cls)]
    for field in values:
        require(field in known, f"task.{field}",
                f"not a field of the {name} task family (its fields: {', '.join(known)})")
    family = cls(**values)
    family.validate()
    return family


def validate(task: Mapping[str, Any]) -> None:
    """Raises ConfigError (one line, ``config.task.<field>: ...``) for a bad ``config.task``."""
    from_config(task)


def build(task: Mapping[str, Any], seed: int) -> Any:
    """The task object of ``config.task`` (``sample``, ``encode``, ``oracle``, ...), in a
    ``FinitePool`` of ``pool_size`` tasks drawn from ``PRNGKey(seed)`` when pool_size > 0."""
    return from_config(task).build(seed)


def pointwise_loss(task: Mapping[str, Any]) -> PointwiseLoss:
    """(pred, y) (..., y_dim) -> (...): squared error or grouped cross-entropy (nats)."""
    return from_config(task).pointwise_loss()


def is_categorical(name: str) -> bool:
    """Whether family ``name`` has categorical targets (losses in nats, "marginal" baseline)."""
    return _family_class(name).categorical_groups > 0


def oracle_options(task: Mapping[str, Any]) -> dict:
    """Keyword arguments for ``task.oracle(episodes, key, **options)``: n_samples (Monte
    Carlo, unpooled) or grid (GP quadrature)."""
    return from_config(task).oracle_options()


def oracle_tasks(task: Mapping[str, Any], n_tasks: int, bayes_tasks: int) -> int:
    """How many of the ``n_tasks`` evaluation episodes (the first ones) the oracle covers:
    all for closed-form and pool oracles, ``oracle_tasks`` for Monte Carlo / quadrature,
    ``bayes_tasks`` (eval.bayes_tasks) for Mastermind's enumeration."""
    family = from_config(task)
    if not family.costly_oracle:
        return n_tasks
    return min(family.oracle_tasks if isinstance(family, CostlyOracle) else bayes_tasks, n_tasks)


def baseline_name(task: Mapping[str, Any]) -> str:
    """The cheap baseline's learner label: "ridge" (regression) or "marginal" (categorical)."""
    return from_config(task).baseline_name


def baseline(task: Mapping[str, Any], x: jax.Array, y: jax.Array) -> dict:
    """The cheap baseline on encoded episodes x (B, N, x_dim), y (B, N, y_dim):
    {"loss": (B, N)} per point, point k predicted from points < k."""
    return from_config(task).baseline(x, y)
