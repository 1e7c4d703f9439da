"""Figures of the three comparisons, drawn from the ``errors`` and ``estimates`` tables
(the notebook calls the same functions on a loaded workdir)."""
from __future__ import annotations

import os

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from jaxlab import results


def _interval(ax, x, part: pd.DataFrame, label: str, **kw) -> None:
    below = np.maximum(part.ib_bits - part.ib_low, 0)  # a percentile interval may miss the
    above = np.maximum(part.ib_high - part.ib_bits, 0)  # point estimate: no negative bars
    ax.errorbar(x, part.ib_bits, yerr=[below, above],
                capsize=3, marker="o", label=label, **kw)


def _unit(part: pd.DataFrame) -> str:
    """What eps is a fraction of: each cell's mean-predictor MSE, or one fixed reference."""
    if "eps_reference" not in part or np.allclose(part.eps_reference, part.base_error):
        return "mean-predictor MSE"
    return f"{part.eps_reference.iloc[0]:g}"


def dimension(estimates: pd.DataFrame):
    """IB vs the teacher's input dimension, one line per eps fraction and class."""
    part = estimates[estimates.comparison == "dimension"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (model, frac), g in part.groupby(["model", "eps_frac"]):
        g = g.sort_values("dim")
        _interval(ax, g.dim, g, f"{model}, eps = {frac:g} x {_unit(part)}")
    dims = sorted(part.dim.unique())
    ax.set(xscale="log", xlabel="input dimension d", ylabel="IB (bits, symlog)",
           title="IB vs task dimension (teacher task)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.minorticks_off()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def classes(errors: pd.DataFrame, estimates: pd.DataFrame):
    """Left: each class's test errors with its fitted density; right: IB(eps) of both."""
    part = estimates[estimates.comparison == "classes"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for cell, g in part.groupby("cell", sort=False):
        e = errors[errors.cell == cell].test_mse.to_numpy()
        r = g.iloc[0]
        a.hist(e, bins=40, density=True, alpha=0.5, label=f"{cell} (ks {r.ks:.3f})")
        grid = np.linspace(e.min() * 0.9, e.max() * 1.1, 200)
        a.plot(grid, stats.ncx2.pdf(grid, r.df, r.nc, scale=r.scale))
        _interval(b, g.eps, g, cell)
    for r in part.drop_duplicates("eps_frac").itertuples():
        a.axvline(r.eps, color="grey", lw=0.5, ls=":")
    a.set(xlabel="test MSE", ylabel="density", title="test errors and the fitted scaled ncx2")
    b.set(xlabel="target error eps", ylabel="IB (bits, symlog)", title="IB(eps) by class")
    b.set_yscale("symlog", linthresh=1)
    b.set_ylim(bottom=0)
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def architecture(estimates: pd.DataFrame):
    """IB of each MLP architecture at each eps, with bootstrap intervals."""
    part = estimates[estimates.comparison == "architecture"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    cells = list(dict.fromkeys(part.cell))
    for frac, g in part.groupby("eps_frac"):
        g = g.set_index("cell").loc[cells].reset_index()
        _interval(ax, np.arange(len(cells)), g, f"eps = {frac:g} x {_unit(part)}", ls="none")
    ax.set_xticks(np.arange(len(cells)), [c.replace("_mlp_", "\n").replace("_cnn_", "\ncnn ") for c in cells], fontsize=7)
    ax.set(ylabel="IB (bits, symlog)", title="IB across MLP architectures")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def draw_all(workdir: str, errors: pd.DataFrame, estimates: pd.DataFrame) -> list[str]:
    """Writes fig_<comparison>.png for each comparison in the tables; returns the paths."""
    matplotlib.use("Agg")  # files only (a notebook draws with the same functions inline)
    made = []
    for name in dict.fromkeys(estimates.comparison):
        fig = classes(errors, estimates) if name == "classes" else (
            dimension(estimates) if name == "dimension" else architecture(estimates))
        path = os.path.join(workdir, f"fig_{name}.png")
        results.save_figure(fig, path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made
