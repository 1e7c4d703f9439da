"""``run(config, session)``: sample every cell's hypotheses, fit, write tables, print, plot.

Tables: ``errors`` (one row per hypothesis: cell, task, dim, model, width, depth,
hypothesis, test_mse, and for MLP members train_mse and test_acc), ``estimates`` (one row
per comparison x cell x eps: the fit, its KS statistic, IB in bits with its bootstrap
interval, whether the far-tail approximation was used) and the engine's ``train``.
"""
from __future__ import annotations

import os

import ml_collections
import numpy as np
import pandas as pd

from jaxlab import results, runner
from jaxlab.papers.inductive_bias import plots, study, tasks


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    comparisons = study.comparison_cells(config)
    cells = list(dict.fromkeys(c for cs in comparisons.values() for c in cs))
    error_rows, fits = [], {}
    for cell in cells:
        data = study.dataset(config, cell)
        sample = study.kernel_errors if cell.model == "kernel" else study.mlp_errors
        per = sample(config, cell, data, session)
        n = len(per["test_mse"])
        error_rows.append(pd.DataFrame({**{k: [v] * n for k, v in cell.row().items()},
                                        "hypothesis": np.arange(n), **per}))
        fits[cell] = study.estimate(config, cell, per["test_mse"], tasks.baseline_error(data), session)
    errors = pd.concat(error_rows, ignore_index=True)
    estimates = estimates_table(config, comparisons, fits)
    results.write_table(session.workdir, "errors", errors)
    results.write_table(session.workdir, "estimates", estimates)
    text = summary(config, estimates)
    results.atomic_write_text(os.path.join(session.workdir, "table.txt"), text)
    plots.draw_all(session.workdir, errors, estimates)


def estimates_table(config: ml_collections.ConfigDict, comparisons: dict, fits: dict) -> pd.DataFrame:
    rows = []
    for name, cells in comparisons.items():
        for cell in cells:
            f = fits[cell]
            for i, frac in enumerate(config.estimate.eps_fracs):
                rows.append({"comparison": name, **cell.row(), "eps_frac": float(frac),
                             "eps": f["eps"][i], "ib_bits": f["ib_bits"][i],
                             "ib_low": f["ib_low"][i], "ib_high": f["ib_high"][i],
                             "far_tail": bool(f["far_tail"][i]), "df": f["df"], "nc": f["nc"],
                             "scale": f["scale"], "ks": f["ks"], "n_hypotheses": f["n_hypotheses"],
                             "mean_error": f["mean_error"], "base_error": f["base_error"],
                             "eps_reference": f.get("eps_reference", f["base_error"])})
    return pd.DataFrame(rows)


def summary(config: ml_collections.ConfigDict, estimates: pd.DataFrame) -> str:
    """What the command prints: per comparison and cell, IB at every eps with its interval."""
    fracs = list(config.estimate.eps_fracs)
    ref = config.estimate.eps_reference
    unit = (f"{ref:g} (a fixed absolute test MSE, the same for every cell)" if ref > 0
            else "the mean predictor's test MSE")
    lines = ["inductive bias IB(eps) = -log2 P[test MSE <= eps] in bits (ours) [" +
             f"{config.estimate.level:.0%} bootstrap interval over hypotheses]; eps = frac x {unit}; "
             "* = far-tail approximation; ks = the fit's "
             "Kolmogorov-Smirnov distance; err = mean test MSE of the hypotheses"]
    head = "  ".join(f"{'eps=' + format(f, 'g') + 'x':>24}" for f in fracs)
    for name in config.comparisons:
        part = estimates[estimates.comparison == name]
        lines += [f"\n{name}:", f"  {'cell':<22} {'n':>5} {'err':>7} {'ks':>6}  {head}"]
        for cell, g in part.groupby("cell", sort=False):
            g = g.set_index("eps_frac").loc[fracs]
            r = g.iloc[0]
            cols = "  ".join(f"{b:>8.1f}{'*' if t else ' '}[{lo:>6.1f},{hi:>6.1f}]"
                             for b, lo, hi, t in zip(g.ib_bits, g.ib_low, g.ib_high, g.far_tail))
            lines.append(f"  {cell:<22} {r.n_hypotheses:>5d} {r.mean_error:>7.4f} {r.ks:>6.3f}  {cols}")
        if name == "classes" and part.cell.nunique() == 2:
            k, m = (part[part.model == c].set_index("eps_frac").loc[fracs] for c in ("kernel", "mlp"))
            cols = "  ".join(f"{a - b:>9.1f}[{lo_k - hi_m:>6.1f},{hi_k - lo_m:>6.1f}]" for a, b, lo_k, hi_m, hi_k, lo_m
                             in zip(k.ib_bits, m.ib_bits, k.ib_low, m.ib_high, k.ib_high, m.ib_low))
            lines.append(f"  {'kernel - mlp (encoded)':<22} {'':>5} {'':>7} {'':>6}  {cols}")
    return "\n".join(lines) + "\n"
