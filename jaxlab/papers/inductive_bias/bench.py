"""The study's speed ratio for ``jaxlab bench``: training an MLP ensemble as one program.

Keys:
  inductive_bias_members_per_s            digits MLP members trained per second, all
                                          members of the ensemble in one program (the
                                          engine's run axis, the default executor)
  inductive_bias_members_per_s_loop       the same members one after another, each a call
                                          of the same jitted single-member program
  inductive_bias_ensemble_speedup         the first ÷ the second, measured in the same run
"""
from __future__ import annotations

import jax

from jaxlab import config as config_lib
from jaxlab import runner, runs
from jaxlab.papers.inductive_bias import study
from jaxlab.papers.inductive_bias.ensemble import make_learner
from jaxlab.timing import best_time
from jaxlab.train import build_trainer

CONFIG = "configs/inductive_bias.py"


def bench(quick: bool = False, peak_gflops: float | None = None, *overrides: str) -> dict:
    members, steps = (16, 50) if quick else (64, 200)
    config = config_lib.load(CONFIG, [f"--config.sweep.n_seeds={members}",
                                      f"--config.train.steps={steps}",
                                      f"--config.train.chunk_steps={steps}", *overrides])
    cell = study.Cell("digits", 0, "mlp", config.mlp.width, config.mlp.depth)
    trainer = build_trainer(config, make_learner(study.dataset(config, cell), cell.width,
                                                 cell.depth, config.mlp.batch))
    grid, executor = runner.make_grid(config), runner.make_executor(config)
    hps, keys = grid.hp_arrays(), grid.keys()
    hps_p, keys_p = executor.place(runs.pad_runs((hps, keys), executor.padded(members)))
    state = executor.map_runs(trainer.init)(keys_p, hps_p)
    many = executor.map_runs(trainer.train_chunk).lower(state, hps_p).compile()
    t_many = best_time(lambda: many(state, hps_p), 2)

    one = lambda tree, r: jax.tree.map(lambda a: a[r], tree)
    singles = [(jax.jit(trainer.init)(keys[r], one(hps, r)), one(hps, r)) for r in range(members)]
    single = jax.jit(trainer.train_chunk).lower(*singles[0]).compile()
    t_loop = best_time(lambda: [single(s, h) for s, h in singles], 2)
    return {"inductive_bias_members_per_s": members / t_many,
            "inductive_bias_members_per_s_loop": members / t_loop,
            "inductive_bias_ensemble_speedup": t_loop / t_many}
