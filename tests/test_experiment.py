"""End to end on the smoke config: tables, resume, divergence isolation, figure."""
import os

import numpy as np
import pandas as pd
import pytest

from conftest import smoke_config
from jaxlab import papers, results

pytestmark = pytest.mark.e2e


def test_tables_have_the_documented_columns(smoke_results):
    r = smoke_results
    assert {"run", "seed", "learner", "n_context", "metric", "value", "objective"} <= set(r.eval.columns)
    assert {"run", "seed", "step", "metric", "value", "objective"} <= set(r.train.columns)
    assert set(r.eval.learner) == {"bayes", "prequential", "train", "sgd", "ridge"}
    n_runs = 2 * r.config.sweep.n_seeds
    assert r.train.run.nunique() == n_runs
    assert r.train.step.max() == r.config.train.steps
    gen = r.eval[r.eval.metric == "gen_error"]
    # every learner has one curve per seed over n = min_context .. eval.n_points - 1
    sizes = gen.groupby(["learner", "seed", "run"]).n_context.agg(["min", "max", "count"])
    icl = sizes.drop("sgd", level="learner")
    assert (icl["min"] == 1).all() and (icl["max"] == r.config.eval.n_points - 1).all()
    assert sorted(gen[gen.learner == "sgd"].n_context.unique()) == list(r.config.sgd.sizes)
    assert np.isfinite(gen.value).all()
    assert os.path.getsize(os.path.join(r.workdir, "figure.png")) > 10_000
    assert "code_length" in r.summary.columns and len(r.summary) == n_runs + 3 * r.config.sweep.n_seeds


def test_resume_after_a_kill_equals_an_uninterrupted_run(smoke_results, tmp_path):
    workdir = str(tmp_path / "resumed")
    assert papers.run(smoke_config(), workdir, progress=False, should_stop=lambda chunks: chunks >= 1) is None
    assert results.read_manifest(workdir)["status"] == "running"
    resumed = papers.run(smoke_config(), workdir, progress=False)
    for name in ("train", "eval"):
        pd.testing.assert_frame_equal(getattr(resumed, name), getattr(smoke_results, name),
                                      check_exact=False, rtol=1e-6)


def test_a_workdir_from_before_the_layout_fields_resumes_in_another_layout(smoke_results, tmp_path):
    """A config.json written before executor.data existed still matches, and layout fields
    (here the device count) may differ on resume: keys are by run and step."""
    import json

    workdir = str(tmp_path / "old")
    assert papers.run(smoke_config(), workdir, progress=False, should_stop=lambda chunks: chunks >= 1) is None
    path = os.path.join(workdir, "config.json")
    with open(path) as f:
        stored = json.load(f)
    del stored["executor"]["data"]  # as written by an older jaxlab
    with open(path, "w") as f:
        json.dump(stored, f)
    resumed = papers.run(smoke_config("--config.executor.devices=1"), workdir, progress=False)
    layout = resumed.manifest["layout"]
    assert (layout["runs"], layout["data"], layout["padded_runs"]) == (1, 1, 0)
    assert layout["micro_batches"] == smoke_results.config.train.micro_batches
    for name in ("train", "eval"):
        pd.testing.assert_frame_equal(getattr(resumed, name), getattr(smoke_results, name),
                                      check_exact=False, rtol=1e-5, atol=1e-7)


def test_a_diverging_run_is_reported_and_isolated(tmp_path, caplog):
    sweep = ["--config.sweep.axes.objective=('prequential',)", "--config.sweep.n_seeds=1"]
    blowup = smoke_config(*sweep, "--config.sweep.axes.learning_rate=(0.001, 1e30)",
                          "--config.train.lr_schedule=constant")
    alone = smoke_config(*sweep, "--config.sweep.axes.learning_rate=(0.001,)",
                         "--config.train.lr_schedule=constant")
    r = papers.run(blowup, str(tmp_path / "blowup"), progress=False)
    ok = papers.run(alone, str(tmp_path / "alone"), progress=False)
    assert r.manifest["diverged"] == [1]
    warning = [line for line in caplog.text.splitlines() if "diverged" in line]
    assert len(warning) == 1 and "run 1 (seed=0, " in warning[0]
    assert "learning_rate=1e+30" in warning[0] and "objective=prequential" in warning[0]
    bad = r.eval[(r.eval.run == 1)]
    assert bad.value.isna().all()
    good = r.eval[(r.eval.run == 0)].reset_index(drop=True)
    expected = ok.eval[ok.eval.run == 0].reset_index(drop=True)
    np.testing.assert_allclose(good.value, expected.value, rtol=1e-5)
    assert np.isfinite(good.value).all()


def test_a_finished_workdir_is_loaded_not_retrained(smoke_results):
    again = papers.run(smoke_config(), smoke_results.workdir, progress=False)
    pd.testing.assert_frame_equal(again.eval, smoke_results.eval)


def test_a_corrupt_checkpoint_is_skipped_with_a_warning(smoke_results, tmp_path, caplog):
    workdir = tmp_path / "corrupt"
    assert papers.run(smoke_config(), str(workdir), progress=False, should_stop=lambda chunks: chunks >= 1) is None
    files = [p for p in (workdir / "checkpoints" / "train").rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert files
    for p in files:  # truncate every file of the only checkpoint
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
    resumed = papers.run(smoke_config(), str(workdir), progress=False)
    assert "unreadable" in caplog.text
    pd.testing.assert_frame_equal(resumed.eval, smoke_results.eval, check_exact=False, rtol=1e-6)


def test_learner_label_comes_from_hp_when_the_objective_is_not_swept(tmp_path):
    config = smoke_config("--config.sweep.n_seeds=1", "--config.hp.objective=train",
                          "--config.sgd.enabled=False")
    config.unlock()
    config.sweep.axes = {"learning_rate": (0.001,)}
    config.lock()
    r = papers.run(config, str(tmp_path / "w"), progress=False)
    assert set(r.eval.learner) == {"bayes", "train", "ridge"}
    assert "objective" not in r.eval.columns and "learning_rate" in r.eval.columns
