"""jaxlab's SGD learner (the study's make_spec: Adam 1e-4, clip 0.05, batch 64, patience
10, min_delta 1e-3, 2000 epochs, last params) on the fits of an npz (make_data.py), fit by
fit, beside the reference's run on the same data (reference_fits.py json).

For every fit: (1) the full per-epoch val and test curves over 2000 epochs (patience off),
from the reference's initial weights (copied from the json) or from Flax's default init,
so both stopping rules can be applied to the same trajectory; (2) the study's vectorized
path (fits.fit_many) with each stop rule, to check that it stops where the curve says.
usage: python jaxlab_fits.py data.npz ref.json.init out.json (the reference's initial weights)
"""
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from configs.icl_occam import get_config  # noqa: E402
from jaxlab.coding import fits  # noqa: E402
from jaxlab.papers.icl_occam import sgd as icl_sgd  # noqa: E402

data_path, ref_path, out_path = sys.argv[1:4]
D = np.load(data_path)
ref = json.load(open(ref_path))
ns = np.asarray(D["n"])
F = len(ns)
n_train, n_val = icl_sgd.split_sizes(ns, 0.8)


def stop_epoch(val, rule, patience=10, min_delta=1e-3, max_epochs=2000):
    """Epoch (1-based) at which a rule stops a fit with this per-epoch val-loss curve."""
    best, wait = np.inf, 0
    for e, v in enumerate(val[:max_epochs], start=1):
        ok = (v < best - min_delta) if rule == "lightning" else (v - min_delta < best)
        if ok:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                return e
    return min(len(val), max_epochs)


def run(init_kind, stop_rule, curves):
    config = get_config("")
    config.sgd.update(init="torch" if init_kind == "flax_torchstyle" else "flax", stop_rule=stop_rule)
    if curves:
        config.sgd.update(patience=10**6)
    spec, model = icl_sgd.make_spec(config, 1)
    if init_kind == "ref":
        params = {"params": {k: {"kernel": jnp.asarray(v["kernel"], jnp.float32),
                                 "bias": jnp.asarray(v["bias"], jnp.float32)}
                             for k, v in ref["init"].items()}}
    else:
        params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
    data = fits.FitData(jnp.asarray(D["x_train"]), jnp.asarray(D["y_train"]), jnp.asarray(n_train),
                        jnp.asarray(D["x_val"]), jnp.asarray(D["y_val"]), jnp.asarray(n_val),
                        jax.random.split(jax.random.PRNGKey(1), F))
    xt, yt = jnp.asarray(D["x_test"]), jnp.asarray(D["y_test"])
    if not curves:
        res = jax.jit(lambda d: fits.fit_many(spec, params, d, lanes=8))(data)
        pred = jax.vmap(model.apply)(res.params, xt)
        return {"epochs": np.asarray(res.epochs).tolist(), "steps": np.asarray(res.steps).tolist(),
                "test_mse": np.asarray(((pred - yt) ** 2).mean((1, 2))).tolist()}
    n_steps = 2000 * int(np.ceil(D["x_train"].shape[1] / 64))

    def one(d, xt, yt):
        def body(state, _):
            state = fits.fit_step(spec, state, d)
            mask = (jnp.arange(d.x_val.shape[0]) < d.n_val).astype(jnp.float32)
            val = jnp.sum(((model.apply(state.params, d.x_val) - d.y_val) ** 2)[:, 0] * mask) / mask.sum()
            test = jnp.mean((model.apply(state.params, xt) - yt) ** 2)
            return state, (state.step_in_epoch == 0, val, test)
        _, out = jax.lax.scan(body, fits.init_fit(spec, params, d), None, length=n_steps)
        return out
    end, val, test = jax.jit(jax.vmap(one))(data, xt, yt)
    end, val, test = map(np.asarray, (end, val, test))
    out = {"val_curve": [], "test_curve": []}
    for i in range(F):
        out["val_curve"].append(val[i][end[i]][:2000].tolist())
        out["test_curve"].append(test[i][end[i]][:2000].tolist())
    return out


result = {"n": ns.tolist(), "jax": {}}
for init_kind in ("ref", "flax", "flax_torchstyle"):
    c = run(init_kind, "tolerant", curves=True)
    for rule in ("tolerant", "lightning"):
        rows = []
        for i in range(F):
            e = stop_epoch(c["val_curve"][i], rule)
            rows.append({"epochs": e, "test_mse": c["test_curve"][i][e - 1]})
        result["jax"][f"{init_kind}/{rule}/curve"] = rows
        fm = run(init_kind, rule, curves=False)
        result["jax"][f"{init_kind}/{rule}/fit_many"] = [
            {"epochs": fm["epochs"][i], "steps": fm["steps"][i], "test_mse": fm["test_mse"][i]} for i in range(F)]
    if init_kind == "ref":
        result["jax"]["ref_init_curves"] = {"val": [v[:300] for v in c["val_curve"]],
                                            "test": [v[:300] for v in c["test_curve"]]}
    print("done", init_kind, flush=True)
json.dump(result, open(out_path, "w"))
