"""The multi-run figure study: members run as separate resumable studies, then combine."""
import os

import ml_collections
import pytest

from conftest import ROOT
from jaxlab import papers, results
from jaxlab import config as config_lib
from jaxlab.config import ConfigError


def _figure_config(members: dict, figure: str = "architectures") -> ml_collections.ConfigDict:
    """configs/icl_figures.py with only the given members (smoke sized)."""
    module = config_lib._load_module(os.path.join(ROOT, "configs", "icl_figures.py"))
    config = module.get_config(f"{figure},smoke")
    config.members = ml_collections.ConfigDict({
        name: dict(arg="smoke", overrides=tuple(overrides)) for name, overrides in members.items()})
    config.lock()
    return config


TWO_KINDS = {kind: (f"--config.model.kind={kind}", "--config.sweep.axes.objective=('prequential',)",
                    "--config.sgd.enabled=False", "--config.train.steps=10")
             for kind in ("explicit", "implicit")}


@pytest.fixture(scope="module")
def figure_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("figure"))
    return workdir, papers.run(_figure_config(TWO_KINDS), workdir, progress=False)


@pytest.mark.e2e
def test_members_are_combined_with_their_architecture(figure_run):
    workdir, res = figure_run
    assert set(res.eval.model) == {"explicit", "implicit"}
    assert set(res.eval.family) == {"linear"}
    # the oracle is evaluated in each member; both members saw the same episodes (same seed)
    bayes = res.eval[(res.eval.learner == "bayes") & (res.eval.metric == "gen_error")]
    per_member = bayes.pivot_table(index=["seed", "n_context"], columns="member", values="value")
    assert (per_member["explicit"] - per_member["implicit"]).abs().max() < 1e-6
    trained = res.eval[res.eval.learner == "prequential"]
    assert trained.groupby("model").value.mean().nunique() == 2  # different learners, different curves
    table = open(os.path.join(workdir, "table.txt")).read()
    assert "implicit" in table and "explicit" in table
    assert os.path.getsize(os.path.join(workdir, "figure.png")) > 10_000
    members = sorted(os.listdir(os.path.join(workdir, "members")))  # <family>-<kind>-<hash>
    assert [m.rsplit("-", 1)[0] for m in members] == [f"linear-{k}" for k in sorted(TWO_KINDS)]
    for member in members:  # each member is a finished study of its own
        assert results.load(os.path.join(workdir, "members", member)).eval.shape[0] > 0


@pytest.mark.e2e
def test_rerun_loads_without_training(figure_run):
    workdir, res = figure_run
    again = papers.run(_figure_config(TWO_KINDS), workdir, progress=False)
    assert again.eval.equals(res.eval)


def test_bad_member_is_named_before_anything_is_written(tmp_path):
    config = _figure_config({"broken": ("--config.model.kind=lstm",)})
    with pytest.raises(ConfigError, match=r"config.members.broken: config.model.kind: must be one of"):
        papers.run(config, str(tmp_path / "w"), progress=False)
    assert not (tmp_path / "w").exists()
