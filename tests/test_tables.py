"""The printed tables say what they show: headers that never run together, no spread for a
single run, and counts that match the rows. Built from small hand-made tables."""
import os

import numpy as np
import pandas as pd

from conftest import ROOT
from jaxlab import config as config_lib
from jaxlab.papers.compositionality import emergent
from jaxlab.papers.compositionality import study as comp_study
from jaxlab.papers.metahmm import study as metahmm_study


def test_metahmm_header_keeps_every_column_name_apart():
    config = config_lib.load(os.path.join(ROOT, "configs", "metahmm.py") + ":smoke,nomc")
    cols = [f"kl@{p}" for p in config.eval.report_positions] + ["kl_peak", "code_length",
                                                               "excess_code_length"]
    summary = pd.DataFrame([{"learner": learner, "seed": s, "run": s, **{c: 0.5 + s for c in cols}}
                            for learner in ("oracle", "gpt") for s in (0, 1)])
    ambiguity = pd.DataFrame({"learner": ["gpt"], "bin_lo": [0.0], "bin_hi": [1.0], "kl": [0.1],
                              "n_tokens": [10]})
    lines = metahmm_study.report(summary, ambiguity, config, None).splitlines()
    header, row = lines[1].split(), lines[3]
    assert header == ["learner", *cols]
    assert row.split()[:3] == ["oracle", "1.0000", "±0.500"]
    one_seed = metahmm_study.report(summary[summary.seed == 0], ambiguity, config, None)
    assert "±" not in one_seed.splitlines()[3]  # one seed: no spread to print


def test_emergent_table_prints_no_spread_for_a_single_run():
    res = pd.DataFrame({"kind": ["resets", "no_resets", "no_resets"], "c": [1.5, 1.0, 1.2],
                        "k_data": [6000.0, 11000.0, 11500.0], "topsim": [0.5, 0.2, 0.3],
                        "game_accuracy": [1.0, 1.0, 1.0]})
    lines = emergent.report(res).splitlines()
    resets = next(line for line in lines if line.startswith("resets"))
    no_resets = next(line for line in lines if line.startswith("no_resets"))
    assert "±0.000" not in resets
    assert resets.split()[1:4] == ["1", "1.500", "1.950±0.330"]
    assert no_resets.split()[1:3] == ["2", "1.100±0.100"]
    header = lines[0]
    assert header.index("C paper") < header.index("K(Data) ours")


def test_compositionality_table_counts_the_points_it_shows():
    rows = []
    for sweep, point in (("sentence_length", 1), ("sentence_length", 3), ("vocab_size", 2)):
        rows.append({"sweep": sweep, "sentence_length": point if sweep == "sentence_length" else 4,
                     "vocab_size": point if sweep == "vocab_size" else 10, "zdim": 64,
                     "disentanglement": 1, "grammar_width": -1, "grammar_depth": -1,
                     "composition": "lookup", "c": 1.1, "paper_c": 1.1 if point != 3 else np.nan,
                     "c_rel_error": 0.001, "topsim": 0.5, "paper_topsim": 0.5})
    last = comp_study.report(pd.DataFrame(rows)).splitlines()[-1]
    # sentence_length 3 is not a report point and has no paper value
    assert "over the 2 points with a paper value (2 shown above; summary.parquet holds all 3)" in last


def _icl_summary(config) -> pd.DataFrame:
    """Two seeds of every learner with made-up numbers (the reference rows do not use them)."""
    cols = [f"n={n}" for n in config.eval.report_n] + ["code_length", "code_length_5"]
    return pd.DataFrame([{"learner": learner, "seed": s, "run": -1, "finite": True,
                          **{c: 0.5 + 0.1 * s for c in cols}}
                         for learner in ("bayes", "prequential", "train") for s in (0, 1)])


def test_icl_bayes_reference_row_is_our_exact_risk_and_the_paper_rows_name_their_source():
    """The Bayes learner's reference row is labelled ours (it is not a paper number) and
    holds the expected risk of the configured task: with the noise changed from the paper's
    0.2 it must follow, checked against a Monte-Carlo average over sampled inputs of the
    task's closed-form risk given the inputs."""
    import jax

    from jaxlab.papers.icl_occam import study as icl
    from jaxlab.papers.icl_occam.task import make_task

    config = config_lib.load(os.path.join(ROOT, "configs", "icl_occam.py"), ["--config.task.noise=0.5"])
    lines = icl.report(_icl_summary(config), config).splitlines()
    rows = [line for line in lines if not line.startswith(("bayes ", "prequential ", "train "))]
    bayes = next(i for i, line in enumerate(lines) if line.startswith("bayes "))
    assert lines[bayes + 1].startswith("  exact (ours) ")
    exact = [float(v) for v in lines[bayes + 1].split()[2:2 + len(config.eval.report_n)]]
    task = make_task(config)
    x = jax.random.normal(jax.random.PRNGKey(0), (4000, max(config.eval.report_n), task.x_dim))
    mc = np.asarray(task.expected_bayes_risk(x)).mean(0)[list(config.eval.report_n)]
    np.testing.assert_allclose(exact, mc, rtol=0.02)
    assert exact[0] > 1.0  # the paper's noise gives .803: this is the configured task's risk
    for learner in ("prequential", "train"):
        i = next(i for i, line in enumerate(lines) if line.startswith(learner + " "))
        assert lines[i + 1].split()[:2] == ["paper", f"{icl.PAPER_LINEAR[learner][1]:.3f}"]
    assert "bayes" not in icl.PAPER_LINEAR
    assert any(line.startswith("exact (ours) = ") and "not a paper number" in line for line in rows)
    assert any(line.startswith("paper = ") and "read off" in line and "Fig. 2" in line for line in rows)
    pool = config_lib.load(os.path.join(ROOT, "configs", "icl_occam.py") + ":pool")
    assert icl.exact_bayes(pool) == {}  # a finite pool's Bayes risk is not R(n)
    assert "exact (ours)" not in icl.report(_icl_summary(pool), pool)
