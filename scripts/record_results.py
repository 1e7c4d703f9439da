"""Writes a finished run's headline numbers to docs/results/<name>.json, the one place the
README, the docs and the config docstrings take them from (tests/test_numbers.py fails
when one of them disagrees with this file).

    python scripts/record_results.py WORKDIR [--name NAME] [--out docs/results]

NAME defaults to the study (``compositionality_emergent`` for the emergent experiment).
The file holds the command, the date, the CPU model, jax's version, the run's wall and CPU
time (from its manifest) and the paper's numbers (seed means and stds as the printed
table shows them). Run it after each reproduction run (scripts/reproduce_icl_occam.sh does).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxlab import results  # noqa: E402


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"unknown, {os.cpu_count()} cores"


def mean_std(values) -> list[float]:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return [round(float(v.mean()), 4), round(float(v.std()), 4)] if len(v) else [None, None]


def icl_occam(res) -> dict:
    s = res.summary
    out = {"gen_error": {}, "code_length": {}, "code_length_5": {}}
    for learner, g in s.groupby("learner"):
        out["gen_error"][learner] = {str(n): mean_std(g[f"n={n}"]) for n in res.config.eval.report_n
                                     if g[f"n={n}"].notna().all()}
        for col in ("code_length", "code_length_5"):
            if col in g and g[col].notna().all():
                out[col][learner] = mean_std(g[col])
    return out


def compositionality(res) -> dict:
    if res.config.experiment == "emergent":
        r = res.tables["results"]
        return {"c": {k: mean_std(g.c) for k, g in r.groupby("kind")},
                "k_data": {k: mean_std(g.k_data) for k, g in r.groupby("kind")}}
    s = res.tables["summary"]
    err = s.c_rel_error.dropna()
    return {"points": int(len(s)), "points_with_paper": int(s.paper_c.notna().sum()),
            "max_rel_error_pct": round(100 * float(err.max()), 3),
            "mean_rel_error_pct": round(100 * float(err.mean()), 3)}


def metahmm(res) -> dict:
    pos = res.tables["positions"]
    amb = pos[(pos.learner == "oracle") & (pos.metric == "ambiguity")].groupby("position").value.mean()
    kl = pos[(pos.learner == "gpt") & (pos.metric == "kl")].groupby("position").value.mean()
    last = int(amb.index.max())
    out = {"last_position": last, "ambiguity": {"0": round(float(amb[0]), 4), str(last): round(float(amb[last]), 4)},
           "gpt_kl": {"0": round(float(kl[0]), 4), str(last): round(float(kl[last]), 4)}}
    out.update(metahmm_curves(res, pos, amb), n_params=res.manifest.get("n_params"))
    return out


def metahmm_curves(res, pos, amb) -> dict:
    """Per GPT learner (``gpt@N``: the runs after N steps; ``gpt``: after train.steps), the
    symmetrised KL at the report positions and by ambiguity bin (mean, std over seeds), its
    peak position and the code length; the oracle's A(t) and NLL at the report positions."""
    from jaxlab.papers.metahmm import study

    r4 = lambda v: round(float(v), 4)  # noqa: E731
    report = list(res.config.eval.report_positions)
    nll = pos[(pos.learner == "oracle") & (pos.metric == "nll")].groupby("position").value.mean()
    s, a = res.summary, res.tables["ambiguity"]
    out = {"report_positions": report, "train_steps": int(res.config.train.steps),
           "oracle": {"ambiguity": {str(t): r4(amb[t]) for t in report},
                      "nll": {str(t): r4(nll[t]) for t in report},
                      "code_length": r4(s[s.learner == "oracle"].code_length.iloc[0])},
           "gpt": {}}
    for name in study.gpt_learners(pos):
        g = s[s.learner == name]
        bins = a[a.learner == name].groupby(["bin_lo", "bin_hi"]).agg(
            kl=("kl", "mean"), sd=("kl", "std"), n=("n_tokens", "mean")).reset_index()
        out["gpt"][name] = {
            "steps": int(name[4:]) if "@" in name else int(res.config.train.steps),
            "kl": {str(t): mean_std(g[f"kl@{t}"]) for t in report},
            "kl_peak_position": [int(v) for v in g.kl_peak_position],
            "code_length": mean_std(g.code_length),
            "excess_code_length": mean_std(g.excess_code_length),
            "kl_by_ambiguity": {f"{b.bin_lo:g}-{b.bin_hi:g}": [r4(b.kl), r4(b.sd), round(float(b.n))]
                                for b in bins.itertuples() if b.n > 0}}
    return out


def example_sine(res) -> dict:
    mean = res.eval.groupby(["learning_rate", "metric"]).value.mean().unstack()
    return {"mse": [{"learning_rate": float(lr), **{m: round(float(v), 4) for m, v in row.items()}}
                    for lr, row in mean.iterrows()]}


def inductive_bias(res) -> dict:
    """IB in bits at the headline eps (and its bootstrap interval), per comparison and cell."""
    est = res.tables["estimates"]
    frac = res.config.estimate.headline
    head = est[est.eps_frac == frac]
    r1 = lambda v: round(float(v), 1)
    return {"eps_frac": frac, "ib": {
        comp: {r.cell: {"bits": r1(r.ib_bits), "low": r1(r.ib_low), "high": r1(r.ib_high),
                        "eps": round(float(r.eps), 4), "mean_error": round(float(r.mean_error), 4),
                        "ks": round(float(r.ks), 3), "far_tail": bool(r.far_tail)}
               for r in g.itertuples()}
        for comp, g in head.groupby("comparison", sort=False)}}


def coala_ipd(res) -> dict:
    """Per pairing of the printed table: median and IQR over seeds of both sides' late
    per-step rewards and P(C), the ZD fit of player 1 vs naive learners, and the count;
    ``training`` (``coala_training``); ``vs_agent_by_episode``: per estimator and pool < 1,
    the median over seeds of agent 1's per-step reward vs agent 2 in each inner episode."""
    from jaxlab.papers.coala_ipd import study

    q = lambda v: [round(float(x), 4) for x in np.nanpercentile(np.asarray(v, np.float64), [25, 50, 75])]
    out = {}
    for label, key, g in study.outcome_rows(res.tables["summary"]):
        out["_".join(str(k) for k in key)] = {
            "label": label, "n": int(len(g)), "reward1": q(g.reward1), "reward2": q(g.reward2),
            "coop1": q(g.coop1), "coop2": q(g.coop2), "chi_fit": q(g.chi_fit),
            "above_R": round(float((g.reward1 > -1.0).mean()), 4)}
    e = res.tables["episodes"]
    e = e[(e.pairing == "vs_agent") & (e.player == 1)]
    by_episode = {f"{est}_{pool}": [round(float(v), 4) for v in g.groupby("episode").reward.median()]
                  for (est, pool), g in e.groupby(["estimator", "pool_naive"]) if pool < 1}
    return {"pairings": out, "training": coala_training(res.tables["train"], q),
            "vs_agent_by_episode": by_episode}


def coala_training(h, q) -> dict:
    """Per estimator and pool: median and IQR over seeds of each run's mean per-step
    reward (agent vs naive, its naive co-player, agent vs agent) over meta-steps 201-400
    (early) and the last 200 meta-steps (late); all M inner episodes of the training
    rollouts, not only the late ones the table shows."""
    out, last = {}, int(h.step.max())
    for (est, pool), g in h.groupby(["estimator", "pool_naive"]):
        key = f"{est}_{pool}"
        for name, lo, hi in (("early", 201, 400), ("late", last - 199, last)):
            w = g[(g.step >= lo) & (g.step <= hi)]
            for metric in ("agent_vs_naive", "naive_vs_agent", "agent_vs_agent"):
                per_run = w[w.metric == metric].groupby("run").value.mean()
                out.setdefault(key, {}).setdefault(name, {})[metric] = q(per_run)
    return out


def explicit_implicit(res) -> dict:
    """MSE (mean, std over seeds; 3 significant digits; accuracies ``acc_*`` of a
    classification family or Raven and Raven's ``rule_acc_*``: 4 decimals, as the tables print them) at the best step per
    family and model kind, and the raw-context probe per family."""
    sig = lambda v: None if v is None else float(f"{v:.3g}")
    ms = lambda values: [sig(float(np.mean(values))), sig(float(np.std(values)))]
    acc = lambda values: [round(float(np.mean(values)), 4), sig(float(np.std(values)))]
    s, b = res.tables["summary"], res.tables["baselines"]
    out = {"mse": {}, "best_step": {}, "raw_context_probe": {}}
    for (family, kind), g in s.groupby(["family", "kind"]):
        out["mse"].setdefault(family, {})[kind] = {m: (acc if m.startswith(("acc_", "rule_acc_")) else ms)(
                                                       g[g.metric == m].value)
                                                   for m in dict.fromkeys(g.metric)}
        out["best_step"].setdefault(family, {})[kind] = int(g.step.iloc[0])
    for family, g in b.groupby("family"):
        out["raw_context_probe"][family] = ms(g.value)
    return out


CAPPED = ("predicted_capped", "matched_predicted_capped", "matched_empirical_capped")


def simplicity_bias(res) -> dict:
    s, seeds = res.tables["summary"], res.tables["seeds"]
    r4 = lambda v: None if v is None or not np.isfinite(v) else round(float(v), 4)  # noqa: E731
    points = [{"scenario": row.scenario, "field": row.field, "value": r4(row.value),
               **{c: r4(row[c]) for c in s.columns if c.startswith(("K_", "l_", "k_"))},
               "predicted_switch": r4(row.predicted_switch),
               "final_lines_cross": r4(row.final_lines_cross),
               **{c: r4(row[c]) for c in ("loss_cross",) if c in s},
               "empirical_switch": r4(row.empirical_switch),
               "ratio": r4(row.predicted_switch / row.empirical_switch),
               **{c: r4(row[c]) for c in ("matched_predicted", "matched_empirical", *CAPPED) if c in s},
               "per_seed": {c: [r4(v) for v in seeds.loc[seeds.point == row.point, c]]
                            for c in ("predicted_switch", "empirical_switch", "loss_cross",
                                      "matched_predicted", "matched_empirical", *CAPPED) if c in seeds}}
              for row in s.itertuples(index=False) for row in [s.loc[s.point == row.point].iloc[0]]]
    from jaxlab.papers.simplicity_bias import study

    by_seed = [study.correlation(g) for _, g in seeds.groupby("seed")]
    both = study.paired(s)
    out = {"points": points, "pearson_r": r4(study.correlation(s)),
           "pearson_r_per_seed": [r4(v) for v in by_seed], "points_with_both": int(both.sum())}
    if "matched_predicted" in s:
        out["pearson_r_matched"] = r4(study.correlation(s, **study.MATCHED))
        out["pearson_r_matched_per_seed"] = [r4(study.correlation(g, **study.MATCHED))
                                             for _, g in seeds.groupby("seed")]
    if "matched_predicted_capped" in s:
        out["pearson_r_matched_capped"] = r4(study.correlation(s, **study.MATCHED_CAPPED))
        out["pearson_r_matched_capped_per_seed"] = [r4(study.correlation(g, **study.MATCHED_CAPPED))
                                                    for _, g in seeds.groupby("seed")]
    if s.sweep.nunique() > 1:  # r and its point count per sweep, by each pairing the summary has
        rules = {"": study.FIRST, "_matched": study.MATCHED, "_matched_capped": study.MATCHED_CAPPED}
        out["per_sweep"] = {
            sweep: {k: v for suffix, rule in rules.items() if rule["predicted"] in g
                    for k, v in ((f"r{suffix}", r4(study.correlation(g, **rule))),
                                 (f"n{suffix}", int(study.paired(g, **rule).sum())))}
            for sweep, g in s.groupby("sweep", sort=False)}
    return out


def icl_figures(res) -> dict:
    """Per member of a multi-run figure: its family, model, training steps and the seed mean
    and std of each learner's code length summed over n = 5..N-1."""
    members = {}
    for member, g in res.summary.groupby("member", sort=False):
        row = g.iloc[0]
        members[member] = {"family": row.family, "model": row.model, "steps": int(row.steps),
                           "code_length_5": {learner: mean_std(h["code_length_5"])
                                             for learner, h in g.groupby("learner")}}
    return {"figure": res.config.figure, "members": members}


EXTRACT = {"icl_occam": icl_occam,
           "icl_figures": icl_figures,
           "inductive_bias": inductive_bias,
           "compositionality": compositionality,
           "metahmm": metahmm,
           "example_sine": example_sine,
           "coala_ipd": coala_ipd,
           "explicit_implicit": explicit_implicit,
           "simplicity_bias": simplicity_bias}


def record(workdir: str) -> dict:
    res = results.load(workdir)
    study = res.config.study
    if study not in EXTRACT:
        raise SystemExit(f"no extractor for study {study!r} (one of {', '.join(EXTRACT)})")
    m = res.manifest
    return {"study": study, "workdir": workdir,
            "measured": {"date": datetime.date.fromtimestamp(os.path.getmtime(
                             os.path.join(workdir, "manifest.json"))).isoformat(),
                         "cpu": cpu_model(), "jax": m.get("jax_version"),
                         "wall_s": round(m["wall_s"]) if "wall_s" in m else None,
                         "devices": m.get("devices")},
            **EXTRACT[study](res)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdir")
    p.add_argument("--name", help="file name (default: the study)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "docs", "results"))
    args = p.parse_args()
    data = record(args.workdir)
    name = args.name or data["study"] + (
        "_emergent" if data["study"] == "compositionality" and "c" in data else "")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{name}.json")
    previous = json.load(open(path)) if os.path.exists(path) else {}
    data = {**previous, **data}  # keeps hand-kept fields (command, notes) of an earlier file
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
