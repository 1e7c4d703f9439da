"""The study: for each benchmark point, every fit in one program (``curves``), then the
code lengths, the MDL envelope and the empirical switch (``mdl``).

Tables written to the workdir:
  fits     one row per fit: point, scenario, field, value, task, seed, n, test_loss,
           test_acc (own target), mixed_loss (the feature's line slope: its model's
           log-loss on the mixed distribution; for the colour and watermark sub-tasks the
           composite with the label table, see ``mixed_losses``), acc_<mode> (accuracy for
           y on each feature-specific test set), and for the mixed fits perm_acc (accuracy
           on the permutation samples), drop_<attr>, p_<attr> (permutation tests)
  summary  one row per point: K of each feature (nats), slopes, predicted switch N
           (envelope), the crossing of the final lines, the N where the two features'
           per-sample mixed losses cross (loss_cross), the empirical switch N, and
           the envelope's switch with the partial models' curves clipped at chance
           (predicted_capped, matched_*_capped; ours, not the reference's rule)
  seeds    the same switch points per seed (for the spread of the correlation)
and (``report``) table.txt, figure.png. Each point is a resumable unit (``units/<i>.parquet``).
"""
from __future__ import annotations

import os

import jax
import ml_collections
import numpy as np
import pandas as pd

from jaxlab import results, runner
from jaxlab.papers.simplicity_bias import curves, mdl

SWEEPS = ("A", "A_spur", "B", "B_flip", "B_bank")
SWEPT = {"A": "", "A_spur": "spur_prob", "B": "", "B_flip": "flip_prob", "B_bank": "bank_size"}
CUE = {"A": "colour", "B": "watermark"}  # the attribute whose shuffle measures cue reliance
LINES = {"A": ("colour", "digit"), "B": ("cue", "digit")}
CHANCE = float(np.log(2))  # nats per sample of the uniform code: every target here is binary


def points(config: ml_collections.ConfigDict) -> list[dict]:
    """Every benchmark point of ``config.sweeps``, in order: scenario, sweep, field, value
    and the numeric knobs (the scenario's defaults with the swept field set)."""
    out = []
    for sweep in config.sweeps:
        scenario = sweep[0]
        base = dict(config[f"scenario_{scenario.lower()}"].to_dict())
        field = SWEPT[sweep]
        for v in (config.grid[field] if field else (float("nan"),)):
            knobs = {**base, field: v} if field else base
            out.append(dict(scenario=scenario, sweep=sweep, field=field,
                            value=float(v), knobs=knobs))
    return out


def mixed_losses(scenario: str, tasks: tuple[str, ...], scores: curves.Scores,
                 n_seeds: int, n_sizes: int) -> dict[str, np.ndarray]:
    """Each line's per-sample loss on the mixed test set, (S, Z) per feature: digit, its
    fit's log-loss for y; colour (A), sum_c p(y|c) p(c|x); cue (B), sum_{c,e} p(y|c,e)
    p(c|x) p(e|x) with the colour and watermark fits of the same seed and size. p(y|c,e)
    is counted in mixed training draws (add-one smoothing)."""
    logp = np.asarray(scores.mixed_logp).reshape(len(tasks), n_seeds, n_sizes, -1, 2)
    y = np.asarray(scores.mixed_targets)[:, 0]  # (S, n)
    table = np.asarray(scores.counts) + 1.0  # (S, c, e, y)
    p_y_ce = table / table.sum(-1, keepdims=True)
    ce = table.sum(2)
    p_y_c = ce / ce.sum(-1, keepdims=True)  # (S, c, y)
    out = {}
    p_col = np.exp(logp[tasks.index("colour")])  # (S, Z, n, 2) p(c|x)
    dig = logp[tasks.index("digit")]
    out["digit"] = -np.take_along_axis(dig, y[:, None, :, None], -1)[..., 0].mean(-1)
    if scenario == "A":
        # p(y_true | c) for c = 0, 1: (S, n, 2)
        pyc = np.stack([p_y_c[s][:, y[s]].T for s in range(n_seeds)])
        out["colour"] = -np.log(np.einsum("szic,sic->szi", p_col, pyc)).mean(-1)
    else:
        p_env = np.exp(logp[tasks.index("watermark")])
        pyce = np.stack([p_y_ce[s][:, :, y[s]].transpose(2, 0, 1) for s in range(n_seeds)])
        out["cue"] = -np.log(np.einsum("szic,szie,sice->szi", p_col, p_env, pyce)).mean(-1)
    return out


def point_unit(config: ml_collections.ConfigDict, index: int, point: dict) -> pd.DataFrame:
    """All fits of one point, trained and scored: the ``fits`` rows of this point."""
    scenario = point["scenario"]
    setup = curves.make_setup(config, scenario)
    params = curves.params_of(config, point["knobs"], setup.static)
    c, r = config.curve, config.reliance
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), index)
    lanes = c.lanes or None
    fitted = curves.train_all(setup, params, c.n_seeds, c.n_val, key, lanes, config.executor.devices)
    permuted = curves.PERMUTED[scenario]
    score = jax.jit(lambda p, k: curves.score_all(setup, params, p, c.n_seeds, c.n_test, r.n_perm,
                                                  r.perm_samples, k, permuted))
    s = jax.device_get(score(fitted.params, jax.random.fold_in(key, 31)))
    tasks, sizes, n_seeds = setup.tasks, setup.sizes, c.n_seeds
    grid = pd.MultiIndex.from_product([tasks, range(n_seeds), sizes], names=["task", "seed", "n"])
    df = grid.to_frame(index=False)
    df.insert(0, "point", index)
    for k in ("scenario", "sweep", "field", "value"):
        df[k] = point[k]
    df["test_loss"], df["test_acc"] = np.asarray(s.own_loss), np.asarray(s.own_acc)
    df["steps"] = np.asarray(fitted.steps)
    lines = mixed_losses(scenario, tasks, s, n_seeds, len(sizes))
    line_of = {"colour": "colour" if scenario == "A" else "cue", "watermark": "cue", "digit": "digit"}
    df["mixed_loss"] = np.nan
    for t, line in line_of.items():
        if t in tasks:
            df.loc[df.task == t, "mixed_loss"] = lines[line].reshape(-1)
    for m, mode in enumerate(curves.TEST_MODES):
        df[f"acc_{mode}"] = np.asarray(s.mode_acc)[:, m]
    mixed = df.task == "mixed"
    df["perm_acc"] = np.nan
    df.loc[mixed, "perm_acc"] = np.asarray(s.perm_orig)
    for a in ("colour", "digit", "watermark"):
        df[f"drop_{a}"], df[f"p_{a}"] = np.nan, np.nan
        if a in permuted:
            i = permuted.index(a)
            df.loc[mixed, f"drop_{a}"] = np.asarray(s.perm_orig) - np.asarray(s.perm_acc)[:, i]
            df.loc[mixed, f"p_{a}"] = np.asarray(s.perm_p)[:, i]
    return df


def feature_curves(df: pd.DataFrame, scenario: str) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Per line feature: its sub-task test-loss curves and its mixed-loss curve (seed mean)."""
    mean = df.groupby(["task", "n"]).mean(numeric_only=True)
    curve = lambda t, col: mean.loc[t][col].to_numpy()
    if scenario == "A":
        return {"colour": ([curve("colour", "test_loss")], curve("colour", "mixed_loss")),
                "digit": ([curve("digit", "test_loss")], curve("digit", "mixed_loss"))}
    return {"cue": ([curve("colour", "test_loss"), curve("watermark", "test_loss")],
                    curve("watermark", "mixed_loss")),
            "digit": ([curve("digit", "test_loss")], curve("digit", "mixed_loss"))}


def analyse(df: pd.DataFrame, config: ml_collections.ConfigDict) -> dict:
    """K per sub-task and line, the lines, the predicted and the empirical switch of one
    point's fits (any subset of seeds)."""
    m = config.mdl
    scenario = df.scenario.iloc[0]
    n = np.sort(df.n.unique()).astype(float)
    out: dict = {}
    sub_k = {}
    for t in curves.TASKS[scenario][:-1]:
        loss = df[df.task == t].groupby("n").test_loss.mean().to_numpy()
        sub_k[t] = mdl.k_of_curve(n, loss, m.abs_delta, m.min_points).k
        out[f"k_{t}"] = sub_k[t]
    parts = {"colour": ("colour",), "digit": ("digit",), "cue": ("colour", "watermark")}
    by_feature = feature_curves(df, scenario)
    for feat, (tests, mixed) in by_feature.items():
        out[f"K_{feat}"], out[f"l_{feat}"] = sum(sub_k[t] for t in parts[feat]), float(mixed[-1])

    def switches(cap: float) -> list[tuple[float, str, str]]:
        lines = [mdl.feature_lines(feat, n, tests, mixed, out[f"K_{feat}"], m.n_models, cap)
                 for feat, (tests, mixed) in by_feature.items()]
        return mdl.switch_points(mdl.join(*lines), n[0], m.horizon * n[-1])

    sw, capped = switches(np.inf), switches(CHANCE)
    out["predicted_switch"] = sw[0][0] if sw else np.nan
    out["predicted_from"] = sw[0][1] if sw else ""
    a, b = LINES[scenario]
    ds = out[f"l_{a}"] - out[f"l_{b}"]
    cross = (out[f"K_{b}"] - out[f"K_{a}"]) / ds if ds != 0 else np.nan
    out["final_lines_cross"] = float(cross) if np.isfinite(cross) and cross > 0 else np.nan
    # where the per-sample losses on the mixed data change order (the lines' slopes, no K)
    out["loss_cross"] = mdl.crossing(n, by_feature[a][1], by_feature[b][1])
    mix = df[(df.task == "mixed") & (df.n >= config.reliance.min_switch_n)]
    mix = mix.groupby("n").mean(numeric_only=True)
    drops = (mix.index.to_numpy(float), mix[f"drop_{CUE[scenario]}"].to_numpy(),
             mix["drop_digit"].to_numpy())
    out["empirical_switch"] = mdl.crossing(*drops)
    # the reference's rule: all switches of each kind, the pair closest in log N
    between = lambda s: [x[0] for x in s if {x[1], x[2]} == {a, b}]  # noqa: E731
    every = mdl.crossings(*drops)
    out["matched_predicted"], out["matched_empirical"] = mdl.closest_pair(between(sw), every)
    # ours: the partial models' K from curves clipped at chance (no worse than the uniform code)
    out["predicted_capped"] = capped[0][0] if capped else np.nan
    out["matched_predicted_capped"], out["matched_empirical_capped"] = mdl.closest_pair(between(capped), every)
    return out


def summarize(df: pd.DataFrame, config: ml_collections.ConfigDict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary: one row per point, seeds: one row per point and seed)."""
    rows, seed_rows = [], []
    for p, sub in df.groupby("point", sort=True):
        head = sub.iloc[0]
        base = dict(point=p, scenario=head.scenario, sweep=head.sweep, field=head.field,
                    value=head.value)
        rows.append({**base, **analyse(sub, config)})
        for s, one in sub.groupby("seed"):
            seed_rows.append({**base, "seed": s, **analyse(one, config)})
    return pd.DataFrame(rows), pd.DataFrame(seed_rows)


def correlation(summary: pd.DataFrame, predicted: str = "predicted_switch",
                empirical: str = "empirical_switch", min_n: float = 0.0) -> float:
    """Pearson r of log predicted vs log empirical switch N (columns ``predicted``,
    ``empirical``) over the points with both, each >= ``min_n``; NaN below 3 points."""
    ok = paired(summary, predicted, empirical, min_n)
    if ok.sum() < 3:
        return float("nan")
    p, e = summary[predicted].to_numpy(float)[ok], summary[empirical].to_numpy(float)[ok]
    return float(np.corrcoef(np.log(p), np.log(e))[0, 1])


def paired(summary: pd.DataFrame, predicted: str = "predicted_switch",
           empirical: str = "empirical_switch", min_n: float = 0.0) -> np.ndarray:
    """(points,) bool: the points with both switches, each >= ``min_n``."""
    p, e = summary[predicted].to_numpy(float), summary[empirical].to_numpy(float)
    return np.isfinite(p) & np.isfinite(e) & (p >= min_n) & (e >= min_n)


FIRST = dict(predicted="predicted_switch", empirical="empirical_switch", min_n=0.0)
"""The envelope's first switch with the first drop crossing."""


MATCHED = dict(predicted="matched_predicted", empirical="matched_empirical", min_n=20.0)
"""The reference's scatter: closest pairs of all switches, both N >= 20 (its N_MIN)."""
MATCHED_CAPPED = dict(predicted="matched_predicted_capped", empirical="matched_empirical_capped",
                      min_n=20.0)
"""The same rule for the envelope whose partial models' curves are clipped at chance."""


def compute(config: ml_collections.ConfigDict, session: runner.Session) -> pd.DataFrame:
    """Every point's fits (a resumable unit each: a resumed run reads the finished ones)."""
    session.check_stop()
    unit_dir = os.path.join(session.workdir, "units")
    os.makedirs(unit_dir, exist_ok=True)
    frames = []
    for i, point in enumerate(points(config)):
        path = os.path.join(unit_dir, f"{i}.parquet")
        if os.path.exists(path):
            frames.append(pd.read_parquet(path))
            continue
        frames.append(point_unit(config, i, point))
        results.write_table(unit_dir, str(i), frames[-1])
        session.unit_done()
    return pd.concat(frames, ignore_index=True)
