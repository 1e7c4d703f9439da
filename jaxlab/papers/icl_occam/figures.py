"""Multi-run figures of "In-context learning and Occam's razor": member runs of the
icl_occam study (one per task family, or per family x architecture), combined.

Each member is a full run of the icl_occam paper in ``WORKDIR/members/<name>`` (its own compiled
program, checkpoints and tables), so a killed figure resumes member by member. The
combined ``eval``/``summary`` tables carry ``member``, ``family`` and ``model`` columns.
Config: configs/icl_figures.py.
"""
from __future__ import annotations

import hashlib
import math
import os

import ml_collections
import numpy as np
import pandas as pd

from jaxlab import config as config_lib
from jaxlab import experiment, runner
from jaxlab import results as results_lib
from jaxlab.config import ConfigError, require
from jaxlab.papers import icl_occam as icl_paper
from jaxlab.papers.icl_occam import study as icl_occam

TITLE = "In-context learning and Occam's razor (arXiv 2410.14086): multi-run figures"
FIGURES = ("panels", "architectures", "trend")
# The paper contract (tests) runs the smoke figure with shorter members.
CONTRACT_OVERRIDES = ("--config.member_overrides=('--config.sgd.enabled=False', "
                      "'--config.train.steps=10', '--config.eval.n_tasks=16')",)


def member_configs(config: ml_collections.ConfigDict) -> dict[str, ml_collections.ConfigDict]:
    """Every member's resolved icl_occam config; a bad member raises naming it. With
    ``config.budgets`` each member is repeated per budget as ``<name>@<steps>``."""
    try:  # the current directory, $JAXLAB_CONFIGS, the checkout or the installed configs
        path = config_lib.locate(config.base_config)
    except ConfigError:
        raise ConfigError(f"config.base_config: no such config file: {config.base_config}") from None
    out = {}
    for name, member in config.members.items():
        try:
            sub = config_lib.load(f"{path}:{member.arg}",
                                  list(member.overrides) + list(config.member_overrides))
            require(sub.study == "icl_occam", "study", f"must be icl_occam, got {sub.study!r}")
            icl_occam.validate(sub)
        except ConfigError as e:
            raise ConfigError(f"config.members.{name}: {e}") from None
        if not config.budgets:
            out[name] = sub
        for steps in config.budgets:
            budgeted = config_lib.load(f"{path}:{member.arg}", [
                *member.overrides, *config.member_overrides, f"--config.train.steps={steps}",
                f"--config.train.chunk_steps={math.gcd(steps, sub.train.chunk_steps)}"])
            try:
                icl_occam.validate(budgeted)
            except ConfigError as e:
                raise ConfigError(f"config.budgets: {steps} for member {name}: {e}") from None
            out[f"{name}@{steps}"] = budgeted
    return out


def member_dirname(sub: ml_collections.ConfigDict) -> str:
    """``<family>-<model kind>-<config hash>``: a resolved config always lands in the same
    directory, whichever figure (or member name) asks for it."""
    digest = hashlib.sha256(config_lib.to_json(sub).encode()).hexdigest()[:10]
    return f"{sub.task.family}-{sub.model.kind}-{digest}"


def validate(config: ml_collections.ConfigDict) -> None:
    require(config.figure in FIGURES, "figure", f"must be one of {FIGURES}, got {config.figure!r}")
    require(len(config.members) >= 1, "members", "needs at least one member run")
    require(all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in config.budgets),
            "budgets", f"must be positive step counts, got {tuple(config.budgets)}")
    require(config.figure != "trend" or len(config.budgets) >= 2, "budgets",
            f"the trend figure needs at least two budgets, got {tuple(config.budgets)}")
    member_configs(config)


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """Runs (or resumes, or loads) every member, then writes the combined tables and figure."""
    workdir = session.workdir
    evals, summaries = [], []
    root = config.members_root or os.path.join(workdir, "members")
    subs = member_configs(config)
    for i, (name, sub) in enumerate(subs.items()):
        member_dir = os.path.join(root, member_dirname(sub))
        print(f"icl_figures: member {i + 1}/{len(subs)} ({name}): {member_dir}", flush=True)
        before = session.chunks_done  # a member's chunks count on from the figure's
        stop = None if session.should_stop is None else (
            lambda chunks: session.should_stop(before + chunks))
        res = experiment.run(icl_paper, sub, member_dir, progress=session.progress, should_stop=stop)
        if res is None:
            raise runner.Stopped()
        session.unit_done()  # a finished member is kept: a stop here loses nothing
        tag = dict(member=name, family=sub.task.family, model=sub.model.kind, steps=sub.train.steps)
        evals.append(res.eval.assign(**tag))
        summaries.append(res.summary.assign(**tag))
    eval_df = pd.concat(evals, ignore_index=True)
    summary_df = pd.concat(summaries, ignore_index=True)
    results_lib.write_table(workdir, "eval", eval_df)
    results_lib.write_table(workdir, "summary", summary_df)
    if config.figure == "trend":
        plot_trend(summary_df, os.path.join(workdir, "figure.png"))
    else:
        plot(eval_df, os.path.join(workdir, "figure.png"), config)
    results_lib.atomic_write_text(os.path.join(workdir, "table.txt"),
                                  report(summary_df, config) + "\n")


def _curve_label(eval_df: pd.DataFrame, figure: str) -> pd.DataFrame:
    """Which curve a row belongs to: the learner (panels), or the architecture of each
    prequential-objective run with the oracle kept once per family (architectures)."""
    if figure == "panels":
        return eval_df.assign(curve=eval_df.learner)
    df = eval_df[eval_df.learner.isin(["prequential", "bayes"])]
    df = df.assign(curve=np.where(df.learner == "bayes", "bayes", df.model))
    first = df.member.isin(df.groupby("family").member.first())
    return df[(df.curve != "bayes") | first]


def plot(eval_df: pd.DataFrame, path: str, config: ml_collections.ConfigDict) -> None:
    """One panel per task family, one curve per learner (panels) or architecture."""
    plt = results_lib.pyplot()
    df = _curve_label(eval_df, config.figure)
    families = list(dict.fromkeys(df.family))
    fig, axes = plt.subplots(1, len(families), figsize=(4.8 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families):
        icl_occam.draw_curves(ax, df[df.family == family], by="curve")
        ax.set_title(family.capitalize())
        ax.set_ylabel(icl_occam.error_label(family))
        ax.legend(fontsize=8)
    what = ("prequential vs train-risk ICL vs SGD" if config.figure == "panels"
            else "ICL architectures (prequential objective)")
    fig.suptitle(f"In-context learning and Occam's razor: {what}")
    fig.tight_layout()
    results_lib.save_figure(fig, path, dpi=120)
    plt.close(fig)


def trend_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Seed mean and std of each architecture's prequential code length (n = 5..N-1) per
    family and training budget: columns family, model, steps, mean, std."""
    col = f"code_length_{icl_occam.CODE_FROM}"
    df = summary[summary.learner == "prequential"]
    return (df.groupby(["family", "model", "steps"], sort=False)[col]
            .agg(mean="mean", std=lambda v: v.std(ddof=0)).reset_index())


def plot_trend(summary: pd.DataFrame, path: str) -> None:
    """One panel per family: code length against training steps, one line per architecture."""
    plt = results_lib.pyplot()
    table = trend_table(summary)
    families = list(dict.fromkeys(table.family))
    fig, axes = plt.subplots(1, len(families), figsize=(4.8 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families):
        for model, g in table[table.family == family].groupby("model", sort=False):
            g = g.sort_values("steps")
            ax.errorbar(g.steps, g["mean"], yerr=g["std"], marker="o", capsize=3, label=model)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sorted(set(table.steps)), [str(s) for s in sorted(set(table.steps))])
        ax.set_title(family.capitalize())
        ax.set_xlabel("training steps")
        ax.set_ylabel(f"prequential code length, n = {icl_occam.CODE_FROM}..N-1")
        ax.legend(fontsize=8)
    fig.suptitle("ICL architectures against the training budget (seed mean ± std)")
    fig.tight_layout()
    results_lib.save_figure(fig, path, dpi=120)
    plt.close(fig)


def report(summary: pd.DataFrame, config: ml_collections.ConfigDict) -> str:
    """Seed mean ± std per family and curve of the error at n = 1, 10, 100 (when measured)
    and the code length summed over n = 5..N-1; the trend figure: the code length per
    family, architecture and budget."""
    if config.figure == "trend":
        lines = [f"prequential code length (n = {icl_occam.CODE_FROM}..N-1), mean ± std over seeds",
                 f"{'family':<12}{'learner':<14}{'steps':>8}{'code length':>20}"]
        lines += [f"{r.family:<12}{r.model:<14}{r.steps:>8}{r.mean:>12.3f} ±{r.std:6.3f}"
                  for r in trend_table(summary).itertuples()]
        return "\n".join(lines)
    df = _curve_label(summary, config.figure)
    cols = [c for c in ("n=1", "n=10", "n=100", f"code_length_{icl_occam.CODE_FROM}") if c in df]
    header = f"{'family':<12}{'learner':<14}" + "".join(f"{c:>18}" for c in cols)
    lines = ["generalisation error (MSE; Mastermind: NLL in nats) and code length, "
             "mean ± std over seeds", header, "-" * len(header)]
    for (family, curve), g in df.groupby(["family", "curve"], sort=False):
        cells = "".join(f"{g[c].mean():>11.3f} ±{g[c].std(ddof=0):5.3f}"
                        if g[c].notna().all() else f"{'–':>18}" for c in cols)
        lines.append(f"{family:<12}{curve:<14}{cells}")
    return "\n".join(lines)
