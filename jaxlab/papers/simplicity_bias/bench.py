"""The simplicity-bias study's speed ratio for ``jaxlab bench``.

Keys:
  simplicity_bias_curves_speedup   every fit of one Scenario A point (feature curves and the
                                   mixed network, all sizes and seeds) in one program ÷ the
                                   same fits as a Python loop over fits, each fit one jitted
                                   program (the reference's structure, minus PyTorch),
                                   measured in the same run
  simplicity_bias_fits             how many fits that is
  simplicity_bias_fit_steps_per_s  optimizer steps per second of the one program
(``quick``: the smoke config's sizes; otherwise the default's first 10 sizes and 2 seeds.)
"""
from __future__ import annotations

import jax
import numpy as np

from jaxlab import config as config_lib
from jaxlab.coding import fits
from jaxlab.papers.simplicity_bias import curves, study
from jaxlab.timing import best_time

# Found through jaxlab.config.locate (the checkout, $JAXLAB_CONFIGS or the installed configs).
CONFIG = "configs/simplicity_bias.py"


def bench(quick: bool, peak_gflops: float) -> dict:
    del peak_gflops  # the key is a ratio of two programs measured here
    overrides = [] if quick else ["--config.curve.sizes=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)",
                                  "--config.curve.n_seeds=2"]
    config = config_lib.load(CONFIG + (":smoke" if quick else ""), overrides)
    point = study.points(config)[0]
    setup = curves.make_setup(config, point["scenario"])
    params = curves.params_of(config, point["knobs"], setup.static)
    c = config.curve
    fd, keys = jax.jit(lambda k: curves.fit_data(setup, params, c.n_seeds, c.n_val, k))(
        jax.random.PRNGKey(0))
    inits = jax.jit(lambda k: curves.init_params(setup, k))(keys)
    many = jax.jit(lambda i, d: fits.fit_many(setup.spec, i, d, c.lanes or None, params_per_fit=True))
    result = jax.block_until_ready(many(inits, fd))
    t_many = best_time(lambda: many(inits, fd), 1)
    alone = jax.jit(lambda i, d: fits.fit(setup.spec, i, d))
    n_fits = int(fd.n_train.shape[0])
    singles = [jax.tree.map(lambda a: a[f], (inits, fd)) for f in range(n_fits)]
    t_loop = best_time(lambda: [alone(*s) for s in singles], 1)
    steps = int(np.asarray(result.steps).sum())
    return {"simplicity_bias_curves_speedup": t_loop / t_many, "simplicity_bias_fits": n_fits,
            "simplicity_bias_fit_steps_per_s": steps / t_many}
