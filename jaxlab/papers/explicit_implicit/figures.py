"""Figures of the explicit/implicit study, drawn from its tables (the notebook calls the
same functions): ``errors.png`` (ID / far / wide MSE per model kind, per family),
``intensity.png`` (wide MSE vs OOD intensity), ``probe.png`` (latent probe MSE vs the
raw-context probe) and ``curves.png`` (validation ID MSE over training); a classification
family shows its error rate (1 - accuracy) where a regression family shows MSE. The
supervised ablation (which runs alone) draws ``ablation.png`` instead."""
from __future__ import annotations

import os

import ml_collections
import numpy as np
import pandas as pd

from jaxlab import results
from jaxlab.papers.explicit_implicit.ablation import SETS
from jaxlab.papers.explicit_implicit.tasks import CLASSIFICATION

COLORS = {"implicit": "tab:red", "tsf": "tab:blue", "mlp": "tab:green", "known_z": "tab:purple",
          "known_f": "k", "true_z": "tab:gray"}


def _axes(n: int, width: float = 4.2):
    plt = results.pyplot()
    fig, axes = plt.subplots(1, n, figsize=(width * n, 3.6), squeeze=False)
    return plt, fig, axes[0]


def errors(g: pd.DataFrame, family: str, metric: str) -> pd.Series:
    """The rows' values of ``metric`` (iid, wide@2, ...): MSE, or for a classification family
    the error rate 1 - accuracy."""
    if family in CLASSIFICATION:
        return 1.0 - g[g.metric == f"acc_{metric}"].value
    return g[g.metric == metric].value


def error_label(family: str) -> str:
    return "error rate (1 - accuracy)" if family in CLASSIFICATION else "MSE"


def draw_errors(ax, summary: pd.DataFrame, family: str) -> None:
    """Bars: seed-mean MSE or error rate (log) on iid / far / wide queries per model kind,
    seed min..max."""
    g = summary[summary.family == family]
    kinds = list(dict.fromkeys(g.kind))
    width = 0.8 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        stats = [errors(g[g.kind == kind], family, m) for m in ("iid", "far", "wide")]
        mean = np.array([s.mean() for s in stats])
        err = np.array([[m - s.min() for m, s in zip(mean, stats)], [s.max() - m for m, s in zip(mean, stats)]])
        ax.bar(np.arange(3) + i * width, mean, width, yerr=err, color=COLORS.get(kind), label=kind)
    ax.set_xticks(np.arange(3) + 0.4 - width / 2, ["ID", "far", "wide"])
    ax.set_yscale("log")
    ax.set_ylabel(f"{error_label(family)} at best step")
    ax.set_title(family)


def draw_intensity(ax, summary: pd.DataFrame, config: ml_collections.ConfigDict, family: str) -> None:
    """Wide-query MSE vs intensity (eval.intensities and eval.ood_intensity), per kind."""
    g = summary[summary.family == family]
    points = [(s, f"wide@{s:g}") for s in config.eval.intensities] + [(config.eval.ood_intensity, "wide")]
    points.sort()
    for kind in dict.fromkeys(g.kind):
        ys = [errors(g[g.kind == kind], family, m).mean() for _, m in points]
        ax.plot([s for s, _ in points], ys, "o-", color=COLORS.get(kind), label=kind)
    ax.set_yscale("log")
    ax.set_xlabel("OOD intensity (wide: x_q scaled by it)")
    ax.set_ylabel(f"wide {error_label(family)}")
    ax.set_title(family)


def draw_probe(ax, summary: pd.DataFrame, baselines: pd.DataFrame, family: str) -> None:
    """Latent probe MSE per explicit kind beside the raw-context linear probe."""
    g = summary[(summary.family == family) & (summary.metric == "probe")]
    raw = baselines[baselines.family == family].value
    if g.empty and raw.empty:  # a family without a finite latent (gp): nothing to probe
        ax.text(0.5, 0.5, "no finite latent:\nno probe", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(family)
        return
    kinds = list(dict.fromkeys(g.kind))
    values = [g[g.kind == k].value for k in kinds] + [raw]
    labels = kinds + ["raw context"]
    ax.bar(range(len(values)), [v.mean() for v in values],
           color=[COLORS.get(k, "tab:orange") for k in labels])
    ax.set_xticks(range(len(values)), labels, rotation=30)
    ax.set_yscale("log")
    ax.set_ylabel("latent MSE of a linear probe")
    ax.set_title(family)


def draw_curves(ax, curves: pd.DataFrame, family: str) -> None:
    """Seed-mean validation ID MSE (or error rate) over training steps, per kind."""
    metric = "acc_iid" if family in CLASSIFICATION else "iid"
    g = curves[(curves.family == family) & (curves.metric == metric)]
    for kind, k in g.groupby("kind", sort=False):
        m = k.groupby("step").value.mean()
        m = 1.0 - m if family in CLASSIFICATION else m
        ax.plot(m.index, m.values, color=COLORS.get(kind), label=kind)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"validation ID {error_label(family)}")
    ax.set_title(family)


def draw_ablation(ax, summary: pd.DataFrame) -> None:
    """Bars: seed-mean MSE (log) per validation set of the ablation, the predictor fed the
    true w beside the known function of the inferred z, seed min..max."""
    g = summary[summary.family == "ablation"]
    names = [name for name, _, _ in SETS]
    for i, (prefix, label, color) in enumerate((("", "predictor fed the true w", "tab:blue"),
                                                 ("z_", "x_q . z (inferred z)", "tab:orange"))):
        stats = [g[g.metric == prefix + n].value for n in names]
        mean = np.array([s.mean() for s in stats])
        err = np.array([mean - [s.min() for s in stats], [s.max() for s in stats] - mean])
        ax.bar(np.arange(len(names)) + 0.4 * i, mean, 0.4, yerr=err, color=color, label=label)
    ax.set_xticks(np.arange(len(names)) + 0.2, names)
    ax.set_yscale("log")
    ax.set_ylabel("MSE at best step")
    ax.set_ylim(top=ax.get_ylim()[1] * 30)  # room for the legend above the bars
    ax.set_title("supervised ablation")
    ax.legend(fontsize=7, loc="upper left")


def draw_all(summary: pd.DataFrame, curves: pd.DataFrame, baselines: pd.DataFrame,
             config: ml_collections.ConfigDict, workdir: str) -> None:
    """Writes the four figures into ``workdir`` (the ablation: ``ablation.png``)."""
    if "ablation" in set(summary.family):
        plt, fig, axes = _axes(1, width=6.0)
        draw_ablation(axes[0], summary)
        fig.tight_layout()
        results.save_figure(fig, os.path.join(workdir, "ablation.png"), dpi=110)
        plt.close(fig)
        return
    families = list(dict.fromkeys(summary.family))
    draws = {"errors.png": lambda ax, f: draw_errors(ax, summary, f),
             "intensity.png": lambda ax, f: draw_intensity(ax, summary, config, f),
             "probe.png": lambda ax, f: draw_probe(ax, summary, baselines, f),
             "curves.png": lambda ax, f: draw_curves(ax, curves, f)}
    for name, draw in draws.items():
        plt, fig, axes = _axes(len(families))
        for ax, family in zip(axes, families):
            draw(ax, family)
        if name != "probe.png":  # the probe bars are labelled on the x axis
            axes[0].legend(fontsize=7)
        fig.tight_layout()
        results.save_figure(fig, os.path.join(workdir, name), dpi=110)
        plt.close(fig)


def draw_raven(ax, summary: pd.DataFrame) -> None:
    """Raven: ID and OOD accuracy per model kind at the best step (mean over seeds, seed std
    as bars; dotted: chance, 1 in 8)."""
    g = summary[summary.family == "raven"]
    kinds = list(dict.fromkeys(g.kind))
    for i, metric in enumerate(("acc_iid", "acc_ood")):
        stats = [g[(g.kind == k) & (g.metric == metric)].value for k in kinds]
        ax.bar([j + 0.4 * i for j in range(len(kinds))], [s.mean() for s in stats], 0.4,
               yerr=[s.std(ddof=0) for s in stats], label=metric.replace("acc_", ""))
    ax.set_xticks([j + 0.2 for j in range(len(kinds))], kinds)
    ax.axhline(1 / 8, color="gray", lw=0.8, ls=":")
    ax.set_ylabel("accuracy at best step")
    ax.set_title("Raven")
    ax.legend(fontsize=7)


def write_raven(summary: pd.DataFrame, workdir: str) -> None:
    """``raven.png`` in ``workdir``: ``draw_raven``."""
    plt, fig, axes = _axes(1, width=6.0)
    draw_raven(axes[0], summary)
    fig.tight_layout()
    results.save_figure(fig, os.path.join(workdir, "raven.png"), dpi=110)
    plt.close(fig)


Z_FIELD = "model.z_dim"  # the swept column of a z-dimension sweep's tables (jaxlab sweep)


def zdim_table(summary: pd.DataFrame) -> pd.DataFrame:
    """A z-dimension sweep's seed-mean and seed-std ID and wide MSE at the best step per
    (family, kind, z_dim): columns family, kind, z_dim, iid, iid_std, wide, wide_std."""
    if Z_FIELD not in summary:
        raise ValueError(f"no {Z_FIELD!r} column: load the root of a `jaxlab sweep "
                         f"--axis {Z_FIELD}=...` with jaxlab.results.load")
    rows = []
    for (family, kind, z), g in summary.groupby(["family", "kind", Z_FIELD], sort=True):
        stats = {m: g[g.metric == m].value for m in ("iid", "wide")}
        rows.append(dict(family=family, kind=kind, z_dim=int(z),
                         **{k: v for m, s in stats.items()
                            for k, v in ((m, s.mean()), (f"{m}_std", s.std(ddof=0)))}))
    return pd.DataFrame(rows)


def write_zdim(summary: pd.DataFrame, path: str) -> str:
    """``path`` (png): ID and wide MSE against z_dim (log-log), one line per (family, kind);
    returns the table as text."""
    table = zdim_table(summary)
    plt, fig, axes = _axes(2)
    for ax, metric in zip(axes, ("iid", "wide")):
        for (family, kind), g in table.groupby(["family", "kind"], sort=False):
            ax.errorbar(g.z_dim, g[metric], yerr=g[f"{metric}_std"], marker="o", capsize=3,
                        color=COLORS.get(kind), label=f"{family} {kind}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("z_dim")
        ax.set_ylabel(f"{metric} MSE at best step")
        ax.set_title(f"{metric} queries")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    results.save_figure(fig, path, dpi=110)
    plt.close(fig)
    lines = ["z-dimension sweep: MSE at the best step, mean ± std over seeds",
             f"{'family':<12}{'model':<9}{'z_dim':>6}{'ID':>22}{'wide':>22}"]
    lines += [f"{r.family:<12}{r.kind:<9}{r.z_dim:>6}{r.iid:>12.3e} ±{r.iid_std:8.1e}"
              f"{r.wide:>12.3e} ±{r.wide_std:8.1e}" for r in table.itertuples()]
    return "\n".join(lines)
