"""The explicit/implicit study's speed keys for ``jaxlab bench`` (default config; ``quick``:
smoke).

Keys:
  explicit_implicit_ms_per_seed_step_<kind>   ms per seed-step of each model kind, 3 seeds
                                              in one program (the default run's layout)
  explicit_implicit_seed_parallel_speedup     3 seeds of the tsf model (``quick``: the smoke
                                              config's first kind) in one program vs a
                                              loop of 3 single-seed programs (> 1: the
                                              vmapped program wins)
  explicit_implicit_step_flops_fraction       FLOP/s of that 3-seed program / matmul peak
"""
from __future__ import annotations

import jax

from jaxlab import config as config_lib
from jaxlab import runner, runs
from jaxlab.papers.explicit_implicit import study
from jaxlab.timing import best_time

CONFIG = "configs/explicit_implicit.py"


def _program(spec: str, kind: str, chunk: int, n_seeds: int):
    config = config_lib.load(spec, [f"--config.train.chunk_steps={chunk}", f"--config.train.steps={chunk}",
                                    f"--config.sweep.n_seeds={n_seeds}", "--config.train.warmup_steps=0"])
    trainer = study.make_trainer(config, config.task.families[0], kind)
    grid = runner.make_grid(config)
    return trainer, grid.hp_arrays(), grid.keys()


def step_times(spec: str, chunk: int, repeats: int, kinds: tuple[str, ...]) -> dict:
    """ms per seed-step of each kind, 3 seeds in one vmapped program."""
    out = {}
    ex = runs.Executor("vmap")
    for kind in kinds:
        trainer, hps, keys = _program(spec, kind, chunk, 3)
        state = ex.map_runs(trainer.init)(keys, hps)
        step = ex.map_runs(trainer.train_chunk).lower(state, hps).compile()
        out[f"explicit_implicit_ms_per_seed_step_{kind}"] = best_time(
            lambda: step(state, hps), repeats) / (3 * chunk) * 1e3
    return out


def seed_parallel(spec: str, chunk: int, repeats: int, peak: float, kind: str = "tsf") -> dict:
    """3 seeds in one program vs a loop over the single-seed program of ``kind``."""
    trainer, hps, keys = _program(spec, kind, chunk, 3)
    ex = runs.Executor("vmap")
    state = ex.map_runs(trainer.init)(keys, hps)
    many = ex.map_runs(trainer.train_chunk).lower(state, hps).compile()
    t_many = best_time(lambda: many(state, hps), repeats)
    one = lambda tree, r: jax.tree.map(lambda a: a[r], tree)
    singles = [(jax.jit(trainer.init)(keys[r], one(hps, r)), one(hps, r)) for r in range(3)]
    single = jax.jit(trainer.train_chunk).lower(*singles[0]).compile()
    t_loop = best_time(lambda: [single(s, h) for s, h in singles], repeats)
    cost = many.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return {"explicit_implicit_seed_parallel_speedup": t_loop / t_many,
            "explicit_implicit_step_flops_fraction": float(cost["flops"]) / t_many / 1e9 / peak}


def bench(quick: bool, peak: float) -> dict:
    spec = CONFIG + (":smoke" if quick else "")
    chunk, repeats = (2, 1) if quick else (10, 3)
    base = config_lib.load(spec)
    return {**step_times(spec, chunk, repeats, tuple(base.model.kinds)),
            # quick: a kind step_times compiled already, not a third program
            **seed_parallel(spec, chunk, repeats, peak, base.model.kinds[0] if quick else "tsf")}
