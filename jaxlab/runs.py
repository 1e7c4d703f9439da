"""The run axis: hyper-parameter points x seeds, their keys, and the executors.

A study's runs are the product of the swept hyper-parameter points and the seeds, laid
out on one leading axis of length R = n_points * n_seeds (point-major). Run r = (i, s)
gets the key ``fold_in(fold_in(PRNGKey(root), i), s)``, so its numbers do not depend on
how many runs share a program, how they are chunked, or how many devices hold them.

Executors map a per-run function over the run axis inside one compiled program:
  * ``vmap``: every run at once;
  * ``chunked``: ``lax.map`` over groups of ``runs_per_batch`` runs (bounded memory, and
    on a CPU the cache-friendly layout: each group's activations stay cache-sized);
  * either of them sharded over the local devices with ``shard_map`` on a ``runs`` mesh
    axis (the run count is padded up to a multiple of the device count), optionally beside
    a ``data`` axis that splits each run's batch (``data`` > 1, see ``Executor``);
  * ``layout(n_runs, devices, ...)`` picks how many devices go on each axis: never more run
    devices than runs, so no device computes only padding.
  * with ``all_processes`` (several processes joined by ``jax.distributed``), the mesh
    holds every process's devices: each process runs its own slice of the runs, inputs
    are assembled into global arrays from the (identical) host values every process
    holds, and ``gather`` brings whole outputs back to every host.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


@dataclasses.dataclass(frozen=True)
class RunGrid:
    """The product of swept hp values and seeds.

    ``axes`` maps an hp field to the values it takes; ``defaults`` holds every hp field's
    value when it is not swept. Categorical (string) values are encoded as int32 indices
    into ``choices[field]`` in the hp pytree handed to the trainer.
    """

    axes: Mapping[str, tuple]
    defaults: Mapping[str, Any]
    n_seeds: int
    root_seed: int
    choices: Mapping[str, tuple] = dataclasses.field(default_factory=dict)

    @property
    def points(self) -> list[dict[str, Any]]:
        """Every hp point (dict of field -> value), in row-major order of ``axes``."""
        names = list(self.axes)
        combos = itertools.product(*(self.axes[n] for n in names)) if names else [()]
        return [{**self.defaults, **dict(zip(names, combo))} for combo in combos]

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.n_seeds

    def run_table(self) -> list[dict[str, Any]]:
        """One dict per run: run, seed, point index, the swept fields' values, and under
        "hp" every hp field's value (swept or not)."""
        rows = []
        for i, point in enumerate(self.points):
            for s in range(self.n_seeds):
                rows.append({"run": i * self.n_seeds + s, "point": i, "seed": s,
                             **{k: point[k] for k in self.axes}, "hp": point})
        return rows

    def encode(self, value: Any, field: str) -> Any:
        if field in self.choices:
            return self.choices[field].index(value)
        return value

    def hp_arrays(self) -> dict[str, jax.Array]:
        """Stacked hp pytree with leading run axis (R,)."""
        out = {}
        for field in self.defaults:
            vals = [self.encode(p[field], field) for p in self.points for _ in range(self.n_seeds)]
            dtype = jnp.int32 if field in self.choices else jnp.float32
            out[field] = jnp.asarray(vals, dtype=dtype)
        return out

    def keys(self) -> jax.Array:
        """(R, 2) uint32 keys: fold_in(fold_in(root, point), seed)."""
        root = jax.random.PRNGKey(self.root_seed)
        ks = [jax.random.fold_in(jax.random.fold_in(root, i), s)
              for i in range(len(self.points)) for s in range(self.n_seeds)]
        return jnp.stack(ks)

    def seed_keys(self) -> jax.Array:
        """(n_seeds, 2): keys shared by every run of a seed (held-out evaluation episodes)."""
        root = jax.random.fold_in(jax.random.PRNGKey(self.root_seed), 2**31 - 1)
        return jnp.stack([jax.random.fold_in(root, s) for s in range(self.n_seeds)])


DATA_AXIS = "data"


def layout(n_runs: int, devices: int, *, data: int = 0, batch: int | None = None,
           runs_per_batch: int = 1, chunked: bool = False) -> tuple[int, int]:
    """(run devices, data devices) for ``n_runs`` runs on at most ``devices`` devices.

    data: 0 = chosen here, else the number of data devices wanted. The rule: the least work
    per device, ceil(n_runs / run devices) / data, with the run axis preferred on ties (it
    needs no communication); never more run devices than run groups (a device holding
    only padding computes a copy that is thrown away), so with fewer runs than devices the
    rest go on ``data`` when the batch splits evenly (``batch`` tasks; None = no data axis)
    and stay idle otherwise.
    """
    groups = -(-n_runs // runs_per_batch) if chunked else n_runs
    fits = lambda d: batch is not None and batch % d == 0
    if data:
        if data > devices or devices % data:
            raise ValueError(f"data={data} must divide the {devices} devices")
        if data > 1 and not fits(data):
            raise ValueError(f"data={data} must divide the batch of {batch} tasks")
        return min(devices // data, max(groups, 1)), data
    best = (float("inf"), 0, 0)
    for d in range(1, devices + 1):
        if devices % d or (d > 1 and not fits(d)):
            continue
        r = min(devices // d, max(groups, 1))
        work = -(-groups // r) / d
        if work < best[0] - 1e-12:
            best = (work, r, d)
    return best[1], best[2]


@dataclasses.dataclass(frozen=True)
class Executor:
    """How the per-run function is laid out over runs and devices.

    kind: "vmap" or "chunked"; runs_per_batch: group size for "chunked";
    devices: number of devices the program uses (1 = no sharding): the first ``devices``
    local devices, or with ``all_processes`` every device of every process (then
    ``devices`` must equal ``jax.device_count()``);
    data: how many of them split each run's batch (a ``data`` mesh axis beside ``runs``;
    must divide ``devices``): the run axis is sharded over ``devices // data`` devices, and
    a trainer built with ``data_axis=DATA_AXIS`` averages its gradients over the rest.
    """

    kind: str = "vmap"
    runs_per_batch: int = 1
    devices: int = 1
    all_processes: bool = False
    data: int = 1

    def __post_init__(self):
        if self.data < 1 or self.devices % self.data:
            raise ValueError(f"data={self.data} must be >= 1 and divide devices={self.devices}")

    @property
    def run_devices(self) -> int:
        """Devices along the run axis."""
        return self.devices // self.data

    def padded(self, n_runs: int) -> int:
        per = self.run_devices * (self.runs_per_batch if self.kind == "chunked" else 1)
        return -(-n_runs // per) * per

    def runs_per_device(self, n_runs: int) -> int:
        """Runs whose activations one device holds at once (vmap: all of its slice;
        chunked: one group)."""
        per = self.padded(n_runs) // self.run_devices
        return min(per, self.runs_per_batch) if self.kind == "chunked" else per

    def mesh(self) -> Mesh | None:
        if self.all_processes:
            if self.devices != jax.device_count():
                raise ValueError(f"an all-process executor needs every device "
                                 f"({jax.device_count()}), got devices={self.devices}")
            devices = jax.devices()
        elif self.devices <= 1:
            return None
        else:
            devices = jax.local_devices()[: self.devices]
        if self.data == 1:
            return Mesh(np.asarray(devices), ("runs",))
        return Mesh(np.asarray(devices).reshape(self.run_devices, self.data), ("runs", DATA_AXIS))

    def map_runs(self, fn: Callable) -> Callable:
        """fn(*per_run_args) -> per_run_out  ==>  f(*stacked_args) -> stacked_out, jitted.

        Every argument and output carries the run axis first. With several devices the
        inputs must already be padded to ``padded(R)`` runs (see ``pad_runs``).
        """
        if self.kind == "vmap":
            local = vmap_runs(fn)
        elif self.kind == "chunked":
            group = self.runs_per_batch if self.runs_per_batch > 1 else None  # 1: no vmap
            local = lambda *args: jax.lax.map(lambda a: fn(*a), args, batch_size=group)
        else:
            raise ValueError(f"executor.kind must be 'vmap' or 'chunked', got {self.kind!r}")
        return jax.jit(self.shard(local))

    def shard(self, batched: Callable) -> Callable:
        """``batched`` (already mapping over a leading run axis) split over the devices:
        each device applies it to its own slice of the runs. Unchanged on one device."""
        mesh = self.mesh()
        if mesh is None:
            return batched
        return jax.shard_map(batched, mesh=mesh, in_specs=P("runs"), out_specs=P("runs"),
                             check_vma=False)

    def place(self, tree: Any) -> Any:
        """Put a run-stacked pytree on the devices the executor uses. Across processes,
        every process must hold the same host values; each keeps only its own slice."""
        mesh = self.mesh()
        if mesh is None:
            return tree
        sharding = NamedSharding(mesh, P("runs"))
        if not self.all_processes:
            return jax.device_put(tree, sharding)

        def assemble(a):
            host = np.asarray(a)
            return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])
        return jax.tree.map(assemble, tree)

    def gather(self, tree: Any) -> Any:
        """The whole run-stacked pytree as host numpy arrays, on every process."""
        if not self.all_processes:
            return jax.device_get(tree)
        from jax.experimental import multihost_utils

        return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))

    def replicated(self) -> jax.sharding.Sharding:
        """Where a topology-free copy of the runs lives (every device of the mesh, or
        the default device without one)."""
        mesh = self.mesh()
        if mesh is None:
            return jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        return NamedSharding(mesh, P())

    def unpadded(self, tree: Any, n_runs: int) -> Any:
        """The first ``n_runs`` runs, replicated: the same array whatever the device count
        (what a checkpoint holds, so it restores onto any topology)."""
        return _resized(n_runs, self.replicated(), False)(tree)

    def repadded(self, tree: Any, n_padded: int) -> Any:
        """Inverse of ``unpadded``: pad to ``n_padded`` runs and shard over the mesh."""
        mesh = self.mesh()
        out = self.replicated() if mesh is None else NamedSharding(mesh, P("runs"))
        return _resized(n_padded, out, True)(tree)


def vmap_runs(fn: Callable) -> Callable:
    """``jax.vmap(fn)`` over the leading run axis, except where that axis has one run
    (one seed on a device): then fn is applied to the run itself and the axis put back, so
    the program holds no size-1 batch dimension. XLA:CPU's fused reductions run such
    shapes about 2x slower (the attention softmax's backward: 1.09 against 0.52 ms for
    (1, 8, 4, 65, 65) against (8, 4, 65, 65), ours); the values are the same (JAX's
    random draws do not depend on vmap)."""
    batched = jax.vmap(fn)

    def mapped(*args):
        leaves = jax.tree.leaves(args)
        if leaves and all(np.ndim(a) and np.shape(a)[0] == 1 for a in leaves):
            out = fn(*jax.tree.map(lambda a: a[0], args))
            return jax.tree.map(lambda a: jnp.expand_dims(a, 0), out)
        return batched(*args)
    return mapped


@functools.lru_cache(maxsize=32)
def _resized(n: int, sharding: jax.sharding.Sharding, pad: bool) -> Callable:
    """One jitted resize per (size, placement), compiled once per run, not per chunk."""
    return jax.jit(lambda t: pad_runs(t, n) if pad else unpad_runs(t, n), out_shardings=sharding)


def pad_runs(tree: Any, n_padded: int) -> Any:
    """Repeat the last run so the run axis has ``n_padded`` entries."""
    def pad(a):
        extra = n_padded - a.shape[0]
        if extra == 0:
            return a
        return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)], axis=0)
    return jax.tree.map(pad, tree)


def unpad_runs(tree: Any, n_runs: int) -> Any:
    return jax.tree.map(lambda a: a[:n_runs], tree)
