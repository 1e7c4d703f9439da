"""Task families and query shifts of the explicit/implicit study (docs/explicit_implicit.md).

Every family has a latent flattened to ``n_params`` numbers per task and a ``function``
mapping (latent, x) to y, which both generates the data and is the "known f" of the
known-function models:

  linear        w ~ N(0, 1)^{(x_dim + 1) x y_dim}, y = [x, 1] w
  sinusoid      a ~ U(-1, 1)^{x_dim x n_freq}, y = sum_dj a_dj sin(f_dj x_d) with the
                reference's fixed frequencies f (drawn once, shared by every task)
  lowrank_mlp   z ~ N(0, I_10), the MLP x -> 64 -> y with parameters theta0 + P z
                (jaxlab.tasks.mlp_tasks.LowRankMLPRegression: the Fastfood basis as dense P),
                x in ``task.lowrank_x_dim`` = 2 dimensions as the reference's configs
  gp            a GP with the RBF kernel s^2 exp(-|x - x'|^2 / 2 l^2), l ~ U(0.1, 0.6),
                s ~ U(0.1, 1), plus 0.02 noise; drawn as 256 random Fourier features so it
                can be evaluated at any query (the reference draws context and queries
                jointly from the exact multivariate normal). No finite latent: ``n_params``
                is 0 (no probe, no known-f or known-z model).
  linear_cls    labels y ~ Cat(softmax([x, 1] w / T)), w ~ N(0, 1)^{(x_dim + 1) x C}: the
                logits are the ``linear`` family's function with C outputs
  lowrank_cls   labels y ~ Cat(softmax(f_z(x) / T)), f_z the ``lowrank_mlp`` family's MLP
                with C outputs (z ~ N(0, I_10)); the reference's scripts use T = 1e-6, so
                the labels are the argmax of the logits. For both, ``function`` returns
                the logits (the known f of the known-function model, which is scored by
                cross-entropy on its logits as every other model), and the data's y is
                one-hot (B, N, C).

Batches: one compiled program serves every context size. Contexts are ``max_context`` long
with a key mask ``valid`` (B, N) whose first n entries are True, n ~ U{min_context..
max_context} drawn once per batch (as the reference draws one n per batch of tasks).

Query shifts (queries only, the context is always in-distribution), with intensity s:
  iid   x_q ~ N(0, I)
  far   0.1 x_q + s u, u a uniform random unit vector per query
  wide  s x_q
Context style "near" (training only): query j sits at context point (j mod n) + 0.1 eps.

The supervised ablation's task (family ``ablation``): y = x . w in 2-d, no bias, x and w
both from ``three_quadrants`` (U[0, 1)^2, then with probability 1/3 each left alone or one
coordinate moved negative), so the quadrant [-1, 0]^2 is never seen in training. Its OOD
shifts apply to w or to x_q (the context inputs stay in distribution): ``range`` adds 1 to
a three-quadrant draw, ``quadrant`` draws from the held-out quadrant, -U[0, 1)^2.
``quadrant_sampling`` "set" is the reference's sampler, which *sets* the moved coordinate to
-1 (so the support is [0, 1)^2 plus the two segments {-1} x [0, 1) and [0, 1) x {-1});
"negate" negates it (the three quadrants of [-1, 1)^2 the reference meant).

Shapes: B tasks, N context slots, Q queries, P = n_params.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxlab.tasks.linear import with_bias
from jaxlab.tasks.mlp_tasks import LowRankMLPRegression
from jaxlab.tasks.raven import RavenTask
from jaxlab.tasks.sinusoid import SinusoidRegression

# New families go at the end: a family's index salts its fixed validation tasks.
FAMILIES = ("linear", "sinusoid", "lowrank_mlp", "gp", "ablation", "linear_cls", "lowrank_cls", "raven")
CLASSIFICATION = ("linear_cls", "lowrank_cls")
QUADRANT_STYLES = ("set", "negate")  # the ablation's sampler: the reference's quirk, or the fix
ABLATION_SHIFTS = ("none", "range", "quadrant")
CONTEXT_STYLES = ("same", "near")
SHIFTS = ("iid", "far", "wide")


class Batch(NamedTuple):
    """x_c (B, N, x_dim), y_c (B, N, y_dim), valid (B, N) bool, x_q (B, Q, x_dim),
    y_q (B, Q, y_dim), latent (B, P)."""

    x_c: jax.Array
    y_c: jax.Array
    valid: jax.Array
    x_q: jax.Array
    y_q: jax.Array
    latent: jax.Array


@dataclasses.dataclass(frozen=True)
class LinearTask:
    x_dim: int = 1
    y_dim: int = 1
    noise: float = 0.0

    @property
    def n_params(self) -> int:
        return (self.x_dim + 1) * self.y_dim

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, self.n_params))

    def function(self, latent: jax.Array, x: jax.Array) -> jax.Array:
        """latent (B, P), x (B, N, x_dim) -> (B, N, y_dim)."""
        w = latent.reshape(-1, self.x_dim + 1, self.y_dim)
        return jnp.einsum("bnp,bpo->bno", with_bias(x), w)


@dataclasses.dataclass(frozen=True)
class SinusoidTask:
    x_dim: int = 1
    n_freq: int = 3
    noise: float = 0.0
    y_dim: int = 1

    @property
    def n_params(self) -> int:
        return self.x_dim * self.n_freq

    def frequencies(self) -> jax.Array:
        """(x_dim, n_freq): the reference's fixed draw (5 U(0, 1) under seed 1)."""
        return SinusoidRegression(self.x_dim, self.n_freq).fixed_frequencies()

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.uniform(key, (n, self.n_params), minval=-1.0, maxval=1.0)

    def function(self, latent: jax.Array, x: jax.Array) -> jax.Array:
        amps = latent.reshape(-1, self.x_dim, self.n_freq)
        waves = jnp.sin(x[..., None] * self.frequencies())  # (B, N, x_dim, n_freq)
        return jnp.einsum("bndj,bdj->bn", waves, amps)[..., None]


@dataclasses.dataclass(frozen=True)
class LowRankMLPTask:
    x_dim: int = 1
    y_dim: int = 1
    noise: float = 0.0
    hidden: int = 64
    low_dim: int = 10

    @property
    def n_params(self) -> int:
        return self.low_dim

    @property
    def mlp(self) -> LowRankMLPRegression:
        return LowRankMLPRegression(self.x_dim, self.y_dim, self.hidden, self.low_dim, self.noise)

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, self.low_dim))

    def function(self, latent: jax.Array, x: jax.Array) -> jax.Array:
        return jax.vmap(self.mlp.predict)(latent, x)


@dataclasses.dataclass(frozen=True)
class GPTask:
    """The latent holds (l, s, a (M,), omega (M, x_dim), b (M,)): the function's random
    features, not a latent a model is asked to find (``n_params`` = 0)."""

    x_dim: int = 1
    noise: float = 0.02
    n_features: int = 256
    y_dim: int = 1
    n_params: int = 0

    @property
    def latent_size(self) -> int:
        return 2 + self.n_features * (self.x_dim + 2)

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        k_l, k_s, k_a, k_w, k_b = jax.random.split(key, 5)
        m = self.n_features
        return jnp.concatenate([
            jax.random.uniform(k_l, (n, 1), minval=0.1, maxval=0.6),
            jax.random.uniform(k_s, (n, 1), minval=0.1, maxval=1.0),
            jax.random.normal(k_a, (n, m)), jax.random.normal(k_w, (n, m * self.x_dim)),
            jax.random.uniform(k_b, (n, m), maxval=2 * jnp.pi)], axis=-1)

    def function(self, latent: jax.Array, x: jax.Array) -> jax.Array:
        """f(x) = s sqrt(2 / M) sum_m a_m cos(omega_m . x / l + b_m): covariance -> s^2 RBF."""
        m, d = self.n_features, self.x_dim
        length, scale = latent[:, :1, None], latent[:, 1:2, None]
        a, rest = latent[:, 2:2 + m], latent[:, 2 + m:]
        omega, phase = rest[:, :m * d].reshape(-1, m, d), rest[:, m * d:]
        arg = jnp.einsum("bnd,bmd->bnm", x, omega) / length + phase[:, None]
        return (scale * jnp.sqrt(2.0 / m) * jnp.einsum("bnm,bm->bn", jnp.cos(arg), a)[..., None])


@dataclasses.dataclass(frozen=True)
class ClassificationTask:
    """Labels drawn from the logits of a regression family with ``n_classes`` outputs
    (``logits``: a LinearTask or LowRankMLPTask with y_dim = n_classes): y ~ Cat(softmax(
    logits / temperature)), one-hot. ``function`` is the logits, the known f."""

    logits: LinearTask | LowRankMLPTask
    temperature: float = 1e-6
    noise: float = 0.0  # no additive noise: the labels' randomness is the temperature's

    @property
    def x_dim(self) -> int:
        return self.logits.x_dim

    @property
    def y_dim(self) -> int:
        """The number of classes (the width of the one-hot labels and of the predictions)."""
        return self.logits.y_dim

    @property
    def n_params(self) -> int:
        return self.logits.n_params

    def sample_latent(self, key: jax.Array, n: int) -> jax.Array:
        return self.logits.sample_latent(key, n)

    def function(self, latent: jax.Array, x: jax.Array) -> jax.Array:
        """latent (B, P), x (B, N, x_dim) -> logits (B, N, C)."""
        return self.logits.function(latent, x)

    def labels(self, key: jax.Array, logits: jax.Array) -> jax.Array:
        """One-hot labels (..., C) drawn from softmax(logits / temperature)."""
        y = jax.random.categorical(key, logits / self.temperature, axis=-1)
        return jax.nn.one_hot(y, self.y_dim)


def is_classification(task) -> bool:
    return isinstance(task, ClassificationTask)


def observe(task, key: jax.Array, f: jax.Array) -> jax.Array:
    """The data's y from the function's values f (..., y_dim): one-hot labels drawn from the
    logits (a classification family) or f plus ``task.noise`` Gaussian noise."""
    if is_classification(task):
        return task.labels(key, f)
    return f + task.noise * jax.random.normal(key, f.shape)


def three_quadrants(key: jax.Array, shape: tuple[int, ...], style: str) -> jax.Array:
    """(*shape, 2): a ~ U[0, 1)^2, then with probability 1/3 each: unchanged, coordinate 0
    moved negative, coordinate 1 moved negative. ``style`` "negate": the coordinate is
    negated (support: [-1, 1)^2 without (-1, 0)^2); "set": it is set to -1 (the reference)."""
    if style not in QUADRANT_STYLES:
        raise ValueError(f"unknown quadrant sampling {style!r}")
    k_a, k_q = jax.random.split(key)
    a = jax.random.uniform(k_a, shape + (2,))
    moved = jax.random.randint(k_q, shape, 0, 3)[..., None] == jnp.array([1, 2])  # (*shape, 2)
    return jnp.where(moved, -a if style == "negate" else -1.0, a)


def ablation_points(key: jax.Array, shape: tuple[int, ...], shift: str, style: str) -> jax.Array:
    """(*shape, 2) points of the ablation: ``shift`` "none" (three quadrants), "range" (the
    same draw + 1) or "quadrant" (the held-out quadrant: -U[0, 1)^2)."""
    if shift == "none":
        return three_quadrants(key, shape, style)
    if shift == "range":
        return three_quadrants(key, shape, style) + 1.0
    if shift == "quadrant":
        return -jax.random.uniform(key, shape + (2,))
    raise ValueError(f"unknown ablation shift {shift!r}")


@dataclasses.dataclass(frozen=True)
class QuadrantLinearTask:
    """The supervised ablation's task: y = x . w, x and w in 2-d, no bias (``ablation_points``)."""

    style: str = "set"
    noise: float = 0.0
    x_dim: int = 2
    y_dim: int = 1
    n_params: int = 2

    def sample_latent(self, key: jax.Array, n: int, shift: str = "none") -> jax.Array:
        return ablation_points(key, (n,), shift, self.style)

    def function(self, latent: jax.Array, x: jax.Array) -> jax.Array:
        """latent (B, 2), x (B, N, 2) -> (B, N, 1)."""
        return jnp.einsum("bnd,bd->bn", x, latent)[..., None]


Task = LinearTask | SinusoidTask | LowRankMLPTask | GPTask | QuadrantLinearTask | ClassificationTask | RavenTask


def make_task(family: str, task_config) -> Task:
    """The family's task from ``config.task`` (x_dim, y_dim, noise, n_freq, gp_noise,
    quadrant_sampling; lowrank_mlp: lowrank_x_dim; the classification families: cls_x_dim,
    n_classes, temperature; raven: raven_values, raven_setting)."""
    t = task_config
    if family == "linear":
        return LinearTask(t.x_dim, t.y_dim, t.noise)
    if family == "sinusoid":
        return SinusoidTask(t.x_dim, t.n_freq, t.noise)
    if family == "lowrank_mlp":
        return LowRankMLPTask(t.lowrank_x_dim, t.y_dim, t.noise)
    if family == "gp":
        return GPTask(t.x_dim, t.gp_noise)
    if family == "ablation":
        return QuadrantLinearTask(t.quadrant_sampling, t.noise)
    if family == "linear_cls":
        return ClassificationTask(LinearTask(t.cls_x_dim, t.n_classes), t.temperature)
    if family == "lowrank_cls":
        return ClassificationTask(LowRankMLPTask(t.cls_x_dim, t.n_classes), t.temperature)
    if family == "raven":  # its own batches, models and loss: raven.py
        return RavenTask(t.raven_values, t.raven_setting)
    raise ValueError(f"unknown family {family!r}")


def shift_queries(x_q: jax.Array, shift: str, intensity: float, key: jax.Array) -> jax.Array:
    """The query shift ``shift`` (iid / far / wide) of in-distribution queries x_q (..., x_dim)."""
    if shift == "iid":
        return x_q
    if shift == "wide":
        return intensity * x_q
    if shift == "far":
        u = jax.random.normal(key, x_q.shape)
        return 0.1 * x_q + intensity * u / jnp.linalg.norm(u, axis=-1, keepdims=True)
    raise ValueError(f"unknown shift {shift!r}")


def sample_batch(task: Task, key: jax.Array, n_tasks: int, max_context: int, n_queries: int,
                 n_context: jax.Array, style: str = "same") -> Batch:
    """Fresh tasks with ``n_context`` (a scalar, traced) valid context points out of
    ``max_context`` slots and ``n_queries`` in-distribution queries."""
    k_lat, k_c, k_q, k_eps = jax.random.split(key, 4)
    latent = task.sample_latent(k_lat, n_tasks)
    x_c = jax.random.normal(k_c, (n_tasks, max_context, task.x_dim))
    eps = jax.random.normal(k_q, (n_tasks, n_queries, task.x_dim))
    if style == "near":
        source = jnp.arange(n_queries) % jnp.maximum(n_context, 1)
        x_q = x_c[:, source] + 0.1 * eps
    else:
        x_q = eps
    valid = jnp.broadcast_to(jnp.arange(max_context) < n_context, (n_tasks, max_context))
    k_nc, k_nq = jax.random.split(k_eps)
    y_c = observe(task, k_nc, task.function(latent, x_c))
    y_q = observe(task, k_nq, task.function(latent, x_q))
    chex.assert_shape(y_c, (n_tasks, max_context, task.y_dim))
    return Batch(x_c, y_c, valid, x_q, y_q, latent)


def draw_context_size(key: jax.Array, lo: int, hi: int) -> jax.Array:
    """n ~ U{lo..hi} (a scalar int32)."""
    return jax.random.randint(key, (), lo, hi + 1)


def sample_ablation_batch(task: QuadrantLinearTask, key: jax.Array, n_tasks: int, max_context: int,
                          n_queries: int, n_context: jax.Array, w_shift: str = "none",
                          x_shift: str = "none") -> Batch:
    """Ablation tasks: w shifted by ``w_shift``, in-distribution context inputs, queries
    shifted by ``x_shift``. The same key gives the same underlying draws under every shift
    (a range-shifted batch is the unshifted one with w or x_q + 1)."""
    k_w, k_c, k_q, k_eps = jax.random.split(key, 4)
    w = task.sample_latent(k_w, n_tasks, w_shift)
    x_c = ablation_points(k_c, (n_tasks, max_context), "none", task.style)
    x_q = ablation_points(k_q, (n_tasks, n_queries), x_shift, task.style)
    valid = jnp.broadcast_to(jnp.arange(max_context) < n_context, (n_tasks, max_context))
    k_nc, k_nq = jax.random.split(k_eps)
    y_c = task.function(w, x_c) + task.noise * jax.random.normal(k_nc, (n_tasks, max_context, 1))
    y_q = task.function(w, x_q) + task.noise * jax.random.normal(k_nq, (n_tasks, n_queries, 1))
    chex.assert_shape(w, (n_tasks, 2))
    return Batch(x_c, y_c, valid, x_q, y_q, w)
