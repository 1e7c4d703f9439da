"""The SGD learner of "In-context learning and Occam's razor" alone: the test MSE rows that
`jaxlab run configs/icl_occam.py[:VARIANT]` reports for it, without training the in-context
learners (``jaxlab.papers.icl_occam.sgd.evaluate`` with the study's seed keys, as
``study.baselines`` calls it), so the same config gives the same numbers.

    python scripts/icl_sgd_rows.py [--variant sinusoid] [--sizes 5,10,20,100]
        [--tasks-per-size 32] [--init torch|flax] [--stop-rule tolerant|lightning]
        [--lanes 4] [--bucket-edges 16,64] [--out x.json]

Prints, for each reported n, the mean ± std over seeds of the per-seed mean test MSE and the
mean epochs per fit; with the default sizes also code_length_5 (sum over n = 5..N-1 as
``study.summarize``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs.icl_occam import get_config  # noqa: E402
from jaxlab import runs  # noqa: E402
from jaxlab.papers.icl_occam import sgd as icl_sgd  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="")
    p.add_argument("--sizes", default="", help="comma-separated n (default: the config's)")
    p.add_argument("--tasks-per-size", type=int, default=0, help="0: the config's")
    p.add_argument("--init", default="", help="torch | flax (default: the config's)")
    p.add_argument("--stop-rule", default="", help="tolerant | lightning (default: the config's)")
    p.add_argument("--lanes", type=int, default=0, help="fits in flight per device (0: the config's)")
    p.add_argument("--bucket-edges", default="", help="comma-separated n_train edges of size buckets")
    p.add_argument("--out", default="")
    a = p.parse_args()
    config = get_config(a.variant or None)
    if a.sizes:
        config.sgd.sizes = tuple(int(s) for s in a.sizes.split(","))
    if a.tasks_per_size:
        config.sgd.tasks_per_size = a.tasks_per_size
    if a.init:
        config.sgd.init = a.init
    if a.stop_rule:
        config.sgd.stop_rule = a.stop_rule
    if a.lanes:
        config.sgd.lanes = a.lanes
    if a.bucket_edges:
        config.sgd.bucket_edges = tuple(int(e) for e in a.bucket_edges.split(","))
    icl_sgd.validate(config)
    grid = runs.RunGrid({}, {}, config.sweep.n_seeds, config.seed, {})
    sgd_keys = jax.vmap(lambda k: jax.random.fold_in(k, 3))(grid.seed_keys())  # study.baselines
    t0 = time.time()
    out = jax.device_get(icl_sgd.evaluate(config, sgd_keys))
    wall = time.time() - t0
    g = np.asarray(out["gen_error"], np.float64)  # (seeds, sizes)
    epochs = np.asarray(out["epochs"], np.float64)
    sizes = list(config.sgd.sizes)
    s = config.sgd
    print(f"variant={a.variant or 'linear'} init={s.init} stop_rule={s.stop_rule} sizes={len(sizes)} "
          f"x {s.tasks_per_size} tasks x {g.shape[0]} seeds: {wall:.0f} s, "
          f"{epochs.mean():.0f} epochs per fit on average")
    for n in sorted(set(sizes) & set(config.eval.report_n)) or sizes:
        j = sizes.index(n)
        print(f"  n = {n:4d}: {g[:, j].mean():.3f} ± {g[:, j].std():.3f}  ({epochs[:, j].mean():.0f} epochs)")
    result = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
              "variant": a.variant, "wall_s": round(wall), "sizes": sizes,
              "gen_error": g.tolist(), "epochs": epochs.tolist(),
              "steps": np.asarray(out["steps"]).tolist()}
    ns = np.arange(5, config.eval.n_points)
    if min(sizes) <= 5 and max(sizes) >= ns[-1]:
        cl = np.array([np.interp(ns, sizes, row).sum() for row in g])
        result["code_length_5"] = cl.tolist()
        print(f"  code_length_5: {cl.mean():.2f} ± {cl.std():.2f}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
