"""table.txt and figure.png of a finished run (also what the notebook redraws)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from jaxlab import results  # noqa: E402
from jaxlab.papers.simplicity_bias import mdl, study  # noqa: E402


def reliance_table(df: pd.DataFrame, point: int) -> pd.DataFrame:
    """The mixed network at each N of one point, mean over seeds: accuracy on each
    feature-specific test set and the accuracy drop when an attribute is shuffled."""
    mix = df[(df.point == point) & (df.task == "mixed")]
    cols = [c for c in ("acc_mixed", "acc_grayscale", "acc_colour", "acc_digit", "acc_watermark",
                        "drop_colour", "drop_digit", "drop_watermark") if mix[c].notna().any()]
    if (mix.scenario == "A").all():
        cols = [c for c in cols if "watermark" not in c]
    return mix.groupby("n")[cols].mean()


def text(df: pd.DataFrame, summary: pd.DataFrame, seeds: pd.DataFrame) -> str:
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    lines = ["Simplicity bias as two-part compression (ours; the paper reports no numbers, only",
             "the qualitative switch and a predicted-vs-empirical scatter)", ""]
    for p, row in summary.iterrows():
        lines.append(f"point {row.point}: scenario {row.scenario}"
                     + (f", {row.field} = {row.value:g}" if row.field else ""))
        rel = reliance_table(df, row.point)
        lines.append("  mixed network, mean over seeds, by training-set size N:")
        lines.extend("  " + s for s in rel.to_string(float_format=fmt).split("\n"))
        ks = "  ".join(f"{c}={row[c]:.1f}" for c in summary.columns
                       if (c.startswith("K_") or c.startswith("k_")) and np.isfinite(row[c]))
        ls = "  ".join(f"{c}={row[c]:.3f}" for c in summary.columns
                       if c.startswith("l_") and np.isfinite(row[c]))
        lines.append(f"  code lengths (nats): {ks}")
        lines.append(f"  slopes on the mixed data (nats/sample): {ls}")
        ratio = row.predicted_switch / row.empirical_switch
        lines.append(f"  switch N: predicted (envelope) {row.predicted_switch:.0f} "
                     f"(from {row.predicted_from or '-'}), final lines cross {row.final_lines_cross:.0f}, "
                     f"per-sample losses cross {row.loss_cross:.0f}, "
                     f"empirical (permutation drops cross) {row.empirical_switch:.0f}, "
                     f"predicted/empirical {ratio:.2f}")
        if "predicted_capped" in summary:
            lines.append(f"  ours, partial models' curves clipped at chance: predicted {row.predicted_capped:.0f}, "
                         f"predicted/empirical {row.predicted_capped / row.empirical_switch:.2f}")
        lines.append("")
    if len(summary) >= 3:
        r = study.correlation(summary)
        by_seed = [study.correlation(s) for _, s in seeds.groupby("seed")]
        lines.append(f"Pearson r (log predicted vs log empirical switch N, {len(summary)} points): "
                     f"{r:.3f}; per seed {np.round(by_seed, 3).tolist()}")
        lines.append(f"  points with both switches: {int(study.paired(summary).sum())} of {len(summary)}")
        if "matched_predicted" in summary:
            rm = study.correlation(summary, **study.MATCHED)
            lines.append(f"Pearson r, the reference's rule (closest pair of all switches, both N >= 20, "
                         f"{int(study.paired(summary, **study.MATCHED).sum())} points): {rm:.3f}")
        if "matched_predicted_capped" in summary:
            rc = study.correlation(summary, **study.MATCHED_CAPPED)
            lines.append(f"  the same rule, partial models' curves clipped at chance (ours, "
                         f"{int(study.paired(summary, **study.MATCHED_CAPPED).sum())} points): {rc:.3f}")
    return "\n".join(lines) + "\n"


def figure(df: pd.DataFrame, summary: pd.DataFrame, config: ml_collections.ConfigDict, path: str) -> None:
    """Learning curves per feature, the envelope with its switch, reliance vs N (first
    point), and predicted vs empirical switch N over all points."""
    fig, ax = plt.subplots(1, 4, figsize=(20, 4.2))
    first = df[df.point == summary.point.iloc[0]]
    scenario = first.scenario.iloc[0]
    n = np.sort(first.n.unique()).astype(float)
    for t, g in first[first.task != "mixed"].groupby("task"):
        m = g.groupby("n").test_loss.mean()
        ax[0].plot(m.index, m.values, "o-", label=t)
    ax[0].set(xscale="log", xlabel="N", ylabel="test log-loss (nats)", title="learning curves")
    ax[0].legend()
    info = summary.iloc[0]
    hi = max(10 * n[-1], 2 * np.nan_to_num(info.predicted_switch, nan=1.0))
    xs = np.geomspace(n[0], hi, 400)
    for feat, (tests, mixed) in study.feature_curves(first, scenario).items():
        k = info[f"K_{feat}"]
        lines = mdl.feature_lines(feat, n, tests, mixed, k, config.mdl.n_models)
        env, _ = mdl.envelope(lines, xs)
        ax[1].plot(xs, env, label=f"{feat} (K={k:.0f}, l={info[f'l_{feat}']:.3f})")
    if np.isfinite(info.predicted_switch):
        ax[1].axvline(info.predicted_switch, color="k", ls="--", label="predicted switch")
    if np.isfinite(info.empirical_switch):
        ax[1].axvline(info.empirical_switch, color="r", ls=":", label="empirical switch")
    ax[1].set(xscale="log", yscale="log", xlabel="N", ylabel="K + N l (nats)",
              title="two-part code lengths (lower envelope per feature)")
    ax[1].legend(fontsize=7)
    rel = reliance_table(df, summary.point.iloc[0])
    for c in rel.columns:
        ax[2].plot(rel.index, rel[c], "o-" if c.startswith("acc") else "s--", label=c)
    ax[2].set(xscale="log", xlabel="N", title="mixed network: accuracy / permutation drop")
    ax[2].legend(fontsize=7)
    scatter_switches(ax[3], summary)
    fig.tight_layout()
    results.save_figure(fig, path, dpi=90)
    plt.close(fig)


RULES = (("first switches", study.FIRST, "o"),
         ("closest pairs (the reference's)", study.MATCHED, "s"),
         ("closest pairs, clipped at chance (ours)", study.MATCHED_CAPPED, "^"))


def scatter_switches(ax, summary: pd.DataFrame) -> None:
    """Predicted vs empirical switch N of every point, one marker per pairing rule the
    summary has, each labelled with its Pearson r (log axes, the diagonal dotted)."""
    ends = []
    for label, rule, marker in RULES:
        if rule["predicted"] not in summary:
            continue
        ok = study.paired(summary, **rule)
        p, e = summary[rule["predicted"]][ok], summary[rule["empirical"]][ok]
        colour = f"C{len(ax.collections)}"
        r = study.correlation(summary, **rule)
        ax.scatter(p, e, marker=marker, edgecolors=colour, facecolors="none" if marker == "^" else colour,
                   label=f"{label}: r = {r:.2f} ({int(ok.sum())})")
        ends += [p.min(), e.min(), p.max(), e.max()] if ok.any() else []
    if ends:
        ax.plot([min(ends) / 2, max(ends) * 2], [min(ends) / 2, max(ends) * 2], "k:")
        ax.set(xscale="log", yscale="log")
    ax.set(xlabel="predicted switch N", ylabel="empirical switch N", title="switch N over the points")
    ax.legend(fontsize=7)


def write(workdir: str, df: pd.DataFrame, summary: pd.DataFrame, seeds: pd.DataFrame,
          config: ml_collections.ConfigDict) -> None:
    results.atomic_write_text(os.path.join(workdir, "table.txt"), text(df, summary, seeds))
    figure(df, summary, config, os.path.join(workdir, "figure.png"))
