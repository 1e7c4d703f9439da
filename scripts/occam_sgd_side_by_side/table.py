"""Fit-by-fit markdown table from reference_fits.py (r_TAG.json) and jaxlab_fits.py
(j_TAG.json) outputs in the current folder. usage: python table.py TAG [TAG ...]"""
import json, sys
import numpy as np
rows = []
for tag in sys.argv[1:]:
    ref = json.load(open(f"r_{tag}.json")); jx = json.load(open(f"j_{tag}.json"))["jax"]
    for i, f in enumerate(ref["fits"]):
        a = np.asarray(f["val_curve"]); e = min(len(a), 300)
        b = np.asarray(jx["ref_init_curves"]["val"][i][:e])
        shift = len(a) < f["epochs"]  # the run's first check not seen (first fit of a run)
        d = np.max(np.abs(a[:e] - (np.asarray(jx["ref_init_curves"]["val"][i][1:e + 1]) if shift else b)))
        t, l = jx["ref/tolerant/fit_many"][i], jx["ref/lightning/fit_many"][i]
        rows.append(f"| {tag}{i} | {f['n']} | {f['n_train']}/{f['n_val']} | {f['epochs']} | {f['test_mse']:.3f} | "
                    f"{t['epochs']} | {t['test_mse']:.3f} | {l['epochs']} | {l['test_mse']:.3f} | {d:.0e}{' *' if shift else ''} |")
print("| fit | n | train/val | reference: epochs | reference: test MSE | ours, tolerant: epochs | ours, tolerant: test MSE | ours, Lightning rule: epochs | ours, Lightning rule: test MSE | max \\|Δ val loss\\| |")
print("|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
