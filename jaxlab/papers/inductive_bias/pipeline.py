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
                             "base_error": f["base_error"]})
    return pd.DataFrame(rows)


def summary(config: ml_collections.ConfigDict, estimates: pd.DataFrame) -> str:
    """What the command prints: per comparison, IB at the headline eps with its interval."""
    frac = config.estimate.headline
    head = estimates[estimates.eps_frac == frac]
    lines = [f"inductive bias IB(eps) = -log2 P[test MSE <= eps] in bits (ours), eps = {frac:g} x "
             f"the mean predictor's test MSE; [{config.estimate.level:.0%} bootstrap interval over "
             f"hypotheses]; ks = fit's Kolmogorov-Smirnov distance; * = far-tail approximation"]
    for name in config.comparisons:
        part = head[head.comparison == name]
        lines.append(f"\n{name}:")
        lines.append(f"  {'cell':<24} {'n':>6} {'eps':>8} {'IB bits':>10} {'interval':>21} {'ks':>6}")
        for r in part.itertuples():
            star = "*" if r.far_tail else " "
            lines.append(f"  {r.cell:<24} {r.n_hypotheses:>6d} {r.eps:>8.4f} {r.ib_bits:>9.1f}{star} "
                         f"[{r.ib_low:>8.1f}, {r.ib_high:>8.1f}] {r.ks:>6.3f}")
        if name == "classes" and len(part) == 2:
            k, m = part.iloc[0], part.iloc[1]
            lines.append(f"  IB encoded by the MLP class relative to the kernel class: "
                         f"{k.ib_bits - m.ib_bits:.1f} bits [{k.ib_low - m.ib_high:.1f}, "
                         f"{k.ib_high - m.ib_low:.1f}]")
    return "\n".join(lines) + "\n"
