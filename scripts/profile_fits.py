"""Where the time of the vectorized SGD fits goes (the §3.2 learner, linear regression).

    python scripts/profile_fits.py [--lanes 4 8 16 32] [--chunk 4 8 16]
    PYTHONPATH=. python scripts/profile_fits.py   # from a checkout without pip install -e

Prints, from one run: the cost of one optimizer step per fit ("lane-step") of the vmapped
``fit_step`` at several lane counts, with the epoch-end work (validation loss, reshuffle)
and the shuffle's sort done by XLA's sort or by rank counting; then the wall time of
``fit_many`` on the bench's 64 fits for each lanes x chunk_steps setting, against a loop
of whole-fit jitted programs. Used to choose ``sgd.lanes`` / ``sgd.chunk_steps``.
"""
from __future__ import annotations

import argparse
import dataclasses

from jaxlab.cli import use_cpu_cores_as_devices

use_cpu_cores_as_devices()  # the bench's device layout (one device per core), before jax loads

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxlab import config as config_lib  # noqa: E402
from jaxlab import runs  # noqa: E402
from jaxlab.papers.icl_occam.bench import CONFIG  # noqa: E402
from jaxlab.timing import best_time  # noqa: E402
from jaxlab.coding import fits  # noqa: E402
from jaxlab.papers.icl_occam import sgd as icl_sgd  # noqa: E402


def _setup(sizes, tasks_per_size, *overrides):
    config = config_lib.load(CONFIG, [f"--config.sgd.sizes={tuple(int(n) for n in sizes)}",
                                      f"--config.sgd.tasks_per_size={tasks_per_size}", *overrides])
    spec, model = icl_sgd.make_spec(config, 1)
    data, (_, x_test, _) = icl_sgd.fit_data(config, jax.random.PRNGKey(0))
    return config, spec, data, model.init(jax.random.PRNGKey(1), x_test[0, :1])


def lane_step_us(spec, init, data, lanes: int, steps: int = 100) -> float:
    d = jax.tree.map(lambda a: a[:lanes], data)
    state = jax.vmap(lambda x: fits.init_fit(spec, init, x))(d)
    step = jax.vmap(lambda s, x: fits.fit_step(spec, s, x))
    run = jax.jit(lambda s, x: jax.lax.fori_loop(0, steps, lambda _, t: step(t, x), s))
    return best_time(lambda: run(state, d), 3) / steps / lanes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--chunk", type=int, nargs="+", default=[8])
    args = parser.parse_args()

    _, spec, data, init = _setup([100], 32)  # n_train = 80 > batch 64: two steps per epoch
    print("fit_step per lane-step (one device), n_train = 80:")
    rank_limit = fits.RANK_SORT_MAX_ROWS
    for lanes in (1, 8, 32):
        fits.RANK_SORT_MAX_ROWS = rank_limit
        rank = lane_step_us(spec, init, data, lanes)
        fits.RANK_SORT_MAX_ROWS = 0  # force XLA's sort
        sort = lane_step_us(spec, init, data, lanes)
        print(f"  lanes {lanes:3d}: {rank:6.1f} us (rank-count shuffle), {sort:6.1f} us (XLA sort)")
    fits.RANK_SORT_MAX_ROWS = rank_limit

    base = config_lib.load(CONFIG)
    sizes = np.unique(np.geomspace(min(base.sgd.sizes), max(base.sgd.sizes), 16).astype(int))
    _, spec, data, init = _setup(sizes, 4)
    n_fits = data.n_train.shape[0]
    whole = jax.jit(lambda d: fits.fit(spec, init, d))
    singles = [jax.tree.map(lambda a: a[i], data) for i in range(n_fits)]
    t_loop = best_time(lambda: [whole(d) for d in singles], 1)
    print(f"{n_fits} fits: loop of whole-fit programs {t_loop:.2f} s")
    ex = runs.Executor("vmap", devices=jax.local_device_count())
    padded = ex.place(runs.pad_runs(data, ex.padded(n_fits)))
    for chunk in args.chunk:
        for lanes in args.lanes:
            s = dataclasses.replace(spec, chunk_steps=chunk)
            many = jax.jit(fits.fit_many_on(ex, s, init, lanes))
            t = best_time(lambda: many(padded), 3)
            print(f"  fit_many lanes {lanes:3d} chunk {chunk:3d}: {t:.3f} s = {t_loop / t:.2f}x the loop",
                  flush=True)


if __name__ == "__main__":
    main()
